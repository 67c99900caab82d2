import { StaleAttemptError } from './types.js';

/**
 * Coalesces a task's progress reports into at most one write per interval, the latest value winning,
 * so a task may report on every chunk it copies. A stale attempt is sticky: once a write is fenced
 * off, every later report throws. Other write errors are logged and dropped: progress is advisory, and
 * a failing database will show up in the outcome write anyway.
 */
export class ProgressReporter {
  private pending: string | undefined;
  private lastWriteAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private stale: StaleAttemptError | undefined;
  private closed = false;

  constructor(
    private readonly write: (progressJson: string) => Promise<void>,
    private readonly onError: (err: unknown) => void,
    private readonly minIntervalMs = 250,
  ) {}

  async report(progress: Record<string, unknown>): Promise<void> {
    if (this.stale) throw this.stale;
    if (this.closed) return;
    if (typeof progress !== 'object' || progress === null || Array.isArray(progress)) {
      throw new TypeError('progress must be a plain object');
    }
    // Serialised now: the caller may mutate its object after we return.
    this.pending = JSON.stringify(progress);
    if (this.writing || this.timer) return; // the write in flight or the timer picks it up
    const wait = this.lastWriteAt + this.minIntervalMs - Date.now();
    if (wait > 0) {
      this.schedule(wait);
      return;
    }
    await this.writeNext();
    if (this.stale) throw this.stale;
  }

  /** Write whatever is pending now, and wait for it; throws StaleAttemptError if fenced off. */
  async flush(): Promise<void> {
    this.cancelTimer();
    while (this.writing) await this.writing;
    this.cancelTimer(); // the write that just ended may have scheduled the next one
    if (this.pending !== undefined) await this.writeNext();
    this.cancelTimer();
    if (this.stale) throw this.stale;
  }

  /** The attempt is over: drop anything pending and ignore later reports. */
  close(): void {
    this.closed = true;
    this.cancelTimer();
    this.pending = undefined;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.writeNext();
    }, ms);
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async writeNext(): Promise<void> {
    const value = this.pending;
    if (value === undefined || this.stale) return;
    this.pending = undefined;
    this.lastWriteAt = Date.now();
    const done = this.write(value).then(
      () => {},
      (err: unknown) => {
        if (err instanceof StaleAttemptError) this.stale = err;
        else this.onError(err);
      },
    );
    this.writing = done;
    await done;
    this.writing = undefined;
    // Reports that arrived during the write go out one interval after it started.
    if (this.pending !== undefined && !this.stale && !this.timer) {
      this.schedule(Math.max(0, this.lastWriteAt + this.minIntervalMs - Date.now()));
    }
  }
}
