import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Test } from 'tap';
import { quoteIdent, quoteLiteral } from '../../src/sql/identifiers.js';
import type { TestCluster } from '../helpers/pg-cluster.js';

/**
 * A database on a test cluster owned by an admin login with CREATEROLE and nothing more (no SUPERUSER):
 * the account an RDS master user is, in the part role work needs. It also owns a table and a sequence,
 * created before any role set exists. Dropped at teardown, with every role the test left behind that
 * carries the same suffix.
 */
export interface AdminDatabase {
  cluster: TestCluster;
  name: string;
  admin: { role: string; password: string };
  /** A suffix unique to this database, for role names the test creates. */
  suffix: string;
  /** Run SQL as the cluster's superuser on this database (looking behind pgsteward's back). */
  superQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
}

export async function withClient<T>(config: pg.ClientConfig, use: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function createAdminDatabase(t: Pick<Test, 'teardown'>, cluster: TestCluster): Promise<AdminDatabase> {
  const suffix = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const name = `roles_${suffix}`;
  const admin = { role: `adm_${suffix}`, password: randomBytes(24).toString('base64url') };
  await withClient(cluster.clientConfig(), async (su) => {
    await su.query(`CREATE ROLE ${quoteIdent(admin.role)} LOGIN CREATEROLE PASSWORD ${quoteLiteral(admin.password)}`);
    await su.query(`CREATE DATABASE ${quoteIdent(name)} OWNER ${quoteIdent(admin.role)}`);
  });
  await withClient(cluster.clientConfig(name, admin.role, admin.password), async (c) => {
    await c.query(`
      CREATE TABLE public.accounts (id bigserial PRIMARY KEY, email text NOT NULL);
      INSERT INTO public.accounts (email) VALUES ('a@example.com'), ('b@example.com');
      CREATE VIEW public.account_emails AS SELECT email FROM public.accounts;
      CREATE TABLE public."Odd ""Name""; DROP TABLE accounts; --" (id int);`);
  });
  const superQuery: AdminDatabase['superQuery'] = (text, values) =>
    withClient(cluster.clientConfig(name), async (c) => (await c.query(text, values)).rows);
  t.teardown(async () => {
    await withClient(cluster.clientConfig(), async (su) => {
      await su.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      const { rows } = await su.query<{ rolname: string }>(
        "SELECT rolname FROM pg_roles WHERE rolname LIKE '%' || $1 || '%' AND rolname <> $2",
        [suffix, admin.role],
      );
      for (const r of rows) await su.query(`DROP ROLE IF EXISTS ${quoteIdent(r.rolname)}`);
      await su.query(`DROP ROLE IF EXISTS ${quoteIdent(admin.role)}`);
    });
  });
  return { cluster, name, admin, suffix, superQuery };
}

/** The secret of the admin login, as the file provider holds it. */
export const adminSecret = (db: AdminDatabase) => ({
  username: db.admin.role,
  password: db.admin.password,
  host: '127.0.0.1',
  port: db.cluster.port,
  dbname: db.name,
});
