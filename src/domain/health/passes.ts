import type pg from 'pg';
import { inTenantScope } from '../../db/tenant-scope.js';
import { dueTick, parseSchedule } from '../../schedules/cron.js';
import type { LeaderLog, PeriodicPass } from '../../schedules/leader.js';
import { DEFAULT_KEEP_DAYS } from './policy.js';
import { advanceHealthTick, type HealthPolicyRow, pruneHealthReports, selectScheduledPolicies } from './queries.js';
import { enqueueHealthReport } from './service.js';

/**
 * One pass over every scheduled health policy: for each whose tick is due, in the tenant's own
 * transaction, advance last_tick (only forwards: a second leader acting on the same tick finds nothing
 * to update) and queue a report. Ticks missed while no leader ran collapse into one report.
 */
export async function scheduleDueReports(pool: pg.Pool, now: Date, log: LeaderLog): Promise<number> {
  const policies = await inTenantScope(pool, { allTenants: true }, (tx) =>
    tx.rows<HealthPolicyRow>(selectScheduledPolicies()),
  );
  let enqueued = 0;
  for (const policy of policies) {
    let tick: Date | null;
    try {
      tick = dueTick(parseSchedule(policy.schedule ?? '', policy.timezone), policy.last_tick ?? policy.created_at, now);
    } catch (err) {
      log.warn({ target: policy.target_id, err }, 'health policy has an unusable schedule');
      continue;
    }
    if (tick === null) continue;
    const at = tick;
    try {
      const done = await inTenantScope(pool, { tenantId: policy.tenant_id }, async (tx) => {
        if (!(await tx.one(advanceHealthTick(policy.target_id, at)))) return false;
        await enqueueHealthReport(tx, policy.tenant_id, policy.target_id, { by: 'schedule', tick: at.toISOString() });
        return true;
      });
      if (done) enqueued++;
    } catch (err) {
      log.error({ target: policy.target_id, err }, 'scheduling a health report failed');
    }
  }
  return enqueued;
}

const PRUNE_BATCH = 1000;

/** Deletes reports older than their target's keepDays (30 without a policy), a batch at a time. */
export async function pruneReportHistory(pool: pg.Pool): Promise<number> {
  let pruned = 0;
  for (;;) {
    const rows = await inTenantScope(pool, { allTenants: true }, (tx) =>
      tx.rows(pruneHealthReports(DEFAULT_KEEP_DAYS, PRUNE_BATCH)),
    );
    pruned += rows.length;
    if (rows.length < PRUNE_BATCH) return pruned;
  }
}

export const healthSchedulingPass: PeriodicPass<{ pool: pg.Pool }> = {
  name: 'health-report-scheduling',
  async run(deps, now, log) {
    const enqueued = await scheduleDueReports(deps.pool, now, log);
    if (enqueued > 0) log.info({ enqueued }, 'health reports enqueued');
  },
};

export const healthPruningPass: PeriodicPass<{ pool: pg.Pool }> = {
  name: 'health-report-pruning',
  everyMs: 60 * 60_000,
  async run(deps, _now, log) {
    const pruned = await pruneReportHistory(deps.pool);
    if (pruned > 0) log.info({ pruned }, 'old health reports deleted');
  },
};
