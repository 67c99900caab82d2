import type { Sql } from '../db/tenant-scope.js';
import { JOB_COLUMNS, jobColumnsOf } from './job-row.js';

/** The advisory-lock class that serialises claims per tenant (the object id is hashtext(tenant_id)). */
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

/**
 * Step 1 of a claim: choose a tenant and take its claim lock. Fairness, so a tenant with a deep queue
 * cannot starve another's single job: the tenant with the fewest running jobs goes first, then the one
 * served least recently (its latest started_at: round-robin), then the one whose oldest job has waited
 * longest. Tenants already tried in this claim are skipped, and so are jobs of kinds this worker has no
 * task for (a worker of another version may; graphile-worker filters by task identifier the same way).
 *
 * Claimers would all pick the same best tenant, so each try-locks down the ordered list and takes the
 * first tenant no one else is claiming for (the try-lock sits outside the sorted subquery: PostgreSQL
 * pushes no volatile qual into a subquery, so it runs on candidates in order, stopping at the first
 * success). If every candidate is busy, answers best_tenant so the caller waits for that one
 * (waitForClaimLock) rather than giving up while jobs wait. A claim transaction thus holds at most one
 * claim lock, and waits only while holding none: claimers cannot deadlock.
 */
export const lockClaimableTenant = (tenantMaxRunning: number, skipTenants: string[], kinds: string[] | null): Sql => ({
  text: `WITH candidates AS MATERIALIZED (
           SELECT q.tenant_id,
                  row_number() OVER (ORDER BY r.running, s.last_started NULLS FIRST, q.oldest, q.tenant_id) AS rank
             FROM (SELECT tenant_id, min(run_at) AS oldest FROM jobs
                    WHERE status = 'queued' AND run_at <= now() AND tenant_id <> ALL ($2::text[])
                      AND ($4::text[] IS NULL OR kind = ANY ($4::text[]))
                    GROUP BY tenant_id) q
            CROSS JOIN LATERAL (SELECT count(*) AS running FROM jobs r
                                 WHERE r.tenant_id = q.tenant_id AND r.status = 'running') r
            CROSS JOIN LATERAL (SELECT max(started_at) AS last_started FROM jobs s
                                 WHERE s.tenant_id = q.tenant_id) s
            WHERE r.running < $1
         ), locked AS (
           SELECT tenant_id FROM (SELECT tenant_id FROM candidates ORDER BY rank) ordered
            WHERE pg_try_advisory_xact_lock($3, hashtext(tenant_id))
            LIMIT 1
         )
         SELECT (SELECT tenant_id FROM locked) AS locked_tenant,
                (SELECT tenant_id FROM candidates ORDER BY rank LIMIT 1) AS best_tenant`,
  values: [tenantMaxRunning, skipTenants, CLAIM_LOCK_CLASS, kinds],
});

/** Wait for a tenant's claim lock (every candidate was busy); a claim holds it for a few milliseconds. */
export const waitForClaimLock = (tenantId: string): Sql => ({
  text: 'SELECT pg_advisory_xact_lock($1, hashtext($2))',
  values: [CLAIM_LOCK_CLASS, tenantId],
});

/**
 * Step 2 of a claim, under the tenant's claim lock, as its own statement: in READ COMMITTED it gets a
 * snapshot taken after the lock, which sees everything the previous holder committed, its claim
 * included. So the recount of running jobs is exact and the cap holds however many workers claim at
 * once. Then it takes the tenant's next job; SKIP LOCKED steps over a row a concurrent cancel holds.
 * Every claim is a new attempt: new attempt_id, attempts + 1, a fresh lease.
 *
 * Measured on the 2-core development machine (PostgreSQL 15 over TLS, 8 tenants, 2,000 queued jobs
 * beside 50,000 finished ones, tenantMaxRunning 2): a claim (BEGIN, scope, step 1, step 2, COMMIT) takes
 * ~2.6 ms uncontended, about half of it planning and running step 1's aggregate over the queued jobs;
 * with 4 to 8 concurrent claimers, ~470 claim-and-complete cycles/s in all. Jobs here run for seconds
 * to hours, so that is ample headroom.
 */
export const claimJob = (
  tenantId: string,
  tenantMaxRunning: number,
  worker: { workerId: string; leaseMs: number; kinds: string[] | null },
): Sql => ({
  text: `WITH next AS (
           SELECT id FROM jobs
            WHERE tenant_id = $1 AND status = 'queued' AND run_at <= now()
              AND ($5::text[] IS NULL OR kind = ANY ($5::text[]))
              AND (SELECT count(*) FROM jobs WHERE tenant_id = $1 AND status = 'running') < $2
            ORDER BY run_at, id
            LIMIT 1
            FOR UPDATE SKIP LOCKED
         )
         UPDATE jobs j
            SET status = 'running', attempts = j.attempts + 1, attempt_id = gen_random_uuid(),
                locked_by = $3, locked_until = now() + $4 * interval '1 millisecond', heartbeat_at = now(),
                started_at = now(), finished_at = NULL
           FROM next
          WHERE j.id = next.id
         RETURNING ${jobColumnsOf('j')}`,
  values: [tenantId, tenantMaxRunning, worker.workerId, worker.leaseMs, worker.kinds],
});

/** Renew the leases of a worker's attempts; an attempt missing from the answer has lost its job. */
export const renewLeases = (attempts: { jobId: string; attemptId: string }[], leaseMs: number): Sql => ({
  text: `UPDATE jobs j
            SET locked_until = now() + $3 * interval '1 millisecond', heartbeat_at = now()
           FROM unnest($1::uuid[], $2::uuid[]) AS a(id, attempt_id)
          WHERE j.id = a.id AND j.attempt_id = a.attempt_id AND j.status = 'running'
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
