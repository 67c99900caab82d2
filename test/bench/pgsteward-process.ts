import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../src/paths.js';

const execFileAsync = promisify(execFile);

/** `built` runs dist/src/server.js as `npm start` does; `tsx` runs src/server.ts through tsx. */
export type ServerMode = 'built' | 'tsx';

/** What `npm start` runs first: compile into dist/ unless dist/ was built from these very sources. */
export async function buildServer(): Promise<void> {
  try {
    await execFileAsync(process.execPath, [join(PROJECT_ROOT, 'scripts', 'build-if-stale.mjs')], { cwd: PROJECT_ROOT });
  } catch (err) {
    const out = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
    throw new Error(`the build failed (set BENCH_SERVER=tsx to run from source):\n${out.slice(0, 4000)}`);
  }
}

export interface PgstewardProcess {
  pid: number;
  baseUrl: string;
  output(): string;
  stop(): Promise<void>;
}

/** Starts the real server as its own process and waits until /readyz answers 200. */
export async function startPgsteward(
  mode: ServerMode,
  env: Record<string, string>,
  nodeArgs: string[] = [],
  root: string = PROJECT_ROOT,
): Promise<PgstewardProcess> {
  const args = [
    ...nodeArgs,
    ...(mode === 'built'
      ? [join(root, 'dist', 'src', 'server.js')]
      : ['--import', 'tsx', join(root, 'src', 'server.ts')]),
  ];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const baseUrl = `http://127.0.0.1:${env.PORT}`;
  const process_: PgstewardProcess = {
    pid: child.pid ?? 0,
    baseUrl,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(`${baseUrl}/readyz`).catch(() => undefined);
    if (res?.status === 200) return process_;
    if (child.exitCode !== null) throw new Error(`pgsteward exited during start-up:\n${output}`);
    if (Date.now() > deadline) {
      await process_.stop();
      throw new Error(`pgsteward was not ready within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface JobView {
  id: string;
  status: string;
  backupId: string | null;
  restoreId: string | null;
  progress: Record<string, unknown>;
  error: { code: string; message: string } | null;
  result: Record<string, unknown> | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** The few REST calls the bench makes, with fetch, as any HTTP client of the API would. */
export class PgstewardApi {
  constructor(private readonly baseUrl: string) {}

  async call<T>(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text === '' ? null : JSON.parse(text)) as T };
  }

  /** Like call(), but anything but `expected` is an error naming the response. */
  async expect<T>(expected: number, method: string, path: string, token: string, body?: unknown): Promise<T> {
    const res = await this.call<T>(method, path, token, body);
    if (res.status !== expected) {
      throw new Error(`${method} ${path} answered ${res.status}, not ${expected}: ${JSON.stringify(res.body)}`);
    }
    return res.body;
  }
}
