import pg from 'pg';
import type { Test } from 'tap';
import { bearer, type TestApp } from '../helpers/app.js';
import type { TestCluster } from '../helpers/pg-cluster.js';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

/**
 * A tenant's database to back up, on a test cluster: a few tables (one with an awkward name), rows of
 * realistic shape, and a login role with its own password for the secret to hold.
 */
export async function createSourceDatabase(
  t: Teardownable,
  cluster: TestCluster,
  opts: { rows?: number } = {},
): Promise<{
  name: string;
  role: string;
  password: string;
  query: (sql: string, values?: unknown[]) => Promise<pg.QueryResult>;
}> {
  const suffix = `${process.pid}_${Math.random().toString(36).slice(2, 7)}`;
  const name = `src_${suffix}`;
  const role = `owner_${suffix}`;
  const password = `pw-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const admin = new pg.Client(cluster.clientConfig());
  await admin.connect();
  await admin.query(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD '${password}'`);
  await admin.query(`CREATE DATABASE ${name} OWNER ${role}`);
  await admin.end();
  const pool = new pg.Pool({ ...cluster.clientConfig(name), max: 3 });
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
  t.teardown(async () => {
    await pool.end();
    const cleanup = new pg.Client(cluster.clientConfig());
    await cleanup.connect();
    await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await cleanup.query(`DROP ROLE IF EXISTS ${role}`);
    await cleanup.end();
  });
  return { name, role, password, query: (sql, values) => pool.query(sql, values) };
}

/**
 * Tenant acme with a seeded source database, its secret (file:acme/main) and a registered target named
 * main: the start of most backup tests. Returns the source, a token with the backup scopes, the target id.
 */
export async function acmeTarget(t: Test, test: TestApp, opts: { rows?: number } = {}) {
  await test.seedTenants('acme');
  const source = await createSourceDatabase(t, test.db.cluster, opts);
  test.writeSecrets({
    'acme/main': {
      username: source.role,
      password: source.password,
      host: '127.0.0.1',
      port: test.db.cluster.port,
      dbname: source.name,
    },
  });
  const token = test.token('acme', ['targets:write', 'backups:read', 'backups:write', 'jobs:read']);
  const target = await test.app.inject({
    method: 'POST',
    url: '/v1/targets',
    headers: bearer(token),
    payload: { name: 'main', secretRef: 'file:acme/main', sslMode: 'require' },
  });
  t.equal(target.statusCode, 201, 'the target is registered');
  return { source, token, targetId: target.json().id as string };
}
