import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { quoteIdent } from '../../src/sql/identifiers.js';
import type { TestCluster } from '../helpers/pg-cluster.js';
import { createOwnedDatabase } from '../helpers/source-database.js';

export interface SourceDatabase {
  name: string;
  role: string;
  password: string;
  /** pg_database_size after loading, indexing and VACUUM (FREEZE). */
  sizeBytes: number;
  rows: { customers: number; events: number };
  generationMs: number;
  drop(): Promise<void>;
}

/** An events row takes about this much on disk (heap tuple with its 200 random bytes). */
const EVENT_ROW_BYTES = 330;
/** Each INSERT ... SELECT adds about 1/16 of the target, so the size check overshoots by little. */
const chunkRows = (targetBytes: number) =>
  Math.min(250_000, Math.max(5_000, Math.round(targetBytes / EVENT_ROW_BYTES / 16)));
/** Two loaders: the machine has two cores, and each INSERT ... SELECT runs on one. */
const LOADERS = 2;
/** Customers take about this share of the target size, events the rest. */
const CUSTOMER_SHARE = 0.05;
/** A customers row is about 140 bytes on disk. */
const CUSTOMER_ROW_BYTES = 140;

// Poorly compressible on purpose: random uuids, md5 text, random numerics and 200 random bytes per event
// (dumped as 400 hex digits), so gzip cannot shrink the work away.
const SCHEMA = `
  CREATE EXTENSION IF NOT EXISTS pgcrypto;
  CREATE TABLE customers (
    id bigint NOT NULL, external_id uuid NOT NULL, email text NOT NULL, display_name text NOT NULL,
    balance numeric(14, 2) NOT NULL, created_at timestamptz NOT NULL);
  CREATE TABLE events (
    id bigint NOT NULL, customer_id bigint NOT NULL, trace_id uuid NOT NULL, amount numeric(12, 2) NOT NULL,
    score double precision NOT NULL, recorded_at timestamptz NOT NULL, note text NOT NULL, payload bytea NOT NULL);`;

const insertCustomers = (count: number) => ({
  text: `INSERT INTO customers
         SELECT g, gen_random_uuid(), md5(random()::text) || '@example.com', substr(md5(random()::text), 1, 12),
                round((random() * 1000000)::numeric, 2), now() - random() * interval '1500 days'
           FROM generate_series(1, $1::bigint) g`,
  values: [count],
});

const insertEvents = (first: number, last: number, customers: number) => ({
  text: `INSERT INTO events
         SELECT g, 1 + floor(random() * $3::bigint)::bigint, gen_random_uuid(), round((random() * 10000)::numeric, 2),
                random(), now() - random() * interval '730 days', md5(random()::text), gen_random_bytes(200)
           FROM generate_series($1::bigint, $2::bigint) g`,
  values: [first, last, customers],
});

const databaseSize = { text: 'SELECT pg_database_size(current_database())::bigint AS n', values: [] };

/**
 * Creates a database of at least `sizeMb` MiB on `cluster`, owned by a fresh login role (the role
 * pgsteward's secret names), and fills it with INSERT ... SELECT generate_series on two connections.
 */
export async function createSourceDatabase(
  cluster: TestCluster,
  sizeMb: number,
  log: (line: string) => void,
): Promise<SourceDatabase> {
  const started = performance.now();
  const { name, role, password, drop } = await createOwnedDatabase(cluster, {
    name: `bench_${sizeMb}mb`,
    role: `bench_owner_${sizeMb}mb`,
  });

  const target = sizeMb * 1024 * 1024;
  const pool = new pg.Pool({ ...cluster.clientConfig(name), max: LOADERS });
  try {
    await pool.query(SCHEMA);
    await pool.query(`ALTER TABLE customers OWNER TO ${quoteIdent(role)}`);
    await pool.query(`ALTER TABLE events OWNER TO ${quoteIdent(role)}`);
    const customers = Math.max(1000, Math.round((target * CUSTOMER_SHARE) / CUSTOMER_ROW_BYTES));
    await pool.query(insertCustomers(customers));

    const rowsPerChunk = chunkRows(target);
    let nextChunk = 0;
    let reached = false;
    const loader = async () => {
      while (!reached) {
        const chunk = nextChunk++;
        await pool.query(insertEvents(chunk * rowsPerChunk + 1, (chunk + 1) * rowsPerChunk, customers));
        const size = Number((await pool.query<{ n: string }>(databaseSize)).rows[0]?.n ?? 0);
        log(`  ${name}: ${(size / 1048576).toFixed(0)} of ${sizeMb} MiB`);
        if (size >= target) reached = true;
      }
    };
    await Promise.all(Array.from({ length: LOADERS }, loader));

    await Promise.all([
      pool.query('ALTER TABLE customers ADD PRIMARY KEY (id)'),
      pool.query('ALTER TABLE events ADD PRIMARY KEY (id)'),
    ]);
    // Frozen, hinted and analysed now, so no timed dump pays for setting hint bits on first read.
    await pool.query('VACUUM (FREEZE, ANALYZE)');
    await pool.query('CHECKPOINT');
    const counts = await pool.query<{ c: string; e: string }>(
      'SELECT (SELECT count(*) FROM customers) AS c, (SELECT count(*) FROM events) AS e',
    );
    const size = Number((await pool.query<{ n: string }>(databaseSize)).rows[0]?.n ?? 0);
    return {
      name,
      role,
      password,
      sizeBytes: size,
      rows: { customers: Number(counts.rows[0]?.c ?? 0), events: Number(counts.rows[0]?.e ?? 0) },
      generationMs: performance.now() - started,
      drop,
    };
  } catch (err) {
    await pool.end().catch(() => {});
    await drop().catch(() => {});
    throw err;
  } finally {
    await pool.end().catch(() => {});
  }
}

/**
 * What pgsteward's backup does besides dumping: an exact count(*) of every table in one REPEATABLE READ
 * snapshot (run concurrently with the dump, on its own connection). Timed alone here.
 */
export async function timeRowCounts(cluster: TestCluster, database: string): Promise<number> {
  const client = new pg.Client(cluster.clientConfig(database));
  await client.connect();
  try {
    const started = performance.now();
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    for (const table of ['customers', 'events']) await client.query(`SELECT count(*) FROM ${quoteIdent(table)}`);
    await client.query('COMMIT');
    return performance.now() - started;
  } finally {
    await client.end();
  }
}
