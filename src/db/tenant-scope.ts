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

// Transaction-local (set_config's third argument): the setting dies with the transaction, at COMMIT or
// ROLLBACK, so a pooled connection never carries one tenant into the next request.
const SET_SCOPE = "SELECT set_config('pgsteward.tenant', $1, true), set_config('pgsteward.all_tenants', $2, true)";
const scopeValues = (scope: TenantScope): string[] => ('tenantId' in scope ? [scope.tenantId, 'off'] : ['', 'on']);

// pg's pipeline mode (createAppPool turns it on) writes each query as soon as it is issued, each with its
// own Sync, instead of waiting for the previous answer. Inside BEGIN ... COMMIT that changes no meaning: a
// statement behind a failed one fails ("current transaction is aborted") and COMMIT then rolls back.
type PipelineClient = pg.PoolClient & {
  pipeline?: boolean;
  getTransactionStatus?: () => string | null;
  connection?: { stream?: { cork?: () => void; uncork?: () => void } };
};
const isPipelined = (client: pg.PoolClient): boolean => (client as PipelineClient).pipeline === true;

/**
 * Issue `send`'s queries as one socket write. pg writes each query on its own (it corks the stream per
 * query only); on this machine a socket write is the costliest step of a read (a CPU profile of
 * GET /v1/jobs/{id} under load spent 35% of the server's CPU in pg's writes, four per request), so
 * the statements of a pipelined batch share one.
 */
function oneWrite<T>(client: pg.PoolClient, send: () => T): T {
  const stream = (client as PipelineClient).connection?.stream;
  stream?.cork?.();
  try {
    return send();
  } finally {
    stream?.uncork?.();
  }
}

/** A connection goes back to the pool only outside any transaction ('I'); anything else is destroyed. */
const idleOrBroken = (client: pg.PoolClient): Error | undefined => {
  const status = (client as PipelineClient).getTransactionStatus?.();
  return status === undefined || status === 'I'
    ? undefined
    : new Error(`connection left in transaction state ${status}`);
};

/**
 * Run `fn` in a transaction whose row-level-security scope is set with SET LOCAL semantics, so the
 * setting dies with the transaction and a pooled connection never carries one tenant into the next.
 * On a pipelined connection BEGIN and set_config go out with fn's first statement: one round trip, not
 * three. If either fails, every statement behind it fails with it (or, had BEGIN alone failed, runs with
 * no tenant and sees nothing), and the transaction's result is not returned.
 */
export async function inTenantScope<T>(pool: pg.Pool, scope: TenantScope, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let release: Error | boolean | undefined;
  try {
    const tx: Tx = {
      rows: async (sql) => (await client.query(sql.text, sql.values)).rows,
      one: async (sql) => (await client.query(sql.text, sql.values)).rows[0],
    };
    let opened: Promise<unknown>;
    let pending: Promise<T>;
    if (isPipelined(client)) {
      // fn runs up to its first await inside oneWrite, so its first statement shares the write.
      [opened, pending] = oneWrite(client, () => {
        const open = Promise.all([client.query('BEGIN'), client.query(SET_SCOPE, scopeValues(scope))]);
        open.catch(() => {}); // awaited below, after fn; fn's own statements fail first if it failed
        return [open, fn(tx)] as const;
      });
    } else {
      await client.query('BEGIN');
      opened = client.query(SET_SCOPE, scopeValues(scope));
      await opened;
      pending = fn(tx);
    }
    const result = await pending;
    await opened;
    await client.query('COMMIT');
    release = idleOrBroken(client);
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
      release = idleOrBroken(client);
    } catch (rollbackErr) {
      release = rollbackErr as Error; // a broken connection is destroyed, not returned to the pool
    }
    throw err;
  } finally {
    client.release(release);
  }
}

// Values that can be written into a statement as literals with no escaping at all: UUIDs, tenant ids,
// codes, non-negative integers. Anything else travels as a bound parameter.
const PLAIN = /^[A-Za-z0-9_.:-]{0,200}$/;
const plainLiteral = (v: unknown): string | undefined =>
  typeof v === 'string' && PLAIN.test(v)
    ? `'${v}'`
    : Number.isSafeInteger(v) && (v as number) >= 0
      ? String(v)
      : undefined;

/** The scope setting and `sql` as one two-statement simple query, or undefined if `sql` cannot be written so. */
function asSimpleQuery(scope: TenantScope, sql: Sql): string | undefined {
  // A statement with a quote, a semicolon or a comment of its own could make $n ambiguous: not this path.
  if (/['";]|--|\/\*/.test(sql.text)) return undefined;
  const tenant = plainLiteral('tenantId' in scope ? scope.tenantId : '');
  let plain = tenant !== undefined;
  const text = sql.text.replace(/\$(\d+)/g, (_m, n: string) => {
    const literal = plainLiteral(sql.values[Number(n) - 1]);
    if (literal === undefined) plain = false;
    return literal ?? 'NULL';
  });
  const allTenants = 'tenantId' in scope ? "'off'" : "'on'";
  return plain
    ? `SELECT set_config('pgsteward.tenant', ${tenant}, true), set_config('pgsteward.all_tenants', ${allTenants}, true); ${text}`
    : undefined;
}

/**
 * One read-only statement in the caller's scope, in one round trip. When its values are plain (UUIDs,
 * ids, integers: GET /v1/jobs/{id}'s are), it goes as one simple-protocol message of two statements,
 * which PostgreSQL runs as one implicit transaction: set_config(..., true) lasts exactly until the read
 * has run. Otherwise BEGIN, set_config, the read and COMMIT go pipelined, in one socket write.
 * The options, measured by test/bench/b5-scope-options.ts (GET /v1/jobs/{id}'s statement, 100
 * concurrent readers, a pool of 10, 2 shared cores; reads/s as the median of per-round ratios to the
 * bare query run as the owner in the same round; 3 rounds of 5 s, load average 20-22):
 *   BEGIN, set_config, read, COMMIT awaited one by one (before issue 12)   0.40
 *   the same four pipelined, a socket write each                           0.54
 *   the same four pipelined, one socket write (the bound path here)        0.67
 *   one simple query "set_config(..., true); read" (the plain path here)   0.81
 *   a session-level tenant, re-set only when it changes                    0.95
 * A session-level tenant re-set only on change is the fastest, but rejected: the setting outlives the
 * request on the connection, so any statement that skips the re-set would run as the last tenant.
 */
export async function readInTenantScope<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  scope: TenantScope,
  sql: Sql,
): Promise<R[]> {
  const simple = asSimpleQuery(scope, sql);
  const client = await pool.connect();
  if (simple === undefined && !isPipelined(client)) {
    client.release();
    return inTenantScope(pool, scope, (tx) => tx.rows<R>(sql));
  }
  let release: Error | undefined;
  try {
    if (simple !== undefined) {
      try {
        const results = (await client.query(simple)) as unknown as pg.QueryResult<R>[];
        return results[1]?.rows ?? [];
      } finally {
        release = idleOrBroken(client);
      }
    }
    const steps = await Promise.allSettled(
      oneWrite(client, () => [
        client.query('BEGIN'),
        client.query(SET_SCOPE, scopeValues(scope)),
        client.query<R>(sql.text, sql.values),
        // After a failed statement the server answers COMMIT with ROLLBACK: nothing stays open either way.
        client.query('COMMIT'),
      ]),
    );
    release = idleOrBroken(client);
    for (const step of steps) if (step.status === 'rejected') throw step.reason;
    return (steps[2] as PromiseFulfilledResult<pg.QueryResult<R>>).value.rows;
  } finally {
    client.release(release);
  }
}
