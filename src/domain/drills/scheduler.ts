import type pg from 'pg';
import { inTenantScope } from '../../db/tenant-scope.js';
import { dueTick, parseSchedule } from '../../schedules/cron.js';
import type { LeaderLog } from '../../schedules/leader.js';
import {
  advanceLastTick,
  type DrillPolicyRow,
  insertDrillTick,
  selectAllDrillPolicies,
  selectNewestAvailableBackup,
} from './queries.js';
import { enqueueVerification } from './service.js';

export type SchedulerLog = LeaderLog;

const silent: SchedulerLog = { info: () => {}, warn: () => {}, error: () => {} };

export type TickOutcome = 'enqueued' | 'no-backup' | 'taken';

/**
 * One pass over every tenant's drill policies: for each whose latest tick is due, in that tenant's own
 * transaction, advance last_tick (only forwards), enqueue a drill of the target's newest available
 * backup, and record the tick in drill_ticks. The tick's primary key and the forward-only update each
 * make a second drill for the same tick impossible, whoever else is scheduling at the same moment.
 * Every policy is read each pass: one indexed scan of a table with one row per target.
 */
export async function scheduleDueDrills(
  pool: pg.Pool,
  now: Date = new Date(),
  log: SchedulerLog = silent,
): Promise<{ target: string; tick: string; outcome: TickOutcome }[]> {
  const policies = await inTenantScope(pool, { allTenants: true }, (tx) =>
    tx.rows<DrillPolicyRow>(selectAllDrillPolicies()),
  );
  const done: { target: string; tick: string; outcome: TickOutcome }[] = [];
  for (const policy of policies) {
    let tick: Date | null;
    try {
      tick = dueTick(parseSchedule(policy.schedule, policy.timezone), policy.last_tick ?? policy.created_at, now);
    } catch (err) {
      log.warn({ target: policy.target_id, err }, 'drill policy has an unusable schedule');
      continue;
    }
    if (tick === null) continue;
    const at = tick;
    try {
      const outcome = await inTenantScope(pool, { tenantId: policy.tenant_id }, async (tx): Promise<TickOutcome> => {
        if (!(await tx.one(advanceLastTick(policy.target_id, at)))) return 'taken';
        const backup = await tx.one<{ id: string }>(selectNewestAvailableBackup(policy.target_id));
        const job = backup
          ? await enqueueVerification(
              tx,
              { id: backup.id, tenant_id: policy.tenant_id, target_id: policy.target_id },
              { by: 'schedule', tick: at.toISOString() },
            )
          : undefined;
        await tx.rows(insertDrillTick(policy.tenant_id, policy.target_id, at, job?.id ?? null));
        return job ? 'enqueued' : 'no-backup';
      });
      if (outcome === 'no-backup') {
        log.warn(
          { target: policy.target_id, tick: at.toISOString() },
          'drill due but the target has no available backup',
        );
      }
      done.push({ target: policy.target_id, tick: at.toISOString(), outcome });
    } catch (err) {
      // 23505: drill_ticks already holds this tick; another scheduler acted on it first.
      if ((err as { code?: string }).code === '23505') {
        done.push({ target: policy.target_id, tick: at.toISOString(), outcome: 'taken' });
        continue;
      }
      log.error({ target: policy.target_id, err }, 'scheduling a drill failed');
    }
  }
  return done;
}
