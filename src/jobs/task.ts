import type { z } from 'zod';
import type { Tx } from '../db/tenant-scope.js';
import { enqueueJob } from './queue.js';
import { refuseOverQueueCap } from './queue-cap.js';
import { type Job, JobFailure, type TaskContext, type TaskHandler } from './types.js';

/** The code a job fails with when its payload is not what its task accepts. */
export const PAYLOAD_INVALID = 'PGS_JOB_PAYLOAD_INVALID';

/** A task's work for one attempt; the value it resolves with becomes the job's result. */
export type TaskRun<P> = (task: TaskContext, payload: P) => Promise<Record<string, unknown>>;

/**
 * A kind of job, defined by the capability that owns it: what its payload must be, how many attempts
 * it gets, and what runs it. `D` is what its handler needs from the process (pool, services, ...).
 */
export interface TaskDefinition<P, D> {
  readonly kind: string;
  /** Attempts in all, retries included (1 to 100). It lives here so that every enqueue agrees. */
  readonly maxAttempts: number;
  /** The stored payload, checked; throws a JobFailure (PAYLOAD_INVALID) for a malformed one. */
  parsePayload(raw: unknown): P;
  handler(deps: D): TaskRun<P>;
}

/** A definition as the runtime collects it: its payload type no longer matters there. */
export interface Task<D> {
  readonly kind: string;
  readonly maxAttempts: number;
  /** The worker's handler: parses the payload, then runs. A malformed payload fails the job, never retried. */
  bind(deps: D): TaskHandler;
}

export type DefinedTask<P, D> = TaskDefinition<P, D> & Task<D>;

const MAX_ATTEMPTS_LIMIT = 100; // the jobs table's CHECK

export function defineTask<P, D>(def: TaskDefinition<P, D>): DefinedTask<P, D> {
  if (def.kind.length === 0 || def.kind.length > 100) throw new RangeError('a task kind must be 1 to 100 characters');
  if (!Number.isInteger(def.maxAttempts) || def.maxAttempts < 1 || def.maxAttempts > MAX_ATTEMPTS_LIMIT) {
    throw new RangeError(`task '${def.kind}': maxAttempts must be a whole number from 1 to ${MAX_ATTEMPTS_LIMIT}`);
  }
  return {
    kind: def.kind,
    maxAttempts: def.maxAttempts,
    parsePayload: (raw) => def.parsePayload(raw),
    handler: (deps) => def.handler(deps),
    bind(deps) {
      const run = def.handler(deps);
      return async (task) => run(task, def.parsePayload(task.job.payload));
    },
  };
}

/** A parsePayload from a zod schema: a mismatch fails the job with PAYLOAD_INVALID, naming the fields. */
export function payloadParser<S extends z.ZodType>(kind: string, schema: S): (raw: unknown) => z.output<S> {
  return (raw) => {
    const parsed = schema.safeParse(raw);
    if (parsed.success) return parsed.data;
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ');
    throw new JobFailure(PAYLOAD_INVALID, `The payload of this ${kind} job is malformed (${problems}).`);
  };
}

/** The worker's handler map for a list of tasks; two tasks of one kind are a wiring mistake. */
export function taskHandlers<D>(tasks: readonly Task<D>[], deps: D): Record<string, TaskHandler> {
  const handlers: Record<string, TaskHandler> = {};
  for (const task of tasks) {
    if (Object.hasOwn(handlers, task.kind)) throw new Error(`two tasks are defined for job kind '${task.kind}'`);
    handlers[task.kind] = task.bind(deps);
  }
  return handlers;
}

export interface TaskInput<P> {
  tenantId: string;
  targetId?: string | null;
  /** What the job works on, by subject kind (Job.subjects). */
  subjects?: Record<string, string>;
  payload: P;
  runAt?: Date;
}

/**
 * Queue a job of this task inside the caller's transaction (see enqueueJob). The payload is checked
 * by the task's own parser first, so a job its worker would refuse never enters the queue; a tenant
 * at its queue cap is refused (429, queue-cap.ts).
 */
export async function enqueueTask<P extends Record<string, unknown>>(
  tx: Tx,
  task: Pick<TaskDefinition<P, unknown>, 'kind' | 'maxAttempts' | 'parsePayload'>,
  input: TaskInput<P>,
): Promise<Job> {
  task.parsePayload(input.payload);
  await refuseOverQueueCap(tx, input.tenantId);
  return enqueueJob(tx, { ...input, kind: task.kind, maxAttempts: task.maxAttempts });
}
