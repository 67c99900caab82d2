import { randomBytes, randomUUID } from 'node:crypto';
import t from 'tap';
import { AwsSecretsManagerProvider } from '../../src/secrets/aws-secrets-manager.js';
import { AWSCURRENT, AWSPENDING } from '../../src/secrets/secret-writer.js';
import { startFakeSecretsManager } from '../helpers/fake-secrets-manager.js';
import { assertNoPassword, newPassword, rejection, writableProviderContract } from './writable-provider-contract.js';

const fake = await startFakeSecretsManager();
t.teardown(() => fake.close());

// Env-free credentials: the SDK signs with them, the fake does not check the signature.
const newProvider = () => {
  const provider = new AwsSecretsManagerProvider({
    region: 'us-east-1',
    endpoint: fake.endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  t.teardown(() => provider.close());
  return provider;
};
const provider = newProvider();
const newId = () => `rds/${randomBytes(4).toString('hex')}`;

t.test('the AWS provider keeps the writable provider contract, through the real SDK', async (t) => {
  writableProviderContract(t, {
    providers: [provider, newProvider()],
    refOf: (id) => `aws-sm:${id}`,
    newId,
  });
});

t.test('a create retried after it went through: ResourceExistsException, then the token version matches', async (t) => {
  const id = newId();
  const token = randomUUID();
  const value = { username: 'u', password: newPassword(), engine: 'postgres' };
  const before = fake.requestsTo('CreateSecret');
  const first = await provider.createSecret(id, value, { clientRequestToken: token });
  t.same(await provider.createSecret(id, value, { clientRequestToken: token }), first);
  t.equal(
    fake.requestsTo('CreateSecret'),
    before + 2,
    'AWS was asked twice; the second answered ResourceExistsException',
  );
  t.same(fake.storedStrings(id).length, 1, 'one version');
});

t.test('secrets are stored as canonical JSON, the only copy of the password outside the caller', async (t) => {
  const id = newId();
  const password = newPassword();
  await provider.createSecret(id, { username: 'u', password, host: 'h', engine: 'postgres' });
  t.same(fake.storedStrings(id), [JSON.stringify({ engine: 'postgres', host: 'h', password, username: 'u' })]);
});

t.test('a secret given by ARN is written and described by ARN', async (t) => {
  const id = newId();
  await provider.createSecret(id, { username: 'u', password: newPassword() }, { tags: { 'pgsteward:tenant': 'acme' } });
  const arn = fake.arnOf(id);
  const job = randomUUID();
  await provider.putSecretValue(
    arn,
    { username: 'u', password: newPassword() },
    { clientRequestToken: job, stages: [AWSPENDING] },
  );
  const described = await provider.describeSecret(arn);
  t.same(described.tags, { 'pgsteward:tenant': 'acme' });
  t.same(described.versions[job], [AWSPENDING]);
});

t.test('deletion with a recovery window: described with deletedAt, no longer readable or creatable', async (t) => {
  const id = newId();
  await provider.createSecret(id, { username: 'u', password: newPassword() });
  await provider.deleteSecret(id, { recoveryWindowDays: 7 });
  const described = await provider.describeSecret(id);
  t.ok(described.deletedAt instanceof Date, 'deletedAt is set');
  const inAWeek = Date.now() + 7 * 86_400_000;
  t.ok(Math.abs((described.deletedAt?.getTime() ?? 0) - inAWeek) < 60_000, 'seven days from now');
  t.match(await rejection(t, provider.fetch(id, `aws-sm:${id}`)), {
    code: 'PGS_SECRET_UNAVAILABLE',
    message: /InvalidRequestException: the secret may be scheduled for deletion/,
  });
  t.match(await rejection(t, provider.getSecretValue(id)), { code: 'PGS_SECRET_UNAVAILABLE' });
  t.match(await rejection(t, provider.createSecret(id, { username: 'u', password: newPassword() })), {
    code: 'PGS_SECRET_CONFLICT',
    message: /scheduled for deletion/,
  });
  t.match(
    await rejection(
      t,
      provider.putSecretValue(id, { username: 'u', password: newPassword() }, { clientRequestToken: randomUUID() }),
    ),
    {
      code: 'PGS_SECRET_CONFLICT',
    },
  );
  t.match(await rejection(t, provider.deleteSecret(id, { recoveryWindowDays: 5 })), { code: 'PGS_VALIDATION' });
  t.match(await rejection(t, provider.deleteSecret(id, { recoveryWindowDays: 7, forceWithoutRecovery: true })), {
    code: 'PGS_VALIDATION',
  });
});

t.test('access denied on a write is PGS_SECRET_UNAVAILABLE naming the exception, not its message', async (t) => {
  const id = newId();
  await provider.createSecret(id, { username: 'u', password: newPassword() });
  fake.deny(id);
  const err = await rejection(
    t,
    provider.putSecretValue(id, { username: 'u', password: newPassword() }, { clientRequestToken: randomUUID() }),
  );
  t.match(err, {
    code: 'PGS_SECRET_UNAVAILABLE',
    statusCode: 503,
    message: /could not be written: AccessDeniedException/,
  });
  t.notMatch(err.message, /not authorized to perform/);
  t.match(await rejection(t, provider.describeSecret(id)), {
    code: 'PGS_SECRET_UNAVAILABLE',
    message: /could not be read/,
  });
});

t.test('a value AWS holds that is not a JSON object is PGS_SECRET_MALFORMED without its content', async (t) => {
  const id = newId();
  const password = newPassword();
  fake.setSecret(id, `postgres://u:${password}@db/app`);
  t.match(await rejection(t, provider.getSecretValue(id)), { code: 'PGS_SECRET_MALFORMED', message: /not JSON/ });
  fake.setSecret(id, JSON.stringify([password]));
  t.match(await rejection(t, provider.getSecretValue(id)), { message: /not a JSON object/ });
  fake.setBinarySecret(id, Buffer.from(password));
  t.match(await rejection(t, provider.getSecretValue(id)), { message: /binary secrets are not supported/ });
});

t.test('a label move AWS refuses names the reason also for a deprecated version it still has', async (t) => {
  const id = newId();
  const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
  await provider.createSecret(id, { username: 'u', password: newPassword() }, { clientRequestToken: a });
  await provider.putSecretValue(id, { username: 'u', password: newPassword() }, { clientRequestToken: b });
  await provider.putSecretValue(id, { username: 'u', password: newPassword() }, { clientRequestToken: c });
  t.notOk(a in (await provider.describeSecret(id)).versions, 'a is deprecated: not described');
  const err = await rejection(t, provider.updateVersionStage(id, AWSCURRENT, { moveToVersionId: a }));
  t.match(err, { code: 'PGS_SECRET_CONFLICT', message: `attached to version ${c}` }, 'not "no such version"');
  assertNoPassword(t, JSON.stringify(await provider.describeSecret(id)), 'the description');
});
