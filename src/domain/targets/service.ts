import { translatePgError } from '../../db/pg-errors.js';
import { inTenantScope, type Tx } from '../../db/tenant-scope.js';
import { Errors } from '../../errors.js';
import { assertUsableDatabaseName, SSL_MODES, type SslMode } from '../../pgtools/conninfo.js';
import { parseSecretRef } from '../../secrets/secret-ref.js';
import { type Ctx, ownTenant, requireScopes } from '../context.js';
import { isUuid } from '../ids.js';
import { byCreatedAtAndId, listPage, type Page, type PageRequest } from '../pagination.js';
import { assertPlausibleHost } from './network-guard.js';
import {
  countLiveBackups,
  deleteTarget as deleteTargetSql,
  insertTarget,
  selectTarget,
  selectTargetPage,
  selectTargetsByIds,
  type TargetFields,
  type TargetRow,
  updateTarget as updateTargetSql,
} from './queries.js';
import { vetTargetSecret } from './session.js';

export type { TargetRow };

export interface Target {
  id: string;
  name: string;
  host: string | null;
  port: number | null;
  database: string | null;
  sslMode: SslMode;
  secretRef: string;
  /** The credential role work uses (a role with CREATEROLE); null when role work is not set up. */
  adminSecretRef: string | null;
  /** Filled by restore drills; null until one has run. */
  lastVerifiedBackup: { id: string; at: string; verified: boolean } | null;
  createdAt: string;
  updatedAt: string;
}

export interface TargetInput {
  name?: string;
  secretRef?: string;
  adminSecretRef?: string | null;
  host?: string | null;
  port?: number | null;
  database?: string | null;
  sslMode?: string;
}

export const TARGET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export const toTarget = (r: TargetRow): Target => ({
  id: r.id,
  name: r.name,
  host: r.host,
  port: r.port,
  database: r.database,
  sslMode: r.ssl_mode as SslMode,
  secretRef: r.secret_ref,
  adminSecretRef: r.admin_secret_ref,
  lastVerifiedBackup: r.last_verified_backup
    ? { ...r.last_verified_backup, at: new Date(r.last_verified_backup.at).toISOString() }
    : null,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

/** Validate a complete set of target fields; the same rules for create and for the result of a patch. */
function validated(f: TargetFields): TargetFields {
  if (!TARGET_NAME_PATTERN.test(f.name)) {
    throw Errors.validation(
      'name must be 1 to 63 letters, digits, dots, dashes or underscores, starting with a letter or digit',
    );
  }
  parseSecretRef(f.secretRef);
  if (f.adminSecretRef !== null) parseSecretRef(f.adminSecretRef);
  if (f.host !== null) assertPlausibleHost(f.host);
  if (f.port !== null && (!Number.isInteger(f.port) || f.port < 1 || f.port > 65535)) {
    throw Errors.validation('port must be a whole number from 1 to 65535');
  }
  if (f.database !== null) {
    if (f.database.length > 63) throw Errors.validation('database must be at most 63 characters');
    assertUsableDatabaseName(f.database);
  }
  if (!(SSL_MODES as readonly string[]).includes(f.sslMode)) {
    throw Errors.validation(`sslMode must be one of ${SSL_MODES.join(', ')}`);
  }
  return f;
}

/** Register a database of the caller's tenant. Only a reference to its credentials is stored. */
export async function createTarget(ctx: Ctx, input: TargetInput): Promise<Target> {
  requireScopes(ctx, 'targets:write');
  const scope = ownTenant(ctx);
  const fields = validated({
    name: input.name ?? '',
    secretRef: input.secretRef ?? '',
    adminSecretRef: input.adminSecretRef ?? null,
    host: input.host ?? null,
    port: input.port ?? null,
    database: input.database ?? null,
    sslMode: input.sslMode ?? 'require',
  });
  await vetTargetSecret(ctx.services, scope.tenantId, {
    ...fields,
    secret_ref: fields.secretRef,
    admin_secret_ref: fields.adminSecretRef,
  });
  try {
    const row = await inTenantScope(ctx.pool, scope, (tx) => tx.one<TargetRow>(insertTarget(scope.tenantId, fields)));
    if (!row) throw Errors.internal();
    return toTarget(row);
  } catch (err) {
    throw translatePgError(err, { '23505': Errors.targetExists(fields.name) });
  }
}

/** One target of the caller's tenant; another tenant's id answers PGS_TARGET_NOT_FOUND. */
export async function getTarget(ctx: Ctx, id: string): Promise<Target> {
  requireScopes(ctx, 'targets:read');
  return toTarget(await loadTargetRow(ctx, id));
}

/** For work inside the caller's tenant transaction (jobs): the target or undefined. */
export const findTargetRow = (tx: Tx, id: string): Promise<TargetRow | undefined> =>
  tx.one<TargetRow>(selectTarget(id));

/** The row itself, for services that act on a target (backups, checks). No scope check: callers do it. */
export async function loadTargetRow(ctx: Ctx, id: string): Promise<TargetRow> {
  if (!isUuid(id)) throw Errors.targetNotFound(id);
  const row = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.one<TargetRow>(selectTarget(id)));
  if (!row) throw Errors.targetNotFound(id);
  return row;
}

export async function listTargets(ctx: Ctx, page: PageRequest): Promise<Page<Target>> {
  requireScopes(ctx, 'targets:read');
  return listPage(
    page,
    byCreatedAtAndId,
    (after, limit) =>
      inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.rows<TargetRow>(selectTargetPage(after, limit))),
    toTarget,
  );
}

/** The visible targets among `ids` (for batch loads). Needs targets:read, like every read of a target. */
export async function getTargetsByIds(ctx: Ctx, ids: string[]): Promise<Map<string, Target>> {
  requireScopes(ctx, 'targets:read');
  const wanted = [...new Set(ids.filter(isUuid))];
  if (wanted.length === 0) return new Map();
  const rows = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.rows<TargetRow>(selectTargetsByIds(wanted)));
  return new Map(rows.map((r) => [r.id, toTarget(r)]));
}

/** Change some fields; the result is validated as a whole, exactly as on create. */
export async function updateTarget(ctx: Ctx, id: string, patch: TargetInput): Promise<Target> {
  requireScopes(ctx, 'targets:write');
  const current = await loadTargetRow(ctx, id);
  const fields = validated({
    name: patch.name ?? current.name,
    secretRef: patch.secretRef ?? current.secret_ref,
    adminSecretRef: patch.adminSecretRef === undefined ? current.admin_secret_ref : patch.adminSecretRef,
    host: patch.host === undefined ? current.host : patch.host,
    port: patch.port === undefined ? current.port : patch.port,
    database: patch.database === undefined ? current.database : patch.database,
    sslMode: patch.sslMode ?? current.ssl_mode,
  });
  // A rename needs no secret; a changed ref or address is checked as on create (every use checks again).
  if (
    fields.secretRef !== current.secret_ref ||
    fields.adminSecretRef !== current.admin_secret_ref ||
    fields.host !== current.host ||
    fields.port !== current.port
  ) {
    await vetTargetSecret(ctx.services, current.tenant_id, {
      ...fields,
      secret_ref: fields.secretRef,
      admin_secret_ref: fields.adminSecretRef,
    });
  }
  try {
    const row = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.one<TargetRow>(updateTargetSql(id, fields)));
    if (!row) throw Errors.targetNotFound(id);
    return toTarget(row);
  } catch (err) {
    throw translatePgError(err, { '23505': Errors.targetExists(fields.name) });
  }
}

/** Remove a target. Refused while it has backups that are not deleted: their records need it. */
export async function deleteTarget(ctx: Ctx, id: string): Promise<void> {
  requireScopes(ctx, 'targets:write');
  await loadTargetRow(ctx, id);
  await inTenantScope(ctx.pool, ownTenant(ctx), async (tx) => {
    const live = (await tx.one<{ n: number }>(countLiveBackups(id)))?.n ?? 0;
    if (live > 0) throw Errors.targetHasBackups(id, live);
    await tx.rows(deleteTargetSql(id));
  });
}
