// Jobs-table retention (issue 12, section 2): does the claim slow down as finished jobs pile up? Two
// databases in one scratch cluster, migrated alike and holding the same queue (BENCH_RETENTION_QUEUED
// queued jobs over 20 tenants); one also holds BENCH_RETENTION_ROWS finished jobs (default 10,000,000,
// three months of history over 1,000 tenants, made with generate_series). Claims alternate between the
// two, in rounds, through the engine's own claimNextJob (whatever claim SQL src/jobs has now) and a
// batched claim of the shape the engine is moving to (one statement, up to 10 jobs, on the queued
// partial index), so the ratio history / empty holds under a noisy machine. Plans come from auto_explain
// (the engine's statements as they run, EXPLAIN ANALYZE BUFFERS), so nothing here copies the claim SQL.
//
// `npm run bench:retention`; never part of `npm test`. Knobs: BENCH_RETENTION_ROWS, BENCH_RETENTION_QUEUED
// (default 2000), BENCH_RETENTION_ROUNDS (default 6; each round claims 25 times per database per shape),
// BENCH_DOC (default docs/BENCHMARKS.md, "none" to only print), BENCH_KEEP=1 keeps the cluster.
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { createAppPool } from '../../src/db/pool.js';
import { inTenantScope } from '../../src/db/tenant-scope.js';
import { claimNextJob, completeAttempt } from '../../src/jobs/attempts.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { startTestCluster, type TestCluster } from '../helpers/pg-cluster.js';
import { describeMachine } from './machine.js';

const env = process.env;
const HISTORY_ROWS = Number(env.BENCH_RETENTION_ROWS ?? 10_000_000);
const QUEUED = Number(env.BENCH_RETENTION_QUEUED ?? 2_000);
const ROUNDS = Number(env.BENCH_RETENTION_ROUNDS ?? 6);
const PER_ROUND = 25;
const QUEUE_TENANTS = 20;
const HISTORY_TENANTS = 1_000;
const KIND = 'bench.retention';
const START = '<!-- bench:retention:start (written by npm run bench:retention; edits inside are lost) -->';
const END = '<!-- bench:retention:end -->';
const docPath = env.BENCH_DOC === 'none' ? null : (env.BENCH_DOC ?? join(PROJECT_ROOT, 'docs', 'BENCHMARKS.md'));
for (const [name, v] of Object.entries({ HISTORY_ROWS, QUEUED, ROUNDS })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive whole number`);
}

const log = (line: string) => process.stderr.write(`${line}\n`);

interface Side {
  name: 'empty' | 'history';
  db: string;
  owner: pg.Pool;
  engine: pg.Pool;
  claimMs: number[];
  batchMs: number[];
}

/** The batched claim's likely shape: one statement takes up to 10 due jobs, oldest first. */
const BATCH_CLAIM = `
  WITH next AS (
    SELECT id FROM jobs
     WHERE status = 'queued' AND run_at <= now() AND kind = ANY ($1::text[])
     ORDER BY run_at, id
     LIMIT 10
     FOR UPDATE SKIP LOCKED
  )
  UPDATE jobs j
     SET status = 'running', attempts = j.attempts + 1, attempt_id = gen_random_uuid(), locked_by = 'bench',
         locked_until = now() + interval '30 seconds', heartbeat_at = now(), started_at = now()
    FROM next
   WHERE j.id = next.id
  RETURNING j.id`;

class Rollback extends Error {}

async function prepare(cluster: TestCluster, name: Side['name']): Promise<Side> {
  const db = `retention_${name}`;
  const admin = new pg.Client(cluster.clientConfig());
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${db}`);
  await admin.query(`CREATE DATABASE ${db}`);
  await admin.end();
  const migrator = new pg.Client(cluster.clientConfig(db));
  await migrator.connect();
  await migrate(migrator, await loadMigrations());
  await migrator.end();
  const owner = new pg.Pool({ ...cluster.clientConfig(db), max: 2 });
  owner.on('error', () => {}); // the cluster stops under it at the end
  const settings = { host: cluster.host, port: cluster.port, user: cluster.superuser, password: cluster.password };
  const engine = createAppPool({ ...settings, database: db, ssl: cluster.clientConfig(db).ssl }, 2, 'pgsteward-jobs');
  // 1,000 tenants, the first 20 with a queue.
  await owner.query(
    "INSERT INTO tenants (id, name) SELECT 't' || lpad(i::text, 4, '0'), 'tenant ' || i FROM generate_series(0, $1::int - 1) i",
    [HISTORY_TENANTS],
  );
  return { name, db, owner, engine, claimMs: [], batchMs: [] };
}

/** Queue `n` jobs over the queue tenants, spread over the last minute, as an enqueue would leave them. */
async function fillQueue(side: Side, n: number): Promise<void> {
  await side.owner.query(
    `INSERT INTO jobs (tenant_id, kind, payload, run_at, created_at)
     SELECT 't' || lpad((i % $2::int)::text, 4, '0'), $3, '{"format":"custom"}',
            now() - (i % 60) * interval '1 second', now() - (i % 60) * interval '1 second'
       FROM generate_series(0, $1::int - 1) i`,
    [n, QUEUE_TENANTS, KIND],
  );
}

/**
 * Finished jobs as three months of a busy installation leave them: succeeded (2% failed), started and
 * finished, with a payload, result and subjects (no target: its foreign key would only slow the fill), over
 * 1,000 tenants, created in time order. The live-update
 * trigger is off while they are written (10 million NOTIFYs in one transaction would only measure NOTIFY).
 */
async function fillHistory(side: Side): Promise<number> {
  const started = Date.now();
  const client = await side.owner.connect();
  try {
    // Secondary indexes are built after the rows are in (the primary key stays: other tables' foreign keys
    // need it), as a restore would build them: faster than growing them row by row. A built
    // index is denser than a grown one, so the history side is, if anything, slightly favoured here; the
    // claims below then churn the queue (claim, complete, enqueue) on top of it.
    const { rows: indexes } = await client.query<{ name: string; def: string }>(
      "SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE tablename = 'jobs' AND indexname <> 'jobs_pkey'",
    );
    await client.query('SET maintenance_work_mem = $$1GB$$');
    await client.query('ALTER TABLE jobs DISABLE TRIGGER jobs_publish_event');
    for (const index of indexes) await client.query(`DROP INDEX ${index.name}`);
    const chunk = 1_000_000;
    for (let from = 0; from < HISTORY_ROWS; from += chunk) {
      const to = Math.min(HISTORY_ROWS, from + chunk);
      await client.query(
        `INSERT INTO jobs (tenant_id, kind, status, payload, result, error, subjects, attempts, attempt_id,
                           run_at, created_at, started_at, finished_at)
         SELECT 't' || lpad((i % $2::int)::text, 4, '0'),
                CASE WHEN i % 10 = 0 THEN 'restore' WHEN i % 10 < 4 THEN 'health.report' ELSE 'backup' END,
                CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'succeeded' END,
                '{"format":"custom","includeGlobals":true}',
                CASE WHEN i % 50 = 0 THEN NULL ELSE '{"sizeBytes":1048576,"sha256":"0f343b0931126a20f133d67c2b018a3b"}'::jsonb END,
                CASE WHEN i % 50 = 0 THEN '{"code":"PGS_DUMP_FAILED","message":"pg_dump exited with 1"}'::jsonb END,
                '{"backup":"5f0c3e1e-8d7b-4a39-9a64-2f7d1c0b9e11"}',
                1, gen_random_uuid(), at, at, at + interval '1 second', at + interval '40 seconds'
           FROM (SELECT i, now() - interval '90 days' + (i::float8 / $3::float8) * interval '90 days' - interval '1 hour' AS at
                   FROM generate_series($1::bigint, $4::bigint - 1) i) g`,
        [from, HISTORY_TENANTS, HISTORY_ROWS, to],
      );
      log(`  history: ${to.toLocaleString('en')} rows (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
    for (const index of indexes) await client.query(index.def);
    await client.query('ALTER TABLE jobs ENABLE TRIGGER jobs_publish_event');
    await client.query('VACUUM (ANALYZE) jobs');
    log(`  history: indexed and vacuumed (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  } finally {
    client.release();
  }
  return (Date.now() - started) / 1000;
}

/** One claim through the engine, timed; the job is then completed and replaced, so the queue holds steady. */
async function claimOnce(side: Side): Promise<void> {
  const t0 = process.hrtime.bigint();
  const claimed = await claimNextJob(side.engine, {
    workerId: 'bench',
    leaseMs: 30_000,
    tenantMaxRunning: 2,
    kinds: [KIND],
  });
  side.claimMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  if (!claimed) throw new Error(`${side.name}: the queue was empty`);
  await completeAttempt(side.engine, { jobId: claimed.job.id, attemptId: claimed.attemptId }, {});
  await fillQueue(side, 1);
}

/** The batched claim, timed inside a transaction that is rolled back: the queue is left as it was. */
async function batchOnce(side: Side): Promise<void> {
  await inTenantScope(side.engine, { allTenants: true }, async (tx) => {
    const t0 = process.hrtime.bigint();
    const rows = await tx.rows<{ id: string }>({ text: BATCH_CLAIM, values: [[KIND]] });
    side.batchMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (rows.length !== 10) throw new Error(`${side.name}: the batched claim took ${rows.length} jobs`);
    throw new Rollback();
  }).catch((err) => {
    if (!(err instanceof Rollback)) throw err;
  });
}

/** The plans of one engine claim and one batched claim, from auto_explain in the server log. */
async function plans(cluster: TestCluster, side: Side): Promise<string> {
  const logPath = join(dirname(cluster.dataDir), 'server.log');
  const offset = readFileSync(logPath).length;
  await side.owner.query(`ALTER DATABASE ${side.db} SET auto_explain.log_min_duration = 0`);
  const settings = { host: cluster.host, port: cluster.port, user: cluster.superuser, password: cluster.password };
  const fresh = createAppPool({ ...settings, database: side.db, ssl: cluster.clientConfig(side.db).ssl }, 1);
  try {
    await claimOnce({ ...side, engine: fresh, claimMs: [] });
    await batchOnce({ ...side, engine: fresh, batchMs: [] });
  } finally {
    await fresh.end();
    await side.owner.query(`ALTER DATABASE ${side.db} RESET auto_explain.log_min_duration`);
  }
  await new Promise((r) => setTimeout(r, 1_000)); // the server's log reaches the file asynchronously
  const text = readFileSync(logPath).subarray(offset).toString('utf8');
  // Keep the statements on jobs (the claim's, the batch's), not set_config and COMMIT.
  return text
    .split(/\n(?=\S+ \S+ UTC \[\d+\] LOG: {2}duration:)/)
    .filter((block) => /plan:/.test(block) && /\bjobs\b/.test(block) && !/INSERT INTO jobs/.test(block))
    .map((block) => block.replace(/^.*LOG: {2}/, ''))
    .join('\n');
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
};
const ms = (v: number) => v.toFixed(2);

async function tableSize(side: Side): Promise<string> {
  const { rows } = await side.owner.query<{ heap: string; indexes: string; n: string }>(
    `SELECT pg_size_pretty(pg_table_size('jobs')) AS heap, pg_size_pretty(pg_indexes_size('jobs')) AS indexes,
            (SELECT count(*) FROM jobs)::text AS n`,
  );
  const r = rows[0];
  return r ? `${Number(r.n).toLocaleString('en')} rows, heap ${r.heap}, indexes ${r.indexes}` : '?';
}

async function main(): Promise<void> {
  const cluster = await startTestCluster({
    settings: {
      shared_preload_libraries: "'auto_explain'",
      'auto_explain.log_analyze': 'on',
      'auto_explain.log_buffers': 'on',
      'auto_explain.log_nested_statements': 'on',
      'auto_explain.log_min_duration': '-1',
    },
  });
  try {
    const m = await describeMachine(cluster.bindir);
    const machine = `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}; node ${m.node}; ${m.postgres}; commit ${m.commit}.`;
    const empty = await prepare(cluster, 'empty');
    const history = await prepare(cluster, 'history');
    log(`generating ${HISTORY_ROWS.toLocaleString('en')} finished jobs...`);
    const fillSeconds = await fillHistory(history);
    for (const side of [empty, history]) {
      await fillQueue(side, QUEUED);
      await side.owner.query('VACUUM (ANALYZE) jobs');
    }
    const sizes = { empty: await tableSize(empty), history: await tableSize(history) };
    log(`sizes: empty ${sizes.empty}; history ${sizes.history}`);
    // Warm both (plans cached, pages in memory), then alternate.
    for (const side of [empty, history]) for (let i = 0; i < 5; i++) await claimOnce(side);
    for (const side of [empty, history]) side.claimMs = [];
    const load: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [empty, history] : [history, empty];
      for (const side of order) {
        for (let i = 0; i < PER_ROUND; i++) await claimOnce(side);
        for (let i = 0; i < PER_ROUND; i++) await batchOnce(side);
      }
      load.push(loadavg()[0] as number);
      log(
        `  round ${round + 1}/${ROUNDS}: claim p50 empty ${ms(quantile(empty.claimMs, 0.5))} ms, history ${ms(quantile(history.claimMs, 0.5))} ms`,
      );
    }
    const planText = { empty: await plans(cluster, empty), history: await plans(cluster, history) };
    const row = (what: string, a: number[], b: number[]) =>
      `| ${what} | ${ms(quantile(a, 0.5))} | ${ms(quantile(b, 0.5))} | **${(quantile(b, 0.5) / quantile(a, 0.5)).toFixed(2)}** | ${ms(quantile(a, 0.99))} | ${ms(quantile(b, 0.99))} | ${a.length} + ${b.length} |`;
    const table = [
      `| claim | empty p50 (ms) | with ${HISTORY_ROWS.toLocaleString('en')} finished p50 (ms) | ratio p50 | empty p99 (ms) | history p99 (ms) | claims |`,
      '| --- | --- | --- | --- | --- | --- | --- |',
      row('engine claimNextJob (one job, commit)', empty.claimMs, history.claimMs),
      row('batched claim, 10 jobs (statement only)', empty.batchMs, history.batchMs),
    ].join('\n');
    const loadText = `load average (1 min) during the rounds: ${load.map((l) => l.toFixed(1)).join(', ')}`;
    log(`\n${table}\n${loadText}\n`);
    log(`plans, empty:\n${planText.empty}\n\nplans, history:\n${planText.history}`);
    const section = [
      START,
      `### Jobs-table retention: the claim with ${HISTORY_ROWS.toLocaleString('en')} finished jobs vs none`,
      '',
      `Last run ${new Date().toISOString()}. ${machine}`,
      '',
      `Two databases in one cluster, the same queue in each (${QUEUED.toLocaleString('en')} queued jobs over ${QUEUE_TENANTS} tenants);`,
      `one also holds ${HISTORY_ROWS.toLocaleString('en')} finished jobs over ${HISTORY_TENANTS.toLocaleString('en')} tenants (made in ${fillSeconds.toFixed(0)} s).`,
      `Claims alternate between them, ${ROUNDS} rounds of ${PER_ROUND} per shape; a claimed job is completed and replaced.`,
      `Sizes: empty ${sizes.empty}; history ${sizes.history}. ${loadText}.`,
      '',
      table,
      '',
      '<details><summary>Plans (auto_explain, ANALYZE, BUFFERS) with the history</summary>',
      '',
      '```',
      planText.history,
      '```',
      '</details>',
      END,
    ].join('\n');
    if (docPath) writeSection(docPath, section);
    for (const side of [empty, history]) {
      await side.owner.end();
      await side.engine.end();
    }
  } finally {
    if (env.BENCH_KEEP === '1') log(`kept the cluster on port ${cluster.port} (${cluster.dataDir})`);
    else await cluster.stop();
  }
}

function writeSection(path: string, section: string): void {
  const doc = readFileSync(path, 'utf8');
  const start = doc.indexOf(START.slice(0, START.indexOf(' (')));
  const end = doc.indexOf(END);
  const next =
    start >= 0 && end > start
      ? `${doc.slice(0, start)}${section}${doc.slice(end + END.length)}`
      : `${doc.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, next);
  log(`wrote ${path}`);
}

await main();
process.exit(0);
