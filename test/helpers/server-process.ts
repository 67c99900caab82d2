import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Test } from 'tap';
import { PROJECT_ROOT } from '../../src/paths.js';
import type { TestDatabase } from './database.js';
import { TSX_ARGS, tsNodeArgs, tsNodeEnv } from './ts-node-args.js';

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  exited: Promise<number | null>;
}

/**
 * `src/server.ts` (or `src/server.ts worker`) as a real process, with only the environment given (plus
 * PATH and the TypeScript loader's settings). Killed at teardown if still running.
 */
export function startServerProcess(
  t: Test,
  env: Record<string, string>,
  args: string[] = [],
  opts: {
    /** Node options after the TypeScript loader's, e.g. `--import` of a test-only preload. */
    nodeArgs?: string[];
    /**
     * Load the sources with tsx, not tap's loader: ~4x faster to start (6-9 s against 26-33 s for
     * src/server.ts at load average 14). tap's process tracking still covers the child, and coverage from
     * sources compiled by another transformer can drop files from the report: with every server and CLI
     * child on tsx, the suite's coverage fell from 97.6% to 85.1% (CI, 2026-11-30). Only for a test that
     * starts several processes.
     */
    tsx?: boolean;
  } = {},
): ServerProcess {
  const child = spawn(
    process.execPath,
    [
      ...(opts.tsx ? TSX_ARGS : tsNodeArgs()),
      ...(opts.nodeArgs ?? []),
      join(PROJECT_ROOT, 'src', 'server.ts'),
      ...args,
    ],
    {
      env: { ...tsNodeEnv(), PATH: process.env.PATH ?? '', ...env },
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  if (child.pid === undefined) throw new Error('the server process did not start');
  return { child, pid: child.pid, output: () => out, exited };
}

/** A DATABASE_URL for a test database (owner credentials; the process sets its own role for RLS). */
export function databaseUrl(db: TestDatabase, port = db.cluster.port): string {
  const c = db.cluster;
  const user = `${encodeURIComponent(c.superuser)}:${encodeURIComponent(c.password)}`;
  return `postgresql://${user}@${c.host}:${port}/${db.name}?sslmode=require`;
}

/** Wait until `probe` answers true, or fail after `timeoutMs` naming `what`. */
export async function waitUntil(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 30_000) {
  const started = Date.now();
  while (!(await probe())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
