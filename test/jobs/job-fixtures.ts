import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Scope } from '../../src/auth/scopes.js';
import { inTenantScope } from '../../src/db/tenant-scope.js';
import type { Ctx } from '../../src/domain/context.js';
import type { Services } from '../../src/domain/services.js';
import { type EnqueueInput, enqueueJob } from '../../src/jobs/queue.js';
import type { Job } from '../../src/jobs/types.js';
import { JobWorker, type WorkerLog, type WorkerOptions } from '../../src/jobs/worker.js';
import type { TestDatabase } from '../helpers/database.js';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

export async function addTenants(db: TestDatabase, ...ids: string[]): Promise<void> {
  for (const id of ids) await db.ownerQuery('INSERT INTO tenants (id, name) VALUES ($1, $1)', [id]);
}

/**
 * A target id a job may point at. jobs.target_id gains its foreign key in the targets migration; when
 * that table exists, a minimal target row is made for it.
 */
export async function targetIdFor(db: TestDatabase, tenantId: string): Promise<string> {
  const [exists] = await db.ownerQuery<{ table: string | null }>("SELECT to_regclass('targets')::text AS table");
  if (!exists?.table) return randomUUID();
  const [row] = await db.ownerQuery<{ id: string }>(
    "INSERT INTO targets (tenant_id, name, secret_ref) VALUES ($1, $2, 'file:job-tests') RETURNING id",
    [tenantId, `jobs-${randomUUID().slice(0, 8)}`],
  );
  if (!row) throw new Error('no target row');
  return row.id;
}

/** Enqueue through the application pool, in the tenant's own scope, as a request would. */
export function enqueue(db: TestDatabase, tenantId: string, input: Partial<EnqueueInput> = {}): Promise<Job> {
  return inTenantScope(db.appPool, { tenantId }, (tx) => enqueueJob(tx, { kind: 'test', ...input, tenantId }));
}

export interface CapturedLog extends WorkerLog {
  lines: { level: string; obj: object | string; msg: string | undefined }[];
}

export function captureLog(): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  const at = (level: string) => (obj: object | string, msg?: string) => {
    lines.push({ level, obj, msg });
  };
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

/** A started worker on the test database, stopped when the test ends. */
export async function startWorker(
  t: Teardownable,
  db: TestDatabase,
  opts: Partial<WorkerOptions> & Pick<WorkerOptions, 'handlers'>,
): Promise<JobWorker> {
  const worker = new JobWorker({ pool: db.appPool, listen: db.ownerSettings, log: captureLog(), ...opts });
  await worker.start();
  t.teardown(() => worker.stop({ timeoutMs: 1_000 }));
  return worker;
}

export interface JobRowSnapshot {
  status: string;
  attempts: number;
  releases: number;
  error: { code: string; message: string } | null;
  result: Record<string, unknown> | null;
  progress: Record<string, unknown>;
  locked_by: string | null;
  locked_until: Date | null;
  attempt_id: string | null;
  cancel_requested_at: Date | null;
  finished_at: Date | null;
  /** run_at - now(), in milliseconds, measured by the database's clock. */
  due_in_ms: number;
}

/** The row as the owner sees it, behind the application's back. */
export async function jobRow(db: TestDatabase, id: string): Promise<JobRowSnapshot> {
  const [row] = await db.ownerQuery<JobRowSnapshot>(
    `SELECT status, attempts, releases, error, result, progress, locked_by, locked_until, attempt_id, cancel_requested_at,
            finished_at, (extract(epoch FROM run_at - now()) * 1000)::float8 AS due_in_ms
       FROM jobs WHERE id = $1`,
    [id],
  );
  if (!row) throw new Error(`job ${id} does not exist`);
  return row;
}

/** Poll until `check` answers something truthy, or fail after timeoutMs. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A deferred: a promise with its resolve function, for tasks the test releases by hand. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Resolves when the signal aborts, rejecting with its reason: what a well-behaved task does. */
export const untilAborted = (signal: AbortSignal): Promise<never> =>
  new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });

export function ctxFor(pool: pg.Pool, tenantId: string | null, scopes: Scope[]): Ctx {
  // The job services use no shared collaborators (secrets, storage...).
  return { actor: 'test', tenantId, scopes: new Set(scopes), requestId: 'req-test', pool, services: {} as Services };
}
