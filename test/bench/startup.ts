// Start-up (issue 12, section 5): `npm start` to ready on a built checkout whose embedded metadata
// database is already initialised, and `npm run token`. Each run is a real `npm start` in its own process
// group, timed from spawn to the "is listening" line, then stopped with SIGTERM. The first start (initdb,
// migrations) is reported apart. BENCH_STARTUP=0 skips it; BENCH_ONLY=startup runs it alone.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/paths.js';
import { median } from './report-format.js';

export interface StartupResult {
  firstStartS: number;
  readyS: number[];
  tokenS: number[];
  finishedAt: string;
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function spawnGroup(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(npm, args, { cwd: PROJECT_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Seconds from spawn to the line `npm start` prints once it listens; then SIGTERM to the whole group. */
async function timeStart(env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  const child = spawnGroup(['start', '--silent'], env);
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start was not ready in 120 s:\n${output}`)), 120_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('is listening on')) {
        clearTimeout(timer);
        resolve((performance.now() - started) / 1000);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`npm start exited (${child.exitCode}) before it was ready:\n${output}`));
    });
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid ?? 0), signal);
    } catch {
      // The group is gone already.
    }
  };
  signalGroup('SIGTERM');
  const killer = setTimeout(() => signalGroup('SIGKILL'), 30_000);
  await exited;
  clearTimeout(killer);
  return ready;
}

async function timeToken(env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  const child = spawnGroup(['run', '--silent', 'token', '--', '--tenant', 'acme', '--scope', 'jobs:read'], env);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0 || !/^ey/.test(output.trim())) throw new Error(`npm run token failed (${code}): ${output}`);
  return (performance.now() - started) / 1000;
}

export async function measureStartup(runs: number, port: number, log: (line: string) => void): Promise<StartupResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pgsteward-startup-'));
  const { DATABASE_URL: _external, ...inherited } = process.env;
  const env = { ...inherited, PGSTEWARD_DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1' };
  try {
    const firstStartS = await timeStart(env);
    log(`startup: first start (initdb, migrations) ready after ${firstStartS.toFixed(2)} s`);
    const readyS: number[] = [];
    const tokenS: number[] = [];
    for (let run = 1; run <= runs; run++) {
      readyS.push(await timeStart(env));
      tokenS.push(await timeToken(env));
      log(`startup: run ${run}: ready ${readyS.at(-1)?.toFixed(2)} s, token ${tokenS.at(-1)?.toFixed(2)} s`);
    }
    return { firstStartS, readyS, tokenS, finishedAt: new Date().toISOString() };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function renderStartup(r: StartupResult): string {
  const readyMedian = median(r.readyS);
  return [
    `Last run finished ${r.finishedAt} (\`npm run bench\`). A built checkout (dist/ up to date with src/),`,
    'the embedded metadata database already initialised; each run is a real `npm start`, timed from spawn to',
    'the line it prints once listening, then stopped with SIGTERM.',
    '',
    '| what | median (s) | every run (s) | goal |',
    '| --- | --- | --- | --- |',
    `| \`npm start\` to ready | **${readyMedian.toFixed(2)}** | ${r.readyS.map((v) => v.toFixed(2)).join(', ')} | < 3 s: **${readyMedian < 3 ? 'met' : 'missed'}** |`,
    `| \`npm run token\` | ${median(r.tokenS).toFixed(2)} | ${r.tokenS.map((v) => v.toFixed(2)).join(', ')} | |`,
    `| first \`npm start\` (initdb, migrations) | ${r.firstStartS.toFixed(2)} | | |`,
  ].join('\n');
}

export function writeStartupDoc(docPath: string, r: StartupResult): void {
  const start = '<!-- bench:startup:start (written by npm run bench; edits inside are lost) -->';
  const end = '<!-- bench:startup:end -->';
  const doc = readFileSync(docPath, 'utf8');
  const section = `${start}\n${renderStartup(r)}\n${end}`;
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  const next =
    from >= 0 && to > from
      ? doc.slice(0, from) + section + doc.slice(to + end.length)
      : `${doc.trimEnd()}\n\n## Start-up: \`npm start\` to ready\n\n${section}\n`;
  writeFileSync(docPath, next);
}
