import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { runServerProgram } from '../../src/pgtools/server-user.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { waitForJob } from '../helpers/jobs.js';
import { startTestCluster } from '../helpers/pg-cluster.js';

const test = await buildTestApp(t, {}, { worker: true });
const { app, db } = test;
await test.seedTenants('acme');
const acme = test.token('acme', ['targets:read', 'targets:write', 'backups:read', 'backups:write', 'jobs:read']);
const cluster = db.cluster;

type Secret = { host: string; port: number; username: string; password: string; dbname: string };
const good: Secret = {
  host: '127.0.0.1',
  port: cluster.port,
  username: cluster.superuser,
  password: cluster.password,
  dbname: db.name,
};

let n = 0;
/** Registers a target with this secret and sslMode, and answers its id. */
async function target(secret: Secret, sslMode: string): Promise<string> {
  const name = `t${n++}`;
  test.writeSecrets({ [`acme/${name}`]: secret });
  const res = await app.inject({
    method: 'POST',
    url: '/v1/targets',
    headers: bearer(acme),
    payload: { name, secretRef: `file:acme/${name}`, sslMode },
  });
  if (res.statusCode !== 201) throw new Error(`target not registered: ${res.body}`);
  return res.json().id as string;
}

async function check(secret: Secret, sslMode = 'require') {
  const id = await target(secret, sslMode);
  const res = await app.inject({ method: 'POST', url: `/v1/targets/${id}/check`, headers: bearer(acme) });
  return res.json() as { ok: boolean; error?: { code: string; message: string; category?: string } };
}

/** A port on loopback that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** A listener that accepts and then never says a word: a blackholed server, as far as a client can tell. */
async function silentServer(t: { teardown(f: () => void): void }): Promise<number> {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

t.test('a working target checks ok, with no error', async (t) => {
  t.match(await check(good), { ok: true });
});

t.test('a wrong password is category auth', async (t) => {
  const answer = await check({ ...good, password: 'not-the-password-x9' });
  t.match(answer, { ok: false, error: { code: 'PGS_AUTH_FAILED', category: 'auth' } });
  t.match(answer.error?.message, /^The target refused the login: .*password authentication failed/);
  t.notMatch(JSON.stringify(answer), /not-the-password-x9/);
});

t.test('TLS required by the server and not offered by the target settings is category tls', async (t) => {
  // The harness cluster rejects plaintext in pg_hba.conf.
  const answer = await check(good, 'disable');
  t.match(answer, { ok: false, error: { code: 'PGS_AUTH_FAILED', category: 'tls' } });
  t.match(answer.error?.message, /no encryption/);
});

t.test('TLS required by the target settings and not offered by the server is category tls', async (t) => {
  const plain = await startTestCluster({ settings: { ssl: 'off' } });
  t.teardown(() => plain.stop());
  await writeFile(join(plain.dataDir, 'pg_hba.conf'), 'host all all 127.0.0.1/32 scram-sha-256\n');
  await runServerProgram(join(plain.bindir, 'pg_ctl'), ['reload', '-D', plain.dataDir, '-s']);
  const secret = { ...good, port: plain.port, username: plain.superuser, password: plain.password, dbname: 'postgres' };
  const answer = await check(secret, 'require');
  t.match(answer, { ok: false, error: { code: 'PGS_CONNECTION_FAILED', category: 'tls' } });
  t.match(answer.error?.message, /^TLS with the target failed: .*SSL/);
  t.match(await check(secret, 'disable'), { ok: true }, 'the same server without TLS is reachable');
});

t.test('a closed port is category refused, and a backup records the same', async (t) => {
  const secret = { ...good, port: await closedPort() };
  const answer = await check(secret);
  t.match(answer, { ok: false, error: { code: 'PGS_CONNECTION_FAILED', category: 'refused' } });
  t.match(answer.error?.message, /^The target refused the connection/);
  const id = await target(secret, 'require');
  const started = await app.inject({
    method: 'POST',
    url: `/v1/targets/${id}/backups`,
    headers: bearer(acme),
    payload: { includeGlobals: false },
  });
  t.equal(started.statusCode, 202, started.body);
  const job = await waitForJob(app, acme, started.json().id);
  t.equal(job.status, 'failed');
  const backup = await app.inject({
    method: 'GET',
    url: `/v1/backups/${started.json().backupId}`,
    headers: bearer(acme),
  });
  t.match(backup.json().error, { code: 'PGS_CONNECTION_FAILED', category: 'refused' });
});

t.test('a server that never answers is category timeout', async (t) => {
  const started = Date.now();
  const answer = await check({ ...good, port: await silentServer(t) });
  t.match(answer, { ok: false, error: { code: 'PGS_CONNECTION_FAILED', category: 'timeout' } });
  t.match(answer.error?.message, /^The target did not answer within 10 s/);
  t.ok(Date.now() - started < 15_000);
});
