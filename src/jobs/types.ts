export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const isJobStatus = (s: string): s is JobStatus => (JOB_STATUSES as readonly string[]).includes(s);

export interface JobError {
  code: string;
  message: string;
}

export interface Job {
  id: string;
  tenantId: string;
  kind: string;
  targetId: string | null;
  /**
   * What the job works on, as a map from subject kind to id. Opaque to the engine: the capability
   * that enqueues a job chooses the kinds, and the domain reads them.
   */
  subjects: Record<string, string>;
  status: JobStatus;
  payload: Record<string, unknown>;
  progress: Record<string, unknown>;
  result: Record<string, unknown> | null;
  /** The last attempt's error; kept while a retry is queued, so callers can see why it is retrying. */
  error: JobError | null;
  attempts: number;
  maxAttempts: number;
  runAt: string;
  /** Set once a running job was asked to stop; it ends `cancelled` when its task gives up. */
  cancelRequestedAt: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface TaskContext {
  job: Job;
  /** This attempt's fencing token: every write for it is refused once another attempt owns the job. */
  attemptId: string;
  /**
   * Aborted on cancel, on worker shutdown and when the lease was lost (or renewals kept failing);
   * `signal.reason` is a JobAbortedError. isReleased(signal) tells a hand-back from a cancel.
   */
  signal: AbortSignal;
  /**
   * Record progress (shown to API callers, so nothing secret). Call as often as you like: writes are
   * coalesced to at most about four a second, the latest value winning. Throws StaleAttemptError once
   * this attempt no longer owns the job.
   */
  reportProgress(progress: Record<string, unknown>): Promise<void>;
}

/** A task: the value it resolves with becomes the job's result. */
export type TaskHandler = (ctx: TaskContext) => Promise<Record<string, unknown>>;

/**
 * The way a task says "this failed, and here is why" to API callers. The code and message are stored
 * and shown as they are, so they must hold nothing secret. `retryable` failures are retried with
 * exponential backoff while attempts remain.
 */
export class JobFailure extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, opts: { retryable?: boolean } = {}) {
    super(message);
    this.name = 'JobFailure';
    this.code = code;
    this.retryable = opts.retryable ?? false;
  }
}

/** A write for an attempt that no longer owns its job (its lease expired and the job moved on). */
export class StaleAttemptError extends Error {
  readonly jobId: string;
  readonly attemptId: string;

  constructor(jobId: string, attemptId: string) {
    super(`attempt ${attemptId} of job ${jobId} no longer owns the job`);
    this.name = 'StaleAttemptError';
    this.jobId = jobId;
    this.attemptId = attemptId;
  }
}

export type AbortCause = 'cancelled' | 'shutdown' | 'lease-lost';

/** The reason a task's AbortSignal carries. */
export class JobAbortedError extends Error {
  readonly abortCause: AbortCause;

  constructor(cause: AbortCause) {
    super(
      cause === 'cancelled'
        ? 'the job was cancelled'
        : cause === 'shutdown'
          ? 'the worker is shutting down'
          : 'the worker lost its lease on the job',
    );
    this.name = 'AbortError';
    this.abortCause = cause;
  }
}

/**
 * Whether the task's signal fired to hand its job back rather than to end it: the worker is shutting
 * down, or it lost (or is about to lose) its lease. A task then leaves its own record in a state the
 * next attempt resumes from, never failed; a cancel (abortCause 'cancelled') ends the record instead.
 */
export function isReleased(signal: AbortSignal): boolean {
  const reason: unknown = signal.reason;
  return signal.aborted && reason instanceof JobAbortedError && reason.abortCause !== 'cancelled';
}
