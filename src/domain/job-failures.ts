import { sqlStateOf } from '../db/pg-errors.js';
import { isPgStewardError, type PgStewardError } from '../errors.js';
import { isReleased, JobFailure, StaleAttemptError } from '../jobs/types.js';
import { PgToolError } from '../pgtools/run-tool.js';
import { TaskFailure, TaskFailures } from '../task-failures.js';
import { boundText, MAX_STORED_MESSAGE } from './stored-text.js';
import { categoryOf } from './targets/connect-failure.js';

/** The work a task does: it decides what a failed tool run or a server's error means. */
export type TaskWork = 'backup' | 'restore' | 'drill';

/** A catalogue error as the job engine's JobFailure: the same code and message. */
export const toJobFailure = (err: TaskFailure | PgStewardError): JobFailure =>
  // The message often quotes a tenant's server or a tool's stderr: bounded before it is stored.
  new JobFailure(err.code, boundText(err.message, MAX_STORED_MESSAGE), {
    retryable: err instanceof TaskFailure && err.retryable,
  });

const isCatalogued = (err: unknown): err is TaskFailure | PgStewardError =>
  err instanceof TaskFailure || isPgStewardError(err);

// An AWS SDK error carries $metadata; a file system error names its syscall.
const isStorageError = (err: unknown): boolean => {
  const e = err as { $metadata?: unknown; syscall?: unknown } | null;
  return e?.$metadata !== undefined || e?.syscall !== undefined;
};

/**
 * Whatever a task's work threw, as a catalogue error: after the job's signal fired, PGS_CANCELLED; a
 * catalogue error as it is; a PostgreSQL tool's failure and a server's SQLSTATE by the work that met
 * them (PGS_DUMP_FAILED, PGS_RESTORE_FAILED, PGS_DRILL_FAILED); in a backup, a storage error as
 * PGS_STORAGE_FAILED. Anything else is returned as it is: it is our bug, which the worker records as
 * PGS_INTERNAL and logs.
 */
export function asTaskFailure(err: unknown, work: TaskWork, signal?: AbortSignal): unknown {
  if (signal?.aborted) return TaskFailures.cancelled(work);
  if (isCatalogued(err)) return err;
  if (err instanceof PgToolError) {
    if (work === 'backup') return TaskFailures.dumpFailed(err.message);
    if (work === 'restore') return TaskFailures.restoreFailed(err.message.slice(0, 1000));
    return err;
  }
  if (work === 'backup' && isStorageError(err)) {
    const e = err as { name?: string; code?: string };
    return TaskFailures.storageFailed(e.name ?? e.code ?? 'error');
  }
  const sqlState = sqlStateOf(err);
  if (sqlState === undefined) return err;
  if (work === 'backup') return TaskFailures.dumpSessionEnded(sqlState);
  if (work === 'restore') return TaskFailures.restoreRefused(sqlState);
  return TaskFailures.drillFailed(sqlState);
}

/** asTaskFailure as the engine's JobFailure, or undefined for our own bugs (see there). */
export function asJobFailure(err: unknown, work: TaskWork, signal?: AbortSignal): JobFailure | undefined {
  if (err instanceof JobFailure) return err;
  const failure = asTaskFailure(err, work, signal);
  return isCatalogued(failure) ? toJobFailure(failure) : undefined;
}

/** How a task's own record (a backup's, a restore's) ends when its work stops early. */
export interface TaskRecordEnd {
  /** A failure or a cancel: record it (and remove what the attempt left). */
  record(error: { code: string; message: string; category?: string }): Promise<unknown>;
  /** Handed back (shutdown, a failing lease): leave the record for the next attempt to resume. */
  release(): Promise<unknown>;
}

/**
 * How a task that keeps its own record ends on a failure: after a release (isReleased), the record is
 * handed back and the original error rethrown, since the job did not fail; otherwise the failure is
 * recorded, then thrown to the engine (after a cancel, the original error, as the engine expects). An
 * error that is our bug is rethrown untouched and recorded nowhere; so is a stale attempt's, since
 * another attempt owns the record now.
 */
export async function failTask(err: unknown, work: TaskWork, signal: AbortSignal, end: TaskRecordEnd): Promise<never> {
  if (err instanceof StaleAttemptError) throw err;
  if (isReleased(signal)) {
    await end.release();
    throw err;
  }
  const failure = asJobFailure(err, work, signal);
  if (!failure) throw err;
  // A failed connection says what failed (auth, tls, timeout, ...) on the record the tenant reads.
  const category = signal.aborted ? undefined : categoryOf(err);
  await end.record({ code: failure.code, message: failure.message, ...(category === undefined ? {} : { category }) });
  throw signal.aborted ? err : failure;
}
