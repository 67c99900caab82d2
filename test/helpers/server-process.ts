import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Test } from 'tap';
import { PROJECT_ROOT } from '../../src/paths.js';
import type { TestDatabase } from './database.js';
import { TSX_ARGS, tsNodeEnv } from './ts-node-args.js';

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  exited: Promise<number | null>;
}

/**
 * `src/server.ts` (or `src/server.ts worker`) as a real process, with only the environment given (plus
 * PATH and the TypeScript loader's settings), run by tsx (TSX_ARGS). Killed at teardown if still running.
 */
export function startServerProcess(
  t: Test,
  env: Record<string, string>,
  args: string[] = [],
  opts: {
    /** Node options after the TypeScript loader's, e.g. `--import` of a test-only preload. */
    nodeArgs?: string[];
  } = {},
): ServerProcess {
  const child = spawn(
    process.execPath,
    [...TSX_ARGS, ...(opts.nodeArgs ?? []), join(PROJECT_ROOT, 'src', 'server.ts'), ...args],
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
