// Issue 9 acceptance for login users on real servers, PostgreSQL 15 and the PostgreSQL 18 server, each
// with log_statement = all and log_connections = on, and the AWS path end to end: every secret written
// through the real SDK client to the fake Secrets Manager (tags, stages, tokens). No plaintext password
// may reach the server log or pg_stat_activity; rotation keeps its promises for both strategies.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pg from 'pg';
import t, { type Test } from 'tap';
import { AwsSecretDescriber } from '../../src/secrets/aws-secret-tags.js';
import { AwsSecretsManagerProvider } from '../../src/secrets/aws-secrets-manager.js';
import { AWSCURRENT, AWSPREVIOUS } from '../../src/secrets/secret-writer.js';
import { SecretStore } from '../../src/secrets/store.js';
import { TenantSecretBinding } from '../../src/secrets/tenant-binding.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { startFakeSecretsManager } from '../helpers/fake-secrets-manager.js';
import { waitForJob } from '../helpers/jobs.js';
import { startTestCluster, type TestCluster } from '../helpers/pg-cluster.js';
import { PG18_BINDIR, pg18Skip } from '../helpers/pg18.js';
import { adminSecret, createAdminDatabase } from './fixture.js';
import { declareRoleSet, login, logsIn, USER_SCOPES } from './users-fixture.js';

const sm = await startFakeSecretsManager();
t.teardown(() => sm.close());
const fakeAws = {
  endpoint: sm.endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
};
const provider = new AwsSecretsManagerProvider(fakeAws);
const describer = new AwsSecretDescriber(fakeAws);
t.teardown(() => {
  provider.close();
  describer.close();
});
const test = await buildTestApp(
  t,
  {},
  {
    worker: true,
    services: {
      secrets: new SecretStore({ providers: { 'aws-sm': provider } }),
      secretBinding: new TenantSecretBinding({
        fileTenants: {},
        awsTagKey: 'pgsteward:tenant',
        operatorRefs: [],
        describer,
        ttlMs: 0,
      }),
    },
  },
);
const { app, seedTenants, token } = test;
await seedTenants('acme');
const acme = token('acme', [...USER_SCOPES]);
const LOGGING = { log_statement: "'all'", log_connections: 'on', log_min_duration_statement: '0' };

/** Every query text pg_stat_activity shows while `work` runs, sampled as fast as one session can. */
async function watchActivity<T>(
  cluster: TestCluster,
  work: () => Promise<T>,
): Promise<{ result: T; seen: Set<string> }> {
  const watcher = new pg.Client(cluster.clientConfig());
  await watcher.connect();
  const seen = new Set<string>();
  let done = false;
  const loop = (async () => {
    while (!done) {
      const { rows } = await watcher.query<{ q: string | null }>(
        'SELECT query AS q FROM pg_stat_activity WHERE pid <> pg_backend_pid()',
      );
      for (const r of rows) if (r.q) seen.add(r.q);
    }
  })();
  try {
    return { result: await work(), seen };
  } finally {
    done = true;
    await loop;
    await watcher.end();
  }
}

const rotate = async (targetId: string, name: string) => {
  const res = await app.inject({
    method: 'POST',
    url: `/v1/targets/${targetId}/users/${name}/rotate`,
    headers: bearer(acme),
  });
  if (res.statusCode !== 202) throw new Error(res.body);
  return waitForJob(app, acme, res.json().id);
};
const current = async (secretId: string, stage = AWSCURRENT) =>
  (await provider.getSecretValue(secretId, { stage })).value as unknown as { username: string; password: string };

async function acceptance(t: Test, cluster: TestCluster) {
  const admin = await createAdminDatabase(t, cluster);
  const adminId = `pgsteward/acme/admin-${admin.suffix}`;
  sm.setSecret(adminId, { ...adminSecret(admin), engine: 'postgres' });
  await provider.tagSecret(adminId, { 'pgsteward:tenant': 'acme' });
  const target = await app.inject({
    method: 'POST',
    url: '/v1/targets',
    headers: bearer(acme),
    payload: {
      name: `m${cluster.major}-${admin.suffix}`,
      secretRef: `aws-sm:${adminId}`,
      adminSecretRef: `aws-sm:${adminId}`,
    },
  });
  t.equal(target.statusCode, 201, target.body);
  const targetId = target.json().id as string;
  const roleSet = `app_${admin.suffix}`;
  await declareRoleSet(test, admin, targetId, roleSet);

  const { seen } = await watchActivity(cluster, async () => {
    for (const strategy of ['single', 'alternating'] as const) {
      const name = `${strategy}_${admin.suffix}`;
      const secretId = `apps/acme/${name}`;
      const created = await app.inject({
        method: 'POST',
        url: `/v1/targets/${targetId}/users`,
        headers: bearer(acme),
        payload: { name, roleSet, access: 'readwrite', secretRef: `aws-sm:${secretId}`, strategy },
      });
      t.equal(created.statusCode, 201, created.body);
      const described = await provider.describeSecret(secretId);
      t.same(described.tags, { 'pgsteward:tenant': 'acme' }, `${strategy}: created with the tenant tag`);
      const original = await current(secretId);
      const session = await login(admin, original.username, original.password);
      await session.query("INSERT INTO accounts (email) VALUES ('x@example.com')");

      const job = await rotate(targetId, name);
      t.equal(job.status, 'succeeded', JSON.stringify(job.error));
      const versions = (await provider.describeSecret(secretId)).versions;
      t.same(versions[job.id], [AWSCURRENT], `${strategy}: the job id is the new version (ClientRequestToken)`);
      t.same(Object.values(versions).flat().sort(), [AWSCURRENT, AWSPREVIOUS], 'AWSPENDING is gone');
      const rotated = await current(secretId);
      t.ok(await logsIn(admin, rotated.username, rotated.password), `${strategy}: AWSCURRENT logs in`);
      t.same((await session.query('SELECT 1 AS one')).rows, [{ one: 1 }], `${strategy}: the open session is up`);
      t.equal(
        await logsIn(admin, original.username, original.password),
        strategy === 'alternating',
        strategy === 'single' ? 'single: the old password fails' : 'alternating: the previous credentials still work',
      );
      if (strategy === 'alternating') {
        t.equal(rotated.username, `${name}_clone`);
        t.equal((await rotate(targetId, name)).status, 'succeeded');
        t.notOk(await logsIn(admin, original.username, original.password), 'until the next rotation');
        t.ok(await logsIn(admin, rotated.username, rotated.password), 'the previous one works now');
      }
      const ended = new Promise((resolve) => {
        session.on('error', resolve);
        setTimeout(() => resolve('timeout'), 10_000).unref();
      });
      const deleted = await app.inject({
        method: 'DELETE',
        url: `/v1/targets/${targetId}/users/${name}?terminateSessions=true`,
        headers: bearer(acme),
      });
      t.equal(deleted.statusCode, 204, deleted.body);
      t.not(await ended, 'timeout', `${strategy}: the open session was ended (terminateSessions)`);
      await session.end().catch(() => {});
      t.ok((await provider.describeSecret(secretId)).deletedAt, 'the secret is scheduled for deletion');
    }
  });

  const passwords = ['single', 'alternating'].flatMap((s) =>
    sm.storedStrings(`apps/acme/${s}_${admin.suffix}`).map((text) => JSON.parse(text).password as string),
  );
  t.equal(passwords.length, 2 + 3, 'every version written: 2 for single, 3 for alternating');
  const log = await readFile(join(dirname(cluster.dataDir), 'server.log'), 'utf8');
  t.match(log, /SCRAM-SHA-256\$4096:/, 'the log does record the statements (it holds the verifiers)');
  t.match(log, /connection authorized: user=single_/, 'and the connections');
  for (const password of passwords) {
    t.notOk(log.includes(password), 'no password in the server log');
    t.notOk(
      [...seen].some((q) => q.includes(password)),
      'no password in pg_stat_activity',
    );
  }
  t.ok(
    [...seen].some((q) => q.includes('SCRAM-SHA-256$')),
    'pg_stat_activity was watched while the roles were written',
  );
}

t.test('PostgreSQL 15', async (t) => {
  const cluster = await startTestCluster({ settings: LOGGING });
  t.teardown(() => cluster.stop());
  await acceptance(t, cluster);
});

t.test('PostgreSQL 18', { skip: pg18Skip }, async (t) => {
  const cluster = await startTestCluster({ bindir: PG18_BINDIR, settings: LOGGING });
  t.teardown(() => cluster.stop());
  t.equal(cluster.major, 18);
  await acceptance(t, cluster);
});
