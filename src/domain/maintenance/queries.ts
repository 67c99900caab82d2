import type { Sql } from '../../db/tenant-scope.js';
import type { MaintenanceAction, MaintenanceOptions } from './plan.js';

export interface MaintenanceWindowRow {
  target_id: string;
  tenant_id: string;
  schedule: string;
  duration_minutes: number;
  timezone: string;
  created_at: Date;
  updated_at: Date;
}

const WINDOW_COLUMNS = 'target_id, tenant_id, schedule, duration_minutes, timezone, created_at, updated_at';

export const selectWindow = (targetId: string): Sql => ({
  text: `SELECT ${WINDOW_COLUMNS} FROM maintenance_windows WHERE target_id = $1`,
  values: [targetId],
});

export const selectWindowsByTargets = (targetIds: string[]): Sql => ({
  text: `SELECT ${WINDOW_COLUMNS} FROM maintenance_windows WHERE target_id = ANY($1::uuid[])`,
  values: [targetIds],
});

export const upsertWindow = (
  tenantId: string,
  targetId: string,
  w: { schedule: string; durationMinutes: number; timezone: string },
): Sql => ({
  text: `INSERT INTO maintenance_windows (target_id, tenant_id, schedule, duration_minutes, timezone)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (target_id) DO UPDATE
           SET schedule = excluded.schedule, duration_minutes = excluded.duration_minutes,
               timezone = excluded.timezone, updated_at = now()
         RETURNING ${WINDOW_COLUMNS}`,
  values: [targetId, tenantId, w.schedule, w.durationMinutes, w.timezone],
});

export const deleteWindow = (targetId: string): Sql => ({
  text: 'DELETE FROM maintenance_windows WHERE target_id = $1 RETURNING target_id',
  values: [targetId],
});

export type MaintenanceStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface TableStats {
  totalBytes: number;
  deadTuples: number | null;
  liveTuples: number | null;
}

export interface MaintainedTable {
  schema: string;
  name: string;
  before: TableStats;
  /** Null while the table waits its turn, or when the run stopped before it finished. */
  after: TableStats | null;
  durationMs: number | null;
}

export interface RunEstimate {
  totalBytes: number;
  tables: number;
  estimatedSeconds: number;
  bytesPerSecond: number;
  marginSeconds: number;
}

export interface MaintenanceRunRow {
  id: string;
  tenant_id: string;
  target_id: string | null;
  action: MaintenanceAction;
  selection: { tables: string[]; schemas: string[] };
  options: MaintenanceOptions;
  window_end: Date | null;
  estimate: RunEstimate | null;
  credential: 'secret' | 'admin' | null;
  status: MaintenanceStatus;
  tables: MaintainedTable[];
  error: { code: string; message: string } | null;
  created_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
}

const RUN_COLUMNS = `id, tenant_id, target_id, action, selection, options, window_end, estimate, credential, status, tables, error,
  created_at, started_at, completed_at`;

export const insertRun = (r: {
  id: string;
  tenantId: string;
  targetId: string;
  action: MaintenanceAction;
  selection: { tables: string[]; schemas: string[] };
  options: MaintenanceOptions;
  windowEnd: Date | null;
  estimate: RunEstimate | null;
}): Sql => ({
  text: `INSERT INTO maintenance_runs (id, tenant_id, target_id, action, selection, options, window_end, estimate)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${RUN_COLUMNS}`,
  values: [
    r.id,
    r.tenantId,
    r.targetId,
    r.action,
    JSON.stringify(r.selection),
    JSON.stringify(r.options),
    r.windowEnd,
    r.estimate === null ? null : JSON.stringify(r.estimate),
  ],
});

export const selectRun = (id: string): Sql => ({
  text: `SELECT ${RUN_COLUMNS} FROM maintenance_runs WHERE id = $1`,
  values: [id],
});

/** A target's runs, newest first, after a keyset position (the index maintenance_runs_target_created). */
export const selectRunPage = (
  targetId: string,
  before: { createdAt: string; id: string } | undefined,
  limit: number,
): Sql => ({
  text: `SELECT ${RUN_COLUMNS} FROM maintenance_runs
          WHERE target_id = $1
            AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
          ORDER BY created_at DESC, id DESC
          LIMIT $4`,
  values: [targetId, before?.createdAt ?? null, before?.id ?? null, limit + 1],
});

// Every write for a job's attempt is fenced by its attempt id: the run's id is its job's, and a write
// from an attempt that no longer owns the job (its lease expired, another attempt took over) changes
// nothing. $2 is always the attempt id.
const FENCE = `EXISTS (SELECT 1 FROM jobs j
                        WHERE j.id = maintenance_runs.id AND j.attempt_id = $2 AND j.status = 'running')`;

/**
 * Claim the run for an attempt. `running` too: a second attempt (after a crashed or stopped worker)
 * starts over; every statement is safe to repeat.
 */
export const markRunRunning = (id: string, attemptId: string): Sql => ({
  text: `UPDATE maintenance_runs SET status = 'running', started_at = now(), tables = '[]', error = NULL, credential = NULL
          WHERE id = $1 AND status IN ('pending', 'running') AND ${FENCE}
          RETURNING ${RUN_COLUMNS}`,
  values: [id, attemptId],
});

export const recordRunCredential = (id: string, attemptId: string, credential: 'secret' | 'admin'): Sql => ({
  text: `UPDATE maintenance_runs SET credential = $3 WHERE id = $1 AND status = 'running' AND ${FENCE}`,
  values: [id, attemptId, credential],
});

/** The tables as they stand (before, and after for those done), written after every table. */
export const recordRunTables = (id: string, attemptId: string, tables: MaintainedTable[]): Sql => ({
  text: `UPDATE maintenance_runs SET tables = $3 WHERE id = $1 AND status = 'running' AND ${FENCE}`,
  values: [id, attemptId, JSON.stringify(tables)],
});

export const finishRun = (
  id: string,
  attemptId: string,
  status: Exclude<MaintenanceStatus, 'pending' | 'running'>,
  tables: MaintainedTable[] | null,
  error: { code: string; message: string } | null,
): Sql => ({
  text: `UPDATE maintenance_runs
            SET status = $3, tables = COALESCE($4::jsonb, tables), error = $5, completed_at = now()
          WHERE id = $1 AND status = 'running' AND ${FENCE}`,
  values: [
    id,
    attemptId,
    status,
    tables === null ? null : JSON.stringify(tables),
    error === null ? null : JSON.stringify(error),
  ],
});
