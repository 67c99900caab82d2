import type { Sql, Tx } from '../db/tenant-scope.js';
import { lockOwnedAttempt } from './queries.js';
import { StaleAttemptError } from './types.js';

/** One attempt of a job: the fencing token a task writes with (TaskContext.attemptId). */
export interface AttemptRef {
  jobId: string;
  attemptId: string;
}

/**
 * Fence a capability's statement (a backup's or restore's row written for a job) by the attempt: the
 * statement's own condition is ANDed with "this attempt still owns its job", and the job row is share-locked
 * until the transaction ends, so the reaper and a claim cannot hand the job on between the check and the
 * write (both skip locked rows). A stale attempt's write then matches no row. `sql` must have a WHERE clause
 * at its end or before a RETURNING, with no top-level OR (the fence is ANDed on without parentheses).
 */
export function fencedBy(attempt: AttemptRef, sql: Sql): Sql {
  const j = sql.values.length + 1;
  const condition = `EXISTS (SELECT 1 FROM jobs WHERE id = $${j} AND attempt_id = $${j + 1} AND status = 'running' FOR SHARE)`;
  const at = sql.text.search(/\sRETURNING\s/);
  const [head, tail] = at === -1 ? [sql.text, ''] : [sql.text.slice(0, at), sql.text.slice(at)];
  if (!/\sWHERE\s/.test(head)) throw new Error('fencedBy: the statement has no WHERE clause to extend');
  return { text: `${head} AND ${condition}${tail}`, values: [...sql.values, attempt.jobId, attempt.attemptId] };
}

/**
 * Run `work` while holding the job row of `attempt` (see lockOwnedAttempt), inside the caller's
 * transaction: for what must happen only while the attempt still owns its job, and not only in SQL (say,
 * deleting a failed backup's files, which a newer attempt may be writing). Throws StaleAttemptError,
 * without running `work`, when the attempt no longer owns the job.
 */
export async function asAttemptOwner<T>(tx: Tx, attempt: AttemptRef, work: () => Promise<T>): Promise<T> {
  const held = await tx.one<{ id: string }>(lockOwnedAttempt(attempt.jobId, attempt.attemptId));
  if (!held) throw new StaleAttemptError(attempt.jobId, attempt.attemptId);
  return work();
}
