import type pg from 'pg';
import { ADMIN_SCOPE, type Scope } from '../auth/scopes.js';
import type { TenantScope } from '../db/tenant-scope.js';
import { Errors } from '../errors.js';
import type { Services } from './services.js';

/** Who is calling, and what they may touch. Built once per request from the verified token. */
export interface Caller {
  /** The token's `sub`. */
  actor: string;
  /** The token's tenant; null for a platform operator's token without one. */
  tenantId: string | null;
  scopes: ReadonlySet<Scope>;
  requestId: string;
}

/** What every service function receives: the caller, the metadata database, and shared services. */
export interface Ctx extends Caller {
  pool: pg.Pool;
  services: Services;
}

export const isAdmin = (ctx: Caller): boolean => ctx.scopes.has(ADMIN_SCOPE);

/** Throws PGS_MISSING_SCOPE naming every scope the caller lacks. */
export function requireScopes(ctx: Caller, ...needed: Scope[]): void {
  const missing = needed.filter((s) => !ctx.scopes.has(s));
  if (missing.length > 0) throw Errors.missingScope(missing);
}

/** The caller's own tenant scope; a token without a tenant cannot use tenant resources. */
export function ownTenant(ctx: Caller): TenantScope & { tenantId: string } {
  if (ctx.tenantId === null) throw Errors.tenantRequired();
  return { tenantId: ctx.tenantId };
}

/** Operators read across tenants; everyone else reads their own. */
export function readScope(ctx: Caller): TenantScope {
  return isAdmin(ctx) ? { allTenants: true } : ownTenant(ctx);
}
