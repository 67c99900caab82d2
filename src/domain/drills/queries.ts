import type { Sql } from '../../db/tenant-scope.js';
import type { Verification } from './verification.js';

export interface DrillPolicyRow {
  target_id: string;
  tenant_id: string;
  schedule: string;
  timezone: string;
  last_tick: Date | null;
  created_at: Date;
  updated_at: Date;
}

const POLICY_COLUMNS = 'target_id, tenant_id, schedule, timezone, last_tick, created_at, updated_at';

export const selectDrillPolicy = (targetId: string): Sql => ({
  text: `SELECT ${POLICY_COLUMNS} FROM drill_policies WHERE target_id = $1`,
  values: [targetId],
});

export const selectDrillPoliciesByTargets = (targetIds: string[]): Sql => ({
  text: `SELECT ${POLICY_COLUMNS} FROM drill_policies WHERE target_id = ANY($1::uuid[])`,
  values: [targetIds],
});

/**
 * Create or replace a target's policy. The schedule counts from now: a changed schedule must not fire
 * at once for ticks that passed before it existed.
 */
export const upsertDrillPolicy = (tenantId: string, targetId: string, schedule: string, timezone: string): Sql => ({
  text: `INSERT INTO drill_policies (target_id, tenant_id, schedule, timezone, last_tick)
         VALUES ($1, $2, $3, $4, now())
         ON CONFLICT (target_id) DO UPDATE
           SET schedule = excluded.schedule, timezone = excluded.timezone, last_tick = now(), updated_at = now()
         RETURNING ${POLICY_COLUMNS}`,
  values: [targetId, tenantId, schedule, timezone],
});

export const deleteDrillPolicy = (targetId: string): Sql => ({
  text: 'DELETE FROM drill_policies WHERE target_id = $1 RETURNING target_id',
  values: [targetId],
});

/** Every tenant's policies, for the scheduler (which runs with the all-tenants scope). */
export const selectAllDrillPolicies = (): Sql => ({
  text: `SELECT ${POLICY_COLUMNS} FROM drill_policies ORDER BY target_id`,
  values: [],
});

/**
 * Advance last_tick, only forwards. The row lock makes a second scheduler acting on the same tick wait,
 * then re-check and find nothing to update.
 */
export const advanceLastTick = (targetId: string, tick: Date): Sql => ({
  text: `UPDATE drill_policies SET last_tick = $2
          WHERE target_id = $1 AND (last_tick IS NULL OR last_tick < $2)
          RETURNING target_id`,
  values: [targetId, tick],
});

export const insertDrillTick = (tenantId: string, targetId: string, tick: Date, jobId: string | null): Sql => ({
  text: 'INSERT INTO drill_ticks (target_id, tick, tenant_id, job_id) VALUES ($1, $2, $3, $4)',
  values: [targetId, tick, tenantId, jobId],
});

/** The backup a scheduled drill verifies: the target's newest available one. */
export const selectNewestAvailableBackup = (targetId: string): Sql => ({
  text: `SELECT id FROM backups WHERE target_id = $1 AND status = 'available'
          ORDER BY created_at DESC, id DESC LIMIT 1`,
  values: [targetId],
});

export const recordVerification = (backupId: string, verification: Verification): Sql => ({
  text: 'UPDATE backups SET last_verified_at = now(), last_verification = $2 WHERE id = $1',
  values: [backupId, JSON.stringify(verification)],
});
