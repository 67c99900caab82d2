import type { Sql } from '../db/tenant-scope.js';
import { JOB_COLUMNS, jobColumnsOf } from './job-row.js';

/** The advisory-lock class that serialises claims (object 0: one claim statement at a time, cluster-wide). */
const CLAIM_LOCK_CLASS = 7_164_022;

export const LEASE_EXPIRED_ERROR = {
  code: 'PGS_LEASE_EXPIRED',
  message: 'The worker running this job stopped responding before it finished.',
};

export const notify = (channel: string, payload: string): Sql => ({
  text: 'SELECT pg_notify($1, $2)',
  values: [channel, payload],
});

export const insertJob = (job: {
  tenantId: string;
  kind: string;
  targetId: string | null;
  subjectsJson: string;
  payloadJson: string;
  maxAttempts: number;
  runAt: Date | null;
}): Sql => ({
  text: `INSERT INTO jobs (tenant_id, kind, target_id, subjects, payload, max_attempts, run_at)
         VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, coalesce($7::timestamptz, now()))
         RETURNING ${JOB_COLUMNS}`,
  values: [job.tenantId, job.kind, job.targetId, job.subjectsJson, job.payloadJson, job.maxAttempts, job.runAt],
});

export const selectJobRow = (id: string): Sql => ({
  text: `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1`,
  values: [id],
});

/** The advisory lock (class, object 0) a claim holds for one statement; see claimJobs. */
export const lockClaims = (): Sql => ({
  text: 'SELECT pg_advisory_xact_lock($1, 0)',
  values: [CLAIM_LOCK_CLASS],
});

/**
 * Claim up to `limit` jobs across tenants in one statement, run under lockClaims (taken by the statement
 * before, so that in READ COMMITTED this one's snapshot sees every claim committed before the lock was
 * granted: the running counts are exact and each tenant's cap holds however many workers claim at once).
 *
 * Fairness, so a tenant with a deep queue cannot starve another's single job: each tenant with runnable
 * jobs offers at most (cap - running) of them, ranked 1, 2, ... in run_at order; a job's place is then
 * (the tenant's running count + its rank) - fewest running first, as if claimed one by one - then the
 * tenant served least recently (its latest started_at: round-robin), then the oldest job first. Kinds this
 * worker has no task for are skipped (a worker of another version may run them; graphile-worker filters by
 * task identifier the same way). SKIP LOCKED steps over a row a concurrent cancel holds.
 *
 * Cost: the tenants with queued jobs are found by a skip scan of jobs_queued (one index descent per
 * tenant, never a pass over every queued job), the running counts from jobs_running (as many rows as jobs
 * run at once), each tenant's last start from one descent of jobs_tenant_started, and each tenant's next
 * jobs from jobs_queued. Finished jobs are read by none of these. Measured on the 2-core development
 * machine (PostgreSQL 15 over TLS, load average ~2), with 100 tenants and 100,000 queued jobs: ~2 ms for
 * a claim of 10, where the two-step claim it replaced (a per-tenant lock chosen by an aggregate over all
 * queued jobs, one job a transaction) took ~25 ms for one job at a load average of 16 (B6,
 * docs/BENCHMARKS.md).
 */
export const claimJobs = (
  limit: number,
  tenantMaxRunning: number,
  worker: { workerId: string; leaseMs: number; kinds: string[] | null },
): Sql => ({
  text: `WITH RECURSIVE queued_tenants AS (
           (SELECT tenant_id FROM jobs WHERE status = 'queued' ORDER BY tenant_id LIMIT 1)
           UNION ALL
           SELECT (SELECT j.tenant_id FROM jobs j
                    WHERE j.status = 'queued' AND j.tenant_id > t.tenant_id ORDER BY j.tenant_id LIMIT 1)
             FROM queued_tenants t WHERE t.tenant_id IS NOT NULL
         ), running AS (
           SELECT tenant_id, count(*)::int AS n FROM jobs WHERE status = 'running' GROUP BY tenant_id
         ), tenants AS (
           SELECT q.tenant_id, coalesce(r.n, 0) AS running,
                  (SELECT max(s.started_at) FROM jobs s
                    WHERE s.tenant_id = q.tenant_id AND s.started_at IS NOT NULL) AS last_started
             FROM queued_tenants q LEFT JOIN running r ON r.tenant_id = q.tenant_id
            WHERE q.tenant_id IS NOT NULL AND coalesce(r.n, 0) < $2
         ), offered AS (
           SELECT n.id, t.running + n.rank AS place, t.last_started, n.oldest, t.tenant_id
             FROM tenants t
            CROSS JOIN LATERAL (
              SELECT j.id, row_number() OVER w AS rank, first_value(j.run_at) OVER w AS oldest
                FROM (SELECT id, run_at FROM jobs
                       WHERE tenant_id = t.tenant_id AND status = 'queued' AND run_at <= now()
                         AND ($5::text[] IS NULL OR kind = ANY ($5::text[]))
                       ORDER BY run_at, id
                       LIMIT least($2 - t.running, $1)) j
              WINDOW w AS (ORDER BY j.run_at, j.id)
            ) n
         ), chosen AS (
           SELECT id FROM offered ORDER BY place, last_started NULLS FIRST, oldest, tenant_id LIMIT $1
         ), locked AS (
           SELECT id FROM jobs
            WHERE id IN (SELECT id FROM chosen) AND status = 'queued'
            FOR UPDATE SKIP LOCKED
         )
         UPDATE jobs j
            SET status = 'running', attempts = j.attempts + 1, attempt_id = gen_random_uuid(),
                locked_by = $3, locked_until = now() + $4 * interval '1 millisecond', heartbeat_at = now(),
                started_at = now(), finished_at = NULL
           FROM locked
          WHERE j.id = locked.id
         RETURNING ${jobColumnsOf('j')}`,
  values: [limit, tenantMaxRunning, worker.workerId, worker.leaseMs, worker.kinds],
});

/**
 * The rows of live attempts (id and attempt_id arrays, matched pairwise), locked in id order: two
 * statements that each write several running jobs (a batch of completions, a lease renewal) then take
 * their row locks in the same order and cannot deadlock.
 */
const lockOwnedInIdOrder = (ids: string, attemptIds: string) =>
  `SELECT j.id FROM jobs j JOIN unnest(${ids}::uuid[], ${attemptIds}::uuid[]) AS a(id, attempt_id)
      ON j.id = a.id AND j.attempt_id = a.attempt_id
   WHERE j.status = 'running'
   ORDER BY j.id
   FOR UPDATE OF j`;

/** Renew the leases of a worker's attempts; an attempt missing from the answer has lost its job. */
export const renewLeases = (attempts: { jobId: string; attemptId: string }[], leaseMs: number): Sql => ({
  text: `WITH owned AS (${lockOwnedInIdOrder('$1', '$2')})
         UPDATE jobs j
            SET locked_until = now() + $3 * interval '1 millisecond', heartbeat_at = now()
           FROM owned
          WHERE j.id = owned.id
         RETURNING j.id, j.cancel_requested_at IS NOT NULL AS cancel_requested`,
  values: [attempts.map((a) => a.jobId), attempts.map((a) => a.attemptId), leaseMs],
});

// Every write for an attempt is fenced by this clause: zero rows means the attempt is stale.
const FENCE = "id = $1 AND attempt_id = $2 AND status = 'running'";

export const writeProgress = (jobId: string, attemptId: string, progressJson: string): Sql => ({
  text: `UPDATE jobs SET progress = $3::jsonb WHERE ${FENCE} RETURNING status`,
  values: [jobId, attemptId, progressJson],
});

export const completeAttempt = (jobId: string, attemptId: string, resultJson: string): Sql => ({
  text: `UPDATE jobs
            SET status = 'succeeded', result = $3::jsonb, error = NULL, finished_at = now(),
                locked_by = NULL, locked_until = NULL
          WHERE ${FENCE}
         RETURNING status`,
  values: [jobId, attemptId, resultJson],
});

/**
 * Several attempts succeeded (the worker's completion batch): one statement, each row fenced by its own
 * attempt_id. An attempt missing from the answer is stale. `results` are JSON objects, serialised.
 */
export const completeAttempts = (attempts: { jobId: string; attemptId: string; resultJson: string }[]): Sql => ({
  text: `WITH owned AS (${lockOwnedInIdOrder('$1', '$2')})
         UPDATE jobs j
            SET status = 'succeeded', result = r.result, error = NULL, finished_at = now(),
                locked_by = NULL, locked_until = NULL
           FROM owned JOIN unnest($1::uuid[], $3::jsonb[]) AS r(id, result) ON r.id = owned.id
          WHERE j.id = owned.id
         RETURNING j.id`,
  values: [attempts.map((a) => a.jobId), attempts.map((a) => a.attemptId), attempts.map((a) => a.resultJson)],
});

export interface Backoff {
  baseMs: number;
  capMs: number;
}

/**
 * The SET list that ends a failed attempt: cancelled if a cancel was requested; else queued again
 * after least(cap, base * 2^(attempts-1)) if the failure is retryable and attempts remain; else
 * failed. Parameters are passed in by position so the reaper and failAttempt share it.
 */
const settleFailure = (p: { retryable: string; error: string; baseMs: string; capMs: string }): string => {
  // Released attempts (shutdown) are not failures: neither the limit nor the backoff counts them.
  const retry = `(cancel_requested_at IS NULL AND ${p.retryable} AND attempts - releases < max_attempts)`;
  return `status = CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled'
                        WHEN ${retry} THEN 'queued' ELSE 'failed' END,
          run_at = CASE WHEN ${retry}
                        THEN now() + least(${p.capMs}::float8, ${p.baseMs}::float8 * power(2, greatest(attempts - releases - 1, 0)))
                                     * interval '1 millisecond'
                        ELSE run_at END,
          error = CASE WHEN cancel_requested_at IS NOT NULL THEN NULL ELSE ${p.error} END,
          finished_at = CASE WHEN ${retry} THEN NULL ELSE now() END,
          locked_by = NULL, locked_until = NULL`;
};

export const failAttempt = (
  jobId: string,
  attemptId: string,
  error: { code: string; message: string },
  retryable: boolean,
  backoff: Backoff,
): Sql => ({
  text: `UPDATE jobs
            SET ${settleFailure({ retryable: '$4::boolean', error: '$3::jsonb', baseMs: '$5', capMs: '$6' })}
          WHERE ${FENCE}
         RETURNING status`,
  values: [jobId, attemptId, JSON.stringify(error), retryable, backoff.baseMs, backoff.capMs],
});

/** Expired leases: their worker died or stalled. Retried like a retryable failure, or failed. */
export const reapExpiredLeases = (backoff: Backoff): Sql => ({
  text: `WITH expired AS (
           SELECT id FROM jobs WHERE status = 'running' AND locked_until < now() FOR UPDATE SKIP LOCKED
         )
         UPDATE jobs j
            SET ${settleFailure({ retryable: 'true', error: '$1::jsonb', baseMs: '$2', capMs: '$3' })}
           FROM expired
          WHERE j.id = expired.id
         RETURNING j.id, j.tenant_id, j.status`,
  values: [JSON.stringify(LEASE_EXPIRED_ERROR), backoff.baseMs, backoff.capMs],
});

/**
 * Shutdown hands a job back: queued at once. The interrupted attempt stays counted in `attempts` (it
 * started), and is counted in `releases` as well, so it uses up none of max_attempts: the job did not
 * fail. A job whose cancel was requested meanwhile ends cancelled instead.
 */
export const releaseAttempt = (jobId: string, attemptId: string): Sql => ({
  text: `UPDATE jobs
            SET status = CASE WHEN cancel_requested_at IS NULL THEN 'queued' ELSE 'cancelled' END,
                releases = CASE WHEN cancel_requested_at IS NULL THEN releases + 1 ELSE releases END,
                finished_at = CASE WHEN cancel_requested_at IS NULL THEN NULL ELSE now() END,
                locked_by = NULL, locked_until = NULL
          WHERE ${FENCE}
         RETURNING status`,
  values: [jobId, attemptId],
});

/**
 * Holds the job row of a live attempt until the caller's transaction ends, or answers no row if the
 * attempt no longer owns its job. While it is held, neither the reaper nor a claim can hand the job to
 * another attempt (both skip locked rows), so what the caller does meanwhile is done as the owner.
 */
export const lockOwnedAttempt = (jobId: string, attemptId: string): Sql => ({
  text: `SELECT id FROM jobs WHERE ${FENCE} FOR UPDATE`,
  values: [jobId, attemptId],
});

/** Queued jobs by kind (the queue depth metric), across tenants. */
export const countQueuedByKind = (): Sql => ({
  text: "SELECT kind, count(*)::int AS n FROM jobs WHERE status = 'queued' GROUP BY kind",
  values: [],
});

/**
 * A queued job is cancelled outright; a running one is marked, and its worker stops it. One statement
 * for both, so a claim racing the cancel is handled: the UPDATE waits for the claim's row lock and then
 * re-evaluates against the now-running row.
 */
export const requestJobCancel = (jobId: string): Sql => ({
  text: `UPDATE jobs
            SET status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
                finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END,
                cancel_requested_at = coalesce(cancel_requested_at, now())
          WHERE id = $1 AND status IN ('queued', 'running')
         RETURNING ${JOB_COLUMNS}`,
  values: [jobId],
});
