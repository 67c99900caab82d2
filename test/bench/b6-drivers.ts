// B6's two sides: pgsteward's JobWorker (in-process, as test/jobs starts it) and graphile-worker's run(),
// each driven the same way: a bulk-enqueued backlog drained by 10 concurrent trivial tasks, then a steady
// enqueue rate whose enqueue-to-start latency is recorded by the task itself (same process, same clock).
import { Logger, run } from 'graphile-worker';
import pg from 'pg';
import { loadMigrations, migrate as migratePgsteward } from '../../src/db/migrate.js';
import { type ConnectionSettings, createAppPool } from '../../src/db/pool.js';
import { inTenantScope } from '../../src/db/tenant-scope.js';
import { enqueueJob } from '../../src/jobs/queue.js';
import { type JobEvents, JobWorker } from '../../src/jobs/worker.js';

export const CONCURRENCY = 10;
const KIND = 'b6-noop';

export type Side = 'pgsteward' | 'graphile';

export interface DrainResult {
  ms: number;
  /** Highest count of one tenant's running jobs seen by the sampler (pgsteward's status = 'running'). */
  maxRunningPerTenant: number | null;
}

export interface LatencyResult {
  enqueued: number;
  latenciesMs: number[];
}

export const tenantName = (i: number) => `t${String(i).padStart(3, '0')}`;

const quiet = { info: () => {}, warn: () => {}, error: (o: unknown) => process.stderr.write(`${JSON.stringify(o)}\n`) };

/** Resolves once `count()` reaches n; checks at every completion, never by polling. */
function counter(): { tick: () => void; until: (n: number) => Promise<void>; value: () => number } {
  let n = 0;
  let waiting: { target: number; resolve: () => void } | undefined;
  return {
    tick: () => {
      n++;
      if (waiting && n >= waiting.target) waiting.resolve();
    },
    until: (target) =>
      n >= target
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            waiting = { target, resolve };
          }),
    value: () => n,
  };
}

export interface Engine {
  side: Side;
  /** Queue n trivial jobs spread round-robin over `tenants` tenants, in one statement (not timed). */
  backlog(n: number, tenants: number): Promise<void>;
  /** Start the workers, drain the backlog of n, stop; timed from start() to the last completion. */
  drain(n: number, sample: boolean): Promise<DrainResult>;
  /** Workers running, enqueue `rate` jobs/s for `seconds`, one transaction each; the task records the lag. */
  latency(rate: number, seconds: number, tenants: number): Promise<LatencyResult>;
  close(): Promise<void>;
}

/** Enqueue `total` jobs at `rate` per second, a tick every 10 ms, each enqueue its own transaction. */
async function paced(rate: number, seconds: number, enqueueOne: (i: number) => Promise<unknown>): Promise<number> {
  const total = Math.round(rate * seconds);
  const begun = performance.now();
  const inFlight: Promise<unknown>[] = [];
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - begun) / 1000) * rate) + 1);
    while (sent < due) inFlight.push(enqueueOne(sent++));
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.all(inFlight);
  return total;
}

export async function pgstewardEngine(
  settings: ConnectionSettings & { database: string },
  cap: number,
): Promise<Engine> {
  const owner = new pg.Pool({ ...settings, max: 2 });
  const client = await owner.connect();
  try {
    await migratePgsteward(client, await loadMigrations());
    await client.query(
      `INSERT INTO tenants (id, name) SELECT 't' || lpad(g::text, 3, '0'), 'b6' FROM generate_series(0, 99) g
       ON CONFLICT DO NOTHING`,
    );
  } finally {
    client.release();
  }
  const enginePool = createAppPool(settings, CONCURRENCY + 2, 'pgsteward-jobs');
  const apiPool = createAppPool(settings, 10);
  let onTask: (payload: Record<string, unknown>) => void = () => {};
  const worker = (events?: JobEvents) =>
    new JobWorker({
      events,
      pool: enginePool,
      listen: settings,
      concurrency: CONCURRENCY,
      tenantMaxRunning: cap,
      log: quiet,
      handlers: {
        [KIND]: async ({ job }) => {
          onTask(job.payload);
          return {};
        },
      },
    });
  return {
    side: 'pgsteward',
    async backlog(n, tenants) {
      await owner.query('TRUNCATE jobs CASCADE');
      await owner.query(
        `INSERT INTO jobs (tenant_id, kind) SELECT 't' || lpad((g % $2)::text, 3, '0'), $3 FROM generate_series(0, $1 - 1) g`,
        [n, tenants, KIND],
      );
      await owner.query('VACUUM ANALYZE jobs');
    },
    async drain(n, sample) {
      const done = counter();
      const w = worker({ started: () => {}, leaseRenewalFailed: () => {}, finished: () => done.tick() });
      // The cap as the database sees it: running rows per tenant, sampled every 25 ms on its own connection.
      let maxRunning = 0;
      let sampling = sample;
      const sampler = (async () => {
        while (sampling) {
          const { rows } = await owner.query<{ n: number }>(
            "SELECT coalesce(max(n), 0)::int AS n FROM (SELECT count(*) AS n FROM jobs WHERE status = 'running' GROUP BY tenant_id) c",
          );
          maxRunning = Math.max(maxRunning, rows[0]?.n ?? 0);
          await new Promise((r) => setTimeout(r, 25));
        }
      })();
      const begun = performance.now();
      await w.start();
      await done.until(n);
      const ms = performance.now() - begun;
      await w.stop();
      sampling = false;
      await sampler;
      return { ms, maxRunningPerTenant: sample ? maxRunning : null };
    },
    async latency(rate, seconds, tenants) {
      await owner.query('TRUNCATE jobs CASCADE');
      const latenciesMs: number[] = [];
      onTask = (payload) => latenciesMs.push(Date.now() - Number(payload.t));
      const w = worker();
      await w.start();
      const total = await paced(rate, seconds, (i) => {
        const tenantId = tenantName(i % tenants);
        return inTenantScope(apiPool, { tenantId }, (tx) =>
          enqueueJob(tx, { tenantId, kind: KIND, payload: { t: Date.now() } }),
        );
      });
      while (latenciesMs.length < total) await new Promise((r) => setTimeout(r, 20));
      await w.stop();
      onTask = () => {};
      return { enqueued: total, latenciesMs };
    },
    async close() {
      await Promise.all([enginePool.end(), apiPool.end(), owner.end()]);
    },
  };
}

/**
 * graphile-worker at its defaults (no local queue, no completion batching), concurrency 10, one noop task.
 * It has no tenants: the 100-tenant case queues the same jobs with the tenant in the payload and no
 * named queue (a named queue runs its jobs one at a time, which is not what a per-tenant cap of 2 is).
 */
export async function graphileEngine(settings: ConnectionSettings & { database: string }): Promise<Engine> {
  const pgPool = new pg.Pool({ ...settings, max: CONCURRENCY + 2 });
  pgPool.on('error', () => {});
  pgPool.on('connect', (client) => client.on('error', () => {}));
  let onTask: (payload: Record<string, unknown>) => void = () => {};
  const start = () =>
    run({
      pgPool,
      concurrency: CONCURRENCY,
      noHandleSignals: true,
      pollInterval: 2_000,
      logger: new Logger(() => () => {}),
      taskList: {
        [KIND]: async (payload) => {
          onTask(payload as Record<string, unknown>);
        },
      },
    });
  // Install graphile-worker's schema once (run() migrates on start).
  await (await start()).stop();
  const drained = async () => {
    for (;;) {
      const { rows } = await pgPool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM graphile_worker._private_jobs',
      );
      if (rows[0]?.n === 0) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return {
    side: 'graphile',
    async backlog(n, tenants) {
      await pgPool.query('TRUNCATE graphile_worker._private_jobs');
      await pgPool.query(
        `SELECT count(*) FROM graphile_worker.add_jobs(array(
           SELECT ROW($3::text, json_build_object('tenant', 't' || lpad((g % $2)::text, 3, '0')), NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec
             FROM generate_series(0, $1 - 1) g))`,
        [n, tenants, KIND],
      );
      await pgPool.query('VACUUM ANALYZE graphile_worker._private_jobs');
    },
    async drain(n) {
      const done = counter();
      onTask = () => done.tick();
      const begun = performance.now();
      const runner = await start();
      await done.until(n);
      await drained(); // its completions are written after the task returns: count them in
      const ms = performance.now() - begun;
      await runner.stop();
      onTask = () => {};
      return { ms, maxRunningPerTenant: null };
    },
    async latency(rate, seconds, tenants) {
      await pgPool.query('TRUNCATE graphile_worker._private_jobs');
      const latenciesMs: number[] = [];
      onTask = (payload) => latenciesMs.push(Date.now() - Number(payload.t));
      const runner = await start();
      const total = await paced(rate, seconds, (i) =>
        runner.addJob(KIND, { t: Date.now(), tenant: tenantName(i % tenants) }),
      );
      while (latenciesMs.length < total) await new Promise((r) => setTimeout(r, 20));
      await runner.stop();
      onTask = () => {};
      return { enqueued: total, latenciesMs };
    },
    async close() {
      await pgPool.end();
    },
  };
}
