import { execFile } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import t from 'tap';
import { bearer, buildTestApp } from '../helpers/app.js';
import { sha256Of } from '../helpers/artifacts.js';
import { waitForJob } from '../helpers/jobs.js';
import { createSourceDatabase } from '../helpers/source-database.js';
import { registerTarget } from '../helpers/targets.js';

const run = promisify(execFile);
const { app, db, services, writeSecrets, token, seedTenants } = await buildTestApp(
  t,
  { PGSTEWARD_TARGET_ALLOWLIST: '127.0.0.0/8,::1/128' },
  { worker: true },
);
await seedTenants('acme', 'globex');
const cluster = db.cluster;
const source = await createSourceDatabase(t, cluster);
const acme = token('acme', [
  'targets:read',
  'targets:write',
  'backups:read',
  'backups:write',
  'jobs:read',
  'jobs:write',
]);
const globex = token('globex', ['targets:read', 'backups:read', 'jobs:read', 'jobs:write', 'backups:write']);
const work = mkdtempSync(join(tmpdir(), 'pgsteward-backup-test-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

const created = await registerTarget({ app, db, writeSecrets }, acme, source, { tls: 'verify-full' });
const targetId = created.json().id as string;

async function backup(payload: object, headers: Record<string, string> = {}) {
  const res = await app.inject({
    method: 'POST',
    url: `/v1/targets/${targetId}/backups`,
    headers: { ...bearer(acme), ...headers },
    payload,
  });
  return res;
}

async function download(key: string, name: string): Promise<string> {
  const path = join(work, name);
  await pipeline(await services.storage.read(key), createWriteStream(path));
  return path;
}

const bin = (tool: string) => join(cluster.bindir, tool);

t.test('a target answers its check over verified TLS', async (t) => {
  t.equal(created.statusCode, 201);
  const res = await app.inject({ method: 'POST', url: `/v1/targets/${targetId}/check`, headers: bearer(acme) });
  t.match(res.json(), { ok: true, ssl: true, serverVersion: /^15\./ });
  t.type(res.json().latencyMs, 'number');
});

t.test('a custom-format backup succeeds, with proof', async (t) => {
  const res = await backup({});
  t.equal(res.statusCode, 202);
  const started = res.json();
  t.ok(started.backupId, 'the job carries its backupId at once');
  const job = await waitForJob(app, acme, started.id);
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));
  const b = (await app.inject({ method: 'GET', url: `/v1/backups/${started.backupId}`, headers: bearer(acme) })).json();
  t.equal(b.status, 'available');
  t.equal(b.format, 'custom');
  t.match(b.toolVersion, /^15\./);
  const rowsOf = (name: string) => b.tables.find((x: { name: string }) => x.name === name)?.rows;
  t.equal(rowsOf('users'), 500, 'exact row counts from the dump snapshot');
  t.equal(rowsOf('orders'), 1500);
  t.equal(rowsOf('invoices'), 42);
  t.equal(rowsOf('Odd "Name".x'), 3);
  t.ok(b.globals, 'a globals file is recorded');

  const keys = await services.storage.list(`acme/${targetId}/${b.id}/`);
  t.same(keys.sort(), [`acme/${targetId}/${b.id}/dump.custom`, `acme/${targetId}/${b.id}/globals.sql`].sort());
  const stored = await sha256Of(services.storage, `acme/${targetId}/${b.id}/dump.custom`);
  t.equal(stored.sha256, b.sha256, 'the recorded sha256 is that of the stored object');
  t.equal(stored.size, b.sizeBytes);
  const globals = await sha256Of(services.storage, `acme/${targetId}/${b.id}/globals.sql`);
  t.equal(globals.sha256, b.globals.sha256);
  const list = await run(bin('pg_restore'), [
    '--list',
    await download(`acme/${targetId}/${b.id}/dump.custom`, 'a.dump'),
  ]);
  t.match(list.stdout, /TABLE DATA public users/);
  t.same(await services.storage.listTemporary(), [], 'no temporary objects are left');
  t.equal(job.progress.phase, 'done');
  t.equal(job.progress.bytesWritten, b.sizeBytes);
});

t.test('`tables` limits the dump to exactly those tables', async (t) => {
  const res = await backup({ tables: ['users', 'public."Odd ""Name"".x"'], includeGlobals: false });
  const job = await waitForJob(app, acme, res.json().id);
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));
  const b = (
    await app.inject({ method: 'GET', url: `/v1/backups/${res.json().backupId}`, headers: bearer(acme) })
  ).json();
  t.same(b.tables.map((x: { schema: string; name: string }) => `${x.schema}.${x.name}`).sort(), [
    'public.Odd "Name".x',
    'public.users',
  ]);
  t.equal(b.globals, null);
  const list = await run(bin('pg_restore'), [
    '--list',
    await download(`acme/${targetId}/${b.id}/dump.custom`, 'b.dump'),
  ]);
  const data = list.stdout.split('\n').filter((l) => l.includes('TABLE DATA'));
  t.equal(data.length, 2, data.join('\n'));
  t.notMatch(list.stdout, /TABLE DATA public orders/);
});

t.test('every format produces an artifact the PostgreSQL tools accept', async (t) => {
  for (const format of ['plain', 'directory', 'tar'] as const) {
    const res = await backup({ format, includeGlobals: false, ...(format === 'directory' ? { parallel: 2 } : {}) });
    const job = await waitForJob(app, acme, res.json().id);
    t.equal(job.status, 'succeeded', `${format}: ${JSON.stringify(job.error)}`);
    const b = (
      await app.inject({ method: 'GET', url: `/v1/backups/${res.json().backupId}`, headers: bearer(acme) })
    ).json();
    const prefix = `acme/${targetId}/${b.id}/`;
    if (format === 'plain') {
      const file = await download(`${prefix}dump.sql`, 'p.sql');
      const restoreDb = `restore_${process.pid}`;
      await db.ownerQuery(`CREATE DATABASE ${restoreDb}`);
      t.teardown(() => db.ownerQuery(`DROP DATABASE IF EXISTS ${restoreDb} WITH (FORCE)`));
      const env = { ...process.env, PGPASSWORD: cluster.password, PGSSLMODE: 'require' };
      await run(
        bin('psql'),
        [
          '-X',
          '-v',
          'ON_ERROR_STOP=1',
          '-q',
          '-h',
          cluster.host,
          '-p',
          String(cluster.port),
          '-U',
          'postgres',
          '-d',
          restoreDb,
          '-f',
          file,
        ],
        { env },
      );
      const { stdout } = await run(
        bin('psql'),
        [
          '-X',
          '-At',
          '-h',
          cluster.host,
          '-p',
          String(cluster.port),
          '-U',
          'postgres',
          '-d',
          restoreDb,
          '-c',
          'select count(*) from orders',
        ],
        { env },
      );
      t.equal(stdout.trim(), '1500', 'plain: psql restores it');
    } else if (format === 'directory') {
      const keys = await services.storage.list(`${prefix}dump.dir/`);
      t.ok(
        keys.some((k) => k.endsWith('/toc.dat')),
        'directory: toc.dat stored',
      );
      t.ok(
        keys.some((k) => k.endsWith('/MANIFEST.sha256')),
        'directory: a manifest is stored',
      );
      const dir = join(work, 'dir-dump');
      rmSync(dir, { recursive: true, force: true });
      await run('mkdir', ['-p', dir]);
      for (const k of keys.filter((k) => !k.endsWith('MANIFEST.sha256'))) {
        await pipeline(await services.storage.read(k), createWriteStream(join(dir, k.split('/').pop() as string)));
      }
      const list = await run(bin('pg_restore'), ['--list', dir]);
      t.match(list.stdout, /TABLE DATA public orders/, 'directory: pg_restore reads it');
    } else {
      const list = await run(bin('pg_restore'), ['--list', await download(`${prefix}dump.tar`, 't.tar')]);
      t.match(list.stdout, /TABLE DATA public orders/, 'tar: pg_restore reads it');
    }
  }
});

t.test('an unknown table answers 422 before anything is created', async (t) => {
  const before = (await app.inject({ method: 'GET', url: '/v1/backups?limit=200', headers: bearer(acme) })).json().items
    .length;
  const res = await backup({ tables: ['users', 'nosuch'] });
  t.equal(res.statusCode, 422);
  t.equal(res.json().code, 'PGS_UNKNOWN_RELATION');
  t.match(res.json().detail, /public\.nosuch/);
  const after = (await app.inject({ method: 'GET', url: '/v1/backups?limit=200', headers: bearer(acme) })).json().items
    .length;
  t.equal(after, before);
  const bad = await backup({ format: 'custom', parallel: 4 });
  t.equal(bad.statusCode, 400, 'parallel needs the directory format');
  const both = await backup({ schemaOnly: true, dataOnly: true });
  t.equal(both.statusCode, 400);
});

t.test('Idempotency-Key: a retry returns the same job; a different body is refused', async (t) => {
  const key = { 'idempotency-key': 'nightly-2026-11-24' };
  const first = await backup({ includeGlobals: false }, key);
  const again = await backup({ includeGlobals: false }, key);
  t.equal(first.statusCode, 202);
  t.equal(again.statusCode, 202);
  t.equal(again.json().id, first.json().id);
  t.equal(again.json().backupId, first.json().backupId);
  const other = await backup({ format: 'plain' }, key);
  t.equal(other.statusCode, 422);
  t.equal(other.json().code, 'PGS_IDEMPOTENCY_MISMATCH');
  await waitForJob(app, acme, first.json().id);
});

t.test("another tenant's targets, jobs and backups answer 404, in REST and GraphQL", async (t) => {
  const list = (await app.inject({ method: 'GET', url: '/v1/backups', headers: bearer(acme) })).json();
  const b = list.items[0];
  for (const url of [`/v1/targets/${targetId}`, `/v1/jobs/${b.jobId}`, `/v1/backups/${b.id}`]) {
    const res = await app.inject({ method: 'GET', url, headers: bearer(globex) });
    t.equal(res.statusCode, 404, url);
  }
  const cancel = await app.inject({ method: 'POST', url: `/v1/jobs/${b.jobId}/cancel`, headers: bearer(globex) });
  t.equal(cancel.statusCode, 404);
  const del = await app.inject({ method: 'DELETE', url: `/v1/backups/${b.id}`, headers: bearer(globex) });
  t.equal(del.statusCode, 404);
  const start = await app.inject({
    method: 'POST',
    url: `/v1/targets/${targetId}/backups`,
    headers: bearer(globex),
    payload: {},
  });
  t.equal(start.statusCode, 404);
  const gql = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: bearer(globex),
    payload: {
      query: `{ target(id: "${targetId}") { id } job(id: "${b.jobId}") { id } backup(id: "${b.id}") { id } }`,
    },
  });
  t.same(gql.json().data, { target: null, job: null, backup: null });
  t.same(
    gql
      .json()
      .errors.map((e: { extensions: { code: string } }) => e.extensions.code)
      .sort(),
    ['PGS_BACKUP_NOT_FOUND', 'PGS_JOB_NOT_FOUND', 'PGS_TARGET_NOT_FOUND'],
  );
  const own = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: bearer(acme),
    payload: { query: '{ backups(first: 5) { items { id status format target { name } job { status } } } }' },
  });
  t.equal(own.json().data.backups.items[0].target.name, 'main', 'relations resolve through loaders');
});

t.test('deleting a backup removes its artifact, then marks the record', async (t) => {
  const list = (await app.inject({ method: 'GET', url: '/v1/backups?status=available', headers: bearer(acme) })).json();
  const b = list.items[0];
  const res = await app.inject({ method: 'DELETE', url: `/v1/backups/${b.id}`, headers: bearer(acme) });
  t.equal(res.statusCode, 200);
  t.equal(res.json().status, 'deleted');
  t.same(await services.storage.list(`acme/${targetId}/${b.id}/`), []);
  const target = await app.inject({ method: 'DELETE', url: `/v1/targets/${targetId}`, headers: bearer(acme) });
  t.equal(target.statusCode, 409, 'a target with backups cannot be deleted');
  t.equal(target.json().code, 'PGS_TARGET_HAS_BACKUPS');
});

t.test('without access to pg_authid, globals are taken with --no-role-passwords, and the result says so', async (t) => {
  const reader = `reader_${process.pid}`;
  const password = `reader-${Math.random().toString(36).slice(2)}`;
  await source.query(`CREATE ROLE ${reader} LOGIN PASSWORD '${password}'`);
  t.teardown(async () => {
    await source.query(`DROP OWNED BY ${reader}`);
    await source.query(`DROP ROLE ${reader}`);
  });
  await source.query(`GRANT USAGE ON SCHEMA public, billing TO ${reader}`);
  await source.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public, billing TO ${reader}`);
  await source.query(`GRANT SELECT ON ALL SEQUENCES IN SCHEMA public, billing TO ${reader}`);
  const login = { role: reader, password, name: source.name };
  const target = await registerTarget({ app, db, writeSecrets }, acme, login, { name: 'reader', tls: 'verify-full' });
  const res = await app.inject({
    method: 'POST',
    url: `/v1/targets/${target.json().id}/backups`,
    headers: bearer(acme),
    payload: {},
  });
  const job = await waitForJob(app, acme, res.json().id);
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));
  t.equal(job.result?.noRolePasswords, true, 'the job result says role passwords were left out');
  const b = (
    await app.inject({ method: 'GET', url: `/v1/backups/${res.json().backupId}`, headers: bearer(acme) })
  ).json();
  t.equal(b.globals.noRolePasswords, true);
  const globals = await download(`acme/${target.json().id}/${b.id}/globals.sql`, 'globals.sql');
  const text = await import('node:fs/promises').then((fs) => fs.readFile(globals, 'utf8'));
  t.match(text, new RegExp(`CREATE ROLE ${reader}`), 'the roles are there');
  t.notMatch(text, /SCRAM-SHA-256\$/, 'no password hashes');
});

t.test('a token with backups:write alone starts a backup and is told its job', async (t) => {
  const writeOnly = token('acme', ['backups:write']);
  const res = await app.inject({
    method: 'POST',
    url: `/v1/targets/${targetId}/backups`,
    headers: { ...bearer(writeOnly), 'idempotency-key': 'write-only-1' },
    payload: { includeGlobals: false },
  });
  t.equal(res.statusCode, 202);
  t.ok(res.json().backupId);
  const again = await app.inject({
    method: 'POST',
    url: `/v1/targets/${targetId}/backups`,
    headers: { ...bearer(writeOnly), 'idempotency-key': 'write-only-1' },
    payload: { includeGlobals: false },
  });
  t.equal(again.json().id, res.json().id);
  const peek = await app.inject({ method: 'GET', url: `/v1/jobs/${res.json().id}`, headers: bearer(writeOnly) });
  t.equal(peek.statusCode, 403, 'reading jobs still needs jobs:read');
  await waitForJob(app, acme, res.json().id);
});
