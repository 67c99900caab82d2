import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import t, { type Test } from 'tap';
import { generatePassword } from '../../src/domain/roles/password.js';
import { loginSecretValue } from '../../src/domain/roles/users/login-secret.js';
import {
  type RotationInput,
  type RotationStep,
  type RotationStrategy,
  rotateLoginUser,
} from '../../src/domain/roles/users/rotation.js';
import { rotationServer } from '../../src/domain/roles/users/rotation-server.js';
import type { TargetAccess } from '../../src/domain/targets/session.js';
import { AwsSecretsManagerProvider } from '../../src/secrets/aws-secrets-manager.js';
import { createDbSecret } from '../../src/secrets/db-secret.js';
import { FileSecretProvider } from '../../src/secrets/file.js';
import { scramVerifier } from '../../src/secrets/scram.js';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS } from '../../src/secrets/secret-writer.js';
import { SecretStore } from '../../src/secrets/store.js';
import { quoteIdent, quoteLiteral } from '../../src/sql/identifiers.js';
import { testCluster } from '../helpers/database.js';
import { startFakeSecretsManager } from '../helpers/fake-secrets-manager.js';

const cluster = await testCluster(t);
const superuser = new pg.Client(cluster.clientConfig());
await superuser.connect();
t.teardown(() => superuser.end());

const dir = await mkdtemp(join(tmpdir(), 'pgsteward-rotation-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const fake = await startFakeSecretsManager();
t.teardown(() => fake.close());
const aws = new AwsSecretsManagerProvider({
  region: 'us-east-1',
  endpoint: fake.endpoint,
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});
t.teardown(() => aws.close());
const store = new SecretStore({
  providers: { 'aws-sm': aws, file: new FileSecretProvider({ path: join(dir, 'secrets.json') }) },
});

// The admin side runs as the cluster's superuser here; the API tests use a CREATEROLE admin.
const admin: TargetAccess = {
  endpoint: {
    host: 'localhost',
    port: cluster.port,
    database: 'postgres',
    sslMode: 'verify-full',
    sslrootcert: cluster.caCert,
  },
  checked: { host: 'localhost', address: '127.0.0.1', family: 4 },
  secret: createDbSecret({ username: cluster.superuser, password: cluster.password }),
};
const server = rotationServer(superuser, admin, 'postgres');
const address = { host: 'localhost', port: cluster.port, dbname: 'postgres' };

/** A login user as creation leaves it: role(s) made with a verifier, the first password in AWSCURRENT. */
async function loginUser(t: Test, scheme: 'file' | 'aws-sm', strategy: RotationStrategy) {
  const name = `rot_${randomBytes(4).toString('hex')}`;
  const clone = `${name}_clone`;
  const password = generatePassword();
  await superuser.query(`CREATE ROLE ${quoteIdent(name)} LOGIN PASSWORD ${quoteLiteral(scramVerifier(password))}`);
  if (strategy === 'alternating') await superuser.query(`CREATE ROLE ${quoteIdent(clone)} LOGIN PASSWORD NULL`);
  t.teardown(async () => {
    await superuser.query(`DROP ROLE IF EXISTS ${quoteIdent(name)}`);
    await superuser.query(`DROP ROLE IF EXISTS ${quoteIdent(clone)}`);
  });
  const secretRef = `${scheme}:acme/${name}`;
  await store.createSecret(secretRef, loginSecretValue(address, name, password), {
    tags: { 'pgsteward:tenant': 'acme' },
  });
  const input = (token = randomUUID()): RotationInput => ({
    secretRef,
    token,
    strategy,
    username: name,
    cloneUsername: clone,
  });
  return { name, clone, secretRef, input };
}

async function login(username: string, password: string): Promise<pg.Client> {
  const client = new pg.Client(cluster.clientConfig('postgres', username, password));
  client.on('error', () => {});
  await client.connect();
  return client;
}
async function logsIn(username: string, password: string): Promise<boolean> {
  try {
    await (await login(username, password)).end();
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === '28P01' || (err as { code?: string }).code === '28000') return false;
    throw err;
  }
}
async function stageLogsIn(ref: string, stage: string): Promise<boolean> {
  const { value } = await store.getSecretValue(ref, { stage });
  return logsIn(String(value.username), String(value.password));
}
const labels = async (ref: string) => (await store.describeSecret(ref)).versions;

for (const scheme of ['file', 'aws-sm'] as const) {
  t.test(`${scheme}, single: old sessions stay, the new password logs in, the old one fails`, async (t) => {
    const user = await loginUser(t, scheme, 'single');
    const before = await store.getSecretValue(user.secretRef);
    const session = await login(user.name, String(before.value.password));
    t.teardown(() => session.end());
    const input = user.input();
    const result = await rotateLoginUser(store, server, input);
    t.equal(result.activeUsername, user.name);
    t.ok(await stageLogsIn(user.secretRef, AWSCURRENT), 'AWSCURRENT logs in');
    t.notOk(await stageLogsIn(user.secretRef, AWSPREVIOUS), 'AWSPREVIOUS (the old password) is refused');
    t.same((await session.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'the open session still works');
    const versions = await labels(user.secretRef);
    t.same(versions[input.token], [AWSCURRENT], 'the job id is the new version, AWSPENDING removed');
    t.same(versions[before.versionId], [AWSPREVIOUS]);
  });

  t.test(`${scheme}, alternating: the previous credentials work until the next rotation`, async (t) => {
    const user = await loginUser(t, scheme, 'alternating');
    const original = await store.getSecretValue(user.secretRef);
    const session = await login(user.name, String(original.value.password));
    t.teardown(() => session.end());

    const first = await rotateLoginUser(store, server, user.input());
    t.equal(first.activeUsername, user.clone, 'the clone is current now');
    t.ok(await stageLogsIn(user.secretRef, AWSCURRENT), 'AWSCURRENT (the clone) logs in');
    t.ok(await stageLogsIn(user.secretRef, AWSPREVIOUS), 'AWSPREVIOUS (the original) still logs in');
    t.same((await session.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'the open session still works');

    const second = await rotateLoginUser(store, server, user.input());
    t.equal(second.activeUsername, user.name, 'back to the first role');
    t.ok(await stageLogsIn(user.secretRef, AWSCURRENT));
    t.ok(await stageLogsIn(user.secretRef, AWSPREVIOUS), 'the first rotation’s credentials still work');
    t.notOk(
      await logsIn(user.name, String(original.value.password)),
      'the original password stopped working at the second rotation',
    );
  });
}

const STEPS: RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];
class Killed extends Error {}

for (const strategy of ['alternating', 'single'] as const) {
  t.test(`${strategy}: a rotation killed after each step resumes to a working AWSCURRENT`, async (t) => {
    for (const killedAfter of STEPS) {
      const user = await loginUser(t, 'aws-sm', strategy);
      const input = user.input();
      await t.rejects(
        rotateLoginUser(store, server, input, {
          afterStep: (step) => {
            if (step === killedAfter) throw new Killed(step);
          },
        }),
        { message: killedAfter },
        `killed after ${killedAfter}`,
      );
      const current = await stageLogsIn(user.secretRef, AWSCURRENT);
      if (strategy === 'alternating' || killedAfter === 'createSecret' || killedAfter === 'finishSecret') {
        t.ok(current, `killed after ${killedAfter}: AWSCURRENT still logs in`);
      } else {
        t.notOk(
          current,
          `single, killed after ${killedAfter}: the documented window, AWSCURRENT is stale until resumed`,
        );
      }
      const putsBefore = fake.requestsTo('PutSecretValue');
      const resumed = await rotateLoginUser(store, server, input);
      t.equal(
        fake.requestsTo('PutSecretValue'),
        putsBefore,
        `after ${killedAfter}: the resume wrote no second version`,
      );
      t.equal(resumed.alreadyFinished, killedAfter === 'finishSecret');
      t.ok(await stageLogsIn(user.secretRef, AWSCURRENT), `killed after ${killedAfter}: resumed, AWSCURRENT logs in`);
      const versions = await labels(user.secretRef);
      t.same(versions[input.token], [AWSCURRENT], 'the job’s version is current, not pending');
      t.equal(
        Object.values(versions)
          .flat()
          .filter((s) => s === AWSPENDING).length,
        0,
        'no AWSPENDING left',
      );
    }
  });
}

t.test('a secret whose AWSCURRENT names another role is refused before anything changes', async (t) => {
  const user = await loginUser(t, 'file', 'alternating');
  await store.putSecretValue(user.secretRef, loginSecretValue(address, 'postgres', generatePassword()), {
    clientRequestToken: randomUUID(),
  });
  const before = await labels(user.secretRef);
  await t.rejects(rotateLoginUser(store, server, user.input()), { code: 'PGS_ROTATION_SECRET_FOREIGN' });
  t.same(await labels(user.secretRef), before, 'no version written');
});

t.test('a pending login that fails leaves AWSCURRENT where it was (retryable failure)', async (t) => {
  const user = await loginUser(t, 'file', 'alternating');
  const before = await labels(user.secretRef);
  const refusing = { ...server, testLogin: () => Promise.reject(Object.assign(new Error('no'), { code: '28P01' })) };
  await t.rejects(rotateLoginUser(store, refusing, user.input()), {
    code: 'PGS_ROTATION_LOGIN_FAILED',
    retryable: true,
  });
  const current = Object.entries(before).find(([, s]) => s.includes(AWSCURRENT))?.[0] as string;
  t.ok((await labels(user.secretRef))[current]?.includes(AWSCURRENT), 'AWSCURRENT did not move');
  t.ok(await stageLogsIn(user.secretRef, AWSCURRENT));
});
