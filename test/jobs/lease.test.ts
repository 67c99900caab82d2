import t from 'tap';
import { type ConnectionSettings, createAppPool } from '../../src/db/pool.js';
import { claimNextJob, completeAttempt, recordProgress } from '../../src/jobs/attempts.js';
import { JOB_EVENTS_CHANNEL } from '../../src/jobs/channels.js';
import { NotificationListener } from '../../src/jobs/listener.js';
import { JobAbortedError, JobFailure, StaleAttemptError } from '../../src/jobs/types.js';
import { JobWorker } from '../../src/jobs/worker.js';
import { createTestDatabase } from '../helpers/database.js';
import { startTcpForwarder } from '../helpers/tcp-forward.js';
import { addTenants, captureLog, enqueue, jobRow, sleep, startWorker, untilAborted, waitFor } from './job-fixtures.js';

const db = await createTestDatabase(t);
await addTenants(db, 'acme', 'globex');

const claimOpts = (workerId: string, leaseMs: number) => ({ workerId, leaseMs, tenantMaxRunning: 2 });

t.test(
  "a dead worker's job is reaped and run by another worker; the dead one's late completion is refused",
  async (t) => {
    const job = await enqueue(db, 'acme', { kind: 'survive' });
    // The "dead" worker: it claims, then never heartbeats, completes or releases.
    const dead = await claimNextJob(db.appPool, claimOpts('dead-worker', 1_000));
    t.equal(dead?.job.id, job.id);
    if (!dead) return;
    const started: string[] = [];
    await startWorker(t, db, {
      workerId: 'rescuer',
      leaseMs: 1_000,
      reapIntervalMs: 100,
      pollMs: 100,
      backoffBaseMs: 100,
      handlers: {
        survive: async ({ attemptId }) => {
          started.push(attemptId);
          return { by: 'rescuer' };
        },
      },
    });
    const row = await waitFor('the rescuer to finish the job', async () => {
      const r = await jobRow(db, job.id);
      return r.status === 'succeeded' && r;
    });
    t.same(row.result, { by: 'rescuer' });
    t.equal(row.attempts, 2, 'the dead attempt counted');
    t.equal(started.length, 1);
    t.not(started[0], dead.attemptId, 'the rescue is a new attempt with its own fencing token');

    const stale = { jobId: job.id, attemptId: dead.attemptId };
    await t.rejects(completeAttempt(db.appPool, stale, { by: 'zombie' }), StaleAttemptError);
    await t.rejects(recordProgress(db.appPool, stale, '{"zombie":true}'), StaleAttemptError);
    const after = await jobRow(db, job.id);
    t.same(after.result, { by: 'rescuer' }, "the zombie's result did not overwrite the job");
    t.same(after.progress, {}, "nor did the zombie's progress");
  },
);

t.test('a worker whose lease was taken away aborts its task and writes nothing for it', async (t) => {
  const reasons: unknown[] = [];
  const job = await enqueue(db, 'globex', { kind: 'outlived' });
  const log = captureLog();
  await startWorker(t, db, {
    leaseMs: 600,
    log,
    handlers: {
      outlived: async ({ signal }) => {
        try {
          return await untilAborted(signal);
        } catch (err) {
          reasons.push(err);
          throw err;
        }
      },
    },
  });
  await waitFor('the job to run', async () => (await jobRow(db, job.id)).status === 'running');
  // A stall long enough for the lease to expire and another worker's reaper to take the job back.
  await db.ownerQuery("UPDATE jobs SET locked_until = now() - interval '1 second' WHERE id = $1", [job.id]);
  const reaper = new JobWorker({ pool: db.appPool, listen: db.ownerSettings, handlers: {}, log: captureLog() });
  t.equal(await reaper.reapExpired(), 1);
  await waitFor('the task to be aborted', () => reasons.length === 1, 2_000);
  const reason = reasons[0];
  t.ok(reason instanceof JobAbortedError && reason.abortCause === 'lease-lost');
  await sleep(100);
  const row = await jobRow(db, job.id);
  t.equal(row.status, 'queued', "the reaper's retry stands: the old attempt's failure was fenced off");
  t.same(row.error, {
    code: 'PGS_LEASE_EXPIRED',
    message: 'The worker running this job stopped responding before it finished.',
  });
  t.notOk(
    log.lines.some((l) => l.level === 'error'),
    'an expected abort is not logged as an error',
  );
  await db.ownerQuery("UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE id = $1", [job.id]);
});

t.test('a worker whose lease renewals keep failing stops its task before the lease can expire', async (t) => {
  await addTenants(db, 'initech');
  // The engine's pool reaches the metadata store through a port the test can shut: then every renewal fails.
  const forward = await startTcpForwarder(db.cluster.port);
  const enginePool = createAppPool(
    { ...db.ownerSettings, port: forward.port } as ConnectionSettings,
    2,
    'pgsteward-jobs',
  );
  t.teardown(() => enginePool.end().catch(() => {}));
  const job = await enqueue(db, 'initech', { kind: 'cut-off' });
  const failedRenewals: number[] = [];
  let stopped: { at: number; reason: unknown } | undefined;
  const log = captureLog();
  await startWorker(t, db, {
    pool: enginePool,
    leaseMs: 2_000,
    pollMs: 100,
    log,
    events: { started: () => {}, finished: () => {}, leaseRenewalFailed: (n) => failedRenewals.push(n) },
    handlers: {
      'cut-off': async ({ signal }) => {
        try {
          return await untilAborted(signal);
        } catch (reason) {
          stopped = { at: Date.now(), reason };
          throw reason;
        }
      },
    },
  });
  await waitFor('the job to run', async () => (await jobRow(db, job.id)).status === 'running');
  await sleep(300);
  await forward.close();
  const cutAt = Date.now();
  const { at, reason } = await waitFor('the task to be stopped', () => stopped, 5_000);
  const row = await jobRow(db, job.id);
  t.ok(reason instanceof JobAbortedError && reason.abortCause === 'lease-lost', 'the task is told its lease is going');
  t.ok(failedRenewals.length >= 1, `failed renewals were counted (${failedRenewals.join(',')})`);
  t.ok(row.locked_until instanceof Date && at < row.locked_until.getTime() - 200, 'stopped before the lease ran out');
  t.equal(row.status, 'running', 'nothing else ran meanwhile: the job is still held by its lease');
  t.ok(at - cutAt > 200, 'not at the first hiccup');
  t.match(JSON.stringify(log.lines), /lease renewals kept failing/);
  // Settle the job behind the worker's back, so the next test's reaper finds nothing of this one.
  await db.ownerQuery(
    "UPDATE jobs SET status = 'cancelled', locked_by = NULL, locked_until = NULL, finished_at = now() WHERE id = $1",
    [job.id],
  );
});

t.test('expired leases back off exponentially (capped), then fail with PGS_LEASE_EXPIRED', async (t) => {
  const job = await enqueue(db, 'globex', { kind: 'doomed', maxAttempts: 3 });
  const reaper = new JobWorker({
    pool: db.appPool,
    listen: db.ownerSettings,
    handlers: {},
    backoffBaseMs: 60_000,
    backoffCapMs: 90_000,
    log: captureLog(),
  });
  const expectedDelays = [60_000, 90_000]; // base * 2^0, then min(cap, base * 2^1)
  for (const [i, delay] of expectedDelays.entries()) {
    const claimed = await claimNextJob(db.appPool, claimOpts(`dying-${i}`, 200));
    t.equal(claimed?.job.id, job.id, `attempt ${i + 1} claimed`);
    await sleep(250);
    t.equal(await reaper.reapExpired(), 1, 'one expired lease reaped');
    const row = await jobRow(db, job.id);
    t.equal(row.status, 'queued');
    t.equal(row.attempts, i + 1);
    t.equal(row.error?.code, 'PGS_LEASE_EXPIRED', 'the last error says why it is retrying');
    t.ok(
      Math.abs(row.due_in_ms - delay) < 2_000,
      `run_at is ~${delay / 1000} s ahead (${Math.round(row.due_in_ms)} ms)`,
    );
    t.equal(row.locked_by, null);
    t.equal(await claimNextJob(db.appPool, claimOpts('eager', 1_000)), undefined, 'not claimable before run_at');
    await db.ownerQuery('UPDATE jobs SET run_at = now() WHERE id = $1', [job.id]); // let the backoff pass
  }
  const last = await claimNextJob(db.appPool, claimOpts('dying-last', 200));
  t.equal(last?.job.attempts, 3);
  await sleep(250);
  t.equal(await reaper.reapExpired(), 1);
  const row = await jobRow(db, job.id);
  t.equal(row.status, 'failed', 'attempts exhausted');
  t.equal(row.error?.code, 'PGS_LEASE_EXPIRED');
  t.ok(row.finished_at);
  t.equal(await reaper.reapExpired(), 0, 'nothing left to reap');
});

t.test('a retryable JobFailure is retried after the backoff and can then succeed', async (t) => {
  const attemptsAt: number[] = [];
  const job = await enqueue(db, 'acme', { kind: 'flaky' });
  await startWorker(t, db, {
    pollMs: 50,
    backoffBaseMs: 400,
    handlers: {
      flaky: async ({ job }) => {
        attemptsAt.push(Date.now());
        if (job.attempts === 1) throw new JobFailure('PGS_FLAKY', 'The network blinked.', { retryable: true });
        return { ok: true };
      },
    },
  });
  const queued = await waitFor('the retry to be queued', async () => {
    const r = await jobRow(db, job.id);
    return r.status === 'queued' && r.attempts === 1 && r;
  });
  t.same(queued.error, { code: 'PGS_FLAKY', message: 'The network blinked.' });
  t.ok(queued.due_in_ms > 0, 'run_at is in the future');
  const done = await waitFor('the retry to succeed', async () => {
    const r = await jobRow(db, job.id);
    return r.status === 'succeeded' && r;
  });
  t.equal(done.attempts, 2);
  t.equal(done.error, null, 'success clears the last error');
  const [first, second] = attemptsAt;
  t.ok(
    first && second && second - first >= 350,
    `the retry waited for the backoff (${(second ?? 0) - (first ?? 0)} ms)`,
  );
});

t.test('a non-retryable failure, or one out of attempts, fails the job with its code and message', async (t) => {
  const fatal = await enqueue(db, 'acme', { kind: 'fatal' });
  const lastTry = await enqueue(db, 'globex', { kind: 'flaky-once', maxAttempts: 1 });
  await startWorker(t, db, {
    pollMs: 50,
    backoffBaseMs: 50,
    handlers: {
      fatal: async () => {
        throw new JobFailure('PGS_TOOL_VERSION', 'pg_dump 15 cannot dump a PostgreSQL 16 server.');
      },
      'flaky-once': async () => {
        throw new JobFailure('PGS_FLAKY', 'Still blinking.', { retryable: true });
      },
    },
  });
  for (const [id, error] of [
    [fatal.id, { code: 'PGS_TOOL_VERSION', message: 'pg_dump 15 cannot dump a PostgreSQL 16 server.' }],
    [lastTry.id, { code: 'PGS_FLAKY', message: 'Still blinking.' }],
  ] as const) {
    const row = await waitFor('the failure', async () => {
      const r = await jobRow(db, id);
      return r.status === 'failed' && r;
    });
    t.same(row.error, error);
    t.equal(row.attempts, 1, 'no retry');
  }
});

t.test('an unexpected error fails the job as PGS_INTERNAL; the real message is only logged', async (t) => {
  const log = captureLog();
  const job = await enqueue(db, 'acme', { kind: 'buggy' });
  await startWorker(t, db, {
    log,
    handlers: {
      buggy: async () => {
        throw new Error('connect to 10.0.0.7 failed: password authentication failed for user "sa"');
      },
    },
  });
  const row = await waitFor('the failure', async () => {
    const r = await jobRow(db, job.id);
    return r.status === 'failed' && r;
  });
  t.same(row.error, { code: 'PGS_INTERNAL', message: 'An internal error occurred; the log has details.' });
  t.equal(row.attempts, 1, 'unknown errors are not retried');
  const logged = log.lines.find((l) => l.level === 'error');
  t.match((logged?.obj as { err?: Error } | undefined)?.err?.message, /password authentication failed/);
});

t.test('progress reported in a tight loop is coalesced, and the last value is kept', async (t) => {
  const job = await enqueue(db, 'acme', { kind: 'chatty' });
  const events = new NotificationListener({
    settings: db.ownerSettings,
    channels: [JOB_EVENTS_CHANNEL],
    onNotification: (_channel, payload) => {
      const event = JSON.parse(payload) as { id: string; status: string };
      if (event.id === job.id) statuses.push(event.status);
    },
    onConnected: () => {},
    log: captureLog(),
  });
  const statuses: string[] = [];
  await events.start();
  t.teardown(() => events.stop());
  await startWorker(t, db, {
    handlers: {
      chatty: async ({ reportProgress }) => {
        for (let i = 1; i <= 200; i++) {
          await reportProgress({ copied: i });
          await sleep(2);
        }
        return {};
      },
    },
  });
  const row = await waitFor('the job to finish', async () => {
    const r = await jobRow(db, job.id);
    return r.status === 'succeeded' && r;
  });
  t.same(row.progress, { copied: 200 }, 'the final report was written before completion');
  await waitFor('the completion event', () => statuses.includes('succeeded'));
  const progressWrites = statuses.filter((s) => s === 'running').length - 1; // minus the claim itself
  t.ok(progressWrites >= 1 && progressWrites <= 8, `200 reports became ${progressWrites} writes`);
  t.equal(statuses[0], 'running', 'every change is published: the claim');
  t.equal(statuses.at(-1), 'succeeded', 'and the completion');
});
