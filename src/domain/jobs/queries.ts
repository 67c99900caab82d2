import type { Sql } from '../../db/tenant-scope.js';
import { JOB_COLUMNS } from '../../jobs/job-row.js';
import type { JobStatus } from '../../jobs/types.js';

// No tenant filter in these queries on purpose: row-level security decides which rows the scope may see.

export const selectJob = (id: string): Sql => ({
  text: `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1`,
  values: [id],
});

export const selectJobsByIds = (ids: string[]): Sql => ({
  text: `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ANY ($1::uuid[])`,
  values: [ids],
});

export interface JobFilter {
  status?: JobStatus | undefined;
  kind?: string | undefined;
  targetId?: string | undefined;
}

/** A keyset position: created_at at full (microsecond) precision, which a JS Date would truncate. */
export interface JobPosition {
  createdAt: string;
  id: string;
}

/**
 * Newest first, keyset-paginated on (created_at, id): stable while jobs are added, and for one tenant an
 * ordered scan of jobs_tenant_created. created_key carries the exact timestamp into the next cursor.
 */
export const selectJobPage = (filter: JobFilter, after: JobPosition | undefined, limit: number): Sql => ({
  text: `SELECT ${JOB_COLUMNS},
                to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_key
           FROM jobs
          WHERE ($1::text IS NULL OR status = $1)
            AND ($2::text IS NULL OR kind = $2)
            AND ($3::uuid IS NULL OR target_id = $3)
            AND ($4::timestamptz IS NULL OR (created_at, id) < ($4::timestamptz, $5::uuid))
          ORDER BY created_at DESC, id DESC
          LIMIT $6`,
  values: [
    filter.status ?? null,
    filter.kind ?? null,
    filter.targetId ?? null,
    after?.createdAt ?? null,
    after?.id ?? null,
    limit + 1,
  ],
});

/** Failed jobs of a target since a moment, by kind (health reports' backup posture). */
export const countFailedJobs = (targetId: string, kinds: string[], since: Date): Sql => ({
  text: `SELECT kind, count(*)::int AS count FROM jobs
          WHERE target_id = $1 AND kind = ANY ($2::text[]) AND status = 'failed' AND finished_at >= $3
          GROUP BY kind ORDER BY kind`,
  values: [targetId, kinds, since],
});
