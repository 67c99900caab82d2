import { inTenantScope } from '../../db/tenant-scope.js';
import { Errors } from '../../errors.js';
import { enqueueTask } from '../../jobs/task.js';
import { type Ctx, isAdmin, requireScopes } from '../context.js';
import { type JobView, toJobView } from '../jobs/view.js';
import { getTenant } from '../tenants/service.js';
import { EncryptionErrors } from './errors.js';
import { parseKeyRef } from './key-encryption.js';
import {
  selectTenantEncryption,
  selectTenantEncryptionByIds,
  type TenantEncryptionRow,
  upsertTenantEncryption,
} from './queries.js';
import { rewrapTask } from './rewrap-task.js';

/** A tenant's encryption at rest as the API shows it: the key's reference, never key material. */
export interface TenantEncryption {
  tenantId: string;
  encrypted: boolean;
  keyRef: string | null;
  /** Since when new backups are wrapped with this key. */
  since: string | null;
}

const toView = (tenantId: string, row: TenantEncryptionRow | undefined): TenantEncryption => ({
  tenantId,
  encrypted: row !== undefined,
  keyRef: row?.key_ref ?? null,
  since: row?.since.toISOString() ?? null,
});

/**
 * A tenant's encryption status: operators (tenants:admin) for any tenant, a tenant's own token with
 * tenants:read for itself; any other id answers PGS_TENANT_NOT_FOUND (getTenant's rule).
 */
export async function getTenantEncryption(ctx: Ctx, tenantId: string): Promise<TenantEncryption> {
  await getTenant(ctx, tenantId);
  const row = await inTenantScope(ctx.pool, { tenantId }, (tx) =>
    tx.one<TenantEncryptionRow>(selectTenantEncryption(tenantId)),
  );
  return toView(tenantId, row);
}

/** For GraphQL's loader: the encryption status of each tenant the caller may see (others are left out). */
export async function getTenantEncryptionsByIds(ctx: Ctx, ids: string[]): Promise<Map<string, TenantEncryption>> {
  if (!isAdmin(ctx)) requireScopes(ctx, 'tenants:read');
  const visible = isAdmin(ctx) ? ids : ids.filter((id) => id === ctx.tenantId);
  const out = new Map<string, TenantEncryption>();
  if (visible.length === 0) return out;
  const rows = await inTenantScope(ctx.pool, { allTenants: true }, (tx) =>
    tx.rows<TenantEncryptionRow>(selectTenantEncryptionByIds(visible)),
  );
  const byId = new Map(rows.map((r) => [r.tenant_id, r]));
  for (const id of visible) out.set(id, toView(id, byId.get(id)));
  return out;
}

/**
 * Set the key-encryption key new backups of a tenant are wrapped with. Operators only. The key is
 * tried first (a secret bound to the tenant and holding a 256-bit key; a KMS key that encrypts and
 * decrypts), so a typo fails here rather than in the next night's backup. Existing backups keep the
 * key that wrapped them until a rewrap.
 */
export async function setTenantEncryption(
  ctx: Ctx,
  tenantId: string,
  input: { keyRef: string },
): Promise<TenantEncryption> {
  requireScopes(ctx, 'tenants:admin');
  const { ref } = parseKeyRef(input.keyRef);
  await getTenant(ctx, tenantId);
  await ctx.services.keys.check(tenantId, ref);
  const row = await inTenantScope(ctx.pool, { tenantId }, (tx) =>
    tx.one<TenantEncryptionRow>(upsertTenantEncryption(tenantId, ref)),
  );
  if (!row) throw Errors.internal();
  return toView(tenantId, row);
}

/**
 * Start re-wrapping every stored data key of the tenant with its current key-encryption key: 202 with
 * the job. Operators only; a tenant without a key answers PGS_ENCRYPTION_NOT_CONFIGURED.
 */
export async function startRewrap(ctx: Ctx, tenantId: string): Promise<JobView> {
  requireScopes(ctx, 'tenants:admin');
  await getTenant(ctx, tenantId);
  return inTenantScope(ctx.pool, { tenantId }, async (tx) => {
    const row = await tx.one<TenantEncryptionRow>(selectTenantEncryption(tenantId));
    if (!row) throw EncryptionErrors.notConfigured(tenantId);
    return toJobView(await enqueueTask(tx, rewrapTask, { tenantId, subjects: { tenant: tenantId }, payload: {} }));
  });
}
