import type { Sql, Tx } from '../db/tenant-scope.js';
import { defineError } from '../errors.js';

/** PGSTEWARD_TENANT_MAX_QUEUED's default: far above a dashboard's bursts, far below a runaway script's. */
export const DEFAULT_TENANT_MAX_QUEUED = 100;

/** How long a refused caller is told to wait: about one short job's run, not a busy loop. */
export const QUEUE_FULL_RETRY_AFTER_SECONDS = 30;

/** The advisory-lock class that serialises one tenant's enqueues (claims use 7_164_022: migrations/0014_job_claims.sql). */
const ENQUEUE_LOCK_CLASS = 7_164_023;

export const tenantQueueFull = defineError(
  'PGS_TENANT_QUEUE_FULL',
  429,
  'Too Many Requests',
  (max: number) =>
    `This tenant already has ${max} queued jobs (PGSTEWARD_TENANT_MAX_QUEUED); retry once some have started.`,
  (max: number) => ({ maxQueued: max, retryAfterSeconds: QUEUE_FULL_RETRY_AFTER_SECONDS }),
);

let tenantMaxQueued = DEFAULT_TENANT_MAX_QUEUED;

/**
 * Set once at start-up from the config. It is process-wide rather than passed by every caller, so a
 * capability that enqueues cannot forget the cap.
 */
export function setTenantMaxQueued(max: number): void {
  if (!Number.isInteger(max) || max < 1) throw new RangeError('the per-tenant queue cap must be a whole number >= 1');
  tenantMaxQueued = max;
}

const lockTenantEnqueues = (tenantId: string): Sql => ({
  text: 'SELECT pg_advisory_xact_lock($1, hashtext($2))',
  values: [ENQUEUE_LOCK_CLASS, tenantId],
});

/** Counts at most `max` rows (an index scan of jobs_queued that stops there). */
const countQueued = (tenantId: string, max: number): Sql => ({
  text: `SELECT count(*)::int AS n FROM (SELECT 1 FROM jobs WHERE tenant_id = $1 AND status = 'queued' LIMIT $2) q`,
  values: [tenantId, max],
});

/**
 * Refuses (429 PGS_TENANT_QUEUE_FULL) a new job for a tenant that already has the cap's worth queued.
 * The tenant's enqueues are serialised until the caller's transaction ends, so concurrent requests
 * cannot each see room for one more and overshoot.
 */
export async function refuseOverQueueCap(tx: Tx, tenantId: string): Promise<void> {
  await tx.rows(lockTenantEnqueues(tenantId));
  const row = await tx.one<{ n: number }>(countQueued(tenantId, tenantMaxQueued));
  if ((row?.n ?? 0) >= tenantMaxQueued) throw tenantQueueFull(tenantMaxQueued);
}
