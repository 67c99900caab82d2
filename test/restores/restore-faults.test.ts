import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import t from 'tap';
import { bearer } from '../helpers/app.js';
import { readArtifact, writeArtifact } from '../helpers/artifacts.js';
import { restoreFixture } from './restore-fixture.js';

const f = await restoreFixture(t);
const expected = await f.fingerprint(f.source.name);
const plain = await f.backup({ format: 'plain', includeGlobals: false });
const custom = await f.backup({ format: 'custom', includeGlobals: false });

/** A plain backup whose post-data section fails half-way (after every row was loaded). */
const broken = await f.backup({ format: 'plain', includeGlobals: false });
await f.tamper(broken.id, (sql) => {
  const at = sql.indexOf('ALTER TABLE ONLY');
  return `${sql.slice(0, at)}SELECT pgsteward_no_such_function();\n\n${sql.slice(at)}`;
});

/** A database restored from the good custom backup, then changed, to be replaced. */
async function existingDatabase(prefix: string): Promise<string> {
  const database = f.newName(prefix);
  const r = await f.restore(custom.id, { database });
  if (r.job?.status !== 'succeeded') throw new Error(JSON.stringify(r.job?.error));
  await f.onDb(database, (c) =>
    c.query('DELETE FROM orders WHERE id > 10; INSERT INTO billing.invoices (amount) VALUES (-1)'),
  );
  return database;
}

t.test('the real pg_dump 15.18 plain output carries \\restrict and \\unrestrict lines, and restores', async (t) => {
  const text = (await readArtifact(f.services.storage, await f.artifactKey(plain.id))).toString('utf8');
  t.match(text, /^\\restrict [A-Za-z0-9]+$/m);
  t.match(text, /^\\unrestrict [A-Za-z0-9]+$/m);
});

t.test('a plain dump with an error in the middle fails the job and leaves nothing under the name', async (t) => {
  const database = f.newName('broken');
  const r = await f.restore(broken.id, { database });
  t.equal(r.job?.status, 'failed');
  t.equal(r.job?.error?.code, 'PGS_RESTORE_FAILED');
  t.match(r.job?.error?.message, /psql failed: .*ERROR: .*pgsteward_no_such_function/);
  t.same(await f.databases(`${database}%`), [], 'neither the database nor a work database exists');
  const got = await f.app.inject({ method: 'GET', url: `/v1/restores/${r.body.restoreId}`, headers: bearer(f.acme) });
  t.match(got.json(), { status: 'failed', error: { code: 'PGS_RESTORE_FAILED' }, tables: [] });
});

t.test('a failed replace leaves the original database as it was', async (t) => {
  const database = await existingDatabase('keep');
  const before = await f.fingerprint(database);
  const r = await f.restore(broken.id, { database, mode: 'replace', confirm: database });
  t.equal(r.job?.error?.code, 'PGS_RESTORE_FAILED');
  t.same(await f.fingerprint(database), before, 'same rows, same content');
  t.same(await f.databases(`${database}_pgs%`), [], 'no work or aside database left');
});

t.test('replace without the right confirm answers 409 and touches nothing', async (t) => {
  const database = await existingDatabase('noconfirm');
  const before = await f.fingerprint(database);
  for (const confirm of [undefined, 'other']) {
    const r = await f.restore(custom.id, { database, mode: 'replace', ...(confirm ? { confirm } : {}) });
    t.equal(r.status, 409);
    t.equal(r.body.code, 'PGS_CONFIRM_REQUIRED');
  }
  t.same(await f.fingerprint(database), before);
});

t.test('replace swaps only after success and keeps the old database aside', async (t) => {
  const database = await existingDatabase('swap');
  const before = await f.fingerprint(database);
  const r = await f.restore(custom.id, { database, mode: 'replace', confirm: database });
  t.equal(r.job?.status, 'succeeded', JSON.stringify(r.job?.error));
  t.same(await f.fingerprint(database), expected, 'the backup is now under the name');
  const restore = (
    await f.app.inject({ method: 'GET', url: `/v1/restores/${r.body.restoreId}`, headers: bearer(f.acme) })
  ).json();
  t.match(restore.previousDatabase, new RegExp(`^${database}_pgs_old_\\d{8}_\\d{6}$`));
  t.ok(Date.parse(restore.keepUntil) > Date.now() + 23 * 3_600_000, 'kept for PGSTEWARD_REPLACE_KEEP_HOURS (24)');
  t.same(await f.fingerprint(restore.previousDatabase), before, 'the old data is kept under the aside name');
  t.equal(r.job?.result?.previousDatabase, restore.previousDatabase);
});

t.test('replace reports open connections unless asked to terminate them', async (t) => {
  const database = await existingDatabase('busy');
  const before = await f.fingerprint(database);
  await f.onDb(database, async () => {
    const r = await f.restore(custom.id, { database, mode: 'replace', confirm: database });
    t.equal(r.job?.error?.code, 'PGS_DATABASE_IN_USE');
    t.match(r.job?.error?.message, /1 open connection/);
  });
  t.same(await f.fingerprint(database), before, 'untouched');
  t.same(await f.databases(`${database}_pgs%`), [], 'the new data was dropped');
  const held = await f
    .onDb(database, async (c) => {
      c.on('error', () => {});
      const r = await f.restore(custom.id, {
        database,
        mode: 'replace',
        confirm: database,
        terminateConnections: true,
      });
      return r;
    })
    .catch((err: Error) => err);
  t.notOk(held instanceof Error && !/terminat/.test(held.message), 'only our session was ended');
  t.same(await f.fingerprint(database), expected);
});

t.test('a corrupted artifact fails with PGS_ARTIFACT_CORRUPT before anything is created', async (t) => {
  const b = await f.backup({ format: 'custom', includeGlobals: false });
  const key = await f.artifactKey(b.id);
  const bytes = await readArtifact(f.services.storage, key);
  const at = Math.floor(bytes.length / 2);
  bytes[at] = (bytes[at] as number) ^ 0x01;
  await writeArtifact(f.services.storage, key, bytes);
  const database = f.newName('corrupt');
  const r = await f.restore(b.id, { database });
  t.equal(r.job?.error?.code, 'PGS_ARTIFACT_CORRUPT');
  t.equal(r.job?.progress.phase, 'verify', 'it never got past verify');
  t.same(await f.databases(`${database}%`), []);
});

t.test('a plain dump with \\! is refused and the command never runs', async (t) => {
  const marker = `/tmp/pwned-${randomBytes(6).toString('hex')}`;
  const hostile = await f.backup({ format: 'plain', includeGlobals: false });
  await f.tamper(hostile.id, (sql) =>
    sql.replace('SET lock_timeout = 0;', `SET lock_timeout = 0;\n\\! touch ${marker}`),
  );
  const database = f.newName('hostile');
  const r = await f.restore(hostile.id, { database });
  t.equal(r.job?.error?.code, 'PGS_DUMP_REFUSED');
  t.match(r.job?.error?.message, /line \d+: psql meta-command \\!/);
  t.notMatch(r.job?.error?.message, marker, 'the line itself is not echoed');
  t.notOk(existsSync(marker), 'the shell command did not run');
  t.same(await f.databases(`${database}%`), []);
});

t.test('create into an existing database answers 409 at once', async (t) => {
  const r = await f.restore(custom.id, { database: f.source.name });
  t.equal(r.status, 409);
  t.equal(r.body.code, 'PGS_DATABASE_EXISTS');
});

t.test('a deleted backup cannot be restored', async (t) => {
  const b = await f.backup({ format: 'custom', includeGlobals: false });
  await f.app.inject({ method: 'DELETE', url: `/v1/backups/${b.id}`, headers: bearer(f.acme) });
  const r = await f.restore(b.id, { database: f.newName() });
  t.equal(r.status, 409);
  t.equal(r.body.code, 'PGS_BACKUP_NOT_AVAILABLE');
});
