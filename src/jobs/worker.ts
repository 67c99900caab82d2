import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import type { ConnectionSettings } from '../db/pool.js';
import {
  type AttemptRef,
  type ClaimedAttempt,
  claimJobs,
  failAttempt,
  reapExpiredLeases,
  recordProgress,
  releaseAttempt,
  renewLeases,
} from './attempts.js';
import { JOB_CANCEL_CHANNEL, JOBS_AVAILABLE_CHANNEL } from './channels.js';
import { CompletionQueue } from './completions.js';
import { NotificationListener } from './listener.js';
import { ProgressReporter } from './progress.js';
import {
  type AbortCause,
  type Job,
  JobAbortedError,
  type JobError,
  JobFailure,
  StaleAttemptError,
  type TaskHandler,
} from './types.js';

export interface WorkerLog {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

/** What the worker tells an observer (the metrics), with bounded values only: kinds and outcomes, never ids. */
export interface JobEvents {
  started(kind: string): void;
  finished(kind: string, outcome: JobOutcome, seconds: number): void;
  /** A renewal of `attempts` leases failed (the metadata store did not answer, or answered an error). */
  leaseRenewalFailed(attempts: number): void;
}

/**
 * How an attempt ended, as the worker wrote it: succeeded; failed; retrying (queued again after a
 * failure); cancelled; released (handed back by shutdown or a failing lease); lost (another attempt
 * owns the job now, or the outcome could not be written).
 */
export type JobOutcome = 'succeeded' | 'failed' | 'retrying' | 'cancelled' | 'released' | 'lost';

export interface WorkerOptions {
  /** The job engine's own pool (claims, heartbeats, progress, outcomes), apart from the API's. */
  pool: pg.Pool;
  /** Settings for the dedicated LISTEN connection (never a pooled one). */
  listen: ConnectionSettings;
  handlers: Record<string, TaskHandler>;
  /** Jobs this worker runs at once. Default 2. */
  concurrency?: number;
  /** Running jobs per tenant, across all workers. Default 2. */
  tenantMaxRunning?: number;
  /** How long a claim holds a job without a heartbeat; heartbeats come every leaseMs / 2. Default 30 s. */
  leaseMs?: number;
  /** The fallback poll when no NOTIFY arrives (and for retries whose backoff has passed). Default 2 s. */
  pollMs?: number;
  /** Retry delay: least(backoffCapMs, backoffBaseMs * 2^(attempts-1)). Defaults 5 s and 10 min. */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** How often expired leases are reaped. Default leaseMs / 2. */
  reapIntervalMs?: number;
  workerId?: string;
  log?: WorkerLog;
  events?: JobEvents;
}

interface ActiveAttempt extends AttemptRef {
  controller: AbortController;
  stopCause: AbortCause | undefined;
  /** The task has settled; the outcome is being written. */
  settling: boolean;
  kind: string;
  startedAt: number;
  /** The attempt's end was reported to `events` (once, even if a stubborn task settles after its release). */
  reported: boolean;
  /** When the lease runs out as far as this process knows: the start of the last good renewal + leaseMs. */
  leaseUntil: number;
  done: Promise<void>;
}

const INTERNAL_ERROR: JobError = { code: 'PGS_INTERNAL', message: 'An internal error occurred; the log has details.' };

const stderrLog: WorkerLog = {
  info: () => {},
  warn: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 'warn', msg, ...asObject(obj) })}\n`),
  error: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 'error', msg, ...asObject(obj) })}\n`),
};

function asObject(obj: object | string): object {
  if (typeof obj === 'string') return { detail: obj };
  const err = (obj as { err?: unknown }).err;
  return err instanceof Error ? { ...obj, err: { message: err.message, stack: err.stack } } : obj;
}

/**
 * Runs jobs of every tenant: wakes on NOTIFY (polling only as a fallback), claims while it has free
 * slots, heartbeats its leases, reaps the leases of dead workers, and on stop() hands its jobs back.
 */
export class JobWorker {
  readonly workerId: string;
  private readonly pool: pg.Pool;
  private readonly handlers: Record<string, TaskHandler>;
  private readonly kinds: string[];
  private readonly concurrency: number;
  private readonly tenantMaxRunning: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly reapIntervalMs: number;
  private readonly backoff: { baseMs: number; capMs: number };
  private readonly log: WorkerLog;
  private readonly events: JobEvents | undefined;
  private readonly listener: NotificationListener;
  private readonly completions: CompletionQueue;
  private readonly active = new Map<string, ActiveAttempt>();
  private timers: NodeJS.Timeout[] = [];
  private claiming: Promise<void> | undefined;
  private wakeAgain = false;
  private heartbeating = false;
  private running = false;
  private stopping = false;
  private shutdown: Promise<void> | undefined;

  constructor(opts: WorkerOptions) {
    this.pool = opts.pool;
    this.handlers = opts.handlers;
    this.kinds = Object.keys(opts.handlers);
    this.concurrency = positive(opts.concurrency ?? 2, 'concurrency');
    this.tenantMaxRunning = positive(opts.tenantMaxRunning ?? 2, 'tenantMaxRunning');
    this.leaseMs = positive(opts.leaseMs ?? 30_000, 'leaseMs');
    this.pollMs = positive(opts.pollMs ?? 2_000, 'pollMs');
    this.reapIntervalMs = positive(opts.reapIntervalMs ?? Math.ceil(this.leaseMs / 2), 'reapIntervalMs');
    this.backoff = { baseMs: opts.backoffBaseMs ?? 5_000, capMs: opts.backoffCapMs ?? 600_000 };
    this.workerId = opts.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.log = opts.log ?? stderrLog;
    this.events = opts.events;
    this.completions = new CompletionQueue(this.pool);
    this.listener = new NotificationListener({
      settings: opts.listen,
      channels: [JOBS_AVAILABLE_CHANNEL, JOB_CANCEL_CHANNEL],
      onNotification: (channel, payload) => {
        if (channel === JOBS_AVAILABLE_CHANNEL) this.wake();
        else if (channel === JOB_CANCEL_CHANNEL) this.abort(payload, 'cancelled');
      },
      onConnected: () => this.wake(),
      log: this.log,
    });
  }

  /** Start listening, heartbeating, reaping and polling; claims what is already waiting. */
  async start(): Promise<void> {
    if (this.running) return;
    await this.listener.start();
    this.running = true;
    this.stopping = false;
    this.timers = [
      setInterval(() => this.wake(), this.pollMs),
      setInterval(
        () => void this.reapExpired().catch((err) => this.log.error({ err }, 'reaping failed')),
        this.reapIntervalMs,
      ),
      // Every third of the lease, so one failed renewal still leaves time for another before it expires.
      setInterval(() => void this.heartbeat(), Math.max(1, Math.floor(this.leaseMs / 3))),
      setInterval(() => this.stopUnrenewed(), Math.max(1, Math.floor(this.leaseMs / 10))),
    ];
    this.wake();
  }

  /**
   * Stop claiming, abort running tasks through their AbortSignal, wait for them (at most timeoutMs),
   * then hand their jobs back to the queue. The interrupted attempt counts in `attempts` but not toward
   * max_attempts (see releaseAttempt), so deploys cannot use up a job's attempts.
   */
  stop(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (!this.running) return Promise.resolve();
    this.shutdown ??= this.shutDown(opts.timeoutMs ?? 10_000).finally(() => {
      this.shutdown = undefined;
    });
    return this.shutdown;
  }

  private async shutDown(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const [pollTimer, reapTimer, ...leaseTimers] = this.timers;
    clearInterval(pollTimer);
    clearInterval(reapTimer);
    await this.claiming;
    for (const jobId of this.active.keys()) this.abort(jobId, 'shutdown');
    const attempts = [...this.active.values()];
    const settled = await settlesWithin(Promise.all(attempts.map((a) => a.done)), timeoutMs);
    if (!settled) {
      // Tasks that ignore their signal: give their jobs back anyway. Their late writes are fenced off.
      for (const attempt of this.active.values()) {
        if (attempt.settling) continue;
        this.log.warn({ jobId: attempt.jobId }, 'a task ignored shutdown; releasing its job regardless');
        await releaseAttempt(this.pool, attempt).then(
          () => this.reportEnd(attempt, 'released'),
          (err) => this.logWriteFailure(attempt, err),
        );
      }
      // A short grace for outcome writes that were already in flight.
      await settlesWithin(Promise.all(attempts.filter((a) => a.settling).map((a) => a.done)), 2_000);
    }
    for (const timer of leaseTimers) clearInterval(timer);
    this.timers = [];
    await this.listener.stop();
    this.running = false;
  }

  /** Return expired leases to the queue (or fail them); answers how many jobs were reaped. */
  async reapExpired(): Promise<number> {
    const reaped = await reapExpiredLeases(this.pool, this.backoff);
    for (const job of reaped) this.log.warn({ jobId: job.id, status: job.status }, 'reaped a job whose lease expired');
    return reaped.length;
  }

  /** Jobs this worker is running now. */
  get activeJobIds(): string[] {
    return [...this.active.keys()];
  }

  private wake(): void {
    if (!this.running || this.stopping) return;
    if (this.claiming) {
      this.wakeAgain = true; // a NOTIFY during a claim must not be lost
      return;
    }
    this.claiming = this.claimWhileFree()
      .catch((err) => this.log.error({ err }, 'claiming jobs failed'))
      .finally(() => {
        this.claiming = undefined;
        if (this.wakeAgain) {
          this.wakeAgain = false;
          this.wake();
        }
      });
  }

  /**
   * Slots taken: tasks still running. A task whose outcome is being written frees its slot at once, so
   * the next claim can fill it while the write is in flight (the database counts the job as running until
   * the write commits, so a tenant's cap can only be undershot by this, never exceeded).
   */
  private busy(): number {
    let n = 0;
    for (const attempt of this.active.values()) if (!attempt.settling) n++;
    return n;
  }

  /**
   * Claim as many jobs as there are free slots, in one statement, until the queue or the slots run out.
   * A slot that frees meanwhile wakes this again (wakeAgain), so a busy worker never waits for the poll.
   */
  private async claimWhileFree(): Promise<void> {
    while (!this.stopping && this.busy() < this.concurrency) {
      const free = this.concurrency - this.busy();
      const claimed = await this.claimSome(free);
      for (const c of claimed) this.run(c);
      if (claimed.length < free) return;
    }
  }

  /** One claim; the lease is counted from before the request, as the database may have set it then. */
  private async claimSome(limit: number): Promise<(ClaimedAttempt & { leaseUntil: number })[]> {
    const asked = Date.now();
    const claimed = await claimJobs(this.pool, {
      limit,
      workerId: this.workerId,
      leaseMs: this.leaseMs,
      tenantMaxRunning: this.tenantMaxRunning,
      kinds: this.kinds,
    });
    return claimed.map((c) => ({ ...c, leaseUntil: asked + this.leaseMs }));
  }

  private run(claimed: ClaimedAttempt & { leaseUntil: number }): void {
    const attempt: ActiveAttempt = {
      jobId: claimed.job.id,
      attemptId: claimed.attemptId,
      controller: new AbortController(),
      stopCause: undefined,
      settling: false,
      kind: claimed.job.kind,
      startedAt: Date.now(),
      reported: false,
      leaseUntil: claimed.leaseUntil,
      done: Promise.resolve(),
    };
    this.active.set(attempt.jobId, attempt);
    this.events?.started(attempt.kind);
    attempt.done = this.execute(claimed.job, attempt).finally(() => {
      // A job handed back while its slot was already free may have been claimed again by this worker:
      // the entry is then the new attempt's, not this one's.
      if (this.active.get(attempt.jobId) === attempt) this.active.delete(attempt.jobId);
      this.wake();
    });
  }

  private async execute(job: Job, attempt: ActiveAttempt): Promise<void> {
    const progress = new ProgressReporter(
      (json) => recordProgress(this.pool, attempt, json),
      (err) => this.log.warn({ err, jobId: job.id }, 'recording progress failed'),
    );
    let outcome: { ok: true; result: Record<string, unknown> } | { ok: false; err: unknown };
    try {
      const handler = Object.hasOwn(this.handlers, job.kind) ? this.handlers[job.kind] : undefined;
      // Unreachable while claims filter by kind; kept so a mismatch fails loudly rather than oddly.
      if (!handler) throw new JobFailure('PGS_JOB_KIND_UNKNOWN', `No task is registered for job kind '${job.kind}'.`);
      const result = await handler({
        job,
        attemptId: attempt.attemptId,
        signal: attempt.controller.signal,
        reportProgress: (p) => progress.report(p),
      });
      if (result !== undefined && (typeof result !== 'object' || result === null || Array.isArray(result))) {
        throw new TypeError(`the task for '${job.kind}' resolved with something other than an object`);
      }
      await progress.flush();
      outcome = { ok: true, result: result ?? {} };
    } catch (err) {
      outcome = { ok: false, err };
    }
    attempt.settling = true;
    this.wake(); // its slot is free: claim the next job while the outcome is written
    progress.close();
    let ended: JobOutcome = 'lost';
    try {
      if (outcome.ok) {
        await this.completions.complete(attempt, outcome.result);
        ended = 'succeeded';
      } else if (attempt.stopCause === 'shutdown' || attempt.stopCause === 'lease-lost') {
        // Handed back, not failed: the next attempt (here after a restart, or on another worker) resumes.
        // After a lost lease this write is refused (another attempt owns the job); after renewals that
        // kept failing, it returns the job at once instead of after the lease.
        ended = (await releaseAttempt(this.pool, attempt)) === 'cancelled' ? 'cancelled' : 'released';
      } else {
        const { error, retryable } = this.describeFailure(job, attempt, outcome.err);
        const status = await failAttempt(this.pool, attempt, error, retryable, this.backoff);
        ended = status === 'queued' ? 'retrying' : status === 'cancelled' ? 'cancelled' : 'failed';
      }
    } catch (err) {
      this.logWriteFailure(attempt, err);
    }
    this.reportEnd(attempt, ended);
  }

  private reportEnd(attempt: ActiveAttempt, outcome: JobOutcome): void {
    if (attempt.reported) return;
    attempt.reported = true;
    this.events?.finished(attempt.kind, outcome, (Date.now() - attempt.startedAt) / 1000);
  }

  /** What API callers see: a JobFailure's own code and message; anything else is internal and only logged. */
  private describeFailure(job: Job, attempt: ActiveAttempt, err: unknown): { error: JobError; retryable: boolean } {
    if (err instanceof JobFailure) return { error: { code: err.code, message: err.message }, retryable: err.retryable };
    // A task stopped by cancel (stored as cancelled) or by a lost lease (its write is fenced off) did not
    // fail by itself: nothing to log.
    const expected = attempt.stopCause !== undefined || err instanceof StaleAttemptError;
    if (!expected) this.log.error({ err, jobId: job.id, kind: job.kind }, 'a task failed');
    return { error: INTERNAL_ERROR, retryable: false };
  }

  private logWriteFailure(attempt: AttemptRef, err: unknown): void {
    if (err instanceof StaleAttemptError) {
      this.log.warn(
        { jobId: attempt.jobId, attemptId: attempt.attemptId },
        'the attempt lost its job; outcome dropped',
      );
    } else {
      // The lease will expire and the reaper will settle the job.
      this.log.error({ err, jobId: attempt.jobId }, 'recording the outcome of a job failed');
    }
  }

  private abort(jobId: string, cause: AbortCause): void {
    const attempt = this.active.get(jobId);
    if (!attempt || attempt.controller.signal.aborted) return;
    attempt.stopCause = cause;
    attempt.controller.abort(new JobAbortedError(cause));
  }

  /** Renew every lease at once; the answer doubles as the cancel fallback when a NOTIFY was missed. */
  private async heartbeat(): Promise<void> {
    const attempts = [...this.active.values()].filter((a) => !a.settling);
    if (attempts.length === 0 || this.heartbeating) return;
    this.heartbeating = true;
    const asked = Date.now();
    try {
      const { renewed } = await renewLeases(this.pool, attempts, this.leaseMs);
      for (const attempt of attempts) {
        const lease = renewed.get(attempt.jobId);
        if (!lease) {
          if (attempt.settling) continue; // it finished while we asked
          this.log.warn({ jobId: attempt.jobId }, 'the lease on a running job was lost; aborting its task');
          this.abort(attempt.jobId, 'lease-lost');
        } else {
          attempt.leaseUntil = asked + this.leaseMs;
          if (lease.cancelRequested) this.abort(attempt.jobId, 'cancelled');
        }
      }
    } catch (err) {
      this.events?.leaseRenewalFailed(attempts.length);
      this.log.error({ err }, 'renewing leases failed');
    } finally {
      this.heartbeating = false;
    }
  }

  /**
   * Stop the tasks whose lease is about to run out unrenewed (renewals keep failing, or hang): once it
   * expires, the reaper may give the job to another worker while this one still runs it. A fifth of the
   * lease is left for the task to stop and hand the job back.
   */
  private stopUnrenewed(): void {
    const now = Date.now();
    for (const attempt of this.active.values()) {
      if (attempt.settling || attempt.controller.signal.aborted) continue;
      if (attempt.leaseUntil - now >= this.leaseMs / 5) continue;
      this.log.warn(
        { jobId: attempt.jobId, msLeft: attempt.leaseUntil - now },
        'lease renewals kept failing; stopping the task before its lease expires',
      );
      this.abort(attempt.jobId, 'lease-lost');
    }
  }
}

function positive(n: number, name: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`${name} must be a positive number`);
  return n;
}

/** Whether `promise` settles within `ms`; the timer does not outlive the answer. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
