// A deploy: the worker process gets SIGTERM in the middle of a backup, and of a restore. It hands the
// jobs back without failing their records, and the next worker process runs them to success.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import t from 'tap';
import { bearer, buildTestApp, TEST_JWT_SECRET } from '../helpers/app.js';
import { sha256Of } from '../helpers/artifacts.js';
import { type JobView, waitForJob } from '../helpers/jobs.js';
import { databaseUrl, type ServerProcess, startServerProcess, waitUntil } from '../helpers/server-process.js';
import { acmeTarget } from '../helpers/targets.js';
import { startTcpForwarder } from '../helpers/tcp-forward.js';

t.test('a deploy loses nothing', async (t) => {
  const toolTmp = mkdtempSync(join(tmpdir(), 'pgsteward-deploy-tmp-'));
  t.teardown(() => rmSync(toolTmp, { recursive: true, force: true }));
  // The API runs in this process without a worker; the jobs run in worker processes, as in a deployment.
  const test = await buildTestApp(t);
  const storageUrl = pathToFileURL(join(test.dir, 'artifacts')).href;
  const { source, targetId } = await acmeTarget(t, test, { rows: 500 });
  const token = test.token('acme', ['backups:read', 'backups:write', 'restores:write', 'jobs:read']);
  // The metadata store's own address is refused as a target; the workers reach it through another port.
  const metadataPort = await startTcpForwarder(test.db.cluster.port);
  t.teardown(() => metadataPort.close());
  const admin = new pg.Client(test.db.cluster.clientConfig('postgres'));
  await admin.connect();
  t.teardown(() => admin.end());

  let workers = 0;
  /** A worker process, once it says it has started (loading the sources takes a while on a busy machine). */
  async function startWorker(): Promise<ServerProcess> {
    workers++;
    const worker = startServerProcess(
      t,
      {
        DATABASE_URL: databaseUrl(test.db, metadataPort.port),
        PGSTEWARD_JWT_SECRET: TEST_JWT_SECRET,
        PGSTEWARD_DATA_DIR: join(test.dir, `worker-${workers}`),
        PGSTEWARD_SECRETS_FILE: join(test.dir, 'secrets.json'),
        PGSTEWARD_STORAGE_URL: storageUrl,
        PGSTEWARD_TARGET_ALLOWLIST: '127.0.0.0/8',
        PGSTEWARD_JOB_LEASE_SECONDS: '30',
        PGSTEWARD_WORKERS: '1',
        LOG_LEVEL: 'info',
        TMPDIR: toolTmp,
      },
      ['worker'],
    );
    await waitUntil(`worker ${workers} to start`, () => /pgsteward worker started/.test(worker.output()), 120_000);
    return worker;
  }

  /** SIGTERM, as a deploy sends it; the process must exit cleanly, having handed its job back. */
  async function deploy(worker: ServerProcess): Promise<void> {
    worker.child.kill('SIGTERM');
    const code = await worker.exited;
    if (code !== 0) throw new Error(`the worker exited with ${code}:\n${worker.output()}`);
  }

  const jobRow = async (id: string) =>
    (
      await test.db.ownerQuery<{ status: string; attempts: number; releases: number; error: unknown }>(
        'SELECT status, attempts, releases, error FROM jobs WHERE id = $1',
        [id],
      )
    )[0];

  await t.test(
    'SIGTERM mid-dump, then a new worker: the backup ends available with exactly one artifact set',
    async (t) => {
      // pg_dump of the first attempt starts, then waits on this lock: it is mid-dump at the SIGTERM.
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

      const first = await startWorker();
      const started = await test.app.inject({
        method: 'POST',
        url: `/v1/targets/${targetId}/backups`,
        headers: bearer(token),
        payload: { format: 'custom', includeGlobals: true },
      });
      t.equal(started.statusCode, 202, 'the backup is accepted');
      const job = started.json() as JobView;
      const prefix = `acme/${targetId}/${job.backupId}/`;
      const waitingDump = async () =>
        (
          await source.query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgsteward' AND wait_event_type = 'Lock'",
          )
        ).rows.length > 0;
      await waitUntil('the first attempt to block in pg_dump', waitingDump, 60_000).catch((err) => {
        throw new Error(`${err.message}; the worker said:\n${first.output()}`);
      });
      t.same(await test.services.storage.list(prefix), [`${prefix}globals.sql`], 'globals.sql was written first');

      await deploy(first);
      t.match(
        await jobRow(job.id),
        { status: 'queued', attempts: 1, releases: 1, error: null },
        'handed back, not failed',
      );
      const pending = (
        await test.app.inject({ method: 'GET', url: `/v1/backups/${job.backupId}`, headers: bearer(token) })
      ).json();
      t.match(pending, { status: 'pending', error: null }, 'the backup is pending again, not failed');
      t.same(await test.services.storage.list(prefix), [], 'the interrupted attempt left nothing under the backup id');
      t.same(await test.services.storage.listTemporary(), [], 'nor a temporary object');

      await unlock();
      const second = await startWorker();
      const done = await waitForJob(test.app, token, job.id, 90_000);
      t.equal(
        done.status,
        'succeeded',
        done.error ? JSON.stringify(done.error) : 'the job succeeded on the next worker',
      );
      t.match(await jobRow(job.id), { attempts: 2, releases: 1 }, 'both attempts are counted; one was a release');
      const backup = (
        await test.app.inject({ method: 'GET', url: `/v1/backups/${job.backupId}`, headers: bearer(token) })
      ).json();
      t.equal(backup.status, 'available', 'the backup is available');
      t.same(
        await test.services.storage.list(prefix),
        [`${prefix}dump.custom`, `${prefix}globals.sql`],
        'exactly one artifact set: one dump and one globals file',
      );
      t.same(
        await sha256Of(test.services.storage, `${prefix}dump.custom`),
        { sha256: backup.sha256, size: backup.sizeBytes },
        'the stored dump matches the recorded sha256 and size',
      );
      await deploy(second);
    },
  );

  await t.test(
    'SIGTERM mid-restore, then a new worker: the restore succeeds, with no stray work database',
    async (t) => {
      // The deterministic pause of restore-cancel.test.ts: pg_restore's GRANT to a role waits for the role's
      // lock, which a session holds by dropping the role in an open transaction.
      const blocker = `deploy_blocker_${process.pid}`;
      await admin.query(`CREATE ROLE ${blocker} NOLOGIN`);
      t.teardown(() => admin.query(`DROP ROLE IF EXISTS ${blocker}`).then(() => {}));
      await source.query(`GRANT SELECT ON orders TO ${blocker}`);
      const first = await startWorker();
      const backupJob = (
        await test.app.inject({
          method: 'POST',
          url: `/v1/targets/${targetId}/backups`,
          headers: bearer(token),
          payload: { format: 'custom', includeGlobals: false },
        })
      ).json() as JobView;
      t.equal((await waitForJob(test.app, token, backupJob.id)).status, 'succeeded', 'the backup to restore is taken');
      await source.query(`REVOKE SELECT ON orders FROM ${blocker}`);

      const lock = new pg.Client(test.db.cluster.clientConfig('postgres'));
      await lock.connect();
      await lock.query('BEGIN');
      await lock.query(`DROP ROLE ${blocker}`);
      let held = true;
      const releaseLock = async () => {
        if (!held) return;
        held = false;
        await lock.query('ROLLBACK');
        await lock.end();
      };
      t.teardown(releaseLock);

      const database = `deploy_${randomBytes(4).toString('hex')}`;
      t.teardown(async () => {
        const { rows } = await admin.query<{ d: string }>(
          'SELECT datname AS d FROM pg_database WHERE datname LIKE $1',
          [`${database}%`],
        );
        for (const { d } of rows) await admin.query(`DROP DATABASE IF EXISTS "${d}" WITH (FORCE)`);
      });
      const databases = async () =>
        (
          await admin.query<{ d: string }>('SELECT datname AS d FROM pg_database WHERE datname LIKE $1 ORDER BY 1', [
            `${database}%`,
          ])
        ).rows.map((r) => r.d);
      const started = await test.app.inject({
        method: 'POST',
        url: `/v1/backups/${backupJob.backupId}/restores`,
        headers: bearer(token),
        payload: { database, noOwner: false, noPrivileges: false },
      });
      t.equal(started.statusCode, 202, 'the restore is accepted');
      const job = started.json() as JobView & { restoreId: string };
      await waitUntil(
        'pg_restore to wait for the role lock',
        async () =>
          (
            await admin.query(
              `SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE NOT l.granted AND l.locktype = 'object' AND l.classid = 'pg_authid'::regclass
                AND a.datname LIKE $1`,
              [`${database}_pgs_%`],
            )
          ).rows.length > 0,
        30_000,
      );
      t.equal((await databases()).length, 1, 'the work database exists while pg_restore runs');

      await deploy(first);
      t.match(
        await jobRow(job.id),
        { status: 'queued', attempts: 1, releases: 1, error: null },
        'handed back, not failed',
      );
      const [restoreRow] = await test.db.ownerQuery<{ status: string; error: unknown }>(
        'SELECT status, error FROM restores WHERE id = $1',
        [job.restoreId],
      );
      t.match(restoreRow, { status: 'pending', error: null }, 'the restore is pending again, not failed');

      await releaseLock();
      const second = await startWorker();
      const done = await waitForJob(test.app, token, job.id, 90_000);
      t.equal(done.status, 'succeeded', done.error ? JSON.stringify(done.error) : 'the restore job succeeded');
      const restore = (
        await test.app.inject({ method: 'GET', url: `/v1/restores/${job.restoreId}`, headers: bearer(token) })
      ).json();
      t.equal(restore.status, 'succeeded', 'the restore succeeded');
      t.same(await databases(), [database], 'the restored database, and no stray work database');
      const counted = new pg.Client(test.db.cluster.clientConfig(database));
      await counted.connect();
      const { rows } = await counted.query<{ n: number }>('SELECT count(*)::int AS n FROM orders');
      await counted.end();
      const expected = (await source.query('SELECT count(*)::int AS n FROM orders')).rows[0]?.n as number;
      t.equal(rows[0]?.n, expected, 'every row arrived');
      await deploy(second);
    },
  );
});
