import type pg from 'pg';
import { completeAttempts } from './attempts.js';
import type { AttemptRef } from './fence.js';
import { StaleAttemptError } from './types.js';

/** Completions written per statement at most; a batch's rows are locked in one pass. */
const MAX_BATCH = 100;

interface Pending {
  attempt: AttemptRef;
  result: Record<string, unknown>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The worker's completion queue: successes that arrive while a write is in flight go out together in the
 * next one (one transaction, each row fenced by its own attempt id), as graphile-worker's batched
 * completions do. No timer: the first success after a quiet spell is written at once, so a lone job
 * waits for nothing; under load a write carries everything that finished during the previous one.
 * Measured by B6 (docs/BENCHMARKS.md): with 10 trivial tasks at once, one write per job costs four round
 * trips each; batched, a write carries ~5 completions.
 */
export class CompletionQueue {
  private queue: Pending[] = [];
  private flushing = false;

  constructor(private readonly pool: pg.Pool) {}

  /** Resolves once the success is committed; rejects with StaleAttemptError if the attempt lost its job. */
  complete(attempt: AttemptRef, result: Record<string, unknown>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ attempt, result, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    // Let the tasks settling in this turn of the event loop join the first write.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        const stale = new Set((await completeAttempts(this.pool, batch)).map((a) => a.attemptId));
        for (const p of batch) {
          if (stale.has(p.attempt.attemptId)) p.reject(new StaleAttemptError(p.attempt.jobId, p.attempt.attemptId));
          else p.resolve();
        }
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.flushing = false;
  }
}
