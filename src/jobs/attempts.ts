import type pg from 'pg';
import { inTenantScope, type Sql } from '../db/tenant-scope.js';
import { JOBS_AVAILABLE_CHANNEL } from './channels.js';
import type { AttemptRef } from './fence.js';
import { type JobRow, toJob } from './job-row.js';
import * as q from './queries.js';
import { type Job, type JobError, type JobStatus, StaleAttemptError } from './types.js';

/**
 * The engine's unit of work, one transaction each: claim an attempt, renew its lease, record its
 * progress and outcome, reap the attempts of dead workers. Workers run every tenant's jobs, so each
 * runs with the all-tenants scope; the fencing attempt id guards every write for an attempt.
 */

const ALL_TENANTS = { allTenants: true } as const;

export interface ClaimedAttempt {
  job: Job;
  attemptId: string;
}

export interface ClaimOptions {
  workerId: string;
  leaseMs: number;
  tenantMaxRunning: number;
  /** Only jobs of these kinds (the worker's tasks); omitted, any kind. */
  kinds?: string[];
}

/**
 * Claim up to `limit` jobs that tenants may run now, fairly across tenants and within each tenant's cap:
 * one statement in autocommit, which takes the claim lock, claims, and commits (see q.claimJobs).
 */
export async function claimJobs(pool: pg.Pool, opts: ClaimOptions & { limit: number }): Promise<ClaimedAttempt[]> {
  if (!Number.isInteger(opts.limit) || opts.limit < 1) return [];
  const sql = q.claimJobs(opts.limit, opts.tenantMaxRunning, {
    workerId: opts.workerId,
    leaseMs: opts.leaseMs,
    kinds: opts.kinds ?? null,
  });
  const { rows } = await pool.query<JobRow>(sql.text, sql.values);
  return rows.flatMap((row) => (row.attempt_id ? [{ job: toJob(row), attemptId: row.attempt_id }] : []));
}

/** Claim the next job any tenant may run now, or undefined if there is none. */
export async function claimNextJob(pool: pg.Pool, opts: ClaimOptions): Promise<ClaimedAttempt | undefined> {
  const [claimed] = await claimJobs(pool, { ...opts, limit: 1 });
  return claimed;
}

export type { AttemptRef };

export interface LeaseRenewal {
  /** Attempts whose lease was renewed, with whether a cancel was requested for their job. */
  renewed: Map<string, { cancelRequested: boolean }>;
}

/** Renew leases; an attempt absent from the answer has lost its job (it was reaped). */
export async function renewLeases(pool: pg.Pool, attempts: AttemptRef[], leaseMs: number): Promise<LeaseRenewal> {
  const rows = await inTenantScope(pool, ALL_TENANTS, (tx) =>
    tx.rows<{ id: string; cancel_requested: boolean }>(q.renewLeases(attempts, leaseMs)),
  );
  return { renewed: new Map(rows.map((r) => [r.id, { cancelRequested: r.cancel_requested }])) };
}

async function fenced(pool: pg.Pool, attempt: AttemptRef, sql: Sql): Promise<JobStatus> {
  const row = await inTenantScope(pool, ALL_TENANTS, (tx) => tx.one<{ status: JobStatus }>(sql));
  if (!row) throw new StaleAttemptError(attempt.jobId, attempt.attemptId);
  return row.status;
}

/** Record progress (a JSON object, already serialised). Throws StaleAttemptError for a stale attempt. */
export async function recordProgress(pool: pg.Pool, attempt: AttemptRef, progressJson: string): Promise<void> {
  await fenced(pool, attempt, q.writeProgress(attempt.jobId, attempt.attemptId, progressJson));
}

/** The attempt succeeded with `result`. Throws StaleAttemptError for a stale attempt. */
export async function completeAttempt(
  pool: pg.Pool,
  attempt: AttemptRef,
  result: Record<string, unknown>,
): Promise<void> {
  await fenced(pool, attempt, q.completeAttempt(attempt.jobId, attempt.attemptId, JSON.stringify(result)));
}

/**
 * Several attempts succeeded, in one statement. Answers the attempts that were stale (their jobs
 * belong to another attempt now): their results were not written.
 */
export async function completeAttempts(
  pool: pg.Pool,
  done: { attempt: AttemptRef; result: Record<string, unknown> }[],
): Promise<AttemptRef[]> {
  // One statement in autocommit: the function sets the engine's scope for itself (q.completeAttempts).
  const sql = q.completeAttempts(
    done.map(({ attempt, result }) => ({ ...attempt, resultJson: JSON.stringify(result) })),
  );
  const { rows } = await pool.query<{ id: string }>(sql.text, sql.values);
  const written = new Set(rows.map((r) => r.id));
  return done.filter(({ attempt }) => !written.has(attempt.jobId)).map(({ attempt }) => attempt);
}

/**
 * The attempt failed: retried after a backoff if `retryable` and attempts remain, else failed; cancelled
 * if a cancel was requested. Answers the job's new status. Throws StaleAttemptError for a stale attempt.
 */
export async function failAttempt(
  pool: pg.Pool,
  attempt: AttemptRef,
  error: JobError,
  retryable: boolean,
  backoff: q.Backoff,
): Promise<JobStatus> {
  return fenced(pool, attempt, q.failAttempt(attempt.jobId, attempt.attemptId, error, retryable, backoff));
}

/** Hand the job back to the queue (shutdown); the attempt counts in attempts, not toward max_attempts. */
export async function releaseAttempt(pool: pg.Pool, attempt: AttemptRef): Promise<JobStatus> {
  return inTenantScope(pool, ALL_TENANTS, async (tx) => {
    const row = await tx.one<{ status: JobStatus }>(q.releaseAttempt(attempt.jobId, attempt.attemptId));
    if (!row) throw new StaleAttemptError(attempt.jobId, attempt.attemptId);
    // Another worker may be idle right now: let it take the job without waiting for its poll.
    if (row.status === 'queued') await tx.rows(q.notify(JOBS_AVAILABLE_CHANNEL, ''));
    return row.status;
  });
}

export interface ReapedJob {
  id: string;
  tenantId: string;
  status: JobStatus;
}

/** Return the jobs of expired leases to the queue (with backoff), or fail them with PGS_LEASE_EXPIRED. */
export async function reapExpiredLeases(pool: pg.Pool, backoff: q.Backoff): Promise<ReapedJob[]> {
  const rows = await inTenantScope(pool, ALL_TENANTS, (tx) =>
    tx.rows<{ id: string; tenant_id: string; status: JobStatus }>(q.reapExpiredLeases(backoff)),
  );
  return rows.map((r) => ({ id: r.id, tenantId: r.tenant_id, status: r.status }));
}

/** Queued jobs by kind, across tenants (the queue depth metric). */
export async function queuedJobsByKind(pool: pg.Pool): Promise<Map<string, number>> {
  const rows = await inTenantScope(pool, ALL_TENANTS, (tx) =>
    tx.rows<{ kind: string; n: number }>(q.countQueuedByKind()),
  );
  return new Map(rows.map((r) => [r.kind, r.n]));
}
