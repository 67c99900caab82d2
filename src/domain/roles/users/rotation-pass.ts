import type pg from 'pg';
import { inTenantScope } from '../../../db/tenant-scope.js';
import { isPgStewardError } from '../../../errors.js';
import type { PeriodicPass } from '../../../schedules/leader.js';
import { deferRotation, type RoleUserRow, selectDueRoleUsers } from './queries.js';
import { enqueueRotation } from './service.js';

/** Users looked at per pass; the rest wait for the next pass (a minute later). */
const DUE_PER_PASS = 100;

/**
 * rotation.everyDays: on the one leader, one rotation job per due user. A user whose rotation is queued or
 * running is skipped (the check and the unique index in enqueueRotation); each enqueue pushes the due time
 * an hour out, so a rotation that keeps failing is retried hourly rather than every pass, and a finished
 * one sets the next due time from its own end.
 */
export const rotationPass: PeriodicPass<{ pool: pg.Pool }> = {
  name: 'login-user-rotation',
  async run({ pool }, now, log) {
    const due = await inTenantScope(pool, { allTenants: true }, (tx) =>
      tx.rows<RoleUserRow>(selectDueRoleUsers(now, DUE_PER_PASS)),
    );
    let enqueued = 0;
    for (const user of due) {
      try {
        // One transaction per user: a refused enqueue rolls back only its own.
        await inTenantScope(pool, { tenantId: user.tenant_id }, async (tx) => {
          await enqueueRotation(tx, user, 'schedule');
          await tx.one(deferRotation(user.id));
        });
        enqueued++;
      } catch (err) {
        if (isPgStewardError(err) && err.code === 'PGS_ROTATION_RUNNING') continue;
        log.error({ err, userId: user.id }, 'could not enqueue a scheduled rotation');
      }
    }
    if (enqueued > 0) log.info({ enqueued }, 'login-user rotations enqueued');
  },
};
