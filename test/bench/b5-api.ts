// B5 (issue 12 §1): GET /v1/jobs/{id} under load, pgsteward (JWT, tenant check, row-level security,
// audit and metrics hooks) against a bare fastify + pg route running the same query in its own process
// (b5-bare-server.ts), and that bare route with JWT verification added. One cluster of its own, the same
// connection string and pool size for all three; autocannon from this process, 100 connections, rounds of
// each variant alternating (each variant first equally often). `npm run bench` runs it unless BENCH_B5=0;
// BENCH_ONLY=b5 runs it alone. Knobs: BENCH_B5_ROUNDS (default 3), BENCH_B5_SECONDS (per round, default
// 10), BENCH_B5_CONNECTIONS (default 100), BENCH_SERVER and BENCH_DOC as for the other benchmarks;
// BENCH_B5_CPU_PROF=<dir> has pgsteward write a V8 CPU profile there (node --cpu-prof) when it stops;
// BENCH_B5_BASELINE=<dir>, a built checkout of another commit (e.g. main before a change), adds it as a
// fourth variant, "baseline", on the same database: before and after, interleaved in one run.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import autocannon, { type Result } from 'autocannon';
import pg from 'pg';
import { mintToken } from '../../src/auth/mint.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { startTestCluster } from '../helpers/pg-cluster.js';
import { describeMachine } from './machine.js';
import { buildServer, PgstewardApi, type ServerMode, startPgsteward } from './pgsteward-process.js';
import { cpuSeconds } from './process-sampler.js';
import { median, table, verdict, x } from './report-format.js';

const log = (line: string) => process.stderr.write(`${line}\n`);
const START = '<!-- bench:b5:start (written by the B5 bench; edits inside are lost) -->';
const END = '<!-- bench:b5:end -->';
const TENANT = 'bench';
const POOL_SIZE = 10; // pgsteward's default PGSTEWARD_DB_POOL_SIZE; the bare servers get the same
export const B5_GOAL = { reqs: 0.7, p99: 1.5 };

export type B5Variant = 'pgsteward' | 'bare' | 'bare+jwt' | 'baseline';
const BASELINE = process.env.BENCH_B5_BASELINE;
const VARIANTS: B5Variant[] = ['pgsteward', 'bare', 'bare+jwt', ...(BASELINE ? (['baseline'] as const) : [])];

export interface B5Round {
  round: number;
  variant: B5Variant;
  reqPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** The server process's CPU time per answered request (ms): steadier than req/s when others load the machine. */
  cpuMsPerRequest: number;
  /** The 1-minute load average when the round ended. */
  load: number;
}

export interface B5Result {
  connections: number;
  seconds: number;
  rounds: B5Round[];
  loadBefore: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

/** The bare route as its own process (through tsx, which only transpiles at load), ready when it says so. */
async function startBare(env: Record<string, string>): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(PROJECT_ROOT, 'test', 'bench', 'b5-bare-server.ts')],
    { cwd: PROJECT_ROOT, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env, PORT: String(port) } },
  );
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('ready')) resolve();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.once('exit', () => reject(new Error(`the bare server exited during start-up:\n${output}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? 0,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function load(url: string, token: string, connections: number, seconds: number): Promise<Result> {
  return autocannon({ url, connections, duration: seconds, headers: { authorization: `Bearer ${token}` } });
}

export async function benchApi(opts: {
  rounds: number;
  seconds: number;
  connections: number;
  serverMode: ServerMode;
  build: boolean;
}): Promise<B5Result & { bindir: string }> {
  if (opts.serverMode === 'built' && opts.build) {
    log('B5: building (npm run build)...');
    await buildServer();
  }
  const cluster = await startTestCluster();
  const dir = mkdtempSync(join(tmpdir(), 'pgsteward-b5-'));
  const stops: Array<() => Promise<void>> = [];
  try {
    const admin = new pg.Client(cluster.clientConfig());
    await admin.connect();
    await admin.query('CREATE DATABASE b5_meta');
    await admin.end();
    const databaseUrl = `postgresql://${cluster.superuser}:${encodeURIComponent(cluster.password)}@127.0.0.1:${cluster.port}/b5_meta?sslmode=require`;
    const secret = randomBytes(32).toString('base64url');
    const serverEnv = {
      DATABASE_URL: databaseUrl,
      PGSTEWARD_JWT_SECRET: secret,
      PGSTEWARD_DATA_DIR: join(dir, 'data'),
      PGSTEWARD_STORAGE_URL: pathToFileURL(join(dir, 'artifacts')).href,
      PGSTEWARD_DB_POOL_SIZE: String(POOL_SIZE),
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
    };
    const server = await startPgsteward(
      opts.serverMode,
      { ...serverEnv, PORT: String(await freePort()) },
      process.env.BENCH_B5_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_B5_CPU_PROF}`] : [],
    );
    stops.push(() => server.stop());
    const api = new PgstewardApi(server.baseUrl);
    const adminToken = mintToken({ secret, sub: 'b5-operator', scopes: ['tenants:admin'], ttlSeconds: 7200 });
    const token = mintToken({ secret, sub: 'b5', tenant: TENANT, scopes: ['jobs:read'], ttlSeconds: 7200 });
    await api.expect(201, 'POST', '/v1/tenants', adminToken, { id: TENANT, name: 'Benchmark' });
    // A finished job to read: written by the owner, as the engine would have left it (the engine never
    // touches a finished job, so the bench reads a row nothing else is writing).
    const owner = new pg.Client(cluster.clientConfig('b5_meta'));
    await owner.connect();
    const { rows } = await owner.query<{ id: string }>(
      `INSERT INTO jobs (tenant_id, kind, status, progress, result, attempts, started_at, finished_at)
       VALUES ($1, 'backup', 'succeeded', '{"bytes": 1048576}', '{"artifactBytes": 1048576}', 1, now(), now())
       RETURNING id`,
      [TENANT],
    );
    await owner.end();
    const jobId = rows[0]?.id as string;
    const path = `/v1/jobs/${jobId}`;
    const bare = await startBare({ DATABASE_URL: databaseUrl, B5_POOL_SIZE: String(POOL_SIZE) });
    stops.push(() => bare.stop());
    const bareJwt = await startBare({
      DATABASE_URL: databaseUrl,
      B5_POOL_SIZE: String(POOL_SIZE),
      B5_BARE_JWT_SECRET: secret,
    });
    stops.push(() => bareJwt.stop());
    const baseline = BASELINE
      ? await startPgsteward(
          'built',
          { ...serverEnv, PGSTEWARD_DATA_DIR: join(dir, 'data-baseline'), PORT: String(await freePort()) },
          [],
          BASELINE,
        )
      : undefined;
    if (baseline) stops.push(() => baseline.stop());
    const pids: Record<B5Variant, number> = {
      pgsteward: server.pid,
      bare: bare.pid,
      'bare+jwt': bareJwt.pid,
      baseline: baseline?.pid ?? 0,
    };
    const urls: Record<B5Variant, string> = {
      pgsteward: `${server.baseUrl}${path}`,
      bare: `${bare.url}${path}`,
      'bare+jwt': `${bareJwt.url}${path}`,
      baseline: `${baseline?.baseUrl}${path}`,
    };
    // All three must answer the same job before any is timed.
    const bodies = await Promise.all(
      VARIANTS.map(async (v) => {
        const res = await fetch(urls[v], { headers: { authorization: `Bearer ${token}` } });
        if (res.status !== 200) throw new Error(`${v} answered ${res.status}: ${await res.text()}`);
        return (await res.json()) as { id: string };
      }),
    );
    if (bodies.some((b) => b.id !== jobId))
      throw new Error(`a variant answered another job: ${JSON.stringify(bodies)}`);
    for (const v of VARIANTS) await load(urls[v], token, opts.connections, 2); // warm-up: JIT, pools, caches

    const loadBefore = loadavg()[0] ?? 0;
    const rounds: B5Round[] = [];
    for (let round = 0; round < opts.rounds; round++) {
      const order = [...VARIANTS.slice(round % VARIANTS.length), ...VARIANTS.slice(0, round % VARIANTS.length)];
      for (const variant of order) {
        const cpuBefore = cpuSeconds(pids[variant]).own;
        const r = await load(urls[variant], token, opts.connections, opts.seconds);
        const cpuMs = (cpuSeconds(pids[variant]).own - cpuBefore) * 1000;
        const m: B5Round = {
          round,
          variant,
          reqPerSec: r.requests.average,
          p50: r.latency.p50,
          p99: r.latency.p99,
          non2xx: r.non2xx,
          errors: r.errors + r.timeouts,
          cpuMsPerRequest: cpuMs / Math.max(1, r.requests.total),
          load: loadavg()[0] ?? 0,
        };
        rounds.push(m);
        log(
          `B5 round ${round + 1}/${opts.rounds} ${variant.padEnd(9)} ${m.reqPerSec.toFixed(0)} req/s, ` +
            `p50 ${m.p50} ms, p99 ${m.p99} ms, CPU ${m.cpuMsPerRequest.toFixed(2)} ms/req, non-2xx ${m.non2xx}, errors ${m.errors}, load ${m.load.toFixed(2)}`,
        );
        if (m.non2xx > 0 || m.errors > 0)
          throw new Error(`${variant} answered ${m.non2xx} non-2xx, ${m.errors} errors`);
      }
    }
    return { connections: opts.connections, seconds: opts.seconds, rounds, loadBefore, bindir: cluster.bindir };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    await cluster.stop();
  }
}

const f0 = (n: number) => n.toFixed(0);

export function renderB5(r: B5Result, machine: string): string {
  const of = (v: B5Variant) => r.rounds.filter((m) => m.variant === v);
  const reqs = (v: B5Variant) => median(of(v).map((m) => m.reqPerSec));
  const p99 = (v: B5Variant) => median(of(v).map((m) => m.p99));
  const reqRatio = reqs('pgsteward') / reqs('bare');
  // Other load on a shared machine moves every variant of a round alike: the per-round ratio is steadier.
  const paired = (v: B5Variant, pick: (m: B5Round) => number) =>
    median(
      of('pgsteward').flatMap((m) => {
        const other = of(v).find((o) => o.round === m.round);
        return other ? [pick(m) / pick(other)] : [];
      }),
    );
  const p99Ratio = p99('pgsteward') / p99('bare');
  const loads = r.rounds.map((m) => m.load);
  return [
    `### B5: \`GET /v1/jobs/{id}\`, ${r.connections} connections, JWT + tenant, against a bare fastify + pg route`,
    '',
    `Last run ${new Date().toISOString()}. ${machine}`,
    '',
    `autocannon, ${r.connections} connections, ${r.rounds.length / VARIANTS.length} rounds of ${r.seconds} s per variant,`,
    'alternating (each variant first equally often), after a 2 s warm-up of each. The bare routes are',
    '`test/bench/b5-bare-server.ts` in their own processes: the same query text, pool size and TLS connection',
    'string, as the cluster owner (no tenant to set). Medians over the rounds. Load average (1 min):',
    `${r.loadBefore.toFixed(2)} before, ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)} during.`,
    ...(BASELINE
      ? [
          '`baseline` is pgsteward built from another checkout (BENCH_B5_BASELINE), on the same database: its row is after / before.',
        ]
      : []),
    '',
    table(
      [
        'variant',
        'req/s (median)',
        'p99 ms (median)',
        'req/s ratio pgsteward / this',
        'p99 ratio pgsteward / this',
        'median of per-round req/s ratios',
        'median of per-round p99 ratios',
        'server CPU ms / request (median)',
      ],
      VARIANTS.map((v) => [
        v,
        f0(reqs(v)),
        f0(p99(v)),
        v === 'pgsteward' ? '' : `**${x(reqs('pgsteward') / reqs(v))}**`,
        v === 'pgsteward' ? '' : `**${x(p99('pgsteward') / p99(v))}**`,
        v === 'pgsteward' ? '' : x(paired(v, (m) => m.reqPerSec)),
        v === 'pgsteward' ? '' : x(paired(v, (m) => m.p99)),
        median(of(v).map((m) => m.cpuMsPerRequest)).toFixed(2),
      ]),
    ),
    '',
    `Goal: req/s ≥ ${B5_GOAL.reqs}× bare: ${verdict(reqRatio >= B5_GOAL.reqs)} (${x(reqRatio)}); ` +
      `p99 ≤ ${B5_GOAL.p99}× bare's: ${verdict(p99Ratio <= B5_GOAL.p99)} (${x(p99Ratio)}).`,
    '',
    table(
      ['round', 'variant', 'req/s', 'p50 ms', 'p99 ms', 'server CPU ms / request', 'errors and timeouts', 'load 1 min'],
      r.rounds.map((m) => [
        String(m.round + 1),
        m.variant,
        f0(m.reqPerSec),
        String(m.p50),
        String(m.p99),
        m.cpuMsPerRequest.toFixed(2),
        String(m.errors),
        m.load.toFixed(2),
      ]),
    ),
  ].join('\n');
}

export function writeB5(path: string, section: string): void {
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

/** Runs B5 and writes its section of docs/BENCHMARKS.md; `build: false` when run.ts has just built. */
export async function main(opts: { build?: boolean } = {}): Promise<void> {
  const env = process.env;
  const serverMode = (env.BENCH_SERVER ?? 'built') as ServerMode;
  const result = await benchApi({
    rounds: Number(env.BENCH_B5_ROUNDS ?? 3),
    seconds: Number(env.BENCH_B5_SECONDS ?? 10),
    connections: Number(env.BENCH_B5_CONNECTIONS ?? 100),
    serverMode,
    build: opts.build ?? true,
  });
  const m = await describeMachine(result.bindir);
  const machine = `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}; node ${m.node}; ${m.postgres}; commit ${m.commit}.`;
  const section = renderB5(result, machine);
  process.stdout.write(`${section}\n`);
  const docPath = env.BENCH_DOC === 'none' ? null : (env.BENCH_DOC ?? join(PROJECT_ROOT, 'docs', 'BENCHMARKS.md'));
  if (docPath) writeB5(docPath, section);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
