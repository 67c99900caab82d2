import type { Sql } from '../../db/tenant-scope.js';
import type { BackupOptions } from '../backups/options.js';
import type { Retention } from '../retention/plan.js';

export interface BackupPolicyRow {
  id: string;
  target_id: string;
  tenant_id: string;
  schedule: string;
  timezone: string;
  options: BackupOptions;
  retention: Retention;
  verify_every: number | null;
  succeeded: string;
  enabled: boolean;
  last_tick: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** The newest tick a policy acted on, with its backup's status: the policy's "last run". */
export interface PolicyRunRow {
  policy_id: string;
  tick: Date;
  outcome: 'enqueued' | 'skipped';
  reason: string | null;
  backup_id: string | null;
  backup_status: string | null;
}

const COLUMNS = `id, target_id, tenant_id, schedule, timezone, options, retention, verify_every, succeeded, enabled,
  last_tick, created_at, updated_at`;

export const selectPolicy = (targetId: string): Sql => ({
  text: `SELECT ${COLUMNS} FROM backup_policies WHERE target_id = $1`,
  values: [targetId],
});

export const selectPoliciesByTargets = (targetIds: string[]): Sql => ({
  text: `SELECT ${COLUMNS} FROM backup_policies WHERE target_id = ANY($1::uuid[])`,
  values: [targetIds],
});

/** Every tenant's policies, for the leader's passes (which run with the all-tenants scope). */
export const selectAllPolicies = (): Sql => ({
  text: `SELECT ${COLUMNS} FROM backup_policies ORDER BY target_id`,
  values: [],
});

export interface PolicyFields {
  schedule: string;
  timezone: string;
  options: BackupOptions;
  retention: Retention;
  verifyEvery: number | null;
  enabled: boolean;
}

/**
 * Create or replace a target's policy, keeping its id (the backups it made stay its own). The schedule
 * counts from now: ticks that passed before this version of the policy existed do not fire.
 */
export const upsertPolicy = (tenantId: string, targetId: string, f: PolicyFields): Sql => ({
  text: `INSERT INTO backup_policies (target_id, tenant_id, schedule, timezone, options, retention, verify_every, enabled,
                                      last_tick)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
         ON CONFLICT (target_id) DO UPDATE
           SET schedule = excluded.schedule, timezone = excluded.timezone, options = excluded.options,
               retention = excluded.retention, verify_every = excluded.verify_every, enabled = excluded.enabled,
               last_tick = now(), updated_at = now()
         RETURNING ${COLUMNS}`,
  values: [
    targetId,
    tenantId,
    f.schedule,
    f.timezone,
    JSON.stringify(f.options),
    JSON.stringify(f.retention),
    f.verifyEvery,
    f.enabled,
  ],
});

export const deletePolicy = (targetId: string): Sql => ({
  text: 'DELETE FROM backup_policies WHERE target_id = $1 RETURNING id',
  values: [targetId],
});

export const selectLastRuns = (policyIds: string[]): Sql => ({
  text: `SELECT DISTINCT ON (r.policy_id) r.policy_id, r.tick, r.outcome, r.reason, r.backup_id, b.status AS backup_status
           FROM backup_policy_runs r LEFT JOIN backups b ON b.id = r.backup_id
          WHERE r.policy_id = ANY($1::uuid[])
          ORDER BY r.policy_id, r.tick DESC`,
  values: [policyIds],
});

/**
 * Advance last_tick, only forwards. The row lock makes a second scheduler acting on the same tick wait,
 * then re-check and find nothing to update.
 */
export const advancePolicyTick = (policyId: string, tick: Date): Sql => ({
  text: `UPDATE backup_policies SET last_tick = $2
          WHERE id = $1 AND enabled AND (last_tick IS NULL OR last_tick < $2)
          RETURNING id`,
  values: [policyId, tick],
});

/** The target's scheduled backup still queued or running, if any (whichever policy made it). */
export const selectUnfinishedScheduledBackup = (targetId: string): Sql => ({
  text: `SELECT id, tick FROM backups
          WHERE target_id = $1 AND tick IS NOT NULL AND status IN ('pending', 'running')
          ORDER BY created_at DESC, id DESC LIMIT 1`,
  values: [targetId],
});

export const insertPolicyRun = (
  p: { id: string; tenant_id: string; target_id: string },
  tick: Date,
  run: { outcome: 'enqueued'; backupId: string } | { outcome: 'skipped'; reason: string },
): Sql => ({
  text: `INSERT INTO backup_policy_runs (policy_id, tick, tenant_id, target_id, outcome, reason, backup_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
  values: [
    p.id,
    tick,
    p.tenant_id,
    p.target_id,
    run.outcome,
    run.outcome === 'skipped' ? run.reason : null,
    run.outcome === 'enqueued' ? run.backupId : null,
  ],
});

/**
 * Mark the policy's finished scheduled backups as seen, once each: a concurrent pass waits on the row
 * locks and then finds them settled. What it returns is counted (verifyEvery, metrics) by the caller.
 */
export const settleFinishedRuns = (policyId: string): Sql => ({
  text: `UPDATE backup_policy_runs r SET settled_at = now()
           FROM backups b
          WHERE r.policy_id = $1 AND r.backup_id = b.id AND r.settled_at IS NULL
            AND b.status NOT IN ('pending', 'running')
      RETURNING r.tick, b.id AS backup_id, b.status, b.tenant_id, b.target_id`,
  values: [policyId],
});

export const countSucceeded = (policyId: string, n: number): Sql => ({
  text: 'UPDATE backup_policies SET succeeded = succeeded + $2 WHERE id = $1 RETURNING succeeded, verify_every',
  values: [policyId, n],
});
