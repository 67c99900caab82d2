import type { Sql } from '../db/tenant-scope.js';
import { JOB_COLUMNS } from './job-row.js';
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

/**
 * Claim up to `limit` jobs across tenants, fairly and within each tenant's cap, in one round trip: the
 * function pgsteward_claim_jobs (migrations/0014_job_claims.sql) takes the claim lock, then claims with a
 * snapshot taken after the lock. Its comment says how and what it costs.
 */
export const claimJobs = (
  limit: number,
  tenantMaxRunning: number,
  worker: { workerId: string; leaseMs: number; kinds: string[] | null },
): Sql => ({
  text: `SELECT ${JOB_COLUMNS} FROM pgsteward_claim_jobs($1, $2, $3, $4, $5)`,
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
 * Several attempts succeeded (the worker's completion batch), in one round trip: pgsteward_complete_jobs
 * (migrations/0014_job_claims.sql) writes each row fenced by its own attempt id, locking the rows in id
 * order. An attempt missing from the answer is stale. Results are JSON objects, serialised.
 */
export const completeAttempts = (attempts: { jobId: string; attemptId: string; resultJson: string }[]): Sql => ({
  text: 'SELECT id FROM pgsteward_complete_jobs($1::uuid[], $2::uuid[], $3::jsonb[]) AS id',
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
