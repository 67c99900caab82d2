import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import { loadMigrations, MigrationError, migrate } from '../../src/db/migrate.js';
import { testCluster } from '../helpers/database.js';

const cluster = await testCluster(t);

/** An empty database, so migrations run from scratch. */
async function emptyDatabase(t: { teardown(fn: () => unknown): void }): Promise<() => pg.Client> {
  const name = `migrate_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client(cluster.clientConfig());
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const clients: pg.Client[] = [];
  t.teardown(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    const cleanup = new pg.Client(cluster.clientConfig());
    await cleanup.connect();
    await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await cleanup.end();
  });
  return () => {
    const c = new pg.Client(cluster.clientConfig(name));
    clients.push(c);
    return c;
  };
}

const migrations = await loadMigrations();

t.test('applies every migration once, in order, and a second run applies none', async (t) => {
  const client = (await emptyDatabase(t))();
  await client.connect();
  const first = await migrate(client, migrations);
  t.same(
    first.applied,
    migrations.map((m) => m.name),
  );
  const second = await migrate(client, migrations);
  t.same(second.applied, []);
  const { rows } = await client.query('SELECT version, checksum FROM pgsteward_migrations ORDER BY version');
  t.same(
    rows.map((r) => r.checksum),
    migrations.map((m) => m.checksum),
  );
});

t.test('two runners at once: one applies, the other waits and finds nothing to do', async (t) => {
  const connect = await emptyDatabase(t);
  const [a, b] = [connect(), connect()];
  await Promise.all([a.connect(), b.connect()]);
  const [ra, rb] = await Promise.all([migrate(a, migrations), migrate(b, migrations)]);
  t.equal(ra.applied.length + rb.applied.length, migrations.length);
});

t.test('an edited migration is refused', async (t) => {
  const client = (await emptyDatabase(t))();
  await client.connect();
  await migrate(client, migrations);
  const edited = migrations.map((m, i) => (i === 0 ? { ...m, checksum: 'f'.repeat(64) } : m));
  await t.rejects(migrate(client, edited), { name: 'MigrationError', message: /was edited after it was applied/ });
});

t.test('a database ahead of the code is refused', async (t) => {
  const client = (await emptyDatabase(t))();
  await client.connect();
  await migrate(client, migrations);
  await t.rejects(migrate(client, migrations.slice(0, -1)), { message: /refusing to start an older version/ });
});

t.test('a failing migration rolls back entirely and is not recorded', async (t) => {
  const client = (await emptyDatabase(t))();
  await client.connect();
  const broken = [
    ...migrations,
    {
      version: migrations.length + 1,
      name: '9999_broken.sql',
      sql: 'CREATE TABLE half_done (id int); SELECT 1/0;',
      checksum: 'x',
    },
  ];
  await t.rejects(migrate(client, broken), MigrationError);
  const { rows } = await client.query(
    "SELECT to_regclass('half_done') AS t, count(*)::int AS n FROM pgsteward_migrations",
  );
  t.same(rows[0], { t: null, n: migrations.length });
});

t.test('file names must be NNNN_name.sql without gaps', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pgsteward-migrations-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, '0001_a.sql'), 'SELECT 1');
  writeFileSync(join(dir, '0003_c.sql'), 'SELECT 1');
  await t.rejects(loadMigrations(dir), /expected migration 2/);
  rmSync(join(dir, '0003_c.sql'));
  writeFileSync(join(dir, 'Oops.sql'), 'SELECT 1');
  await t.rejects(loadMigrations(dir), /not NNNN_name.sql/);
});
