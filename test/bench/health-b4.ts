// B4 (issue 10): a health report on a database with 10,000 tables and 20,000 indexes, against the same
// catalog queries run bare by psql in the same run. `npm run bench:health` runs it alone (it is not part
// of `npm test`); `npm run bench` runs it after B1-B3 unless BENCH_B4=0. Knobs: BENCH_B4_TABLES (default
// 10000), BENCH_B4_RUNS (alternating runs of each, default 5), BENCH_DOC as for the other benchmarks.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Sql } from '../../src/db/tenant-scope.js';
import { collectorThresholds, effectiveThresholds, runChecks } from '../../src/domain/health/checks/index.js';
import { REPORT_LIMITS } from '../../src/domain/health/report-task.js';
import * as q from '../../src/domain/health/server-queries.js';
import { collectSnapshot } from '../../src/domain/health/snapshot.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { quoteLiteral } from '../../src/sql/identifiers.js';
import { startTestCluster, type TestCluster } from '../helpers/pg-cluster.js';
import { describeMachine } from './machine.js';

const run = promisify(execFile);
const log = (line: string) => process.stderr.write(`${line}\n`);
const START = '<!-- bench:b4:start (written by the B4 bench; edits inside are lost) -->';
const END = '<!-- bench:b4:end -->';
const DATABASE = 'bench_health';

export interface B4Result {
  tables: number;
  indexes: number;
  setupSeconds: number;
  reportMs: number[];
  psqlMs: number[];
  checks: number;
  statuses: Record<string, number>;
  bindir: string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** A statement with its parameters written in as literals, for psql (numbers and text arrays only). */
function inline(sql: Sql): string {
  return `${sql.text.replace(/\$(\d+)/g, (_m, n) => {
    const v = sql.values[Number(n) - 1];
    if (typeof v === 'number') return String(v);
    if (Array.isArray(v)) return `ARRAY[${v.map((x) => quoteLiteral(String(x))).join(',')}]`;
    return quoteLiteral(String(v));
  })};`;
}

/** The statements a report runs, as one psql script (pg_stat_statements is not installed here). */
function bareScript(): string {
  const t = collectorThresholds(effectiveThresholds());
  return [
    q.selectServerInfo(),
    q.selectSettings(),
    q.selectStatStatementsSchema(),
    q.selectTopDeadTuples(),
    q.selectDeadTupleRatios(t.deadTuples.minDeadTuples, t.deadTuples.ratio),
    q.selectTableBloat(t.bloat.minPages, t.bloat.ratio, t.bloat.minBytes),
    q.selectDatabaseAges(),
    q.selectOldestTables(),
    q.selectSequenceUse(t.sequences.ratio),
    q.selectInvalidIndexes(),
    q.selectDuplicateIndexes(),
    q.selectUnusedIndexes(t.unusedIndexes.maxScans, t.unusedIndexes.minSizeBytes),
    q.selectInvalidConstraints(),
    q.selectCacheHits(),
    q.selectActivity(),
    q.selectReplicationSlots(),
    q.selectHbaRules(),
    q.selectLoginRoles(),
    q.selectMd5Roles(),
    q.selectPublicCreateSchemas(),
    q.selectArchiver(),
  ]
    .map(inline)
    .join('\n')
    .concat('\n');
}

async function createCatalog(cluster: TestCluster, tables: number): Promise<void> {
  const admin = new pg.Client(cluster.clientConfig());
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${DATABASE}`);
  await admin.query(`CREATE DATABASE ${DATABASE}`);
  await admin.end();
  const db = new pg.Client(cluster.clientConfig(DATABASE));
  await db.connect();
  // In batches: one transaction creating every relation would need more lock slots than the default.
  for (let from = 1; from <= tables; from += 500) {
    const to = Math.min(tables, from + 499);
    await db.query(`DO $$ BEGIN FOR i IN ${from}..${to} LOOP
        EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, v int, note text)', i);
        EXECUTE format('CREATE INDEX t%s_v ON t%s (v)', i, i);
      END LOOP; END $$`);
  }
  // Some churn, so the dead-tuple and statistics reads have rows to rank.
  await db.query(`DO $$ BEGIN FOR i IN 1..100 LOOP
      EXECUTE format('INSERT INTO t%s SELECT g, g, ''x'' FROM generate_series(1, 200) g', i);
      EXECUTE format('UPDATE t%s SET v = v + 1', i);
    END LOOP; END $$`);
  await db.query('ANALYZE');
  await db.end();
}

async function timeReport(cluster: TestCluster): Promise<{ ms: number; checks: ReturnType<typeof runChecks> }> {
  const started = performance.now();
  // As the report task does it: a TLS session, the snapshot in one READ ONLY transaction, the checks.
  const client = new pg.Client(cluster.clientConfig(DATABASE));
  await client.connect();
  try {
    const thresholds = effectiveThresholds();
    const snapshot = await collectSnapshot(client, collectorThresholds(thresholds), REPORT_LIMITS);
    const checks = runChecks({
      snapshot,
      thresholds,
      posture: { newestBackupAt: null, newestDrill: null, failedJobs: [] },
      history: [],
      now: new Date(),
    });
    return { ms: performance.now() - started, checks };
  } finally {
    await client.end();
  }
}

async function timePsql(cluster: TestCluster, dir: string, script: string): Promise<number> {
  const passfile = join(dir, 'pgpass');
  const sqlFile = join(dir, 'report.sql');
  writeFileSync(passfile, `127.0.0.1:${cluster.port}:*:${cluster.superuser}:${cluster.password}\n`, { mode: 0o600 });
  writeFileSync(sqlFile, script);
  const started = performance.now();
  await run(
    join(cluster.bindir, 'psql'),
    [
      '-X',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '-o',
      '/dev/null',
      '-f',
      sqlFile,
      `host=127.0.0.1 port=${cluster.port} dbname=${DATABASE} user=${cluster.superuser} sslmode=require`,
    ],
    { env: { ...process.env, PGPASSFILE: passfile } },
  );
  return performance.now() - started;
}

export async function benchHealthReport(opts: { tables?: number; runs?: number } = {}): Promise<B4Result> {
  const tables = opts.tables ?? 10_000;
  const runs = opts.runs ?? 5;
  const cluster = await startTestCluster();
  const dir = mkdtempSync(join(tmpdir(), 'pgsteward-b4-'));
  try {
    const setupStarted = performance.now();
    log(`B4: creating ${tables} tables with ${2 * tables} indexes`);
    await createCatalog(cluster, tables);
    const setupSeconds = (performance.now() - setupStarted) / 1000;
    log(`B4: catalog ready in ${setupSeconds.toFixed(1)} s`);
    const script = bareScript();
    await timeReport(cluster); // warm the catalog caches for both sides alike
    await timePsql(cluster, dir, script);
    const reportMs: number[] = [];
    const psqlMs: number[] = [];
    let last: ReturnType<typeof runChecks> = [];
    for (let i = 0; i < runs; i++) {
      const r = await timeReport(cluster);
      reportMs.push(r.ms);
      last = r.checks;
      psqlMs.push(await timePsql(cluster, dir, script));
      log(`B4 run ${i + 1}: report ${r.ms.toFixed(0)} ms, psql ${psqlMs[i]?.toFixed(0)} ms`);
    }
    const statuses: Record<string, number> = {};
    for (const c of last) statuses[c.status] = (statuses[c.status] ?? 0) + 1;
    return {
      tables,
      indexes: 2 * tables,
      setupSeconds,
      reportMs,
      psqlMs,
      checks: last.length,
      statuses,
      bindir: cluster.bindir,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await cluster.stop();
  }
}

export function renderB4(r: B4Result, machine: string): string {
  const rep = median(r.reportMs);
  const bare = median(r.psqlMs);
  return [
    `### B4: a health report on ${r.tables.toLocaleString('en')} tables and ${r.indexes.toLocaleString('en')} indexes`,
    '',
    `Last run ${new Date().toISOString()}. ${machine}`,
    '',
    `The report is what the \`health.report\` task does on the server: a TLS session, the ${r.checks} checks'`,
    'snapshot in one READ ONLY transaction (statement_timeout, lock_timeout, a savepoint per read) and the checks;',
    'the bare side is the same catalog statements in one `psql -f` session. Runs alternate; medians.',
    '',
    '| report median (ms) | bare psql median (ms) | ratio report / psql | runs (report ms) | runs (psql ms) | goal < 2000 ms |',
    '| --- | --- | --- | --- | --- | --- |',
    `| ${rep.toFixed(0)} | ${bare.toFixed(0)} | **${(rep / bare).toFixed(2)}** | ${r.reportMs.map((v) => v.toFixed(0)).join(', ')} | ${r.psqlMs.map((v) => v.toFixed(0)).join(', ')} | **${rep < 2000 ? 'met' : 'missed'}** |`,
    '',
    `Setup (creating the catalog, some churn, ANALYZE): ${r.setupSeconds.toFixed(1)} s. Check statuses in the last run: ${Object.entries(
      r.statuses,
    )
      .map(([s, n]) => `${n} ${s}`)
      .join(', ')}.`,
  ].join('\n');
}

export function writeB4(path: string, section: string): void {
  const block = `${START}\n${section}\n${END}`;
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  writeFileSync(
    path,
    start !== -1 && end > start
      ? `${current.slice(0, start)}${block}${current.slice(end + END.length)}`
      : `${current.trimEnd()}\n\n${block}\n`,
  );
}

/** Runs B4 and writes its section of docs/BENCHMARKS.md (BENCH_DOC as for B1-B3). */
export async function main(): Promise<void> {
  const env = process.env;
  const result = await benchHealthReport({
    tables: Number(env.BENCH_B4_TABLES ?? 10_000),
    runs: Number(env.BENCH_B4_RUNS ?? 5),
  });
  const m = await describeMachine(result.bindir);
  const machine = `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}; node ${m.node}; ${m.postgres}; commit ${m.commit}.`;
  const section = renderB4(result, machine);
  process.stdout.write(`${section}\n`);
  const docPath = env.BENCH_DOC === 'none' ? null : (env.BENCH_DOC ?? join(PROJECT_ROOT, 'docs', 'BENCHMARKS.md'));
  if (docPath) writeB4(docPath, section);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
