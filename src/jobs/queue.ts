import type { Tx } from '../db/tenant-scope.js';
import { Errors } from '../errors.js';
import { JOB_CANCEL_CHANNEL, JOBS_AVAILABLE_CHANNEL } from './channels.js';
import { type JobRow, toJob } from './job-row.js';
import { insertJob, notify, requestJobCancel, selectJobRow } from './queries.js';
import type { Job } from './types.js';

export const DEFAULT_MAX_ATTEMPTS = 3;
const MAX_ATTEMPTS_LIMIT = 100;

export interface EnqueueInput {
  tenantId: string;
  kind: string;
  targetId?: string | null;
  /** What the job works on, by subject kind (see Job.subjects); each id a non-empty string. */
  subjects?: Record<string, string>;
  payload?: Record<string, unknown>;
  maxAttempts?: number;
  runAt?: Date;
}

/**
 * Queue a job inside the caller's transaction, so the job exists if and only if whatever created it
 * commits. The wake-up NOTIFY is transactional too: workers hear of the job only after the commit.
 * The payload is visible to API callers: reference secrets, never embed them.
 */
export async function enqueueJob(tx: Tx, input: EnqueueInput): Promise<Job> {
  if (input.kind.length === 0 || input.kind.length > 100) throw Errors.validation('kind must be 1 to 100 characters');
  const maxAttempts = input.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > MAX_ATTEMPTS_LIMIT) {
    throw Errors.validation(`maxAttempts must be a whole number from 1 to ${MAX_ATTEMPTS_LIMIT}`);
  }
  const payload = input.payload ?? {};
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw Errors.validation('a job payload must be a JSON object');
  }
  const subjects = input.subjects ?? {};
  if (!isSubjectMap(subjects)) throw Errors.validation('job subjects must map subject kinds to non-empty ids');
  const row = await tx.one<JobRow>(
    insertJob({
      tenantId: input.tenantId,
      kind: input.kind,
      targetId: input.targetId ?? null,
      subjectsJson: JSON.stringify(subjects),
      payloadJson: JSON.stringify(payload),
      maxAttempts,
      runAt: input.runAt ?? null,
    }),
  );
  if (!row) throw Errors.internal();
  await tx.rows(notify(JOBS_AVAILABLE_CHANNEL, ''));
  return toJob(row);
}

const isSubjectMap = (s: unknown): s is Record<string, string> =>
  typeof s === 'object' &&
  s !== null &&
  !Array.isArray(s) &&
  Object.entries(s).every(([kind, id]) => kind.length > 0 && typeof id === 'string' && id.length > 0);

/**
 * Ask a job to stop. Queued: cancelled at once. Running: marked, and its worker is told (NOTIFY, with the
 * heartbeat as fallback); the job ends `cancelled` when the task gives up. Finished: PGS_JOB_NOT_CANCELLABLE.
 * Answers undefined if the transaction's tenant scope cannot see the job.
 */
export async function requestCancel(tx: Tx, jobId: string): Promise<Job | undefined> {
  const row = await tx.one<JobRow>(requestJobCancel(jobId));
  if (row) {
    if (row.status === 'running') await tx.rows(notify(JOB_CANCEL_CHANNEL, row.id));
    return toJob(row);
  }
  const existing = await tx.one<JobRow>(selectJobRow(jobId));
  if (!existing) return undefined;
  throw Errors.jobNotCancellable(jobId, existing.status);
}
