import type pg from 'pg';
import { z } from 'zod';
import { sqlStateOf } from '../../../db/pg-errors.js';
import { inTenantScope } from '../../../db/tenant-scope.js';
import { isPgStewardError } from '../../../errors.js';
import { defineTask, payloadParser } from '../../../jobs/task.js';
import { JobFailure } from '../../../jobs/types.js';
import { TaskFailure } from '../../../task-failures.js';
import { toJobFailure } from '../../job-failures.js';
import type { Services } from '../../services.js';
import { withAdminAccess } from '../admin-session.js';
import { RotationFailures } from '../errors.js';
import { ownRolesOnServer } from './ownership.js';
import { type RoleSetRef, type RoleUserRow, recordRotation, selectRoleSetRef, selectRoleUserById } from './queries.js';
import { type RotationHooks, rotateLoginUser } from './rotation.js';
import { rotationServer } from './rotation-server.js';
import { cloneOf, rolesOf } from './view.js';

export const ROTATE_KIND = 'role.rotate';

/** Only ids: the password exists only in the secret's pending version, never in the job. */
const rotatePayload = z.strictObject({
  userId: z.uuid(),
  trigger: z.enum(['api', 'schedule']),
});
export type RotatePayload = z.infer<typeof rotatePayload>;

interface RotateDeps {
  pool: pg.Pool;
  services: Services;
}

/** For tests: called after each rotation step (a throw there stands for a worker killed between steps). */
export const rotationTestHooks: { afterStep?: RotationHooks['afterStep'] } = {};

async function loadUser(pool: pg.Pool, tenantId: string, userId: string) {
  return inTenantScope(pool, { tenantId }, async (tx) => {
    const user = await tx.one<RoleUserRow>(selectRoleUserById(userId));
    const roleSet = user && (await tx.one<RoleSetRef>(selectRoleSetRef(user.target_id, user.role_set)));
    return { user, roleSet };
  });
}

/** What a rotation's error means for the job: a catalogued failure, a server's SQLSTATE, or our bug (as it is). */
function rotationFailure(err: unknown, signal: AbortSignal): unknown {
  if (signal.aborted || err instanceof JobFailure) return err;
  if (err instanceof TaskFailure || isPgStewardError(err)) return toJobFailure(err);
  const sqlState = sqlStateOf(err);
  return sqlState === undefined ? err : toJobFailure(RotationFailures.serverRefused(sqlState));
}

/**
 * Rotates one login user (AWS's four steps, see rotation.ts). Each attempt runs every step again; each is
 * idempotent, so an attempt that died anywhere (a killed worker, a lost lease) is resumed by the next.
 */
export const rotateTask = defineTask<RotatePayload, RotateDeps>({
  kind: ROTATE_KIND,
  maxAttempts: 5,
  parsePayload: payloadParser(ROTATE_KIND, rotatePayload),
  handler:
    ({ pool, services }) =>
    async (task, payload) => {
      const tenantId = task.job.tenantId;
      try {
        const { user, roleSet } = await loadUser(pool, tenantId, payload.userId);
        if (user?.state !== 'active') throw RotationFailures.userGone(payload.userId);
        const database = roleSet?.database;
        await services.secretBinding.assertBound(tenantId, user.secret_ref);
        const caller = { pool, services, tenantId };
        const result = await withAdminAccess(caller, user.target_id, database, async (client, session) => {
          const owner = { tenantId, targetId: user.target_id, name: user.name };
          const present = await ownRolesOnServer(client, owner, rolesOf(user));
          for (const role of rolesOf(user)) if (!present.has(role)) throw RotationFailures.userGone(role);
          const server = rotationServer(client, session.access, database ?? session.access.endpoint.database);
          const input = {
            secretRef: user.secret_ref,
            token: task.job.id,
            strategy: user.strategy,
            username: user.name,
            cloneUsername: cloneOf(user.name),
          };
          return rotateLoginUser(services.secrets, server, input, {
            signal: task.signal,
            ...(rotationTestHooks.afterStep ? { afterStep: rotationTestHooks.afterStep } : {}),
          });
        });
        await inTenantScope(pool, { tenantId }, (tx) =>
          tx.one(recordRotation(user.id, result.activeUsername, task.job.id, task.attemptId)),
        );
        return { user: user.name, activeUsername: result.activeUsername, versionId: result.versionId };
      } catch (err) {
        throw rotationFailure(err, task.signal);
      }
    },
});
