import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { isPgStewardError } from '../../src/errors.js';
import { AwsSecretsManagerProvider, awsFailureReason } from '../../src/secrets/aws-secrets-manager.js';
import { startFakeSecretsManager } from '../helpers/fake-secrets-manager.js';

const fake = await startFakeSecretsManager();
t.teardown(() => fake.close());
// Env-free credentials: the SDK signs with them, the fake does not check the signature.
const provider = new AwsSecretsManagerProvider({
  region: 'us-east-1',
  endpoint: fake.endpoint,
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});
t.teardown(() => provider.close());

const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
fake.setSecret('prod/orders-db', {
  username: 'orders_app',
  password: PASSWORD,
  host: 'orders.cluster-abc.eu-west-1.rds.amazonaws.com',
  port: 5432,
  dbname: 'orders',
  engine: 'postgres',
});

/** The PgStewardError `promise` rejected with; asserts its message holds no password. */
async function rejection(t: Test, promise: Promise<unknown>) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isPgStewardError(err)) throw new Error(`expected a PgStewardError, got ${String(err)}`);
  t.notMatch(err.message, PASSWORD, 'the message holds no password');
  return err;
}

t.test('a secret is read by name through the real SDK', async (t) => {
  const before = fake.requests;
  const secret = await provider.fetch('prod/orders-db', 'aws-sm:prod/orders-db');
  t.equal(secret.username, 'orders_app');
  t.ok(secret.password === PASSWORD, 'the password arrives intact');
  t.equal(secret.port, 5432);
  t.equal(secret.dbname, 'orders');
  t.equal(fake.requests, before + 1, 'one GetSecretValue call');
});

t.test('a secret is read by ARN', async (t) => {
  const arn = fake.arnOf('prod/orders-db');
  const secret = await provider.fetch(arn, `aws-sm:${arn}`);
  t.equal(secret.username, 'orders_app');
  t.ok(secret.password === PASSWORD);
});

t.test('a missing secret is PGS_SECRET_NOT_FOUND', async (t) => {
  const err = await rejection(t, provider.fetch('prod/nope', 'aws-sm:prod/nope'));
  t.match(err, { code: 'PGS_SECRET_NOT_FOUND', statusCode: 422, message: /'aws-sm:prod\/nope' does not exist/ });
  const wrongArn = `${fake.arnOf('prod/orders-db').slice(0, -6)}ZZZZZZ`;
  t.match(await rejection(t, provider.fetch(wrongArn, `aws-sm:${wrongArn}`)), { code: 'PGS_SECRET_NOT_FOUND' });
});

t.test('access denied is PGS_SECRET_UNAVAILABLE naming the exception, not its message', async (t) => {
  fake.setSecret('prod/locked', { username: 'u', password: PASSWORD });
  fake.deny('prod/locked');
  const err = await rejection(t, provider.fetch('prod/locked', 'aws-sm:prod/locked'));
  t.match(err, { code: 'PGS_SECRET_UNAVAILABLE', statusCode: 503, message: /AccessDeniedException/ });
  t.notMatch(err.message, /not authorized to perform/, "AWS's own message is not passed through");
});

t.test('a KMS decryption failure is PGS_SECRET_UNAVAILABLE', async (t) => {
  fake.setSecret('prod/kms', { username: 'u', password: PASSWORD });
  fake.deny('prod/kms', 'DecryptionFailure');
  const err = await rejection(t, provider.fetch('prod/kms', 'aws-sm:prod/kms'));
  t.match(err, { code: 'PGS_SECRET_UNAVAILABLE', message: /DecryptionFailure/ });
});

t.test('a secret that is not JSON is PGS_SECRET_MALFORMED without its content', async (t) => {
  fake.setSecret('prod/plain', `postgres://orders_app:${PASSWORD}@db/orders`);
  const err = await rejection(t, provider.fetch('prod/plain', 'aws-sm:prod/plain'));
  t.match(err, { code: 'PGS_SECRET_MALFORMED', message: /not JSON/ });
});

t.test('a secret without a password is PGS_SECRET_MALFORMED', async (t) => {
  fake.setSecret('prod/nopass', { username: 'orders_app', host: 'db' });
  const err = await rejection(t, provider.fetch('prod/nopass', 'aws-sm:prod/nopass'));
  t.match(err, { code: 'PGS_SECRET_MALFORMED', message: /password is missing/ });
});

t.test('a binary secret is refused as malformed', async (t) => {
  fake.setBinarySecret('prod/binary', Buffer.from(JSON.stringify({ username: 'u', password: PASSWORD })));
  const err = await rejection(t, provider.fetch('prod/binary', 'aws-sm:prod/binary'));
  t.match(err, { code: 'PGS_SECRET_MALFORMED', message: /binary secrets are not supported/ });
});

t.test('an unreachable endpoint is PGS_SECRET_UNAVAILABLE naming the network error', async (t) => {
  const down = await startFakeSecretsManager();
  const endpoint = down.endpoint;
  await down.close();
  const unreachable = new AwsSecretsManagerProvider({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  t.teardown(() => unreachable.close());
  const err = await rejection(t, unreachable.fetch('prod/orders-db', 'aws-sm:prod/orders-db'));
  t.match(err, { code: 'PGS_SECRET_UNAVAILABLE', message: /ECONNREFUSED/ });
});

t.test('failure reasons are type names and our own hints, never the error message', async (t) => {
  t.equal(awsFailureReason({ name: 'ThrottlingException', message: PASSWORD }), 'ThrottlingException');
  t.equal(
    awsFailureReason({ name: 'CredentialsProviderError', message: 'Could not load credentials' }),
    'CredentialsProviderError: no AWS credentials were found',
  );
  t.equal(awsFailureReason(Object.assign(new Error(PASSWORD), { code: 'ETIMEDOUT' })), 'ETIMEDOUT');
  t.equal(awsFailureReason(new Error(PASSWORD)), 'network error');
  t.equal(awsFailureReason({ name: `evil ${PASSWORD}` }), 'network error', 'an odd name is not echoed');
  t.equal(awsFailureReason(undefined), 'network error');
  t.equal(awsFailureReason(new Error('Region is missing')), 'no AWS region is configured (set AWS_REGION)');
});
