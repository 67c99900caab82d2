import t from 'tap';
import { cancelJob } from '../../src/domain/jobs/service.js';
import { claimNextJob } from '../../src/jobs/attempts.js';
import { JobAbortedError, type TaskHandler } from '../../src/jobs/types.js';
import { JobWorker } from '../../src/jobs/worker.js';
import { createTestDatabase } from '../helpers/database.js';
import {
  addTenants,
  captureLog,
  ctxFor,
  enqueue,
  gate,
  jobRow,
  sleep,
  startWorker,
  untilAborted,
  waitFor,
} from './job-fixtures.js';

const db = await createTestDatabase(t);
await addTenants(db, 'acme');
const acme = ctxFor(db.appPool, 'acme', ['jobs:read', 'jobs:write']);

/** A task that runs until its signal aborts, recording why. */
function abortable(): { handler: TaskHandler; started: Promise<void>; reasons: unknown[] } {
  const started = gate();
  const reasons: unknown[] = [];
  return {
    started: started.promise,
    reasons,
    handler: async ({ signal }) => {
      started.open();
      try {
        return await untilAborted(signal);
      } catch (err) {
        reasons.push(err);
        throw err;
      }
    },
  };
}

t.test('cancelling a queued job cancels it at once, and no worker runs it', async (t) => {
  const job = await enqueue(db, 'acme', { kind: 'later', runAt: new Date(Date.now() + 200) });
  const cancelled = await cancelJob(acme, job.id);
  t.equal(cancelled.status, 'cancelled');
  t.ok(cancelled.finishedAt);
  await sleep(250);
  t.equal(await claimNextJob(db.appPool, { workerId: 'w', leaseMs: 1_000, tenantMaxRunning: 2 }), undefined);
  t.equal((await jobRow(db, job.id)).status, 'cancelled');
});

t.test('cancelling a running job aborts its task through NOTIFY and ends it cancelled', async (t) => {
  const task = abortable();
  // A long lease: the heartbeat (every 10 s) cannot be what delivers the cancel within the deadline.
  await startWorker(t, db, { leaseMs: 20_000, handlers: { long: task.handler } });
  const job = await enqueue(db, 'acme', { kind: 'long' });
  await task.started;
  const requested = await cancelJob(acme, job.id);
  t.equal(requested.status, 'running', 'a running job is only asked to stop');
  t.ok(requested.cancelRequestedAt);
  const begun = Date.now();
  const row = await waitFor(
    'the job to end cancelled',
    async () => {
      const r = await jobRow(db, job.id);
      return r.status !== 'running' && r;
    },
    2_000,
  );
  t.equal(row.status, 'cancelled', 'cancelled, not failed');
  t.equal(row.error, null);
  t.equal(row.locked_by, null);
  t.ok(Date.now() - begun < 1_500, `within ${Date.now() - begun} ms`);
  const reason = task.reasons[0];
  t.ok(reason instanceof JobAbortedError && reason.abortCause === 'cancelled', 'the signal said why');
});

t.test('a cancel whose NOTIFY was missed still reaches the task through the heartbeat', async (t) => {
  const task = abortable();
  await startWorker(t, db, { leaseMs: 600, handlers: { deaf: task.handler } });
  const job = await enqueue(db, 'acme', { kind: 'deaf' });
  await task.started;
  // Mark the cancel behind the engine's back: no NOTIFY is sent.
  await db.ownerQuery('UPDATE jobs SET cancel_requested_at = now() WHERE id = $1', [job.id]);
  const row = await waitFor(
    'the job to end cancelled',
    async () => {
      const r = await jobRow(db, job.id);
      return r.status !== 'running' && r;
    },
    2_000,
  );
  t.equal(row.status, 'cancelled');
});

t.test('cancelling a finished job answers PGS_JOB_NOT_CANCELLABLE', async (t) => {
  await startWorker(t, db, { handlers: { quick: async () => ({}) } });
  const job = await enqueue(db, 'acme', { kind: 'quick' });
  await waitFor('the job to finish', async () => (await jobRow(db, job.id)).status === 'succeeded');
  await t.rejects(cancelJob(acme, job.id), { code: 'PGS_JOB_NOT_CANCELLABLE', statusCode: 409 });
});

t.test('stop() aborts a running task and hands its job back without using up an attempt', async (t) => {
  const task = abortable();
  const worker = new JobWorker({
    pool: db.appPool,
    listen: db.ownerSettings,
    log: captureLog(),
    handlers: { interrupted: task.handler },
  });
  await worker.start();
  const job = await enqueue(db, 'acme', { kind: 'interrupted' });
  await task.started;
  t.equal((await jobRow(db, job.id)).attempts, 1);
  await worker.stop({ timeoutMs: 2_000 });
  const reason = task.reasons[0];
  t.ok(reason instanceof JobAbortedError && reason.abortCause === 'shutdown', 'the task was told it is a shutdown');
  const row = await jobRow(db, job.id);
  t.equal(row.status, 'queued');
  t.equal(row.attempts, 1, 'the interrupted attempt still counts as started');
  t.equal(row.releases, 1, 'and as released, so it uses up none of max_attempts');
  t.equal(row.locked_by, null);
  t.ok(row.due_in_ms <= 0, 'no backoff: it can run again at once');
  t.equal(row.error, null);
  t.same(worker.activeJobIds, []);
  // Leave nothing runnable behind for the next test.
  await cancelJob(acme, job.id);
});

t.test('stop() releases the job of a task that ignores its signal, once the timeout passes', async (t) => {
  const started = gate();
  const finish = gate();
  const worker = new JobWorker({
    pool: db.appPool,
    listen: db.ownerSettings,
    log: captureLog(),
    handlers: {
      stubborn: async () => {
        started.open();
        await finish.promise;
        return { late: true };
      },
    },
  });
  await worker.start();
  const job = await enqueue(db, 'acme', { kind: 'stubborn' });
  await started.promise;
  const begun = Date.now();
  await worker.stop({ timeoutMs: 300 });
  t.ok(Date.now() - begun < 1_500, 'stop() is bounded');
  const row = await jobRow(db, job.id);
  t.equal(row.status, 'queued');
  t.equal(row.attempts, 1);
  t.equal(row.releases, 1);
  finish.open();
  await sleep(100);
  t.same((await jobRow(db, job.id)).result, null, "the task's late result is fenced off");
  await cancelJob(acme, job.id);
});

t.test(
  'a series of deploys cannot use up max attempts: a job released more often than it may fail still runs',
  async (t) => {
    const job = await enqueue(db, 'acme', { kind: 'deployed', maxAttempts: 1 });
    for (let deploy = 1; deploy <= 3; deploy++) {
      const task = abortable();
      const worker = new JobWorker({
        pool: db.appPool,
        listen: db.ownerSettings,
        log: captureLog(),
        handlers: { deployed: task.handler },
      });
      await worker.start();
      await task.started;
      await worker.stop({ timeoutMs: 2_000 });
      const row = await jobRow(db, job.id);
      t.match(row, { status: 'queued', attempts: deploy, releases: deploy }, `deploy ${deploy}: handed back`);
    }
    // After the deploys, the one attempt max_attempts allows is still there: a failure is final, not retried.
    await startWorker(t, db, {
      handlers: {
        deployed: async ({ job }) => {
          if (job.attempts !== 4) throw new Error('not the fourth attempt');
          return { ran: job.attempts };
        },
      },
    });
    const done = await waitFor('the job to finish', async () => {
      const r = await jobRow(db, job.id);
      return r.status !== 'queued' && r.status !== 'running' && r;
    });
    t.match(done, { status: 'succeeded', attempts: 4, releases: 3, result: { ran: 4 } });
  },
);

t.test('an idle worker wakes on NOTIFY, long before its poll interval', async (t) => {
  const started = gate();
  await startWorker(t, db, {
    pollMs: 10_000,
    handlers: {
      wake: async () => {
        started.open();
        return {};
      },
    },
  });
  await sleep(200); // idle: its first look at the queue found nothing
  const begun = Date.now();
  await enqueue(db, 'acme', { kind: 'wake' });
  await started.promise;
  const latency = Date.now() - begun;
  t.ok(latency < 1_000, `started ${latency} ms after the enqueue`);
});

t.test('the LISTEN connection reconnects after it is killed, and wake-ups work again', async (t) => {
  const started = gate();
  await startWorker(t, db, {
    pollMs: 10_000,
    handlers: {
      again: async () => {
        started.open();
        return {};
      },
    },
  });
  // Listening: its last statement is the final LISTEN (the wake-up channel is the first of two).
  const listenPids = () =>
    db.ownerQuery<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'pgsteward-listen'
          AND state = 'idle' AND query LIKE 'LISTEN %'`,
    );
  const [before] = await waitFor('the LISTEN connection', async () => {
    const pids = await listenPids();
    return pids.length === 1 && pids;
  });
  await db.ownerQuery('SELECT pg_terminate_backend($1)', [before?.pid]);
  await waitFor('a new LISTEN connection', async () => {
    const pids = await listenPids();
    return pids.length === 1 && pids[0]?.pid !== before?.pid;
  });
  const begun = Date.now();
  await enqueue(db, 'acme', { kind: 'again' });
  await started.promise;
  t.ok(Date.now() - begun < 1_000, `started ${Date.now() - begun} ms after the enqueue`);
});
