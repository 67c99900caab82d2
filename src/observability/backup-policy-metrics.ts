import { Counter } from 'prom-client';

/**
 * Counters for backup schedules and retention, incremented by the leader's passes in whichever process
 * leads, and exposed by that process's GET /metrics (registerMetrics adds them to its registry). Labels
 * are closed sets: an outcome, or a retention rule name.
 */
export const backupPolicyMetrics = {
  scheduled: new Counter({
    name: 'pgsteward_scheduled_backups_total',
    help: 'Scheduled backups by outcome: enqueued, skipped (the previous one still ran), succeeded, failed',
    labelNames: ['outcome'] as const,
    registers: [],
  }),
  expired: new Counter({
    name: 'pgsteward_backups_expired_total',
    help: 'Backups expired by retention, by the rule that expired them (maxAgeDays, unmatched)',
    labelNames: ['rule'] as const,
    registers: [],
  }),
};
