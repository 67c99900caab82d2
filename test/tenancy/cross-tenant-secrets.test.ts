// Issue 8, section 1: tenant B cannot use tenant A's secret in any way (file or AWS; create, update,
// check, backup, restore, drill), no byte of A's password reaches a server B names, a target cannot move
// a secret's credentials to another address, and pgsteward's own servers are refused as targets.
import { randomUUID } from 'node:crypto';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { AwsSecretDescriber } from '../../src/secrets/aws-secret-tags.js';
import { AwsSecretsManagerProvider } from '../../src/secrets/aws-secrets-manager.js';
import { FileSecretProvider } from '../../src/secrets/file.js';
import { SecretStore } from '../../src/secrets/store.js';
import { TenantSecretBinding } from '../../src/secrets/tenant-binding.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { startFakeSecretsManager } from '../helpers/fake-secrets-manager.js';
import { waitForJob } from '../helpers/jobs.js';
import { createSourceDatabase } from '../helpers/source-database.js';
import { startTcpForwarder } from '../helpers/tcp-forward.js';

/** A B-chosen server: records every connection and byte, and asks for the password in cleartext. */
async function listener() {
  const received: Buffer[] = [];
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('data', (chunk) => {
      received.push(chunk);
      if (chunk.length === 8 && chunk.readInt32BE(4) === 80877103) socket.write('N');
      else socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3])); // AuthenticationCleartextPassword
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return connections;
    },
    bytes: () => Buffer.concat(received),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const sm = await startFakeSecretsManager();
t.teardown(() => sm.close());
const evil = await listener();
t.teardown(() => evil.close());

// Drills here restore onto each backup's own target (no PGSTEWARD_DRILL_TARGET for the worker), so the
// drill path uses the target's secret; the operator's drill secret and pgsteward's own addresses are
// given to the binding and the address check directly (their wiring from config: reserved-endpoints.test.ts).
const test = await buildTestApp(t, {}, { worker: true });
const { app, db, writeSecrets, token, seedTenants, services } = test;
const DRILL_REF = 'file:acme/drill'; // an operator's secret that happens to sit in acme's namespace
// Stand-ins for pgsteward's own servers, each at an address of its own.
const drillPort = await startTcpForwarder(db.cluster.port);
t.teardown(() => drillPort.close());
const metadataPort = await startTcpForwarder(db.cluster.port);
t.teardown(() => metadataPort.close());
const fakeAws = {
  endpoint: sm.endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
};
// The real providers and binding, with AWS at the fake endpoint (the app and worker share this object).
Object.assign(services, {
  secrets: new SecretStore({
    providers: {
      file: new FileSecretProvider({ path: join(test.dir, 'secrets.json') }),
      'aws-sm': new AwsSecretsManagerProvider(fakeAws),
    },
  }),
  secretBinding: new TenantSecretBinding({
    fileTenants: {},
    awsTagKey: 'pgsteward:tenant',
    awsNamePattern: 'pgsteward/{tenant}/*',
    operatorRefs: [DRILL_REF],
    describer: new AwsSecretDescriber(fakeAws),
  }),
  reservedEndpoints: async () => [
    { host: '127.0.0.1', port: metadataPort.port, what: 'metadata store' },
    { host: '127.0.0.1', port: drillPort.port, what: 'drill server' },
  ],
});

await seedTenants('acme', 'globex');
const source = await createSourceDatabase(t, db.cluster);
const aSecret = {
  username: source.role,
  password: source.password,
  host: 'localhost',
  port: db.cluster.port,
  dbname: source.name,
  sslrootcert: db.cluster.caCert,
};
writeSecrets({
  'acme/main': aSecret,
  [DRILL_REF.slice('file:'.length)]: { ...aSecret, host: '127.0.0.1', port: drillPort.port },
  'acme/bare': { username: source.role, password: source.password },
  'globex/main': { username: 'globex', password: `globex-${randomUUID()}`, host: 'localhost', port: 1 },
});
sm.setSecret('pgsteward/acme/main', aSecret);
sm.setSecret('teams/orders', aSecret);
const writer = new AwsSecretsManagerProvider(fakeAws);
t.teardown(() => writer.close());
await writer.tagSecret('teams/orders', { 'pgsteward:tenant': 'acme' });

const scopes = [
  'targets:read',
  'targets:write',
  'backups:read',
  'backups:write',
  'restores:write',
  'jobs:read',
] as const;
const acme = token('acme', [...scopes]);
const globex = token('globex', [...scopes]);

const A_REFS = [
  'file:acme/main',
  'aws-sm:pgsteward/acme/main',
  `aws-sm:${sm.arnOf('pgsteward/acme/main')}`,
  'aws-sm:teams/orders',
  `aws-sm:${sm.arnOf('teams/orders')}`,
];

const post = (who: string, url: string, payload?: object) =>
  app.inject({ method: 'POST', url, headers: bearer(who), ...(payload ? { payload } : {}) });
const notFound = (ref: string) => ({
  code: 'PGS_SECRET_NOT_FOUND',
  status: 422,
  detail: `Secret '${ref}' does not exist.`,
});

/** A target row as one created before the fix (or before a tag changed) would look. */
async function plantTarget(tenant: string, name: string, secretRef: string, host = '127.0.0.1', port = evil.port) {
  const [row] = await db.ownerQuery<{ id: string }>(
    `INSERT INTO targets (tenant_id, name, host, port, database, ssl_mode, secret_ref)
     VALUES ($1, $2, $3, $4, 'postgres', 'disable', $5) RETURNING id`,
    [tenant, name, host, port, secretRef],
  );
  return row?.id as string;
}

async function availableBackup(tenant: string, targetId: string): Promise<string> {
  const [row] = await db.ownerQuery<{ id: string }>(
    `INSERT INTO backups (tenant_id, target_id, status, format, options, artifact_key, size_bytes, sha256, completed_at)
     VALUES ($1, $2, 'available', 'custom', '{}', 'k', 1, repeat('a', 64), now()) RETURNING id`,
    [tenant, targetId],
  );
  return row?.id as string;
}

t.test("A's own secrets work for A, by file, by AWS name pattern and by AWS tag", async (t) => {
  for (const [i, ref] of A_REFS.entries()) {
    const created = await post(acme, '/v1/targets', { name: `own-${i}`, secretRef: ref, sslMode: 'verify-full' });
    t.equal(created.statusCode, 201, `${ref}: ${created.body}`);
    const checked = await post(acme, `/v1/targets/${created.json().id}/check`);
    t.equal(checked.json().ok, true, `${ref} connects: ${checked.body}`);
  }
});

t.test("B cannot create or update a target with A's secret, and is told only 'not found'", async (t) => {
  const missing = await post(globex, '/v1/targets', { name: 'probe', secretRef: 'file:globex/missing' });
  t.match(missing.json(), notFound('file:globex/missing'), 'a missing secret of its own');
  for (const ref of [...A_REFS, DRILL_REF, 'aws-sm:pgsteward/acme/missing']) {
    const res = await post(globex, '/v1/targets', {
      name: 'stolen',
      secretRef: ref,
      host: '127.0.0.1',
      port: evil.port,
      sslMode: 'disable',
    });
    t.equal(res.statusCode, 422, ref);
    t.same(
      Object.keys(res.json()).sort(),
      Object.keys(missing.json()).sort(),
      'the answer has the shape of a missing secret',
    );
    t.match(res.json(), notFound(ref), `${ref}: the same answer as a missing secret`);
  }
  const own = await post(globex, '/v1/targets', { name: 'own', secretRef: 'file:globex/main', database: 'x' });
  t.equal(own.statusCode, 201, own.body);
  for (const ref of A_REFS) {
    const res = await app.inject({
      method: 'PATCH',
      url: `/v1/targets/${own.json().id}`,
      headers: bearer(globex),
      payload: { secretRef: ref, host: null, port: null },
    });
    t.match(res.json(), notFound(ref), `update to ${ref} is refused`);
  }
  t.equal(evil.connections, 0, "nothing connected to B's server");
});

t.test(
  "B's planted targets with A's secrets: check, backup, restore and drill all fail before any connection",
  async (t) => {
    const ownTarget = (await post(globex, '/v1/targets', { name: 'mine', secretRef: 'file:globex/main' })).json().id;
    const ownBackup = await availableBackup('globex', ownTarget);
    for (const [i, ref] of A_REFS.entries()) {
      for (const host of ['127.0.0.1', null]) {
        // host null: B leaves the address to A's secret and tries to read or overwrite A's database.
        const id =
          host === null
            ? await plantTarget('globex', `planted-own-host-${i}`, ref, 'localhost', db.cluster.port)
            : await plantTarget('globex', `planted-${i}`, ref);
        const checked = await post(globex, `/v1/targets/${id}/check`);
        t.match(checked.json(), { ok: false, error: { code: 'PGS_SECRET_NOT_FOUND' } }, `check with ${ref}`);
        const backup = await post(globex, `/v1/targets/${id}/backups`, {});
        t.equal(backup.statusCode, 202, backup.body);
        const backupJob = await waitForJob(app, globex, backup.json().id);
        t.match(backupJob, { status: 'failed', error: { code: 'PGS_SECRET_NOT_FOUND' } }, `backup with ${ref}`);
        const restore = await post(globex, `/v1/backups/${ownBackup}/restores`, { database: 'taken', targetId: id });
        t.equal(restore.statusCode, 202, restore.body);
        const restoreJob = await waitForJob(app, globex, restore.json().id);
        t.match(restoreJob, { status: 'failed', error: { code: 'PGS_SECRET_NOT_FOUND' } }, `restore with ${ref}`);
        const drilled = await availableBackup('globex', id);
        const verify = await post(globex, `/v1/backups/${drilled}/verify`);
        t.equal(verify.statusCode, 202, verify.body);
        const verifyJob = await waitForJob(app, globex, verify.json().id);
        t.match(verifyJob, { status: 'failed', error: { code: 'PGS_SECRET_NOT_FOUND' } }, `drill with ${ref}`);
      }
    }
    t.equal(evil.connections, 0, "no connection ever reached B's server");
    t.notOk(evil.bytes().includes(Buffer.from(source.password)), "and no byte of A's password");
    const sessions = await db.ownerQuery<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1',
      [source.role],
    );
    t.equal(sessions[0]?.n, 0, "no session ever ran as A's role for B");
  },
);

t.test("a target may not send a secret's credentials to another address; another database is fine", async (t) => {
  const moved = await post(acme, '/v1/targets', {
    name: 'moved',
    secretRef: 'file:acme/main',
    host: '127.0.0.1',
    port: evil.port,
  });
  t.match(moved.json(), {
    code: 'PGS_SECRET_ADDRESS_MISMATCH',
    status: 422,
    detail: /host '127\.0\.0\.1'.*'localhost'/,
  });
  const otherPort = await post(acme, '/v1/targets', { name: 'port', secretRef: 'file:acme/main', port: evil.port });
  t.match(otherPort.json(), { code: 'PGS_SECRET_ADDRESS_MISMATCH', detail: /port/ });
  const spelt = await post(acme, '/v1/targets', { name: 'spelt', secretRef: 'file:acme/main', host: 'LOCALHOST.' });
  t.equal(spelt.statusCode, 201, `the secret's own host, spelt differently: ${spelt.body}`);
  const same = await post(acme, '/v1/targets', {
    name: 'same',
    secretRef: 'file:acme/main',
    host: 'localhost',
    port: db.cluster.port,
    database: 'postgres',
    sslMode: 'verify-full',
  });
  t.equal(same.statusCode, 201, `the secret's own address and another database: ${same.body}`);
  const sameChecked = await post(acme, `/v1/targets/${same.json().id}/check`);
  t.equal(sameChecked.json().ok, true, sameChecked.body);
  const patched = await app.inject({
    method: 'PATCH',
    url: `/v1/targets/${same.json().id}`,
    headers: bearer(acme),
    payload: { host: '127.0.0.1' },
  });
  t.match(patched.json(), { code: 'PGS_SECRET_ADDRESS_MISMATCH' }, 'update is checked too');

  const planted = await plantTarget('acme', 'planted-moved', 'file:acme/main');
  const checked = await post(acme, `/v1/targets/${planted}/check`);
  t.match(checked.json(), { ok: false, error: { code: 'PGS_SECRET_ADDRESS_MISMATCH' } }, 'and every use');
  const backup = await post(acme, `/v1/targets/${planted}/backups`, {});
  t.match(await waitForJob(app, acme, backup.json().id), { error: { code: 'PGS_SECRET_ADDRESS_MISMATCH' } });
  t.equal(evil.connections, 0, 'nothing reached the other address');
});

t.test("pgsteward's metadata store and drill server are refused as targets", async (t) => {
  for (const [what, port] of [
    ['metadata store', metadataPort.port],
    ['drill server', drillPort.port],
  ] as const) {
    for (const host of ['127.0.0.1', 'localhost', '127.0.0.2']) {
      const res = await post(acme, '/v1/targets', { name: 'infra', secretRef: 'file:acme/bare', host, port });
      t.match(
        res.json(),
        { code: 'PGS_TARGET_HOST_REFUSED', detail: /reserved for pgsteward's own servers/ },
        `the ${what} as ${host}`,
      );
    }
    const planted = await plantTarget('acme', `planted-${what.replace(' ', '-')}`, 'file:acme/bare', '127.0.0.1', port);
    const checked = await post(acme, `/v1/targets/${planted}/check`);
    t.match(checked.json(), { ok: false, error: { code: 'PGS_TARGET_HOST_REFUSED' } }, `the ${what} at use`);
  }
  const elsewhere = await post(acme, '/v1/targets', {
    name: 'elsewhere',
    secretRef: 'file:acme/bare',
    host: 'localhost',
    port: db.cluster.port,
    database: source.name,
    sslMode: 'require',
  });
  t.equal(elsewhere.statusCode, 201, 'another port on the same host is not reserved');
});
