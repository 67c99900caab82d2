import type pg from 'pg';
import { inTenantScope } from '../../db/tenant-scope.js';
import { Errors } from '../../errors.js';
import type { Ctx } from '../context.js';
import { ownTenant } from '../context.js';
import { isUuid } from '../ids.js';
import type { Services } from '../services.js';
import { findTargetRow, type TargetRow } from '../targets/service.js';
import { onDatabase, type TargetAccess, withTargetClient, withTargetSecretAccess } from '../targets/session.js';
import { serverVersion } from '../targets/tenant-server.js';
import { RoleErrors } from './errors.js';
import { selectSessionUser } from './server-queries.js';

/** A request's caller, or a job's tenant: whoever acts, acts inside one tenant. */
export type AdminCaller = Ctx | { pool: pg.Pool; services: Services; tenantId: string };

export interface AdminSession {
  target: TargetRow;
  /** Endpoint, checked address and the admin secret (its password non-enumerable; see db-secret.ts). */
  access: TargetAccess;
  /** The admin credential's role, as the server knows it (session_user): never created, altered or dropped. */
  adminRole: string;
  /** 15 for 15.x. From 16 on, CREATEROLE only administers roles it created or holds ADMIN OPTION on. */
  serverMajor: number;
}

const tenantOf = (caller: AdminCaller): string => ('scopes' in caller ? ownTenant(caller).tenantId : caller.tenantId);

/** The caller's tenant's target, 404 PGS_TARGET_NOT_FOUND otherwise (another tenant's id included). */
export async function loadTenantTarget(caller: AdminCaller, targetId: string): Promise<TargetRow> {
  if (!isUuid(targetId)) throw Errors.targetNotFound(targetId);
  const tenantId = tenantOf(caller);
  const row = await inTenantScope(caller.pool, { tenantId }, (tx) => findTargetRow(tx, targetId));
  if (!row) throw Errors.targetNotFound(targetId);
  return row;
}

/**
 * Run `use` in a session on the target as its admin credential (adminSecretRef), on `database` (default:
 * the target's). Mirrors withTargetAccess: the secret must be the tenant's, its address the target's,
 * the address allowed by the network policy and not pgsteward's own; a refused login refetches the
 * secret once (it may have been rotated). Without an adminSecretRef: 409 PGS_ADMIN_SECRET_REQUIRED.
 *
 * Callers check scopes; this checks only that the target is the caller's tenant's.
 */
export async function withAdminAccess<T>(
  caller: AdminCaller,
  targetOrId: string | TargetRow,
  database: string | undefined,
  use: (client: pg.Client, session: AdminSession) => Promise<T>,
): Promise<T> {
  const target = typeof targetOrId === 'string' ? await loadTenantTarget(caller, targetOrId) : targetOrId;
  if (target.tenant_id !== tenantOf(caller)) throw Errors.targetNotFound(target.id);
  const ref = target.admin_secret_ref;
  if (ref === null) throw RoleErrors.adminSecretRequired(target.name);
  return withTargetSecretAccess(caller.services, target, ref, async (found) => {
    const access = database === undefined ? found : onDatabase(found, database);
    return withTargetClient(access, async (client) => {
      const { rows } = await client.query<{ role: string }>(selectSessionUser());
      const { major } = await serverVersion(client);
      return use(client, { target, access, adminRole: rows[0]?.role ?? access.secret.username, serverMajor: major });
    });
  });
}
