import { translatePgError } from '../../db/pg-errors.js';
import { inTenantScope } from '../../db/tenant-scope.js';
import { Errors } from '../../errors.js';
import { type Ctx, isAdmin, requireScopes } from '../context.js';
import { type Keyset, listPage, type Page, type PageRequest } from '../pagination.js';
import { insertTenant, selectTenant, selectTenantPage, type TenantRow } from './queries.js';

export interface Tenant {
  id: string;
  name: string;
  createdAt: string;
}

export const TENANT_ID_PATTERN = /^[a-z][a-z0-9-]{1,62}$/;

/** Tenants are listed by id; any id is a position (the query compares it as text). */
const BY_ID: Keyset<TenantRow, string> = { positionOf: (r) => r.id, parse: (position) => position };

const toTenant = (r: TenantRow): Tenant => ({ id: r.id, name: r.name, createdAt: r.created_at.toISOString() });

/** Create a tenant. Platform operators only. */
export async function createTenant(ctx: Ctx, input: { id: string; name: string }): Promise<Tenant> {
  requireScopes(ctx, 'tenants:admin');
  if (!TENANT_ID_PATTERN.test(input.id)) {
    throw Errors.validation('id must match ^[a-z][a-z0-9-]{1,62}$ (lowercase letters, digits, dashes)');
  }
  const name = input.name.trim();
  if (name.length === 0 || name.length > 200) throw Errors.validation('name must be 1 to 200 characters');
  try {
    const row = await inTenantScope(ctx.pool, { allTenants: true }, (tx) =>
      tx.one<TenantRow>(insertTenant(input.id, name)),
    );
    if (!row) throw Errors.internal();
    return toTenant(row);
  } catch (err) {
    throw translatePgError(err, { '23505': Errors.tenantExists(input.id) });
  }
}

/**
 * One tenant: operators see any; a tenant's token with tenants:read sees only its own. Any other id answers
 * PGS_TENANT_NOT_FOUND, exactly as an id that does not exist, so ids cannot be probed.
 */
export async function getTenant(ctx: Ctx, id: string): Promise<Tenant> {
  if (!isAdmin(ctx)) requireScopes(ctx, 'tenants:read');
  const scope = isAdmin(ctx) ? { allTenants: true as const } : ctx.tenantId === id ? { tenantId: id } : undefined;
  if (!scope) throw Errors.tenantNotFound(id);
  const row = await inTenantScope(ctx.pool, scope, (tx) => tx.one<TenantRow>(selectTenant(id)));
  if (!row) throw Errors.tenantNotFound(id);
  return toTenant(row);
}

/** Every tenant, by id. Platform operators only. */
export async function listTenants(ctx: Ctx, page: PageRequest): Promise<Page<Tenant>> {
  requireScopes(ctx, 'tenants:admin');
  return listPage(
    page,
    BY_ID,
    (after, limit) =>
      inTenantScope(ctx.pool, { allTenants: true }, (tx) => tx.rows<TenantRow>(selectTenantPage(after, limit))),
    toTenant,
  );
}

/** Whether a token's tenant exists; used by authentication, before any Ctx exists. */
export async function tenantExists(pool: Ctx['pool'], id: string): Promise<boolean> {
  const row = await inTenantScope(pool, { tenantId: id }, (tx) => tx.one(selectTenant(id)));
  return row !== undefined;
}
