import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { quoteIdent, quoteLiteral } from '../../src/sql/identifiers.js';
import type { TestCluster } from './pg-cluster.js';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

/** A database on a test cluster owned by its own login role: the account a target's secret names. */
export interface OwnedDatabase {
  name: string;
  role: string;
  password: string;
  /** Drop the database (ending its sessions) and then its role. */
  drop(): Promise<void>;
}

/**
 * Creates a login role with a fresh random password and a database it owns. The tests' source
 * databases and the benchmark's both start here; what goes into the database is theirs to decide.
 */
export async function createOwnedDatabase(
  cluster: TestCluster,
  opts: { name: string; role: string; superuser?: boolean },
): Promise<OwnedDatabase> {
  const { name, role } = opts;
  const password = randomBytes(24).toString('base64url');
  const onAdmin = async (use: (admin: pg.Client) => Promise<unknown>) => {
    const admin = new pg.Client(cluster.clientConfig());
    await admin.connect();
    try {
      await use(admin);
    } finally {
      await admin.end();
    }
  };
  await onAdmin(async (admin) => {
    const superuser = opts.superuser ? ' SUPERUSER' : '';
    await admin.query(`CREATE ROLE ${quoteIdent(role)} LOGIN${superuser} PASSWORD ${quoteLiteral(password)}`);
    await admin.query(`CREATE DATABASE ${quoteIdent(name)} OWNER ${quoteIdent(role)}`);
  });
  const drop = () =>
    onAdmin(async (admin) => {
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
    });
  return { name, role, password, drop };
}

export interface SourceDatabase {
  name: string;
  role: string;
  password: string;
  query: (sql: string, values?: unknown[]) => Promise<pg.QueryResult>;
}

/**
 * A tenant's database to back up, on a test cluster: a few tables (one with an awkward name), rows of
 * realistic shape, and a login role (a superuser, so globals and role passwords can be dumped) with its
 * own password for the secret to hold. Dropped at teardown.
 */
export async function createSourceDatabase(
  t: Teardownable,
  cluster: TestCluster,
  opts: { rows?: number } = {},
): Promise<SourceDatabase> {
  const suffix = `${process.pid}_${Math.random().toString(36).slice(2, 7)}`;
  const owned = await createOwnedDatabase(cluster, { name: `src_${suffix}`, role: `owner_${suffix}`, superuser: true });
  const pool = new pg.Pool({ ...cluster.clientConfig(owned.name), max: 3 });
  t.teardown(async () => {
    // pool.end() resolves before its sockets close, so the FORCE in drop() can still reach one of them
    // (1 in 40 under load): an 'error' on the pool then, with no listener, would crash the file.
    pool.on('error', () => {});
    await pool.end();
    await owned.drop();
  });
  const rows = opts.rows ?? 500;
  await pool.query(`
    CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE orders (id bigserial PRIMARY KEY, user_id bigint REFERENCES users (id), total numeric(12,2), note text);
    CREATE SCHEMA billing;
    CREATE TABLE billing.invoices (id serial PRIMARY KEY, amount int NOT NULL);
    CREATE TABLE "Odd ""Name"".x" (id int);
    INSERT INTO users (email) SELECT 'user' || g || '@example.com' FROM generate_series(1, ${rows}) g;
    INSERT INTO orders (user_id, total, note)
      SELECT 1 + (g % ${rows}), (g * 7.31) % 1000, md5(g::text) FROM generate_series(1, ${rows * 3}) g;
    INSERT INTO billing.invoices (amount) SELECT g FROM generate_series(1, 42) g;
    INSERT INTO "Odd ""Name"".x" VALUES (1), (2), (3);
  `);
  const { name, role, password } = owned;
  return { name, role, password, query: (sql, values) => pool.query(sql, values) };
}
