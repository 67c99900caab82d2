import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import t from 'tap';
import { PlainDumpGuard, type PlainDumpOutline } from '../../src/domain/restores/plain-guard.js';
import {
  newRestrictKey,
  psqlHasRestrict,
  RestrictedScript,
  runPsql,
  selectRestrictingPsql,
} from '../../src/domain/restores/restore-tools.js';
import { withToolCredentials } from '../../src/domain/targets/connect.js';
import type { PgInstallation } from '../../src/pgtools/installations.js';
import { withPrivateToolDir } from '../../src/pgtools/passfile.js';
import { selectClientTool } from '../../src/pgtools/select-tool.js';
import { ATOMIC_ESCAPE } from './hostile-dumps.js';
import { restoreFixture } from './restore-fixture.js';

const f = await restoreFixture(t);
const cluster = f.cluster;
const installations = await f.services.installations();
const psql = await selectClientTool('psql', cluster.major, installations);
const marker = () => `/tmp/pgsteward-pwned-${randomBytes(6).toString('hex')}`;

/** runPsql, as a restore runs it, into a fresh database; `outline` as given (the guard bypassed). */
async function feedPsql(script: string, outline?: PlainDumpOutline) {
  const database = f.newName('feed');
  await f.admin.query(`CREATE DATABASE ${database}`);
  return withPrivateToolDir(async (dir) => {
    const path = join(dir, 'dump.sql');
    await writeFile(path, script);
    const endpoint = { host: 'localhost', port: cluster.port, database, sslMode: 'verify-full' as const };
    const checked = { host: 'localhost', address: '127.0.0.1', family: 4 as const };
    const credentials = { username: cluster.superuser, password: cluster.password };
    const result = await withToolCredentials(
      { ...endpoint, sslrootcert: cluster.caCert },
      checked,
      credentials,
      (tool) =>
        runPsql({
          psql,
          tool,
          path,
          outline: outline ?? { statementEnds: [], copies: [], restrictLines: [], roles: new Set() },
          signal: new AbortController().signal,
          onProgress: () => {},
        }),
    ).then(
      () => null,
      (err: Error & { code?: string }) => err,
    );
    return { database, error: result };
  });
}

t.test("through the API: the E'' + BEGIN ATOMIC dump is refused and its \\! never runs", async (t) => {
  const file = marker();
  const hostile = await f.backup({ format: 'plain', includeGlobals: false });
  await f.tamper(hostile.id, (sql) =>
    sql.replace('SET lock_timeout = 0;', `SET lock_timeout = 0;\n${ATOMIC_ESCAPE("E''", file)}`),
  );
  const database = f.newName('atomic');
  const r = await f.restore(hostile.id, { database });
  t.equal(r.job?.error?.code, 'PGS_DUMP_REFUSED');
  t.match(r.job?.error?.message, /psql meta-command \\!/);
  t.notOk(existsSync(file), 'the shell command did not run');
  t.same(await f.databases(`${database}%`), [], 'nothing was created');
});

t.test('with the guard bypassed, \\restrict alone keeps psql from running the \\! line', async (t) => {
  const file = marker();
  const { error } = await feedPsql(`CREATE TABLE t (a int);\n${ATOMIC_ESCAPE("E''", file)}`);
  t.match(error, { code: 'PGS_RESTORE_FAILED', message: /backslash commands are restricted/ });
  t.notOk(existsSync(file), 'the shell command did not run');
});

t.test('with the guard bypassed, a \\unrestrict with backquotes never reaches psql', async (t) => {
  // psql 15.18 runs the backquoted command even while restricted (fixed in 15.19).
  const file = marker();
  for (const script of [
    `SELECT 1;\n\\unrestrict \`touch ${file}\`\n`,
    `SELECT 1 \\unrestrict \`touch ${file}\`\n`,
    `SELECT '${'x'.repeat(70_000)}';\n\\unrestrict \`touch ${file}\`\n`, // across read chunks
  ]) {
    const { error } = await feedPsql(script);
    t.match(error, { code: 'PGS_DUMP_REFUSED', message: /\\unrestrict that is not pg_dump's own/ });
    t.notOk(existsSync(file), 'the shell command did not run');
  }
});

t.test("pg_dump's own \\restrict lines are left out, so psql (already restricted) runs the rest", async (t) => {
  const script = '\\restrict Abc123\nCREATE TABLE kept (a int);\nINSERT INTO kept VALUES (1);\n\\unrestrict Abc123\n';
  const guard = new PlainDumpGuard();
  guard.feed(Buffer.from(script));
  const { database, error } = await feedPsql(script, guard.end());
  t.equal(error, null);
  t.same(await f.onDb(database, async (c) => (await c.query('SELECT a FROM kept')).rows), [{ a: 1 }]);
  const { error: unskipped } = await feedPsql('\\restrict Abc123\nCREATE TABLE kept (a int);\n');
  t.match(unskipped, { code: 'PGS_RESTORE_FAILED', message: /restricted/ }, 'fed as it is, psql refuses it');
});

t.test('the fed script: our key first, skipped ranges across chunk boundaries', async (t) => {
  const key = newRestrictKey();
  t.match(key, /^[0-9a-f]{64}$/);
  t.not(newRestrictKey(), key, 'a fresh key every time');
  t.throws(() => new RestrictedScript('short', []), /at least 32/);
  const input = 'AAAA\\restrict k\nBBBB\\unrestrict k\nCC';
  const skip = [
    { start: 4, end: 16 },
    { start: 20, end: 34 },
  ];
  for (const size of [1, 2, 3, 5, 100]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < input.length; i += size) chunks.push(Buffer.from(input.slice(i, i + size)));
    const out = await buffer(Readable.from(chunks).pipe(new RestrictedScript(key, skip)));
    t.equal(out.toString(), `\\restrict ${key}\nAAAABBBBCC`, `chunks of ${size}`);
  }
});

t.test('psql without \\restrict: plain restores refused with PGS_PSQL_UNSAFE, nothing created', async (t) => {
  t.ok(psqlHasRestrict('15.14'));
  t.ok(psqlHasRestrict('15.18'));
  t.ok(psqlHasRestrict('13.22'));
  t.ok(psqlHasRestrict('18.0'));
  t.ok(psqlHasRestrict('19devel'));
  t.notOk(psqlHasRestrict('15.13'));
  t.notOk(psqlHasRestrict('17.5'));
  t.notOk(psqlHasRestrict('12.22'));
  t.notOk(psqlHasRestrict('18beta2'));
  t.notOk(psqlHasRestrict('garbage'));
  const old: PgInstallation[] = installations.map((i) => ({ ...i, version: `${i.major}.1` }));
  await t.rejects(selectRestrictingPsql(cluster.major, old), { code: 'PGS_PSQL_UNSAFE' });
  t.equal((await selectRestrictingPsql(cluster.major, installations)).path, psql.path);

  const plain = await f.backup({ format: 'plain', includeGlobals: false });
  const services = f.services as { installations: () => Promise<PgInstallation[]> };
  const real = services.installations;
  services.installations = async () => old; // as PGSTEWARD_PG_BINDIR pointing at an old release would
  t.teardown(() => {
    services.installations = real;
  });
  const database = f.newName('oldpsql');
  const r = await f.restore(plain.id, { database });
  t.equal(r.job?.error?.code, 'PGS_PSQL_UNSAFE');
  t.match(r.job?.error?.message, /cannot be put into \\restrict mode/);
  t.same(await f.databases(`${database}%`), [], 'nothing was created');
});
