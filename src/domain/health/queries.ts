import type { Sql } from '../../db/tenant-scope.js';
import type { CreatedPosition } from '../pagination.js';

// Metadata SQL for health reports and policies. No tenant filter: row-level security scopes every row.

export interface HealthReportRow {
  id: string;
  tenant_id: string;
  target_id: string;
  job_id: string | null;
  status: 'pending' | 'pass' | 'warn' | 'unknown' | 'fail' | 'error';
  started_at: Date | null;
  finished_at: Date | null;
  server: Record<string, unknown> | null;
  checks: unknown[];
  error: { code: string; message: string } | null;
  created_at: Date;
}

const REPORT_COLUMNS =
  'id, tenant_id, target_id, job_id, status, started_at, finished_at, server, checks, error, created_at';

export const insertHealthReport = (tenantId: string, targetId: string): Sql => ({
  text: `INSERT INTO health_reports (tenant_id, target_id) VALUES ($1, $2) RETURNING ${REPORT_COLUMNS}`,
  values: [tenantId, targetId],
});

export const setHealthReportJob = (id: string, jobId: string): Sql => ({
  text: 'UPDATE health_reports SET job_id = $2 WHERE id = $1',
  values: [id, jobId],
});

export const selectHealthReport = (id: string): Sql => ({
  text: `SELECT ${REPORT_COLUMNS} FROM health_reports WHERE id = $1`,
  values: [id],
});

export const markHealthReportStarted = (id: string): Sql => ({
  text: 'UPDATE health_reports SET started_at = now() WHERE id = $1 RETURNING id',
  values: [id],
});

export const finishHealthReport = (id: string, status: string, server: unknown, checks: unknown[]): Sql => ({
  text: `UPDATE health_reports SET status = $2, server = $3, checks = $4, finished_at = now(), error = NULL
          WHERE id = $1 RETURNING ${REPORT_COLUMNS}`,
  values: [id, status, JSON.stringify(server), JSON.stringify(checks)],
});

export const failHealthReport = (id: string, error: { code: string; message: string }): Sql => ({
  text: `UPDATE health_reports SET status = 'error', error = $2, finished_at = now() WHERE id = $1 AND status = 'pending'`,
  values: [id, JSON.stringify(error)],
});

/** A target's history, newest first, keyset on (created_at, id) like every list. */
export const selectHealthReportPage = (targetId: string, before: CreatedPosition | undefined, limit: number): Sql => ({
  text: `SELECT ${REPORT_COLUMNS} FROM health_reports
          WHERE target_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
          ORDER BY created_at DESC, id DESC LIMIT $4`,
  values: [targetId, before?.createdAt ?? null, before?.id ?? null, limit + 1],
});

/** The newest finished report of each target. */
export const selectLatestReports = (targetIds: string[]): Sql => ({
  text: `SELECT DISTINCT ON (target_id) ${REPORT_COLUMNS} FROM health_reports
          WHERE target_id = ANY ($1::uuid[]) AND finished_at IS NOT NULL
          ORDER BY target_id, created_at DESC, id DESC`,
  values: [targetIds],
});

/** Up to `perTarget` newest reports of each target (GraphQL Target.healthReports, batched). */
export const selectRecentReports = (targetIds: string[], perTarget: number): Sql => ({
  text: `SELECT r.* FROM unnest($1::uuid[]) AS t(id)
           CROSS JOIN LATERAL (SELECT ${REPORT_COLUMNS} FROM health_reports h WHERE h.target_id = t.id
                                ORDER BY created_at DESC, id DESC LIMIT $2) r`,
  values: [targetIds, perTarget],
});

/** Dead-tuple evidence of a target's last finished reports, newest first (history checks, the HTML chart). */
export const selectDeadTupleHistory = (targetId: string, limit: number, before?: Date): Sql => ({
  text: `SELECT finished_at,
                coalesce((SELECT c -> 'evidence' FROM jsonb_array_elements(checks) c
                           WHERE c ->> 'id' = 'maintenance.dead_tuples'), '[]'::jsonb) AS evidence
           FROM health_reports
          WHERE target_id = $1 AND finished_at IS NOT NULL AND status <> 'error'
            AND ($3::timestamptz IS NULL OR created_at < $3)
          ORDER BY created_at DESC, id DESC LIMIT $2`,
  values: [targetId, limit, before ?? null],
});

/** The fleet view: every visible target with its newest finished report (or none), a page of targets. */
export const selectFleetPage = (before: CreatedPosition | undefined, limit: number): Sql => ({
  text: `SELECT t.id, t.name, t.created_at, r.id AS report_id, r.status, r.finished_at, r.checks
           FROM targets t
           LEFT JOIN LATERAL (SELECT id, status, finished_at, checks FROM health_reports h
                               WHERE h.target_id = t.id AND h.finished_at IS NOT NULL
                               ORDER BY created_at DESC, id DESC LIMIT 1) r ON true
          WHERE ($1::timestamptz IS NULL OR (t.created_at, t.id) < ($1::timestamptz, $2::uuid))
          ORDER BY t.created_at DESC, t.id DESC LIMIT $3`,
  values: [before?.createdAt ?? null, before?.id ?? null, limit + 1],
});

/** Every target's latest finished report, all tenants (the metrics scrape). */
export const selectLatestForMetrics = (): Sql => ({
  text: `SELECT DISTINCT ON (target_id) target_id, status, checks FROM health_reports
          WHERE finished_at IS NOT NULL ORDER BY target_id, created_at DESC, id DESC`,
  values: [],
});

export interface HealthPolicyRow {
  target_id: string;
  tenant_id: string;
  thresholds: Record<string, Record<string, number>>;
  schedule: string | null;
  timezone: string;
  keep_days: number;
  last_tick: Date | null;
  created_at: Date;
  updated_at: Date;
}

const POLICY_COLUMNS =
  'target_id, tenant_id, thresholds, schedule, timezone, keep_days, last_tick, created_at, updated_at';

export const selectHealthPolicy = (targetId: string): Sql => ({
  text: `SELECT ${POLICY_COLUMNS} FROM health_policies WHERE target_id = $1`,
  values: [targetId],
});

/** Create or replace; a schedule counts from now, so a new one does not fire for ticks already past. */
export const upsertHealthPolicy = (
  tenantId: string,
  targetId: string,
  p: { thresholds: unknown; schedule: string | null; timezone: string; keepDays: number },
): Sql => ({
  text: `INSERT INTO health_policies (target_id, tenant_id, thresholds, schedule, timezone, keep_days, last_tick)
         VALUES ($1, $2, $3, $4, $5, $6, now())
         ON CONFLICT (target_id) DO UPDATE
           SET thresholds = excluded.thresholds, schedule = excluded.schedule, timezone = excluded.timezone,
               keep_days = excluded.keep_days, last_tick = now(), updated_at = now()
         RETURNING ${POLICY_COLUMNS}`,
  values: [targetId, tenantId, JSON.stringify(p.thresholds), p.schedule, p.timezone, p.keepDays],
});

export const deleteHealthPolicy = (targetId: string): Sql => ({
  text: 'DELETE FROM health_policies WHERE target_id = $1 RETURNING target_id',
  values: [targetId],
});

export const selectScheduledPolicies = (): Sql => ({
  text: `SELECT ${POLICY_COLUMNS} FROM health_policies WHERE schedule IS NOT NULL ORDER BY target_id`,
  values: [],
});

export const advanceHealthTick = (targetId: string, tick: Date): Sql => ({
  text: `UPDATE health_policies SET last_tick = $2
          WHERE target_id = $1 AND (last_tick IS NULL OR last_tick < $2) RETURNING target_id`,
  values: [targetId, tick],
});

/**
 * History past its keep days (the policy's, else the default), all tenants, a batch at a time so one
 * pass never holds a long transaction. A pending report is never pruned.
 */
export const pruneHealthReports = (defaultKeepDays: number, batch: number): Sql => ({
  text: `DELETE FROM health_reports WHERE id IN (
           SELECT h.id FROM health_reports h LEFT JOIN health_policies p ON p.target_id = h.target_id
            WHERE h.status <> 'pending'
              AND h.created_at < now() - make_interval(days => coalesce(p.keep_days, $1))
            LIMIT $2)
         RETURNING id`,
  values: [defaultKeepDays, batch],
});
