import type { Job, JobError, JobStatus } from './types.js';

/** A jobs row as node-postgres returns it (JOB_COLUMNS). */
export interface JobRow {
  id: string;
  tenant_id: string;
  kind: string;
  target_id: string | null;
  subjects: Record<string, string>;
  status: JobStatus;
  payload: Record<string, unknown>;
  progress: Record<string, unknown>;
  result: Record<string, unknown> | null;
  error: JobError | null;
  attempts: number;
  max_attempts: number;
  run_at: Date;
  attempt_id: string | null;
  cancel_requested_at: Date | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export const JOB_COLUMNS = `id, tenant_id, kind, target_id, subjects, status, payload, progress, result, error, attempts,
  max_attempts, run_at, attempt_id, cancel_requested_at, created_at, started_at, finished_at`;

/** The same columns qualified by a table alias, for statements that join. */
export const jobColumnsOf = (alias: string): string =>
  JOB_COLUMNS.split(',')
    .map((c) => `${alias}.${c.trim()}`)
    .join(', ');

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export const toJob = (r: JobRow): Job => ({
  id: r.id,
  tenantId: r.tenant_id,
  kind: r.kind,
  targetId: r.target_id,
  subjects: r.subjects,
  status: r.status,
  payload: r.payload,
  progress: r.progress,
  result: r.result,
  error: r.error,
  attempts: r.attempts,
  maxAttempts: r.max_attempts,
  runAt: r.run_at.toISOString(),
  cancelRequestedAt: iso(r.cancel_requested_at),
  createdAt: r.created_at.toISOString(),
  startedAt: iso(r.started_at),
  finishedAt: iso(r.finished_at),
});
