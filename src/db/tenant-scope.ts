import type pg from 'pg';

/** A parameterised statement, as every queries.ts builds them. */
export interface Sql {
  text: string;
  values: unknown[];
}

/** Which rows a transaction may see: one tenant's, or (operators, the job engine) every tenant's. */
export type TenantScope = { tenantId: string } | { allTenants: true };

export interface Tx {
  rows<R extends pg.QueryResultRow>(sql: Sql): Promise<R[]>;
  one<R extends pg.QueryResultRow>(sql: Sql): Promise<R | undefined>;
}

/**
 * Run `fn` in a transaction whose row-level-security scope is set with SET LOCAL semantics, so the
 * setting dies with the transaction and a pooled connection never carries one tenant into the next.
 */
export async function inTenantScope<T>(pool: pg.Pool, scope: TenantScope, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let release: Error | boolean | undefined;
  try {
    await client.query('BEGIN');
    await client.query(
      "SELECT set_config('pgsteward.tenant', $1, true), set_config('pgsteward.all_tenants', $2, true)",
      'tenantId' in scope ? [scope.tenantId, 'off'] : ['', 'on'],
    );
    const tx: Tx = {
      rows: async (sql) => (await client.query(sql.text, sql.values)).rows,
      one: async (sql) => (await client.query(sql.text, sql.values)).rows[0],
    };
    const result = await fn(tx);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackErr) {
      release = rollbackErr as Error; // a broken connection is destroyed, not returned to the pool
    }
    throw err;
  } finally {
    client.release(release);
  }
}
