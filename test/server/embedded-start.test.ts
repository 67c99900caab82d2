import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { PROJECT_ROOT } from '../../src/paths.js';
import { tsNodeArgs, tsNodeEnv } from '../helpers/ts-node-args.js';

// The quick start for real: the service started the way `npm start` starts it, with no DATABASE_URL.

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

const root = mkdtempSync(join(tmpdir(), 'pgsteward-embedded-'));
chmodSync(root, 0o711); // the postgres OS user must be able to pass through when we run as root
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const dataDir = join(root, 'data');
const port = await freePort();
const baseEnv = {
  ...tsNodeEnv(),
  PATH: process.env.PATH ?? '',
  HOME: root,
  PGSTEWARD_DATA_DIR: dataDir,
  PORT: String(port),
  LOG_LEVEL: 'warn',
};

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startServer(env: Record<string, string> = baseEnv): Running {
  const child = spawn(process.execPath, [...tsNodeArgs(), join(PROJECT_ROOT, 'src', 'server.ts')], { env, cwd: root });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  return { child, output: () => out, exited };
}

const url = (path: string) => `http://127.0.0.1:${port}${path}`;

async function waitReady(server: Running, withinMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < withinMs) {
    const res = await fetch(url('/readyz')).catch(() => undefined);
    if (res?.status === 200) return Date.now() - started;
    if (server.child.exitCode !== null) throw new Error(`server exited: ${server.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not ready within ${withinMs} ms: ${server.output()}`);
}

let token = '';

t.test('first start: ready within 20 s, prints an operator token, and the token creates a tenant', async (t) => {
  const server = startServer();
  const ms = await waitReady(server, 20_000);
  t.comment(`first start ready in ${ms} ms`);
  const printed = /PGSTEWARD_TOKEN=(\S+)/.exec(server.output());
  t.ok(printed, 'an operator token is printed');
  token = printed?.[1] ?? '';
  t.match(server.output(), /npm run token -- --tenant/, 'and how to mint more');
  t.equal(statSync(join(dataDir, 'jwt-secret')).mode & 0o777, 0o600, 'the generated secret is 0600');

  const res = await fetch(url('/v1/tenants'), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'acme', name: 'Acme' }),
  });
  t.equal(res.status, 201);

  const second = startServer();
  t.not(await second.exited, 0, 'a second pgsteward on the same data directory is refused');
  t.match(second.output(), /another pgsteward \(pid \d+\) is using data directory/);

  server.child.kill('SIGTERM');
  t.equal(await server.exited, 0, 'SIGTERM shuts down cleanly');
  const { stdout } = await promisify(execFile)('ps', ['-eo', 'args']);
  t.notMatch(stdout, new RegExp(`postgres.*${join(dataDir, 'meta')}`), 'the embedded PostgreSQL was stopped');
});

t.test('a restart keeps the tenant and the signing secret', async (t) => {
  const server = startServer();
  const ms = await waitReady(server, 20_000);
  t.comment(`restart ready in ${ms} ms`);
  const res = await fetch(url('/v1/tenants/acme'), { headers: { authorization: `Bearer ${token}` } });
  t.equal(res.status, 200, 'the token minted before the restart still works');
  t.equal(((await res.json()) as { name: string }).name, 'Acme');

  const minted = await promisify(execFile)(
    process.execPath,
    [
      ...tsNodeArgs(),
      join(PROJECT_ROOT, 'src', 'cli', 'token.ts'),
      '--tenant',
      'acme',
      '--scope',
      'targets:read tenants:read',
    ],
    { env: baseEnv, cwd: root },
  );
  const own = await fetch(url('/v1/tenants/acme'), { headers: { authorization: `Bearer ${minted.stdout.trim()}` } });
  t.equal(own.status, 200, 'a token from `npm run token` is accepted');
  server.child.kill('SIGTERM');
  t.equal(await server.exited, 0);
});

t.test('bad configuration stops start-up with a message naming the variable', async (t) => {
  const server = startServer({ ...baseEnv, PORT: 'eighty' });
  t.equal(await server.exited, 2);
  t.match(server.output(), /PORT: must be a whole number/);
});
