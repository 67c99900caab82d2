import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../src/db/embedded.js';

const root = await mkdtemp(join(tmpdir(), 'pgsteward-embedded-'));
// mkdtemp makes a 0700 directory; the postgres OS user (used when we run as root) must traverse it.
await chmod(root, 0o711);
const dataDir = join(root, 'data');
// Stop every instance we started, even when an assertion failed half-way, before removing the files.
const running = new Set<EmbeddedPostgres>();
t.teardown(async () => {
  for (const embedded of running) await embedded.stop();
  await rm(root, { recursive: true, force: true });
});

async function start(): Promise<EmbeddedPostgres> {
  const embedded = await startEmbeddedPostgres({ dataDir });
  running.add(embedded);
  return embedded;
}

async function withClient<T>(embedded: EmbeddedPostgres, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...embedded.connection, ssl: false });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

t.test('first start initialises a socket-only cluster with a private password file', async (t) => {
  const started = Date.now();
  const embedded = await start();
  t.comment(`first start (initdb + start + create database) took ${Date.now() - started} ms`);

  t.equal(embedded.dataDir, join(dataDir, 'meta'));
  t.equal(embedded.connection.host, join(dataDir, 'run'));
  t.equal(embedded.connection.database, 'pgsteward');
  const rows = await withClient(embedded, async (client) => {
    const one = await client.query('SELECT 1 AS one, current_database() AS db');
    const listen = await client.query('SHOW listen_addresses');
    return { one: one.rows[0], listen: listen.rows[0] };
  });
  t.same(rows.one, { one: 1, db: 'pgsteward' });
  t.same(rows.listen, { listen_addresses: '' }, 'no TCP listener');

  const passwordFile = await stat(join(dataDir, 'meta.password'));
  t.equal(passwordFile.mode & 0o777, 0o600);
  t.equal(passwordFile.uid, process.getuid?.(), 'owned by us, not the server user');
});

t.test('a second start on the same data directory is refused while the first runs', async (t) => {
  await t.rejects(startEmbeddedPostgres({ dataDir }), {
    message: new RegExp(`another pgsteward \\(pid ${process.pid}\\) is using data directory ${dataDir}`),
  });
});

t.test('data and password survive a stop and restart', async (t) => {
  const [first] = running;
  if (first === undefined) throw new Error('the first test did not start the embedded database');
  await withClient(first, async (client) => {
    await client.query('CREATE TABLE survives (note text)');
    await client.query('INSERT INTO survives VALUES ($1)', ['kept']);
  });
  const password = first.connection.password;
  await first.stop();
  await first.stop(); // stopping twice is fine
  running.delete(first);
  t.notOk(existsSync(join(dataDir, 'pgsteward.pid')), 'lock released');

  const started = Date.now();
  const second = await start();
  t.comment(`restart took ${Date.now() - started} ms`);
  t.equal(second.connection.password, password, 'the stored password is reused');
  const notes = await withClient(second, (client) => client.query('SELECT note FROM survives'));
  t.same(notes.rows, [{ note: 'kept' }]);
  await second.stop();
  running.delete(second);
});

t.test('a stale lock file from a dead process is replaced', async (t) => {
  // pid 2^22 + 1 is above the default pid_max of most systems, so it cannot be alive.
  await writeFile(join(dataDir, 'pgsteward.pid'), `${2 ** 22 + 1}\n`);
  const embedded = await start();
  t.ok(await withClient(embedded, (client) => client.query('SELECT 1')));
  await embedded.stop();
  running.delete(embedded);
});

t.test('a postmaster left running by a crashed pgsteward is stopped and restarted', async (t) => {
  const crashed = await start();
  // Simulate the crash: the process is gone (its lock is stale) but its postmaster is still up.
  // The crashed handle must never stop() again, or it would stop the new server.
  running.delete(crashed);
  await writeFile(join(dataDir, 'pgsteward.pid'), `${2 ** 22 + 1}\n`);
  const warnings: string[] = [];
  const log = { info() {}, warn: (msg: string) => warnings.push(msg) };
  const embedded = await startEmbeddedPostgres({ dataDir, log });
  running.add(embedded);
  t.match(warnings, [/left running on .* by a previous pgsteward/]);
  t.ok(await withClient(embedded, (client) => client.query('SELECT 1')));
  await embedded.stop();
  running.delete(embedded);
});

const notRoot = process.getuid?.() !== 0 && 'only root drops to the postgres user';
t.test('a data directory the postgres OS user cannot enter is refused clearly', { skip: notRoot }, async (t) => {
  const privateParent = join(root, 'private');
  await mkdir(privateParent, { mode: 0o700 });
  await t.rejects(startEmbeddedPostgres({ dataDir: join(privateParent, 'data') }), {
    message: /postgres OS user.*cannot enter/,
  });
});

t.test('a data directory whose socket path is too long is refused before anything is written', async (t) => {
  const longDir = join(root, 'x'.repeat(100));
  await t.rejects(startEmbeddedPostgres({ dataDir: longDir }), { message: /shorter path/ });
  t.notOk(existsSync(longDir));
});
