import { inTenantScope, type Tx } from '../../../db/tenant-scope.js';
import { enqueueTask } from '../../../jobs/task.js';
import type { Job } from '../../../jobs/types.js';
import { type Ctx, ownTenant, requireScopes } from '../../context.js';
import { isUuid } from '../../ids.js';
import { type JobView, toJobView } from '../../jobs/view.js';
import { listPage, type Page, type PageRequest } from '../../pagination.js';
import { loadTenantTarget } from '../admin-session.js';
import { UserErrors } from '../errors.js';
import { createLoginUserWith, type LoginUserInput } from './create.js';
import { loadRoleUser } from './load.js';
import {
  deferRotation,
  type RoleUserRow,
  selectRoleUserPage,
  selectRoleUsersByTargets,
  selectRunningRotation,
} from './queries.js';
import { rotateTask } from './rotate-task.js';
import { type LoginUser, toLoginUser } from './view.js';

export type { LoginUserInput } from './create.js';
export { deleteLoginUser } from './delete.js';
export type { LoginUser } from './view.js';

/** Creates a login user (see create.ts for the crash-safe order). Scope roles:write. */
export const createLoginUser = (ctx: Ctx, targetId: string, input: LoginUserInput): Promise<LoginUser> =>
  createLoginUserWith(ctx, targetId, input);

/** One login user. Scope roles:read. */
export async function getLoginUser(ctx: Ctx, targetId: string, name: string): Promise<LoginUser> {
  requireScopes(ctx, 'roles:read');
  return toLoginUser(await loadRoleUser(ctx, targetId, name));
}

/** A target's login users by name, keyset-paginated. Scope roles:read. */
export async function listLoginUsers(ctx: Ctx, targetId: string, page: PageRequest): Promise<Page<LoginUser>> {
  requireScopes(ctx, 'roles:read');
  const target = await loadTenantTarget(ctx, targetId);
  return listPage(
    page,
    { positionOf: (r: RoleUserRow) => r.name, parse: (p) => (p.length > 0 && p.length <= 63 ? p : undefined) },
    (after, limit) =>
      inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
        tx.rows<RoleUserRow>(selectRoleUserPage(target.id, after, limit)),
      ),
    toLoginUser,
  );
}

/** GraphQL's Target.users, batched: at most `perTarget` users of each target, by name. Scope roles:read. */
export async function getLoginUsersByTargets(
  ctx: Ctx,
  targetIds: readonly string[],
  perTarget: number,
): Promise<Map<string, LoginUser[]>> {
  requireScopes(ctx, 'roles:read');
  const ids = targetIds.filter(isUuid);
  const rows =
    ids.length === 0
      ? []
      : await inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
          tx.rows<RoleUserRow>(selectRoleUsersByTargets(ids, perTarget)),
        );
  const byTarget = new Map<string, LoginUser[]>(ids.map((id) => [id, []]));
  for (const row of rows) byTarget.set(row.target_id, [...(byTarget.get(row.target_id) ?? []), toLoginUser(row)]);
  return byTarget;
}

/**
 * Queue a rotation of `user` in the caller's transaction. Never two at once for one user: a queued or
 * running one answers 409, and the unique index jobs_one_rotation_per_user closes the race between two
 * enqueuers (the API and the leader's pass).
 */
export async function enqueueRotation(tx: Tx, user: RoleUserRow, trigger: 'api' | 'schedule'): Promise<Job> {
  const running = await tx.one<{ id: string }>(selectRunningRotation(user.id));
  if (running) throw UserErrors.rotationRunning(user.name, running.id);
  try {
    return await enqueueTask(tx, rotateTask, {
      tenantId: user.tenant_id,
      targetId: user.target_id,
      subjects: { loginUser: user.id },
      payload: { userId: user.id, trigger },
    });
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw UserErrors.rotationRunning(user.name, 'another');
    throw err;
  }
}

/** Rotate now: 202 with the job (kind role.rotate). Scope roles:write. */
export async function rotateLoginUserNow(ctx: Ctx, targetId: string, name: string): Promise<JobView> {
  requireScopes(ctx, 'roles:write');
  const user = await loadRoleUser(ctx, targetId, name);
  if (user.state !== 'active') throw UserErrors.userNotFound(name);
  const job = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) => enqueueRotation(tx, user, 'api'));
  return toJobView(job);
}

export { deferRotation };
