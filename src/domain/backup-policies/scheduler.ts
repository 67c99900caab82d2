import type pg from 'pg';
import { inTenantScope } from '../../db/tenant-scope.js';
import { backupPolicyMetrics } from '../../observability/backup-policy-metrics.js';
import { dueTick, parseSchedule } from '../../schedules/cron.js';
import type { LeaderLog } from '../../schedules/leader.js';
import { enqueueBackup } from '../backups/service.js';
import { enqueueVerification } from '../drills/service.js';
import {
  advancePolicyTick,
  type BackupPolicyRow,
  countSucceeded,
  insertPolicyRun,
  selectAllPolicies,
  selectUnfinishedScheduledBackup,
  settleFinishedRuns,
} from './queries.js';

export type TickOutcome = 'enqueued' | 'skipped' | 'taken';

export interface ScheduledTick {
  target: string;
  tick: string;
  outcome: TickOutcome;
  backupId?: string;
}

const silent: LeaderLog = { info: () => {}, warn: () => {}, error: () => {} };

/**
 * One pass over every tenant's backup policies. First, finished scheduled backups are settled (each
 * once): counted for metrics, and every verifyEvery-th success starts a restore drill of it. Then, for
 * each enabled policy whose latest tick is due, in that tenant's own transaction: advance last_tick
 * (only forwards), and either enqueue a backup through the backups service (same job, proofs and
 * progress as POST .../backups, marked with policy and tick) or, while the target's previous scheduled
 * backup is still queued or running, record the tick as skipped with the reason. Ticks missed while no
 * leader ran collapse into the latest (dueTick). The run's primary key (policy, tick) and the
 * forward-only tick each make a second backup for one tick impossible, whichever replica acts.
 */
export async function scheduleDueBackups(
  pool: pg.Pool,
  now: Date = new Date(),
  log: LeaderLog = silent,
): Promise<ScheduledTick[]> {
  const policies = await inTenantScope(pool, { allTenants: true }, (tx) =>
    tx.rows<BackupPolicyRow>(selectAllPolicies()),
  );
  const done: ScheduledTick[] = [];
  for (const policy of policies) {
    try {
      await settleRuns(pool, policy);
    } catch (err) {
      log.error({ target: policy.target_id, err }, 'settling scheduled backups failed');
    }
    if (!policy.enabled) continue;
    let tick: Date | null;
    try {
      tick = dueTick(parseSchedule(policy.schedule, policy.timezone), policy.last_tick ?? policy.created_at, now);
    } catch (err) {
      log.warn({ target: policy.target_id, err }, 'backup policy has an unusable schedule');
      continue;
    }
    if (tick === null) continue;
    const at = tick;
    try {
      const result = await inTenantScope(pool, { tenantId: policy.tenant_id }, async (tx): Promise<ScheduledTick> => {
        const base = { target: policy.target_id, tick: at.toISOString() };
        if (!(await tx.one(advancePolicyTick(policy.id, at)))) return { ...base, outcome: 'taken' };
        const running = await tx.one<{ id: string; tick: Date }>(selectUnfinishedScheduledBackup(policy.target_id));
        if (running) {
          const reason = `the scheduled backup ${running.id} of ${running.tick.toISOString()} is still queued or running`;
          await tx.rows(insertPolicyRun(policy, at, { outcome: 'skipped', reason }));
          return { ...base, outcome: 'skipped' };
        }
        const { backup } = await enqueueBackup(tx, policy.tenant_id, policy.target_id, policy.options, {
          policyId: policy.id,
          tick: at,
        });
        await tx.rows(insertPolicyRun(policy, at, { outcome: 'enqueued', backupId: backup.id }));
        return { ...base, outcome: 'enqueued', backupId: backup.id };
      });
      if (result.outcome !== 'taken') backupPolicyMetrics.scheduled.inc({ outcome: result.outcome });
      if (result.outcome === 'skipped') log.warn(result, 'backup tick skipped: the previous one still runs');
      done.push(result);
    } catch (err) {
      // 23505: backup_policy_runs already holds this tick; another scheduler acted on it first.
      if ((err as { code?: string }).code === '23505') {
        done.push({ target: policy.target_id, tick: at.toISOString(), outcome: 'taken' });
        continue;
      }
      log.error({ target: policy.target_id, err }, 'scheduling a backup failed');
    }
  }
  return done;
}

/** Count the policy's newly finished scheduled backups, and drill every verifyEvery-th success. */
async function settleRuns(pool: pg.Pool, policy: BackupPolicyRow): Promise<void> {
  await inTenantScope(pool, { tenantId: policy.tenant_id }, async (tx) => {
    const settled = await tx.rows<{
      tick: Date;
      backup_id: string;
      status: string;
      tenant_id: string;
      target_id: string;
    }>(settleFinishedRuns(policy.id));
    if (settled.length === 0) return;
    settled.sort((a, b) => a.tick.getTime() - b.tick.getTime());
    const succeeded = settled.filter((s) => s.status !== 'failed');
    backupPolicyMetrics.scheduled.inc({ outcome: 'failed' }, settled.length - succeeded.length);
    if (succeeded.length === 0) return;
    backupPolicyMetrics.scheduled.inc({ outcome: 'succeeded' }, succeeded.length);
    const counted = await tx.one<{ succeeded: string; verify_every: number | null }>(
      countSucceeded(policy.id, succeeded.length),
    );
    const every = counted?.verify_every ?? null;
    if (!counted || every === null) return;
    // The successes just counted are numbers total-n+1 .. total; drill those that are multiples of N.
    const total = Number(counted.succeeded);
    for (const [i, s] of succeeded.entries()) {
      const nth = total - succeeded.length + 1 + i;
      if (nth % every !== 0 || s.status !== 'available') continue;
      await enqueueVerification(
        tx,
        { id: s.backup_id, tenant_id: s.tenant_id, target_id: s.target_id },
        { by: 'schedule', tick: s.tick.toISOString() },
      );
    }
  });
}
