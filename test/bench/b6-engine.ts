// B6 (issue 12 §2): pgsteward's job engine against graphile-worker 0.18 on the same cluster, in the same
// run, alternating which goes first. Trivial tasks, concurrency 10 on both sides. `npm run bench` runs it
// after B1-B4 unless BENCH_B6=0; BENCH_ONLY=b6 runs it alone. Knobs: BENCH_B6_JOBS (backlog sizes, default
// "10000,100000"), BENCH_B6_TENANTS (default "1,100"), BENCH_B6_RUNS (drains of each side per case,
// default 1; the first side alternates by case and run), BENCH_B6_RATE and BENCH_B6_SECONDS (the steady
// enqueue of the latency phase, default 500 jobs/s for 5 s), BENCH_DOC as for the other benchmarks.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { PROJECT_ROOT } from '../../src/paths.js';
import { startTestCluster } from '../helpers/pg-cluster.js';
import { CONCURRENCY, type Engine, graphileEngine, pgstewardEngine, type Side } from './b6-drivers.js';
import { describeMachine } from './machine.js';
import { median, table, x } from './report-format.js';

const START = '<!-- bench:b6:start (written by the B6 bench; edits inside are lost) -->';
const END = '<!-- bench:b6:end -->';
const log = (line: string) => process.stderr.write(`${line}\n`);
const GOAL = 1.0;

/** pgsteward's per-tenant cap: one tenant may use every slot; with 100, the default of 2 binds. */
export const capFor = (tenants: number) => (tenants === 1 ? CONCURRENCY : 2);

export interface DrainRow {
  jobs: number;
  tenants: number;
  cap: number;
  pgstewardMs: number[];
  graphileMs: number[];
  maxRunningPerTenant: number;
}

export interface LatencyRow {
  tenants: number;
  rate: number;
  seconds: number;
  side: Side;
  p50: number;
  p99: number;
  max: number;
}

export interface B6Result {
  drains: DrainRow[];
  latencies: LatencyRow[];
  loadBefore: number[];
  loadAfter: number[];
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};
const perS = (jobs: number, ms: number) => (jobs / (ms / 1000)).toFixed(0);

export async function benchEngine(o: {
  jobs: number[];
  tenants: number[];
  runs: number;
  rate: number;
  seconds: number;
}): Promise<B6Result & { bindir: string }> {
  const cluster = await startTestCluster();
  const admin = new pg.Client(cluster.clientConfig());
  await admin.connect();
  for (const db of ['b6_pgsteward', 'b6_graphile']) await admin.query(`CREATE DATABASE ${db}`);
  await admin.end();
  const settings = (database: string) => ({
    host: cluster.host,
    port: cluster.port,
    user: cluster.superuser,
    password: cluster.password,
    database,
    ssl: cluster.clientConfig(database).ssl,
  });
  const loadBefore = loadavg();
  const drains: DrainRow[] = [];
  const latencies: LatencyRow[] = [];
  const graphile = await graphileEngine(settings('b6_graphile'));
  try {
    let caseNo = 0;
    for (const tenants of o.tenants) {
      const cap = capFor(tenants);
      const ours = await pgstewardEngine(settings('b6_pgsteward'), cap);
      try {
        for (const jobs of o.jobs) {
          const row: DrainRow = { jobs, tenants, cap, pgstewardMs: [], graphileMs: [], maxRunningPerTenant: 0 };
          for (let r = 0; r < o.runs; r++, caseNo++) {
            const order: Engine[] = caseNo % 2 === 0 ? [ours, graphile] : [graphile, ours];
            for (const engine of order) {
              await engine.backlog(jobs, tenants);
              const d = await engine.drain(jobs, true);
              (engine.side === 'pgsteward' ? row.pgstewardMs : row.graphileMs).push(d.ms);
              if (d.maxRunningPerTenant !== null) {
                row.maxRunningPerTenant = Math.max(row.maxRunningPerTenant, d.maxRunningPerTenant);
              }
              log(
                `B6 ${jobs} jobs, ${tenants} tenant(s), ${engine.side}: ${(d.ms / 1000).toFixed(2)} s, ` +
                  `${perS(jobs, d.ms)} jobs/s${d.maxRunningPerTenant === null ? '' : `, max running per tenant ${d.maxRunningPerTenant} (cap ${cap})`}` +
                  ` [load ${loadavg()[0]?.toFixed(2)}]`,
              );
            }
          }
          drains.push(row);
        }
        const order: Engine[] = caseNo++ % 2 === 0 ? [ours, graphile] : [graphile, ours];
        for (const engine of order) {
          const l = await engine.latency(o.rate, o.seconds, tenants);
          const lat: LatencyRow = {
            tenants,
            rate: o.rate,
            seconds: o.seconds,
            side: engine.side,
            p50: quantile(l.latenciesMs, 0.5),
            p99: quantile(l.latenciesMs, 0.99),
            max: Math.max(...l.latenciesMs),
          };
          latencies.push(lat);
          log(
            `B6 latency, ${tenants} tenant(s), ${o.rate} jobs/s, ${engine.side}: p50 ${lat.p50} ms, p99 ${lat.p99} ms`,
          );
        }
      } finally {
        await ours.close();
      }
    }
  } finally {
    await graphile.close();
    await cluster.stop();
  }
  return { drains, latencies, loadBefore, loadAfter: loadavg(), bindir: cluster.bindir };
}

export function renderB6(r: B6Result, machine: string): string {
  const drainRows = r.drains.map((d) => {
    const ours = median(d.pgstewardMs);
    const theirs = median(d.graphileMs);
    const ratio = theirs / ours; // throughput ratio: pgsteward's jobs/s over graphile-worker's
    return [
      d.jobs.toLocaleString('en'),
      String(d.tenants),
      perS(d.jobs, ours),
      perS(d.jobs, theirs),
      `**${x(ratio)}**`,
      `${d.maxRunningPerTenant} (cap ${d.cap})`,
      ratio >= GOAL ? '**met**' : '**missed**',
    ];
  });
  const latRows = r.latencies.map((l) => [
    String(l.tenants),
    `${l.rate} jobs/s for ${l.seconds} s`,
    l.side === 'pgsteward' ? 'pgsteward' : 'graphile-worker',
    String(l.p50),
    String(l.p99),
    String(l.max),
  ]);
  const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' ');
  return [
    '### B6: the job engine vs graphile-worker 0.18',
    '',
    `Last run ${new Date().toISOString()}. ${machine} Load average before ${load(r.loadBefore)}, after ${load(r.loadAfter)}.`,
    '',
    `Both sides run in the bench's process on one cluster, concurrency ${CONCURRENCY}, a task that returns at once.`,
    'A backlog is queued in one statement (not timed), then the worker starts; the time runs from its start to',
    "the last completion committed. The sides alternate which goes first. pgsteward's cap: the whole concurrency",
    'for one tenant, the default 2 with 100 tenants; the max running per tenant is what a sampler saw in the',
    "database (status = 'running', every 25 ms). graphile-worker runs at its defaults (no local queue, no batched",
    'completions) and has no tenants: the 100-tenant case gives it the same jobs with the tenant in the payload and',
    'no named queue (its queues run one job at a time, a different promise from a cap of 2).',
    '',
    table(
      [
        'jobs',
        'tenants',
        'pgsteward (jobs/s)',
        'graphile-worker (jobs/s)',
        'ratio',
        'max running per tenant',
        `goal ≥ ${GOAL}`,
      ],
      drainRows,
    ),
    '',
    'Enqueue-to-start latency under a steady load: each job is enqueued in its own transaction (pgsteward:',
    "`enqueueJob` in the tenant's scope; graphile-worker: `addJob`), and the task records now minus the time the",
    'enqueue began.',
    '',
    table(['tenants', 'load', 'engine', 'p50 (ms)', 'p99 (ms)', 'max (ms)'], latRows),
  ].join('\n');
}

export function writeB6(path: string, section: string): void {
  const block = `${START}\n${section}\n${END}`;
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  writeFileSync(
    path,
    start !== -1 && end > start
      ? `${current.slice(0, start)}${block}${current.slice(end + END.length)}`
      : `${current.trimEnd()}\n\n## B6: the job engine vs graphile-worker\n\n${block}\n`,
  );
}

const list = (v: string | undefined, fallback: string) =>
  (v ?? fallback).split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 1) throw new Error(`B6 knobs take whole numbers; got '${s}'`);
    return n;
  });

/** Runs B6 and writes its section of docs/BENCHMARKS.md. */
export async function main(): Promise<void> {
  const env = process.env;
  const result = await benchEngine({
    jobs: list(env.BENCH_B6_JOBS, '10000,100000'),
    tenants: list(env.BENCH_B6_TENANTS, '1,100'),
    runs: list(env.BENCH_B6_RUNS, '1')[0] ?? 1,
    rate: list(env.BENCH_B6_RATE, '500')[0] ?? 500,
    seconds: list(env.BENCH_B6_SECONDS, '5')[0] ?? 5,
  });
  const m = await describeMachine(result.bindir);
  const machine = `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB RAM; node ${m.node}; ${m.postgres}; commit ${m.commit}.`;
  const section = renderB6(result, machine);
  process.stdout.write(`${section}\n`);
  const docPath = env.BENCH_DOC === 'none' ? null : (env.BENCH_DOC ?? join(PROJECT_ROOT, 'docs', 'BENCHMARKS.md'));
  if (docPath) writeB6(docPath, section);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
