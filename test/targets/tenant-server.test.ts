import pg from 'pg';
import t from 'tap';
import { createDatabase, renameDatabase } from '../../src/domain/restores/server-queries.js';
import { countConnections } from '../../src/domain/targets/server-queries.js';
import {
  countRows,
  databaseExists,
  dropOwnDatabase,
  listUserTables,
  serverVersion,
} from '../../src/domain/targets/tenant-server.js';
import { createTestDatabase } from '../helpers/database.js';

const db = await createTestDatabase(t);

async function connect(database: string): Promise<pg.Client> {
  const client = new pg.Client(db.cluster.clientConfig(database));
  client.on('error', () => {});
  await client.connect();
  t.teardown(() => client.end().catch(() => {}));
  return client;
}

const admin = await connect('postgres');
// A name that needs quoting everywhere: a quote, a space, upper case.
const odd = `pgs "odd" Db ${process.pid}`;

t.test('serverVersion reads the major the cluster runs', async (t) => {
  const v = await serverVersion(admin);
  t.equal(v.major, db.cluster.major);
  t.match(v.version, new RegExp(`^${db.cluster.major}\\.`));
});

t.test('databaseExists, created, renamed and dropped under a name that needs quoting', async (t) => {
  t.equal(await databaseExists(admin, odd), false);
  await admin.query(createDatabase(odd));
  t.equal(await databaseExists(admin, odd), true);
  t.equal(await databaseExists(admin, odd.toLowerCase()), false, 'names are exact, not case-folded');
  await admin.query(renameDatabase(odd, `${odd} 2`));
  t.equal(await databaseExists(admin, odd), false);
  // A session left in it (like a killed tool's) does not stop the drop.
  const lingering = await connect(`${odd} 2`);
  t.equal((await admin.query<{ n: number }>(countConnections(`${odd} 2`))).rows[0]?.n, 1);
  await dropOwnDatabase(admin, `${odd} 2`);
  t.equal(await databaseExists(admin, `${odd} 2`), false);
  await t.rejects(lingering.query('SELECT 1'));
  await dropOwnDatabase(admin, `${odd} 2`); // gone already: no error
});

t.test('listUserTables and countRows: exact counts of tables, partitions included, views not', async (t) => {
  const name = `pgs_tables_${process.pid}`;
  await admin.query(createDatabase(name));
  t.teardown(() => dropOwnDatabase(admin, name));
  const client = await connect(name);
  await client.query(`CREATE SCHEMA "Odd ""schema"""`);
  await client.query(`CREATE TABLE "Odd ""schema"""."T 1" (id int)`);
  await client.query(`INSERT INTO "Odd ""schema"""."T 1" SELECT generate_series(1, 1234)`);
  await client.query('CREATE TABLE public.p (id int) PARTITION BY RANGE (id)');
  await client.query('CREATE TABLE public.p1 PARTITION OF public.p FOR VALUES FROM (0) TO (100)');
  await client.query('INSERT INTO public.p SELECT generate_series(0, 9)');
  await client.query('CREATE VIEW public.v AS SELECT 1 AS one');
  const tables = await listUserTables(client);
  t.same(tables, [
    { schema: 'Odd "schema"', name: 'T 1' },
    { schema: 'public', name: 'p' },
    { schema: 'public', name: 'p1' },
  ]);
  t.same(await countRows(client, tables), [
    { schema: 'Odd "schema"', name: 'T 1', rows: 1234 },
    { schema: 'public', name: 'p', rows: 10 },
    { schema: 'public', name: 'p1', rows: 10 },
  ]);
  await client.end();
});
