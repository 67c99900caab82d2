import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import pg from 'pg';
import t, { type Test } from 'tap';
import { bearer } from '../helpers/app.js';
import { waitForJob, waitForRunning } from '../helpers/jobs.js';
import { restoreFixture } from './restore-fixture.js';

/*
 * The deterministic pause: a lock on a role. When pg_restore replays `GRANT SELECT ON TABLE ... TO
 * <role>`, the server records a shared dependency on the role and first takes a share lock on it
 * (shdepLockAndCheckObject in pg_shdepend.c), so the role cannot vanish meanwhile. A second session
 * that has run `DROP ROLE <role>` in an open transaction holds that role's exclusive lock until it ends,
 * so pg_restore's GRANT waits for as long as the test likes; a role is a shared object, so the lock is
 * the same in every database, including the restore's fresh work database. DROP ROLE succeeds only for
 * a role with no dependencies anywhere, so the source grants to it, the backup captures the grant, and
 * the source revokes it again before the lock is taken. The test waits until the restore's session is
 * seen waiting on that lock in pg_locks: no timing luck.
 */
const f = await restoreFixture(t);
const jobsToken = f.token('acme', ['jobs:read', 'jobs:write']);
const blocker = `blocker_${process.pid}`;
await f.admin.query(`CREATE ROLE ${blocker} NOLOGIN`);
t.teardown(() => f.admin.query(`DROP ROLE IF EXISTS ${blocker}`).then(() => {}));
await f.source.query(`GRANT SELECT ON orders TO ${blocker}`);
const granting = await f.backup({ format: 'custom', includeGlobals: false });
await f.source.query(`REVOKE SELECT ON orders FROM ${blocker}`);
const custom = await f.backup({ format: 'custom', includeGlobals: false });

/** Our own private tool directories (the artifact copy and the passfile live there). */
const ownToolDirs = () => readdirSync(tmpdir()).filter((d) => d.startsWith(`pgsteward-job-${process.pid}-`));
/** Our child processes that are PostgreSQL client tools. */
const toolChildren = () =>
  execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /pg_restore|psql/.test(l));

/** Holds the role's lock in an open transaction until `release`. */
async function holdRoleLock(): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client(f.cluster.clientConfig('postgres'));
  await client.connect();
  await client.query('BEGIN');
  await client.query(`DROP ROLE ${blocker}`);
  return {
    release: async () => {
      await client.query('ROLLBACK');
      await client.end();
    },
  };
}

/** Until a session on a work database of `database` waits for a lock on our role; answers its pid. */
async function waitForBlockedRestore(database: string, timeoutMs = 30_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const { rows } = await f.admin.query<{ pid: number }>(
      `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE NOT l.granted AND l.locktype = 'object' AND l.classid = 'pg_authid'::regclass
          AND l.objid = (SELECT oid FROM pg_roles WHERE rolname = $1) AND a.datname LIKE $2`,
      [blocker, `${database}_pgs_%`],
    );
    if (rows[0]) return rows[0].pid;
    if (Date.now() - started > timeoutMs) throw new Error('pg_restore never reached the GRANT');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startAndCancelWhileBlocked(t: Test, database: string, payload: object) {
  const lock = await holdRoleLock();
  t.teardown(() => lock.release().catch(() => {}));
  const res = await f.app.inject({
    method: 'POST',
    url: `/v1/backups/${granting.id}/restores`,
    headers: bearer(f.acme),
    payload: { database, noOwner: false, noPrivileges: false, ...payload },
  });
  t.equal(res.statusCode, 202);
  const job = res.json() as { id: string; restoreId: string };
  await waitForRunning(f.app, f.acme, job.id);
  const pid = await waitForBlockedRestore(database);
  t.ok(ownToolDirs().length > 0, 'the restore holds a private tool directory while it runs');
  t.ok(toolChildren().length > 0, 'pg_restore is running');
  const asked = Date.now();
  const cancel = await f.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: bearer(jobsToken) });
  t.equal(cancel.statusCode, 202);
  const done = await waitForJob(f.app, f.acme, job.id, 10_000);
  const tookMs = Date.now() - asked;
  t.equal(done.status, 'cancelled');
  t.ok(tookMs < 2000, `stopped in ${tookMs} ms`);
  const restore = (
    await f.app.inject({ method: 'GET', url: `/v1/restores/${job.restoreId}`, headers: bearer(f.acme) })
  ).json();
  t.match(restore, { status: 'failed', error: { code: 'PGS_CANCELLED' } });
  t.same(ownToolDirs(), [], 'the artifact copy and the passfile are gone');
  t.same(toolChildren(), [], 'no pg_restore left running');
  const { rows } = await f.admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
  t.same(rows, [], "pg_restore's blocked server session is gone too");
  return { restore };
}

t.test('cancelling a create restore while pg_restore runs leaves no database, files or processes', async (t) => {
  const database = f.newName('cancel');
  await startAndCancelWhileBlocked(t, database, {});
  t.same(await f.databases(`${database}%`), [], 'neither the requested name nor the work database exists');
});

t.test('cancelling a replace restore while pg_restore runs leaves the original database untouched', async (t) => {
  const database = f.newName('cancelrep');
  const first = await f.restore(custom.id, { database });
  t.equal(first.job?.status, 'succeeded', 'the database to replace was restored');
  await f.onDb(database, (c) => c.query('DELETE FROM orders WHERE id > 10'));
  const before = await f.fingerprint(database);
  await startAndCancelWhileBlocked(t, database, { mode: 'replace', confirm: database });
  t.same(await f.databases(`${database}%`), [database], 'only the original; no work or aside database');
  t.same(await f.fingerprint(database), before, 'same rows, same content');
});
