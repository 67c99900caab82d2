import { inTenantScope } from '../../../db/tenant-scope.js';
import { type Ctx, ownTenant } from '../../context.js';
import { loadTenantTarget } from '../admin-session.js';
import { UserErrors } from '../errors.js';
import { type RoleUserRow, selectRoleUser } from './queries.js';

/** A user's row in the caller's tenant, 404 PGS_LOGIN_USER_NOT_FOUND otherwise (another tenant's too). */
export async function loadRoleUser(ctx: Ctx, targetId: string, name: string): Promise<RoleUserRow> {
  const target = await loadTenantTarget(ctx, targetId);
  const row = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
    tx.one<RoleUserRow>(selectRoleUser(target.id, name)),
  );
  if (!row) throw UserErrors.userNotFound(name);
  return row;
}
