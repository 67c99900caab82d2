import type pg from 'pg';
import { sqlStateOf } from '../../../db/pg-errors.js';
import { inTenantScope } from '../../../db/tenant-scope.js';
import { Errors, isPgStewardError } from '../../../errors.js';
import { parseSecretRef } from '../../../secrets/secret-ref.js';
import { type Ctx, ownTenant, requireScopes } from '../../context.js';
import { withAdminAccess } from '../admin-session.js';
import { UserErrors } from '../errors.js';
import { ourSecretVersion } from './create.js';
import { loadRoleUser } from './load.js';
import { ownRolesOnServer } from './ownership.js';
import {
  deleteRoleUser,
  type RoleSetRef,
  type RoleUserRow,
  selectRoleSetRef,
  selectRunningRotation,
} from './queries.js';
import {
  dropRole,
  grantRoleToAdmin,
  reassignOwned,
  type ServerRole,
  selectOwnedObjects,
  selectRoles,
  terminateRoleSessions,
} from './server-queries.js';
import { rolesOf } from './view.js';

export interface DeleteLoginUserOptions {
  terminateSessions?: boolean;
  reassignTo?: string;
}

/** AWS's shortest recovery window: the secret can be restored for a week, then it is gone. */
const RECOVERY_WINDOW_DAYS = 7;

/**
 * Deletes a login user: its role(s) on the server, then its secret (AWS: DeleteSecret with a 7-day
 * recovery window; file: removed), then the row. Each step is safe to repeat, so a DELETE interrupted
 * anywhere is finished by the next one. Scope roles:write.
 */
export async function deleteLoginUser(
  ctx: Ctx,
  targetId: string,
  name: string,
  options: DeleteLoginUserOptions = {},
): Promise<void> {
  requireScopes(ctx, 'roles:write');
  const user = await loadRoleUser(ctx, targetId, name);
  const roleSet = await inTenantScope(ctx.pool, ownTenant(ctx), async (tx) => {
    const running = await tx.one<{ id: string }>(selectRunningRotation(user.id));
    if (running) throw UserErrors.rotationRunning(user.name, running.id);
    return tx.one<RoleSetRef>(selectRoleSetRef(user.target_id, user.role_set));
  });
  await withAdminAccess(ctx, user.target_id, roleSet?.database, (client) => dropRoles(client, user, options));
  await deleteOurSecret(ctx, user);
  await inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.one(deleteRoleUser(user.id)));
}

async function dropRoles(client: pg.ClientBase, user: RoleUserRow, options: DeleteLoginUserOptions) {
  const owner = { tenantId: user.tenant_id, targetId: user.target_id, name: user.name };
  const present = [...(await ownRolesOnServer(client, owner, rolesOf(user)))];
  if (present.length === 0) return; // dropped by an earlier, interrupted delete (or never created)
  const owned = (await client.query<{ object: string }>(selectOwnedObjects(present))).rows.map((r) => r.object);
  const reassignTo = options.reassignTo;
  if (owned.length > 0 && reassignTo === undefined) throw UserErrors.ownsObjects(user.name, owned);
  if (reassignTo !== undefined) {
    const { rows } = await client.query<ServerRole>(selectRoles([reassignTo]));
    if (rows.length === 0 || present.includes(reassignTo)) {
      throw Errors.validation(`reassignTo must name another existing role; '${reassignTo}' is not one.`);
    }
  }
  if (options.terminateSessions === true) {
    // The admin may end a role's sessions once it has the role's privileges: a CREATEROLE role can grant
    // itself a role it administers (on 16+, one it created), and these roles are dropped right after.
    for (const role of present) await client.query(grantRoleToAdmin(role));
    await client.query(terminateRoleSessions(present)).catch((err) => {
      if (sqlStateOf(err) === '42501') throw UserErrors.terminateDenied(user.name);
      throw err;
    });
  }
  await client.query('BEGIN');
  try {
    if (reassignTo !== undefined && owned.length > 0) {
      // From 16 on, CREATEROLE gives ADMIN OPTION but not the role's privileges, which REASSIGN OWNED needs.
      for (const role of present) await client.query(grantRoleToAdmin(role));
      await client.query(reassignOwned(present, reassignTo));
    }
    for (const role of present) await client.query(dropRole(role));
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    // 2BP01: it still owns objects or holds privileges in another database.
    if (sqlStateOf(err) === '2BP01')
      throw UserErrors.ownsObjects(user.name, ['objects or privileges in another database']);
    if (sqlStateOf(err) === '42501' && reassignTo !== undefined) throw UserErrors.reassignDenied(reassignTo);
    throw err;
  }
}

/** Only a secret pgsteward wrote for this user: an active user's, or a creating one's holding our version. */
async function deleteOurSecret(ctx: Ctx, user: RoleUserRow): Promise<void> {
  try {
    await ctx.services.secretBinding.assertBound(user.tenant_id, user.secret_ref);
    if (user.state !== 'active' && (await ourSecretVersion(ctx, user)) === undefined) return;
    const aws = parseSecretRef(user.secret_ref).scheme === 'aws-sm';
    await ctx.services.secrets.deleteSecret(user.secret_ref, aws ? { recoveryWindowDays: RECOVERY_WINDOW_DAYS } : {});
  } catch (err) {
    // Gone already (an earlier delete, or a create that never wrote it).
    if (isPgStewardError(err) && err.code === 'PGS_SECRET_NOT_FOUND') return;
    // Scheduled for deletion already: AWS refuses a second DeleteSecret.
    if (isPgStewardError(err) && err.code === 'PGS_SECRET_CONFLICT') return;
    throw err;
  }
}
