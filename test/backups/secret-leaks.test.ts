// A target's password never shows: not in any child process's argument list or environment during a
// dump, not in the server's logs (at trace level), not in an API answer (REST or GraphQL, successes and
// failures alike), not in the metadata database.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import t from 'tap';
import { buildTestApp, TEST_JWT_SECRET } from '../helpers/app.js';
import { databaseUrl, startServerProcess, waitUntil } from '../helpers/server-process.js';
import { createSourceDatabase } from '../helpers/source-database.js';
import { clusterSecret } from '../helpers/targets.js';
import { startTcpForwarder } from '../helpers/tcp-forward.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

interface Seen {
  pid: number;
  comm: string;
  cmdline: string;
  environ: string;
}

function readProc(pid: number, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'latin1').replace(/\0/g, ' ');
  } catch {
    return ''; // the process ended between listing and reading
  }
}

/** Every live descendant of `pid` (all threads' children, recursively), with its arguments and environment. */
function descendants(pid: number): Seen[] {
  const found: Seen[] = [];
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return found;
  }
  for (const tid of tasks) {
    for (const child of readProc(pid, `task/${tid}/children`).trim().split(/\s+/).filter(Boolean).map(Number)) {
      found.push({
        pid: child,
        comm: readProc(child, 'comm').trim(),
        cmdline: readProc(child, 'cmdline'),
        environ: readProc(child, 'environ'),
      });
      found.push(...descendants(child));
    }
  }
  return found;
}

t.test('no password in process arguments, environments, logs, API answers or the metadata database', async (t) => {
  const toolTmp = mkdtempSync(join(tmpdir(), 'pgsteward-leak-tmp-'));
  t.teardown(() => rmSync(toolTmp, { recursive: true, force: true }));
  const test = await buildTestApp(t);
  await test.seedTenants('acme');
  const source = await createSourceDatabase(t, test.db.cluster);
  const wrongPassword = `wrong-${Math.random().toString(36).slice(2)}-guess`;
  const secrets = [source.password, wrongPassword];
  test.writeSecrets({
    'acme/main': clusterSecret(test.db.cluster, source),
    'acme/stale': clusterSecret(test.db.cluster, { ...source, password: wrongPassword }),
  });
  const port = await freePort();
  // The metadata store's own address is refused as a target; the server reaches it through another port.
  const metadataPort = await startTcpForwarder(test.db.cluster.port);
  t.teardown(() => metadataPort.close());
  const server = startServerProcess(t, {
    DATABASE_URL: databaseUrl(test.db, metadataPort.port),
    PGSTEWARD_JWT_SECRET: TEST_JWT_SECRET,
    PGSTEWARD_DATA_DIR: join(test.dir, 'server'),
    PGSTEWARD_SECRETS_FILE: join(test.dir, 'secrets.json'),
    PGSTEWARD_STORAGE_URL: pathToFileURL(join(test.dir, 'artifacts')).href,
    PGSTEWARD_TARGET_ALLOWLIST: '127.0.0.0/8',
    PGSTEWARD_WORKERS: '1',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'trace',
    TMPDIR: toolTmp,
  });
  const token = test.token('acme', [
    'targets:read',
    'targets:write',
    'backups:read',
    'backups:write',
    'jobs:read',
    'jobs:write',
    'audit:read',
  ]);
  const answers: string[] = [];
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    answers.push(`${method} ${path} -> ${res.status} ${text}`);
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  await waitUntil('the server to answer', () =>
    fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    ),
  );

  const main = await call('POST', '/v1/targets', { name: 'main', secretRef: 'file:acme/main', sslMode: 'require' });
  const stale = await call('POST', '/v1/targets', { name: 'stale', secretRef: 'file:acme/stale' });
  t.equal(main.status, 201, 'the target is registered');
  const checked = await call('POST', `/v1/targets/${main.body.id}/check`);
  t.equal(checked.body.ok, true, 'the good secret connects');
  const failedCheck = await call('POST', `/v1/targets/${stale.body.id}/check`);
  t.equal(failedCheck.body.ok, false, 'the wrong password is reported as a failed check');

  // pg_dump starts and then waits on this lock, so the tools can be inspected while the dump runs.
  const locker = new pg.Client(test.db.cluster.clientConfig(source.name));
  await locker.connect();
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
  const started = await call('POST', `/v1/targets/${main.body.id}/backups`, { includeGlobals: true });
  t.equal(started.status, 202, 'the backup is accepted');
  let seen: Seen[] = [];
  await waitUntil('pg_dump and its pg_restore verifier to be running', () => {
    seen = descendants(server.pid);
    return ['pg_dump', 'pg_restore'].every((tool) => seen.some((p) => p.comm === tool));
  });
  const tools = seen.filter((p) => p.comm.startsWith('pg_'));
  t.ok(tools.length >= 2, `inspected ${tools.map((p) => `${p.comm}[${p.pid}]`).join(', ')}`);
  for (const p of seen) {
    for (const secret of secrets) {
      t.notOk(p.cmdline.includes(secret), `no password in the arguments of ${p.comm}`);
      t.notOk(p.environ.includes(secret), `no password in the environment of ${p.comm}`);
    }
    if (p.comm === 'pg_dump') {
      t.match(p.environ, /PGPASSFILE=\S+/, 'pg_dump gets its credentials from a passfile');
      t.notMatch(p.environ, /PGPASSWORD=/, 'and never through PGPASSWORD');
    }
  }
  await locker.query('COMMIT');
  await locker.end();

  let job = started.body;
  await waitUntil('the backup to finish', async () => {
    job = (await call('GET', `/v1/jobs/${started.body.id}`)).body;
    return ['succeeded', 'failed', 'cancelled'].includes(job.status);
  });
  t.equal(job.status, 'succeeded', 'the backup succeeded');
  const staleBackup = await call('POST', `/v1/targets/${stale.body.id}/backups`, {});
  let staleJob = staleBackup.body;
  await waitUntil('the backup with the wrong password to fail', async () => {
    staleJob = (await call('GET', `/v1/jobs/${staleBackup.body.id}`)).body;
    return ['succeeded', 'failed', 'cancelled'].includes(staleJob.status);
  });
  t.equal(staleJob.status, 'failed', 'the backup with the wrong password fails');
  t.match(staleJob.error?.message ?? '', /password|authentication/i, 'and says why');

  for (const path of [
    '/v1/targets',
    `/v1/targets/${main.body.id}`,
    '/v1/backups',
    `/v1/backups/${job.backupId}`,
    `/v1/backups/${staleJob.backupId}`,
    '/v1/jobs',
    '/v1/audit',
  ]) {
    await call('GET', path);
  }
  const graphql = await call('POST', '/graphql', {
    query: `{ targets { items { id name secretRef host } }
              backups { items { id status error { code message } } }
              jobs { items { id status error { code message } progress result } } }`,
  });
  t.same(graphql.body.errors, undefined, 'the GraphQL query answered without errors');
  t.equal(graphql.body.data.jobs.items.length, 2, 'GraphQL shows both jobs, the failed one with its error');
  t.match(failedCheck.body.error?.message ?? '', /password|authentication/i, 'the failed check says why');
  t.ok(answers.length >= 15, `${answers.length} API answers collected`);
  for (const secret of secrets) {
    t.notOk(
      answers.some((a) => a.includes(secret)),
      'no password in any API answer',
    );
  }

  server.child.kill('SIGTERM');
  await server.exited;
  const logs = server.output();
  t.ok(logs.split('\n').length > 20, 'the server logged at trace level');
  for (const secret of secrets) t.notOk(logs.includes(secret), 'no password in the logs');

  const cluster = test.db.cluster;
  const { stdout: metadata } = await promisify(execFile)(
    join(test.db.cluster.bindir, 'pg_dump'),
    [
      '--data-only',
      '--host',
      cluster.host,
      '--port',
      String(cluster.port),
      '--username',
      cluster.superuser,
      test.db.name,
    ],
    { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, PGPASSWORD: cluster.password, PGSSLMODE: 'require' } },
  );
  t.match(metadata, new RegExp(main.body.id), 'the metadata dump holds the target');
  for (const secret of secrets) t.notOk(metadata.includes(secret), 'no password in the metadata database');
  t.same(
    readdirSync(toolTmp).filter((name) => name.startsWith('pgsteward-job-')),
    [],
    'every passfile directory is gone',
  );
});
