import type { Sql } from '../../db/tenant-scope.js';
import type { RestoreMode, RestoreOptions } from './options.js';

export type RestoreStatus = 'pending' | 'running' | 'succeeded' | 'failed';

export interface RestoreTable {
  schema: string;
  name: string;
  rows: number;
}

export interface RestoreRoles {
  missing: string[];
  created: string[];
  skipped: string[];
}

export interface RestoreRow {
  id: string;
  tenant_id: string;
  backup_id: string;
  target_id: string | null;
  job_id: string | null;
  database: string;
  mode: RestoreMode;
  options: RestoreOptions;
  status: RestoreStatus;
  work_database: string | null;
  previous_database: string | null;
  keep_until: Date | null;
  previous_dropped_at: Date | null;
  tables: RestoreTable[];
  roles: RestoreRoles | null;
  error: { code: string; message: string } | null;
  created_at: Date;
  completed_at: Date | null;
}

const COLUMNS = `id, tenant_id, backup_id, target_id, job_id, database, mode, options, status, work_database,
  previous_database, keep_until, previous_dropped_at, tables, roles, error, created_at, completed_at`;

export const insertRestore = (r: {
  tenantId: string;
  backupId: string;
  targetId: string;
  database: string;
  mode: RestoreMode;
  options: RestoreOptions;
}): Sql => ({
  text: `INSERT INTO restores (tenant_id, backup_id, target_id, database, mode, options)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
  values: [r.tenantId, r.backupId, r.targetId, r.database, r.mode, JSON.stringify(r.options)],
});

export const setRestoreJob = (id: string, jobId: string): Sql => ({
  text: 'UPDATE restores SET job_id = $2 WHERE id = $1',
  values: [id, jobId],
});

export const selectRestore = (id: string): Sql => ({
  text: `SELECT ${COLUMNS} FROM restores WHERE id = $1`,
  values: [id],
});

export const selectRestoresByIds = (ids: string[]): Sql => ({
  text: `SELECT ${COLUMNS} FROM restores WHERE id = ANY($1::uuid[])`,
  values: [ids],
});

/** Newest first, keyset on (created_at, id); restores_tenant_created serves it. */
export const selectRestorePage = (
  filter: { backupId?: string | undefined; targetId?: string | undefined },
  before: { createdAt: string; id: string } | undefined,
  limit: number,
): Sql => ({
  text: `SELECT ${COLUMNS} FROM restores
          WHERE ($1::uuid IS NULL OR backup_id = $1)
            AND ($2::uuid IS NULL OR target_id = $2)
            AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
          ORDER BY created_at DESC, id DESC
          LIMIT $5`,
  values: [filter.backupId ?? null, filter.targetId ?? null, before?.createdAt ?? null, before?.id ?? null, limit + 1],
});

/**
 * A (re)started attempt; work_database is kept: a retry must drop what an earlier attempt left. Every
 * write a job makes to its restore goes through fencedBy (src/jobs/fence.ts): a stale attempt's matches
 * no row.
 */
export const markRestoreRunning = (id: string): Sql => ({
  text: `UPDATE restores SET status = 'running', error = NULL, completed_at = NULL
          WHERE id = $1 AND status IN ('pending', 'running') RETURNING ${COLUMNS}`,
  values: [id],
});

/** Recorded before the database is created, so a retry knows which leftover is its own. */
export const setWorkDatabase = (id: string, work: string | null): Sql => ({
  text: 'UPDATE restores SET work_database = $2 WHERE id = $1 RETURNING id',
  values: [id, work],
});

/**
 * replace: the name the old database is renamed aside to, recorded before the rename (and cleared if it
 * is renamed back), so a retry after a crash between the two renames can put the original back.
 */
export const setPreviousDatabase = (id: string, name: string | null): Sql => ({
  text: 'UPDATE restores SET previous_database = $2 WHERE id = $1 RETURNING id',
  values: [id, name],
});

export const markRestoreSucceeded = (
  id: string,
  o: { tables: RestoreTable[]; roles: RestoreRoles; previousDatabase: string | null; keepUntil: Date | null },
): Sql => ({
  text: `UPDATE restores SET status = 'succeeded', tables = $2, roles = $3, previous_database = $4, keep_until = $5,
                             work_database = NULL, completed_at = now()
          WHERE id = $1 AND status = 'running' RETURNING ${COLUMNS}`,
  values: [id, JSON.stringify(o.tables), JSON.stringify(o.roles), o.previousDatabase, o.keepUntil],
});

export const markRestoreFailed = (id: string, error: { code: string; message: string }): Sql => ({
  text: `UPDATE restores SET status = 'failed', error = $2, completed_at = now()
          WHERE id = $1 AND status IN ('pending', 'running') RETURNING id`,
  values: [id, JSON.stringify(error)],
});

/**
 * A released attempt (shutdown): pending again. work_database and previous_database stay, so that the
 * next attempt drops the work database and puts an original renamed aside back (reconcileEarlierAttempt).
 */
export const markRestorePending = (id: string): Sql => ({
  text: `UPDATE restores SET status = 'pending', error = NULL, completed_at = NULL
          WHERE id = $1 AND status = 'running' RETURNING id`,
  values: [id],
});

/**
 * Succeeded replaces whose kept database's time is up, across tenants (the caller's scope decides);
 * restores_previous_kept serves it. Without its target (deleted) a kept database cannot be reached.
 */
export const selectExpiredPrevious = (now: Date): Sql => ({
  text: `SELECT ${COLUMNS} FROM restores
          WHERE previous_database IS NOT NULL AND previous_dropped_at IS NULL AND keep_until < $1
            AND status = 'succeeded' AND mode = 'replace' AND target_id IS NOT NULL
          ORDER BY keep_until`,
  values: [now],
});

/** The kept database is gone; only once. */
export const markPreviousDropped = (id: string): Sql => ({
  text: `UPDATE restores SET previous_dropped_at = now()
          WHERE id = $1 AND previous_database IS NOT NULL AND previous_dropped_at IS NULL RETURNING ${COLUMNS}`,
  values: [id],
});
