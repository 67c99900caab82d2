// Writes to a backup's record are fenced by the attempt that owns its job, and a backup that does not
// end available leaves nothing under its id.
import pg from 'pg';
import t, { type Test } from 'tap';
import { backupTask } from '../../src/domain/backups/run-backup.js';
import { type ClaimedAttempt, claimNextJob, completeAttempt, reapExpiredLeases } from '../../src/jobs/attempts.js';
import { StaleAttemptError } from '../../src/jobs/types.js';
import { bearer, buildTestApp, type TestApp } from '../helpers/app.js';
import { sha256Of } from '../helpers/artifacts.js';
import { type JobView, waitForJob } from '../helpers/jobs.js';
import { waitUntil } from '../helpers/server-process.js';
import { acmeTarget } from '../helpers/targets.js';

/** A session holding orders in ACCESS EXCLUSIVE mode: every pg_dump (and row count) of it waits. */
async function lockOrders(t: Test, test: TestApp, database: string) {
  const locker = new pg.Client(test.db.cluster.clientConfig(database));
  await locker.connect();
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
  let locked = true;
  const unlock = async () => {
    if (!locked) return;
    locked = false;
    await locker.query('COMMIT');
    await locker.end();
  };
  t.teardown(unlock);
  return unlock;
}

/** Sessions of pgsteward's tools and connections on `database`, and how many of them wait for a lock. */
async function sessions(test: TestApp, database: string) {
  const rows = await test.db.ownerQuery<{ pid: number; waiting: boolean }>(
    `SELECT pid, wait_event_type = 'Lock' AS waiting FROM pg_stat_activity
      WHERE datname = $1 AND application_name LIKE 'pgsteward%'`,
    [database],
  );
  return { pids: rows.map((r) => r.pid), waiting: rows.filter((r) => r.waiting).length };
}

t.test("a stale attempt's late failure is refused: the new attempt's backup goes on and ends available", async (t) => {
  const test = await buildTestApp(t);
  const { source, token, targetId } = await acmeTarget(t, test, { rows: 300 });
  const unlock = await lockOrders(t, test, source.name);
  const started = await test.app.inject({
    method: 'POST',
    url: `/v1/targets/${targetId}/backups`,
    headers: bearer(token),
    payload: { format: 'custom', includeGlobals: true },
  });
  const job = started.json() as JobView;
  const prefix = `acme/${targetId}/${job.backupId}/`;
  const backupRow = async () =>
    (
      await test.db.ownerQuery<{ status: string; error: unknown }>('SELECT status, error FROM backups WHERE id = $1', [
        job.backupId,
      ])
    )[0];

  // This test plays the worker: it claims, and runs the real backup task for each attempt.
  const run = backupTask.bind({ pool: test.db.appPool, services: test.services });
  const claim = () => claimNextJob(test.db.appPool, { workerId: 'test', leaseMs: 60_000, tenantMaxRunning: 2 });
  const attempt = (c: ClaimedAttempt) =>
    run({ job: c.job, attemptId: c.attemptId, signal: new AbortController().signal, reportProgress: async () => {} });

  const first = await claim();
  if (!first) throw new Error('nothing to claim');
  const firstOutcome = attempt(first).then(
    (result) => ({ result }),
    (err: unknown) => ({ err }),
  );
  await waitUntil('the first attempt to block in pg_dump', async () => (await sessions(test, source.name)).waiting > 0);
  const firstSessions = (await sessions(test, source.name)).pids;

  // Its lease is lost (a metadata-store failover, a stalled event loop): reaped, and claimed again.
  await test.db.ownerQuery("UPDATE jobs SET locked_until = now() - interval '1 second' WHERE id = $1", [job.id]);
  t.equal((await reapExpiredLeases(test.db.appPool, { baseMs: 1, capMs: 1 })).length, 1, 'the lost lease is reaped');
  await new Promise((r) => setTimeout(r, 20));
  const second = await claim();
  if (!second) throw new Error('the reaped job could not be claimed again');
  t.not(second.attemptId, first.attemptId, 'a new attempt');
  const secondOutcome = attempt(second);
  await waitUntil('the second attempt to block in pg_dump too', async () =>
    (await sessions(test, source.name)).pids.some((p) => !firstSessions.includes(p)),
  );
  await waitUntil('the second attempt to have written its globals', async () =>
    (await test.services.storage.list(prefix)).includes(`${prefix}globals.sql`),
  );
  t.equal((await backupRow())?.status, 'running', 'the second attempt runs the backup');

  // Now the first attempt fails, late: its sessions end, so its pg_dump and its row count fail.
  await test.db.ownerQuery('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [firstSessions]);
  const late = await firstOutcome;
  t.ok('err' in late && late.err instanceof StaleAttemptError, 'the late failure is refused as a stale attempt');
  t.match(await backupRow(), { status: 'running', error: null }, 'the backup is not marked failed');
  t.same(
    await test.services.storage.list(prefix),
    [`${prefix}globals.sql`],
    'the stale attempt removed nothing the new attempt wrote',
  );

  await unlock();
  const result = await secondOutcome;
  await completeAttempt(test.db.appPool, { jobId: job.id, attemptId: second.attemptId }, result);
  const done = await waitForJob(test.app, token, job.id);
  t.equal(done.status, 'succeeded');
  const backup = (
    await test.app.inject({ method: 'GET', url: `/v1/backups/${job.backupId}`, headers: bearer(token) })
  ).json();
  t.equal(backup.status, 'available', 'the second attempt made the backup available');
  t.same(await test.services.storage.list(prefix), [`${prefix}dump.custom`, `${prefix}globals.sql`]);
  t.same(await sha256Of(test.services.storage, `${prefix}dump.custom`), {
    sha256: backup.sha256,
    size: backup.sizeBytes,
  });
});

t.test('a backup cancelled mid-dump leaves nothing under its id, globals.sql included', async (t) => {
  const test = await buildTestApp(t, {}, { worker: true });
  const { source, targetId } = await acmeTarget(t, test, { rows: 100 });
  const token = test.token('acme', ['backups:read', 'backups:write', 'jobs:read', 'jobs:write']);
  await lockOrders(t, test, source.name);
  const started = await test.app.inject({
    method: 'POST',
    url: `/v1/targets/${targetId}/backups`,
    headers: bearer(token),
    payload: { format: 'custom', includeGlobals: true },
  });
  const job = started.json() as JobView;
  const prefix = `acme/${targetId}/${job.backupId}/`;
  await waitUntil('pg_dump to block', async () => (await sessions(test, source.name)).waiting > 0);
  t.same(await test.services.storage.list(prefix), [`${prefix}globals.sql`], 'globals.sql was written first');
  const cancel = await test.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: bearer(token) });
  t.equal(cancel.statusCode, 202);
  t.equal((await waitForJob(test.app, token, job.id)).status, 'cancelled');
  const backup = (
    await test.app.inject({ method: 'GET', url: `/v1/backups/${job.backupId}`, headers: bearer(token) })
  ).json();
  t.match(backup, { status: 'failed', error: { code: 'PGS_CANCELLED' } });
  t.same(await test.services.storage.list(prefix), [], 'nothing is left under the backup id');
  t.same(await test.services.storage.listTemporary(), [], 'nor a temporary object');
});
