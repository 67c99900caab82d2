import { inTenantScope, readInTenantScope, type Tx } from '../../db/tenant-scope.js';
import { Errors } from '../../errors.js';
import { type JobRow, toJob } from '../../jobs/job-row.js';
import { requestCancel } from '../../jobs/queue.js';
import { isJobStatus, type JobStatus } from '../../jobs/types.js';
import { type Ctx, readScope, requireScopes } from '../context.js';
import { isUuid } from '../ids.js';
import { type Keyset, listPage, type Page } from '../pagination.js';
import { countFailedJobs, type JobPosition, selectJob, selectJobPage, selectJobsByIds } from './queries.js';
import { type JobView, toJobView } from './view.js';

export type { JobStatus, JobView };

const toView = (row: JobRow): JobView => toJobView(toJob(row));

const CREATED_KEY_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

type PagedJobRow = JobRow & { created_key: string };

/** (created_at, id) at the microsecond precision of created_key, which a JS Date would truncate. */
const BY_CREATED_KEY: Keyset<PagedJobRow, JobPosition> = {
  positionOf: (r) => `${r.created_key}|${r.id}`,
  parse: (position) => {
    const [createdAt, id, ...rest] = position.split('|');
    if (rest.length > 0 || !createdAt || !id || !CREATED_KEY_PATTERN.test(createdAt) || !isUuid(id)) return undefined;
    return { createdAt, id };
  },
};

export interface JobQuery {
  status?: JobStatus | undefined;
  kind?: string | undefined;
  targetId?: string | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

/**
 * One job. Another tenant's job, a missing one and a malformed id all answer PGS_JOB_NOT_FOUND, so ids
 * cannot be probed. Operators (tenants:admin) see every tenant's jobs.
 */
export async function getJob(ctx: Ctx, id: string): Promise<JobView> {
  requireScopes(ctx, 'jobs:read');
  if (!isUuid(id)) throw Errors.jobNotFound(id);
  const [row] = await readInTenantScope<JobRow>(ctx.pool, readScope(ctx), selectJob(id));
  if (!row) throw Errors.jobNotFound(id);
  return toView(row);
}

/** The caller's jobs, newest first, optionally filtered by status, kind and target. */
export async function listJobs(ctx: Ctx, q: JobQuery): Promise<Page<JobView>> {
  requireScopes(ctx, 'jobs:read');
  if (q.status !== undefined && !isJobStatus(q.status)) {
    throw Errors.validation('status must be one of queued, running, succeeded, failed, cancelled');
  }
  if (q.targetId !== undefined && !isUuid(q.targetId)) throw Errors.validation('targetId must be a UUID');
  if (q.kind !== undefined && (q.kind.length === 0 || q.kind.length > 100)) {
    throw Errors.validation('kind must be 1 to 100 characters');
  }
  const filter = { status: q.status, kind: q.kind, targetId: q.targetId };
  return listPage(
    q,
    BY_CREATED_KEY,
    (after, limit) =>
      inTenantScope(ctx.pool, readScope(ctx), (tx) => tx.rows<PagedJobRow>(selectJobPage(filter, after, limit))),
    toView,
  );
}

/**
 * Cancel a job: a queued one at once; a running one is asked to stop and ends `cancelled` shortly.
 * A finished job answers PGS_JOB_NOT_CANCELLABLE.
 */
export async function cancelJob(ctx: Ctx, id: string): Promise<JobView> {
  requireScopes(ctx, 'jobs:write');
  if (!isUuid(id)) throw Errors.jobNotFound(id);
  const job = await inTenantScope(ctx.pool, readScope(ctx), (tx) => requestCancel(tx, id));
  if (!job) throw Errors.jobNotFound(id);
  return toJobView(job);
}

/**
 * A job the caller itself started (or an Idempotency-Key replay of it): answered whatever the caller's
 * jobs:* scopes, because starting work implies being told which job does it.
 */
export async function getStartedJob(ctx: Ctx, id: string): Promise<JobView> {
  if (!isUuid(id)) throw Errors.jobNotFound(id);
  const job = await inTenantScope(ctx.pool, readScope(ctx), (tx) => tx.one<JobRow>(selectJob(id)));
  if (!job) throw Errors.jobNotFound(id);
  return toView(job);
}

/** Jobs by id for GraphQL loaders: invisible, missing and malformed ids are simply absent from the map. */
export async function getJobsByIds(ctx: Ctx, ids: string[]): Promise<Map<string, JobView>> {
  requireScopes(ctx, 'jobs:read');
  const wanted = [...new Set(ids.filter((id) => isUuid(id)).map((id) => id.toLowerCase()))];
  if (wanted.length === 0) return new Map();
  const rows = await inTenantScope(ctx.pool, readScope(ctx), (tx) => tx.rows<JobRow>(selectJobsByIds(wanted)));
  const byId = new Map(rows.map((r) => [r.id, toView(r)]));
  // Answer under the ids as asked, so a loader finds them whatever their letter case.
  return new Map(
    ids.flatMap((id) => {
      const job = byId.get(id.toLowerCase());
      return job ? [[id, job] as const] : [];
    }),
  );
}

/** How many of a target's jobs of these kinds failed since `since`, inside the caller's tenant transaction. */
export const failedJobCounts = (
  tx: Tx,
  targetId: string,
  kinds: string[],
  since: Date,
): Promise<{ kind: string; count: number }[]> => tx.rows(countFailedJobs(targetId, kinds, since));
