// The worker process is SIGKILLed in the middle of a dump. Nothing in it can clean up: the job's lease
// runs out, another worker reclaims the job, and the backup ends with exactly one good artifact.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import t from 'tap';
import { bearer, buildTestApp, TEST_JWT_SECRET } from '../helpers/app.js';
import { sha256Of } from '../helpers/artifacts.js';
import { type JobView, waitForJob } from '../helpers/jobs.js';
import { databaseUrl, startServerProcess, waitUntil } from '../helpers/server-process.js';
import { acmeTarget } from '../helpers/targets.js';
import { startTcpForwarder } from '../helpers/tcp-forward.js';

const LEASE_SECONDS = 5; // the smallest lease the config accepts

t.test('a worker killed mid-dump: the job is reclaimed after its lease and ends with one good artifact', async (t) => {
  const toolTmp = mkdtempSync(join(tmpdir(), 'pgsteward-crash-tmp-'));
  t.teardown(() => rmSync(toolTmp, { recursive: true, force: true }));
  // The API runs in this process without a worker; the jobs run in separate worker processes.
  const test = await buildTestApp(t, { PGSTEWARD_JOB_LEASE_SECONDS: String(LEASE_SECONDS) });
  const storageUrl = pathToFileURL(join(test.dir, 'artifacts')).href;
  const { source, token, targetId } = await acmeTarget(t, test, { rows: 2000 });
  // The metadata store's own address is refused as a target; the workers reach it through another port.
  const metadataPort = await startTcpForwarder(test.db.cluster.port);
  t.teardown(() => metadataPort.close());

  const workerEnv = (name: string) => ({
    DATABASE_URL: databaseUrl(test.db, metadataPort.port),
    PGSTEWARD_JWT_SECRET: TEST_JWT_SECRET,
    PGSTEWARD_DATA_DIR: join(test.dir, name),
    PGSTEWARD_SECRETS_FILE: join(test.dir, 'secrets.json'),
    PGSTEWARD_STORAGE_URL: storageUrl,
    PGSTEWARD_TARGET_ALLOWLIST: '127.0.0.0/8',
    PGSTEWARD_JOB_LEASE_SECONDS: String(LEASE_SECONDS),
    PGSTEWARD_WORKERS: '1',
    LOG_LEVEL: 'info',
    TMPDIR: toolTmp,
  });

  // pg_dump of the first attempt starts, then waits on this lock: it is mid-dump when the worker dies.
  const locker = new pg.Client(test.db.cluster.clientConfig(source.name));
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

  const first = startServerProcess(t, workerEnv('worker-1'), ['worker']);
  const started = await test.app.inject({
    method: 'POST',
    url: `/v1/targets/${targetId}/backups`,
    headers: bearer(token),
    payload: { format: 'custom', includeGlobals: false },
  });
  t.equal(started.statusCode, 202, 'the backup is accepted');
  const job = started.json() as JobView;
  const jobRow = async () =>
    (
      await test.db.ownerQuery<{ status: string; attempts: number }>(
        'SELECT status, attempts FROM jobs WHERE id = $1',
        [job.id],
      )
    )[0];
  const waitingDump = async () =>
    (
      await source.query(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgsteward' AND wait_event_type = 'Lock'",
      )
    ).rows.length > 0;
  await waitUntil('the first attempt to block in pg_dump', waitingDump, 30_000);
  t.equal((await jobRow())?.status, 'running', 'the job is running');
  t.ok(
    readdirSync(toolTmp).some((name) => name.startsWith(`pgsteward-job-${first.pid}-`)),
    "the dying worker's passfile directory exists",
  );
  t.ok((await test.services.storage.listTemporary()).length > 0, 'the first attempt has staged a temporary object');

  first.child.kill('SIGKILL');
  await first.exited;
  const killedAt = Date.now();
  // The orphaned pg_dump is still connected and waiting; it dies of EPIPE once it has something to write.

  const second = startServerProcess(t, workerEnv('worker-2'), ['worker']);
  await waitUntil(
    "the second worker to sweep the dead worker's passfile directory",
    () => !readdirSync(toolTmp).some((name) => name.startsWith(`pgsteward-job-${first.pid}-`)),
    30_000,
  );
  await waitUntil('the second attempt to start', async () => ((await jobRow())?.attempts ?? 0) >= 2, 60_000);
  const reclaimedAfterMs = Date.now() - killedAt;
  t.ok(
    reclaimedAfterMs >= LEASE_SECONDS * 1000 - 1500,
    `reclaimed only after the lease ran out (${reclaimedAfterMs} ms after the kill)`,
  );
  t.match(second.output(), /reaped a job whose lease expired/, 'the reaper says what it did');

  await unlock();
  const done = await waitForJob(test.app, token, job.id, 60_000);
  t.equal(done.status, 'succeeded', done.error ? JSON.stringify(done.error) : 'the reclaimed job succeeded');

  const backup = (
    await test.app.inject({ method: 'GET', url: `/v1/backups/${job.backupId}`, headers: bearer(token) })
  ).json();
  t.equal(backup.status, 'available', 'the backup is available');
  const stored = await test.services.storage.list(`acme/${targetId}/${backup.id}/`);
  t.equal(stored.length, 1, `exactly one artifact: ${JSON.stringify(stored)}`);
  t.same(await test.services.storage.listTemporary(), [], "the killed attempt's temporary object is gone");
  const key = stored[0] as string;
  t.same(
    await sha256Of(test.services.storage, key),
    { sha256: backup.sha256, size: backup.sizeBytes },
    'the stored bytes match the recorded sha256 and size',
  );

  // The artifact is a whole dump: pg_restore reads its table of contents and finds every table's data.
  const { stdout } = await promisify(execFile)(join(test.db.cluster.bindir, 'pg_restore'), [
    '--list',
    join(test.dir, 'artifacts', key),
  ]);
  for (const table of ['users', 'orders', 'invoices']) {
    t.match(stdout, new RegExp(`TABLE DATA \\S+ ${table} `), `the dump holds the rows of ${table}`);
  }

  await waitUntil('the orphaned pg_dump of the killed attempt to end', async () => !(await waitingDump()), 20_000);
  t.same(
    readdirSync(toolTmp).filter((name) => name.startsWith('pgsteward-job-')),
    [],
    'no passfile directory is left behind',
  );
  second.child.kill('SIGTERM');
  t.equal(await second.exited, 0, 'the second worker shuts down cleanly');
});
