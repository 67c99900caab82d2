// Issue 12 §1: the ways to run one tenant-scoped read, measured against each other and against the bare
// query, with the database alone in the loop (no HTTP). Not part of `npm run bench`; run it by hand:
//   node --import tsx test/bench/b5-scope-options.ts   (knobs: B5_OPT_SECONDS=5, B5_OPT_ROUNDS=3,
//   B5_OPT_CONCURRENCY=100; the pool has 10 connections, pgsteward's default)
// Its figures are quoted beside readInTenantScope in src/db/tenant-scope.ts.
import { loadavg } from 'node:os';
import pg from 'pg';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { APP_ROLE } from '../../src/db/pool.js';
import { readInTenantScope, type Sql } from '../../src/db/tenant-scope.js';
import { selectJob } from '../../src/domain/jobs/queries.js';
import { startTestCluster } from '../helpers/pg-cluster.js';
import { median } from './report-format.js';

type Read = (sql: Sql, tenant: string) => Promise<unknown[]>;

const env = process.env;
const seconds = Number(env.B5_OPT_SECONDS ?? 5);
const rounds = Number(env.B5_OPT_ROUNDS ?? 3);
const concurrency = Number(env.B5_OPT_CONCURRENCY ?? 100);

const cluster = await startTestCluster();
try {
  const owner = new pg.Client(cluster.clientConfig());
  await owner.connect();
  await owner.query('CREATE DATABASE b5_opts');
  await owner.end();
  const db = new pg.Client(cluster.clientConfig('b5_opts'));
  await db.connect();
  await migrate(db, await loadMigrations());
  await db.query("INSERT INTO tenants (id, name) VALUES ('bench', 'Bench')");
  const { rows } = await db.query<{ id: string }>(
    "INSERT INTO jobs (tenant_id, kind, status) VALUES ('bench', 'backup', 'succeeded') RETURNING id",
  );
  await db.end();
  const jobId = rows[0]?.id as string;
  const base = { ...cluster.clientConfig('b5_opts'), max: 10 };
  const appPool = new pg.Pool({ ...base, options: `-c role=${APP_ROLE}` });
  const pipelinedPool = new pg.Pool({ ...base, options: `-c role=${APP_ROLE}`, pipeline: true } as pg.PoolConfig);
  const ownerPool = new pg.Pool(base);
  const sessionTenant = new WeakMap<pg.PoolClient, string>();

  const options: Record<string, Read> = {
    // What inTenantScope did for every read before issue 12: four round trips.
    'BEGIN, set_config, query, COMMIT (4 round trips)': async (sql, tenant) => {
      const client = await appPool.connect();
      try {
        await client.query('BEGIN');
        await client.query(
          "SELECT set_config('pgsteward.tenant', $1, true), set_config('pgsteward.all_tenants', $2, true)",
          [tenant, 'off'],
        );
        const r = await client.query(sql.text, sql.values);
        await client.query('COMMIT');
        return r.rows;
      } finally {
        client.release();
      }
    },
    // The same four statements issued at once on a pipelined connection: one round trip, but pg still
    // writes each query to the socket on its own.
    'the same four, pipelined, a write each': async (sql, tenant) => {
      const client = await pipelinedPool.connect();
      try {
        const [, , read] = await Promise.all([
          client.query('BEGIN'),
          client.query(
            "SELECT set_config('pgsteward.tenant', $1, true), set_config('pgsteward.all_tenants', $2, true)",
            [tenant, 'off'],
          ),
          client.query(sql.text, sql.values),
          client.query('COMMIT'),
        ]);
        return read.rows;
      } finally {
        client.release();
      }
    },
    // ... and in one socket write: readInTenantScope's path for values it cannot write as literals (the
    // comment keeps it off the literal path; the plan is the same).
    'the same four, pipelined, one write': (sql, tenant) =>
      readInTenantScope(pipelinedPool, { tenantId: tenant }, { ...sql, text: `${sql.text} /* bound */` }),
    // One simple-protocol message of two statements (one implicit transaction), the values written as
    // literals: readInTenantScope's path for GET /v1/jobs/{id}.
    'one simple query "set_config; read" (readInTenantScope)': (sql, tenant) =>
      readInTenantScope(pipelinedPool, { tenantId: tenant }, sql),
    // A session-level tenant re-set only when it changes: one round trip when it does not, but the
    // setting outlives the request on the connection (rejected: see tenant-scope.ts).
    'session tenant, re-set on change': async (sql, tenant) => {
      const client = await appPool.connect();
      try {
        if (sessionTenant.get(client) !== tenant) {
          await client.query("SELECT set_config('pgsteward.tenant', $1, false)", [tenant]);
          sessionTenant.set(client, tenant);
        }
        return (await client.query(sql.text, sql.values)).rows;
      } finally {
        client.release();
      }
    },
    'bare query as the owner (1 round trip, no RLS)': async (sql) => (await ownerPool.query(sql.text, sql.values)).rows,
  };

  async function measure(read: Read): Promise<number> {
    const sql = selectJob(jobId);
    let done = 0;
    const until = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < until) {
          const found = await read(sql, 'bench');
          if (found.length !== 1) throw new Error('the read did not find the job');
          done++;
        }
      }),
    );
    return done / seconds;
  }

  const names = Object.keys(options);
  const results = new Map<string, number[]>(names.map((n) => [n, []]));
  for (const name of names) await measure(options[name] as Read); // warm-up
  for (let round = 0; round < rounds; round++) {
    const order = [...names.slice(round % names.length), ...names.slice(0, round % names.length)];
    for (const name of order) {
      const perSecond = await measure(options[name] as Read);
      results.get(name)?.push(perSecond);
      process.stderr.write(
        `round ${round + 1} ${name}: ${perSecond.toFixed(0)}/s (load ${loadavg()[0]?.toFixed(2)})\n`,
      );
    }
  }
  const bare = results.get(names[names.length - 1] as string) ?? [];
  process.stdout.write(`\n| option | reads/s (median) | median of per-round ratios to bare |\n| --- | --- | --- |\n`);
  for (const name of names) {
    const own = results.get(name) ?? [];
    const ratios = own.map((v, i) => v / (bare[i] ?? Number.NaN));
    process.stdout.write(`| ${name} | ${median(own).toFixed(0)} | ${median(ratios).toFixed(2)} |\n`);
  }
  await Promise.all([appPool.end(), pipelinedPool.end(), ownerPool.end()]);
} finally {
  await cluster.stop();
}
