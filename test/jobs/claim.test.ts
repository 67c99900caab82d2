import t from 'tap';
import { createAppPool } from '../../src/db/pool.js';
import { inTenantScope } from '../../src/db/tenant-scope.js';
import { claimJobs, claimNextJob, completeAttempt, completeAttempts } from '../../src/jobs/attempts.js';
import { enqueueJob } from '../../src/jobs/queue.js';
import type { TaskHandler } from '../../src/jobs/types.js';
import { createTestDatabase } from '../helpers/database.js';
import { addTenants, enqueue, jobRow, sleep, startWorker, waitFor } from './job-fixtures.js';

const db = await createTestDatabase(t);
await addTenants(db, 'acme', 'globex', 'initech', 'umbrella', 'hooli', 'wonka');

t.test('a job runs once and succeeds with the result its task resolved with', async (t) => {
  const seen: { payload: unknown; attempts: number }[] = [];
  const job = await enqueue(db, 'acme', { kind: 'count', payload: { table: 'orders' } });
  t.equal(job.status, 'queued');
  await startWorker(t, db, {
    handlers: {
      count: async ({ job, reportProgress }) => {
        seen.push({ payload: job.payload, attempts: job.attempts });
        await reportProgress({ done: 1, of: 2 });
        return { rows: 42 };
      },
    },
  });
  const row = await waitFor('success', async () => {
    const r = await jobRow(db, job.id);
    return r.status === 'succeeded' && r;
  });
  t.same(row.result, { rows: 42 });
  t.same(row.progress, { done: 1, of: 2 });
  t.equal(row.attempts, 1);
  t.equal(row.error, null);
  t.equal(row.locked_by, null, 'the lease is released');
  t.ok(row.finished_at);
  t.same(seen, [{ payload: { table: 'orders' }, attempts: 1 }]);
});

t.test('concurrent claims for one tenant never take more than tenantMaxRunning jobs', async (t) => {
  const pool = createAppPool(db.ownerSettings, 12);
  t.teardown(async () => {
    await pool.end();
    await db.ownerQuery(
      "UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE kind = 'cap' AND status = 'queued'",
    );
  });
  for (let i = 0; i < 10; i++) await enqueue(db, 'initech', { kind: 'cap' });
  for (let round = 0; round < 3; round++) {
    const claims = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        claimNextJob(pool, { workerId: `claimer-${i}`, leaseMs: 30_000, tenantMaxRunning: 2 }),
      ),
    );
    const taken = claims.filter((c) => c !== undefined);
    t.equal(taken.length, 2, `round ${round}: ten claimers at once took exactly two jobs`);
    const [running] = await db.ownerQuery<{ n: number }>(
      "SELECT count(*)::int AS n FROM jobs WHERE tenant_id = 'initech' AND status = 'running'",
    );
    t.equal(running?.n, 2);
    for (const c of taken) await completeAttempt(pool, { jobId: c.job.id, attemptId: c.attemptId }, {});
  }
});

t.test('twenty jobs and two workers: every job runs exactly once', async (t) => {
  const ids = new Set<string>();
  for (let i = 0; i < 10; i++) {
    ids.add((await enqueue(db, 'acme', { kind: 'once' })).id);
    ids.add((await enqueue(db, 'globex', { kind: 'once' })).id);
  }
  const runs: { jobId: string; worker: string }[] = [];
  const handler =
    (worker: string): TaskHandler =>
    async ({ job }) => {
      runs.push({ jobId: job.id, worker });
      await sleep(10);
      return { worker };
    };
  const opts = { concurrency: 3, tenantMaxRunning: 3, pollMs: 100 };
  await Promise.all([
    startWorker(t, db, { ...opts, workerId: 'w1', handlers: { once: handler('w1') } }),
    startWorker(t, db, { ...opts, workerId: 'w2', handlers: { once: handler('w2') } }),
  ]);
  await waitFor('all twenty to finish', async () => {
    const [r] = await db.ownerQuery<{ n: number }>(
      "SELECT count(*)::int AS n FROM jobs WHERE kind = 'once' AND status = 'succeeded'",
    );
    return r?.n === 20;
  });
  t.equal(runs.length, 20, 'twenty task runs in all');
  t.same(new Set(runs.map((r) => r.jobId)), ids, 'each job ran, and none twice');
  t.ok(new Set(runs.map((r) => r.worker)).size === 2, 'both workers took jobs');
  const rows = await db.ownerQuery<{ attempts: number }>("SELECT attempts FROM jobs WHERE kind = 'once'");
  t.ok(
    rows.every((r) => r.attempts === 1),
    'no job needed a second attempt',
  );
});

t.test('the per-tenant cap holds across two workers, and another tenant is still served', async (t) => {
  const running = new Map<string, number>();
  const peak = new Map<string, number>();
  const starts: { tenant: string; at: number }[] = [];
  const ends: { tenant: string; at: number }[] = [];
  const handler: TaskHandler = async ({ job }) => {
    const n = (running.get(job.tenantId) ?? 0) + 1;
    running.set(job.tenantId, n);
    peak.set(job.tenantId, Math.max(peak.get(job.tenantId) ?? 0, n));
    starts.push({ tenant: job.tenantId, at: Date.now() });
    await sleep(250);
    running.set(job.tenantId, (running.get(job.tenantId) ?? 1) - 1);
    ends.push({ tenant: job.tenantId, at: Date.now() });
    return {};
  };
  // Two workers as two processes would be: each with its own pool. Idle, then woken by the same NOTIFY
  // (one transaction enqueues all of umbrella's jobs), so they claim at the same moment.
  const pools = [createAppPool(db.ownerSettings, 4), createAppPool(db.ownerSettings, 4)];
  // An odd cap: two workers claiming in lockstep would step from 2 running straight to 4.
  const opts = { concurrency: 4, tenantMaxRunning: 3, pollMs: 10_000, handlers: { capped: handler } };
  t.teardown(() => Promise.all(pools.map((p) => p.end()))); // teardowns run last-in first-out: after the workers stop
  await Promise.all(pools.map((pool) => startWorker(t, db, { ...opts, pool })));
  await inTenantScope(db.appPool, { tenantId: 'umbrella' }, async (tx) => {
    for (let i = 0; i < 8; i++) await enqueueJob(tx, { tenantId: 'umbrella', kind: 'capped' });
  });
  await enqueue(db, 'globex', { kind: 'capped' });
  await waitFor('all nine to finish', () => ends.length === 9, 10_000);
  t.equal(peak.get('umbrella'), 3, 'umbrella ran three jobs at a time, never four, with eight free slots');
  const firstEnd = Math.min(...ends.map((e) => e.at));
  const globexStart = starts.find((s) => s.tenant === 'globex');
  t.ok(globexStart && globexStart.at < firstEnd, "globex's job started in the first wave, before any job ended");
});

t.test('a tenant with a deep queue does not starve a tenant that enqueued later', async (t) => {
  const order: string[] = [];
  const handler: TaskHandler = async ({ job }) => {
    order.push(job.tenantId);
    return {};
  };
  // Enqueued before the worker starts, the deep queue first: FIFO would serve hooli five times first.
  for (let i = 0; i < 5; i++) await enqueue(db, 'hooli', { kind: 'fair' });
  await enqueue(db, 'wonka', { kind: 'fair' });
  await startWorker(t, db, { concurrency: 1, tenantMaxRunning: 2, pollMs: 50, handlers: { fair: handler } });
  await waitFor('all six to finish', () => order.length === 6);
  t.equal(order.indexOf('wonka'), 1, 'wonka was served right after the first hooli job');
});

t.test('a worker claims only the kinds it has tasks for', async (t) => {
  const foreign = await enqueue(db, 'acme', { kind: 'from-a-newer-version' });
  const ran: string[] = [];
  await startWorker(t, db, {
    pollMs: 50,
    handlers: {
      known: async ({ job }) => {
        ran.push(job.id);
        return {};
      },
    },
  });
  const known = await enqueue(db, 'acme', { kind: 'known' });
  await waitFor('the known job to finish', async () => (await jobRow(db, known.id)).status === 'succeeded');
  await sleep(150);
  t.same(ran, [known.id]);
  const row = await jobRow(db, foreign.id);
  t.equal(row.status, 'queued', 'the unknown kind waits for a worker that knows it');
  t.equal(row.attempts, 0);
});

t.test('one claim of many takes at most each tenant’s cap, and concurrent batch claims keep it', async (t) => {
  await addTenants(db, 'stark', 'wayne', 'tyrell');
  for (const tenant of ['stark', 'wayne', 'tyrell']) {
    for (let i = 0; i < 5; i++) await enqueue(db, tenant, { kind: 'batch' });
  }
  const opts = { workerId: 'batcher', leaseMs: 30_000, tenantMaxRunning: 2, kinds: ['batch'] };
  const first = await claimJobs(db.appPool, { ...opts, limit: 10 });
  const perTenant = (claims: { job: { tenantId: string } }[]) => {
    const n = new Map<string, number>();
    for (const c of claims) n.set(c.job.tenantId, (n.get(c.job.tenantId) ?? 0) + 1);
    return Object.fromEntries([...n].sort());
  };
  t.same(perTenant(first), { stark: 2, tyrell: 2, wayne: 2 }, 'ten asked, six taken: two of each tenant');
  for (const c of first.slice(0, 3)) await completeAttempt(db.appPool, { jobId: c.job.id, attemptId: c.attemptId }, {});
  const pool = createAppPool(db.ownerSettings, 6);
  t.teardown(() => pool.end());
  const claims = await Promise.all(Array.from({ length: 6 }, () => claimJobs(pool, { ...opts, limit: 5 })));
  t.equal(claims.flat().length, 3, 'six claimers at once took exactly the three freed places');
  const running = await db.ownerQuery<{ tenant_id: string; n: number }>(
    "SELECT tenant_id, count(*)::int AS n FROM jobs WHERE kind = 'batch' AND status = 'running' GROUP BY tenant_id",
  );
  t.ok(
    running.every((r) => r.n === 2),
    `every tenant at its cap, none above (${JSON.stringify(running)})`,
  );
});

t.test('a batch of completions writes each success fenced by its own attempt', async (t) => {
  await addTenants(db, 'cyberdyne');
  for (let i = 0; i < 3; i++) await enqueue(db, 'cyberdyne', { kind: 'fenced-batch' });
  const opts = { workerId: 'w', leaseMs: 30_000, tenantMaxRunning: 3, kinds: ['fenced-batch'], limit: 3 };
  const claimed = await claimJobs(db.appPool, opts);
  t.equal(claimed.length, 3);
  const [a, b, c] = claimed.map((x) => ({ jobId: x.job.id, attemptId: x.attemptId }));
  if (!a || !b || !c) return;
  // b's attempt lost its job: reaped and claimed again by another attempt.
  await db.ownerQuery('UPDATE jobs SET attempt_id = gen_random_uuid() WHERE id = $1', [b.jobId]);
  const stale = await completeAttempts(db.appPool, [
    { attempt: a, result: { n: 1 } },
    { attempt: b, result: { n: 2 } },
    { attempt: c, result: { n: 3 } },
  ]);
  t.same(stale, [b], 'only the stale attempt is refused');
  t.match(await jobRow(db, a.jobId), { status: 'succeeded', result: { n: 1 }, locked_by: null });
  t.match(await jobRow(db, c.jobId), { status: 'succeeded', result: { n: 3 } });
  t.match(await jobRow(db, b.jobId), { status: 'running', result: null }, "the stale attempt's result is not written");
  await db.ownerQuery(
    "UPDATE jobs SET status = 'cancelled', locked_by = NULL, locked_until = NULL, attempt_id = NULL, finished_at = now() WHERE id = $1",
    [b.jobId],
  );
});
