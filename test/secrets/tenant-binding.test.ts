import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { isPgStewardError } from '../../src/errors.js';
import { AwsSecretDescriber, type SecretDescriber } from '../../src/secrets/aws-secret-tags.js';
import { AwsSecretsManagerProvider } from '../../src/secrets/aws-secrets-manager.js';
import { fileKeyOwner, secretNameMatcher, TenantSecretBinding } from '../../src/secrets/tenant-binding.js';
import { startFakeSecretsManager } from '../helpers/fake-secrets-manager.js';

const sm = await startFakeSecretsManager();
t.teardown(() => sm.close());
const fakeAws = {
  endpoint: sm.endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
};
const describer = new AwsSecretDescriber(fakeAws);
t.teardown(() => describer.close());
// Tags are set through the provider's write side, the real SDK's TagResource.
const writer = new AwsSecretsManagerProvider(fakeAws);
t.teardown(() => writer.close());

const DB = { username: 'u', password: 'p' };
sm.setSecret('pgsteward/acme/main', DB);
sm.setSecret('teams/acme-db', DB);
await writer.tagSecret('teams/acme-db', { 'pgsteward:tenant': 'acme' });
sm.setSecret('pgsteward/acme/given-away', DB);
await writer.tagSecret('pgsteward/acme/given-away', { 'pgsteward:tenant': 'globex' });
sm.setSecret('shared/untagged', DB);
sm.setSecret('pgsteward/acme/locked', DB);
sm.deny('pgsteward/acme/locked');
sm.setSecret('ops/drill', DB);
await writer.tagSecret('ops/drill', { 'pgsteward:tenant': 'acme' }); // an operator's mistake the binding survives

interface Logged {
  fields: Record<string, unknown>;
  message: string;
}

function binding(over: Partial<ConstructorParameters<typeof TenantSecretBinding>[0]> = {}) {
  const logged: Logged[] = [];
  const b = new TenantSecretBinding({
    fileTenants: { 'legacy-orders': 'acme', 'globex/handed-over': 'acme' },
    awsTagKey: 'pgsteward:tenant',
    awsNamePattern: 'pgsteward/{tenant}/*',
    operatorRefs: ['file:acme/drill', 'aws-sm:ops/drill'],
    describer,
    log: (fields, message) => logged.push({ fields, message }),
    ...over,
  });
  return { b, logged };
}

async function refusal(p: Promise<unknown>) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isPgStewardError(err)) throw new Error(`expected a refusal, got ${String(err)}`);
  return { code: err.code, status: err.statusCode, message: err.message };
}

t.test('file keys: a tenant uses its own namespace and what the operator maps to it, nothing else', async (t) => {
  const { b, logged } = binding();
  await b.assertBound('acme', 'file:acme/main');
  await b.assertBound('acme', 'file:legacy-orders');
  await b.assertBound('acme', 'file:globex/handed-over');
  for (const ref of ['file:globex/main', 'file:main', 'file:legacy-orders-2', 'file:acme/drill']) {
    t.same(
      await refusal(b.assertBound('acme', ref)),
      { code: 'PGS_SECRET_NOT_FOUND', status: 422, message: `Secret '${ref}' does not exist.` },
      `${ref} is refused to acme exactly as a missing secret is`,
    );
  }
  t.same(await refusal(b.assertBound('globex', 'file:legacy-orders')), {
    code: 'PGS_SECRET_NOT_FOUND',
    status: 422,
    message: "Secret 'file:legacy-orders' does not exist.",
  });
  t.same(
    await refusal(b.assertBound('globex', 'file:globex/handed-over')),
    { code: 'PGS_SECRET_NOT_FOUND', status: 422, message: "Secret 'file:globex/handed-over' does not exist." },
    "the operator's mapping overrides the namespace",
  );
  t.match(
    logged.map((l) => `${l.fields.tenantId} ${l.fields.secretRef}: ${l.fields.reason}`),
    [
      /acme file:globex\/main: .*belongs to tenant 'globex'/,
      /acme file:main: .*no tenant's namespace/,
      /acme file:legacy-orders-2: .*no tenant's namespace/,
      /acme file:acme\/drill: .*operator's secret/,
      /globex file:legacy-orders: .*belongs to tenant 'acme'/,
      /globex file:globex\/handed-over: .*belongs to tenant 'acme'/,
    ],
    'the operator log says why',
  );
  t.equal(fileKeyOwner('acme', {}), undefined);
  t.equal(fileKeyOwner('/acme', {}), undefined, 'a leading slash is no namespace');
});

t.test('AWS: the tenant tag, else the name pattern; one answer for every refusal', async (t) => {
  const { b, logged } = binding();
  await b.assertBound('acme', 'aws-sm:pgsteward/acme/main');
  await b.assertBound('acme', `aws-sm:${sm.arnOf('pgsteward/acme/main')}`);
  await b.assertBound('acme', 'aws-sm:teams/acme-db');
  await b.assertBound('globex', 'aws-sm:pgsteward/acme/given-away');
  const refused = [
    ['globex', 'aws-sm:pgsteward/acme/main', /does not match pgsteward\/\{tenant\}/],
    ['globex', `aws-sm:${sm.arnOf('pgsteward/acme/main')}`, /does not match/],
    ['globex', 'aws-sm:teams/acme-db', /tag pgsteward:tenant names tenant 'acme'/],
    ['acme', 'aws-sm:pgsteward/acme/given-away', /names tenant 'globex'/],
    ['acme', 'aws-sm:shared/untagged', /no pgsteward:tenant tag/],
    ['acme', 'aws-sm:pgsteward/acme/missing', /no such secret/],
    ['acme', 'aws-sm:pgsteward/acme/locked', /access denied/],
    ['acme', 'aws-sm:ops/drill', /operator's secret/],
    ['acme', `aws-sm:${sm.arnOf('ops/drill')}`, /operator's secret/],
  ] as const;
  for (const [tenant, ref] of refused) {
    t.same(
      await refusal(b.assertBound(tenant, ref)),
      { code: 'PGS_SECRET_NOT_FOUND', status: 422, message: `Secret '${ref}' does not exist.` },
      `${ref} for ${tenant}: the same answer as a missing secret`,
    );
  }
  t.equal(logged.length, refused.length, 'every refusal is logged for the operator');
  refused.forEach(([, , why], i) => {
    t.match(logged[i]?.fields.reason, why);
  });
});

t.test('AWS: answers are cached for the TTL, so a changed tag counts after it; failures are not', async (t) => {
  let calls = 0;
  const counting: SecretDescriber = {
    describe: (id, ref) => {
      if (id === 'moving/one') calls++;
      return describer.describe(id, ref);
    },
  };
  let now = 1_000;
  const { b } = binding({ describer: counting, ttlMs: 60_000, now: () => now });
  sm.setSecret('moving/one', DB);
  await writer.tagSecret('moving/one', { 'pgsteward:tenant': 'acme' });
  await b.assertBound('acme', 'aws-sm:moving/one');
  await b.assertBound('acme', 'aws-sm:moving/one');
  t.equal(calls, 1, 'one DescribeSecret for two checks within the TTL');
  await writer.tagSecret('moving/one', { 'pgsteward:tenant': 'globex' });
  now += 60_000;
  t.match(await refusal(b.assertBound('acme', 'aws-sm:moving/one')), { code: 'PGS_SECRET_NOT_FOUND' });
  await b.assertBound('globex', 'aws-sm:moving/one');
  t.equal(calls, 2, 're-described once after the TTL');

  const down = new AwsSecretDescriber({
    endpoint: 'http://127.0.0.1:9',
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestTimeoutMs: 500,
  });
  t.teardown(() => down.close());
  const { b: unreachable } = binding({ describer: down });
  t.match(await refusal(unreachable.assertBound('acme', 'aws-sm:pgsteward/acme/main')), {
    code: 'PGS_SECRET_UNAVAILABLE',
    status: 503,
  });
  const { b: noAws } = binding({ describer: undefined });
  t.match(await refusal(noAws.assertBound('acme', 'aws-sm:pgsteward/acme/main')), {
    code: 'PGS_SECRET_UNAVAILABLE',
  });
  const { b: tagsOnly } = binding({ awsNamePattern: undefined });
  t.match(await refusal(tagsOnly.assertBound('acme', 'aws-sm:pgsteward/acme/main')), {
    code: 'PGS_SECRET_NOT_FOUND',
  });
  await t.rejects(b.assertBound('acme', 'nonsense'), { code: 'PGS_SECRET_REF_INVALID' });
});

t.test('name patterns pin the tenant between separators', async (t) => {
  const m = secretNameMatcher('pgsteward/{tenant}/*', 'acme');
  t.ok(m.test('pgsteward/acme/main'));
  t.ok(m.test('pgsteward/acme/a/b'));
  t.notOk(m.test('pgsteward/acme-corp/main'));
  t.notOk(m.test('pgsteward/acme'));
  t.notOk(m.test('xpgsteward/acme/main'));
  t.ok(secretNameMatcher('rds!{tenant}.*', 'acme').test('rds!acme.db'), 'regex characters are literal');
  t.notOk(secretNameMatcher('rds!{tenant}.*', 'acme').test('rds!acmeXdb'));

  const config = loadConfig({
    PGSTEWARD_SECRET_FILE_TENANTS: 'legacy=acme, other/key=globex',
    PGSTEWARD_AWS_SECRET_NAME_PATTERN: 'teams/{tenant}/*',
  });
  t.same(config.secrets.binding, {
    fileTenants: { legacy: 'acme', 'other/key': 'globex' },
    awsTagKey: 'pgsteward:tenant',
    awsNamePattern: 'teams/{tenant}/*',
  });
  t.equal(loadConfig({}).secrets.binding.awsNamePattern, 'pgsteward/{tenant}/*');
  t.equal(loadConfig({ PGSTEWARD_AWS_SECRET_NAME_PATTERN: 'none' }).secrets.binding.awsNamePattern, undefined);
  for (const bad of ['{tenant}-*', 'x{tenant}/*', 'pgsteward/*', '{tenant}/{tenant}', '*{tenant}/x']) {
    t.throws(
      () => loadConfig({ PGSTEWARD_AWS_SECRET_NAME_PATTERN: bad }),
      /PGSTEWARD_AWS_SECRET_NAME_PATTERN/,
      `${bad} is refused`,
    );
  }
  for (const bad of ['legacy', 'legacy=Acme', 'a=b=c', 'legacy=acme,legacy=globex']) {
    t.throws(() => loadConfig({ PGSTEWARD_SECRET_FILE_TENANTS: bad }), /PGSTEWARD_SECRET_FILE_TENANTS/, bad);
  }
  t.throws(() => loadConfig({ PGSTEWARD_AWS_TENANT_TAG: 'bad\ttag' }), /PGSTEWARD_AWS_TENANT_TAG/);
});
