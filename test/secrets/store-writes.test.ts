import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { AwsSecretsManagerProvider } from '../../src/secrets/aws-secrets-manager.js';
import type { SecretProvider } from '../../src/secrets/db-secret.js';
import { FileSecretProvider } from '../../src/secrets/file.js';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS } from '../../src/secrets/secret-writer.js';
import { SecretStore } from '../../src/secrets/store.js';
import { startFakeSecretsManager } from '../helpers/fake-secrets-manager.js';
import { newPassword, rejection } from './writable-provider-contract.js';

const dir = await mkdtemp(join(tmpdir(), 'pgsteward-store-writes-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const fake = await startFakeSecretsManager();
t.teardown(() => fake.close());
const aws = new AwsSecretsManagerProvider({
  region: 'us-east-1',
  endpoint: fake.endpoint,
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});
t.teardown(() => aws.close());
const file = new FileSecretProvider({ path: join(dir, 'secrets.json') });
const store = new SecretStore({ providers: { 'aws-sm': aws, file }, ttlMs: 3_600_000 });

for (const scheme of ['file', 'aws-sm'] as const) {
  t.test(`${scheme}: a rotation through the store is seen by the next get, despite a long TTL`, async (t) => {
    const ref = `${scheme}:acme/${randomBytes(4).toString('hex')}`;
    const [before, after] = [newPassword(), newPassword()];
    const first = randomUUID();
    await store.createSecret(
      ref,
      { username: 'u', password: before },
      { clientRequestToken: first, tags: { t: 'acme' } },
    );
    t.ok((await store.get(ref)).password === before, 'cached');

    const job = randomUUID();
    await store.putSecretValue(
      ref,
      { username: 'u', password: after },
      { clientRequestToken: job, stages: [AWSPENDING] },
    );
    t.ok((await store.get(ref)).password === before, 'AWSPENDING does not change what get reads');
    t.ok((await store.getSecretValue(ref, { stage: AWSPENDING })).value.password === after);
    await store.updateVersionStage(ref, AWSCURRENT, { moveToVersionId: job, removeFromVersionId: first });
    t.ok((await store.get(ref)).password === after, 'the move of AWSCURRENT invalidated the cache');
    await store.updateVersionStage(ref, AWSPENDING, { removeFromVersionId: job });
    await store.tagSecret(ref, { owner: 'roles' });
    t.same(await store.describeSecret(ref), {
      versions: { [first]: [AWSPREVIOUS], [job]: [AWSCURRENT] },
      tags: { t: 'acme', owner: 'roles' },
    });

    await store.deleteSecret(ref, scheme === 'aws-sm' ? { forceWithoutRecovery: true } : {});
    t.match(await rejection(t, store.get(ref)), { code: 'PGS_SECRET_NOT_FOUND' }, 'deleted, and not served from cache');
  });
}

t.test('a failed write also forgets the cached secret: it may have landed', async (t) => {
  const ref = `file:acme/${randomBytes(4).toString('hex')}`;
  const key = ref.slice('file:'.length);
  const job = randomUUID();
  await store.createSecret(ref, { username: 'u', password: newPassword() });
  await store.get(ref);
  const rotated = newPassword();
  await file.putSecretValue(key, { username: 'u', password: rotated }, { clientRequestToken: job }); // not through the store
  await rejection(
    t,
    store.putSecretValue(ref, { username: 'u', password: newPassword() }, { clientRequestToken: job }),
  );
  t.ok((await store.get(ref)).password === rotated, 'the next get fetched again');
});

t.test('writes need a configured provider that can write, and a valid ref', async (t) => {
  const readOnly: SecretProvider = { fetch: async () => ({ username: 'u', password: 'p' }) };
  const limited = new SecretStore({ providers: { file: readOnly } });
  t.match(await rejection(t, limited.createSecret('file:k', { username: 'u', password: newPassword() })), {
    code: 'PGS_SECRET_UNAVAILABLE',
    message: /could not be written: the file provider cannot write/,
  });
  t.match(await rejection(t, limited.describeSecret('aws-sm:k')), {
    code: 'PGS_SECRET_UNAVAILABLE',
    message: /AWS Secrets Manager is not configured/,
  });
  t.match(await rejection(t, store.deleteSecret('hunter2')), { code: 'PGS_SECRET_REF_INVALID' });
});
