import { randomBytes } from 'node:crypto';
import pg from 'pg';
import t from 'tap';
import { isPgStewardError } from '../../src/errors.js';
import { AwsSecretsManagerProvider } from '../../src/secrets/aws-secrets-manager.js';
import type { DbSecret, SecretProvider } from '../../src/secrets/db-secret.js';
import { isPgAuthFailure, SecretStore } from '../../src/secrets/store.js';
import { createTestDatabase } from '../helpers/database.js';
import { startFakeSecretsManager } from '../helpers/fake-secrets-manager.js';

const fake = await startFakeSecretsManager();
t.teardown(() => fake.close());
const aws = new AwsSecretsManagerProvider({
  region: 'us-east-1',
  endpoint: fake.endpoint,
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});
t.teardown(() => aws.close());

const newPassword = () => `pw-${randomBytes(12).toString('hex')}`;
const newId = () => `store/${randomBytes(4).toString('hex')}`;

/** A hand-set clock: TTL tests move time instead of sleeping. */
function manualClock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

t.test('a second get within the TTL is served from memory, without a request', async (t) => {
  const id = newId();
  fake.setSecret(id, { username: 'u', password: newPassword() });
  const store = new SecretStore({ providers: { 'aws-sm': aws } });
  const before = fake.requests;
  const first = await store.get(`aws-sm:${id}`);
  const second = await store.get(`aws-sm:${id}`);
  t.equal(fake.requests, before + 1, 'one GetSecretValue call for two gets');
  t.equal(second, first, 'the same secret object');
});

t.test('concurrent gets of one ref share a single fetch', async (t) => {
  const id = newId();
  fake.setSecret(id, { username: 'u', password: newPassword() });
  const store = new SecretStore({ providers: { 'aws-sm': aws } });
  const before = fake.requests;
  const secrets = await Promise.all(Array.from({ length: 10 }, () => store.get(`aws-sm:${id}`)));
  t.equal(fake.requests, before + 1);
  t.ok(secrets.every((s) => s === secrets[0]));
});

t.test('after the TTL the secret is fetched again, and a rotated value is seen', async (t) => {
  const id = newId();
  const [a, b] = [newPassword(), newPassword()];
  fake.setSecret(id, { username: 'u', password: a });
  const clock = manualClock();
  const store = new SecretStore({ providers: { 'aws-sm': aws }, ttlMs: 60_000, now: clock.now });
  const before = fake.requests;
  t.ok((await store.get(`aws-sm:${id}`)).password === a);
  fake.setSecret(id, { username: 'u', password: b });
  clock.advance(59_999);
  t.ok((await store.get(`aws-sm:${id}`)).password === a, 'still cached 1 ms before expiry');
  t.equal(fake.requests, before + 1);
  clock.advance(1);
  t.ok((await store.get(`aws-sm:${id}`)).password === b, 'refetched at expiry');
  t.equal(fake.requests, before + 2);
});

t.test('invalidate forces the next get to fetch', async (t) => {
  const id = newId();
  fake.setSecret(id, { username: 'u', password: newPassword() });
  const store = new SecretStore({ providers: { 'aws-sm': aws } });
  const before = fake.requests;
  await store.get(`aws-sm:${id}`);
  store.invalidate(`aws-sm:${id}`);
  await store.get(`aws-sm:${id}`);
  t.equal(fake.requests, before + 2);
});

t.test('a failed fetch is not cached: the next get asks again', async (t) => {
  const id = newId();
  const store = new SecretStore({ providers: { 'aws-sm': aws } });
  const before = fake.requests;
  await t.rejects(store.get(`aws-sm:${id}`), { code: 'PGS_SECRET_NOT_FOUND' });
  fake.setSecret(id, { username: 'late', password: newPassword() });
  t.equal((await store.get(`aws-sm:${id}`)).username, 'late');
  t.equal(fake.requests, before + 2);
});

t.test('an aws-sm ref with no AWS provider configured is PGS_SECRET_UNAVAILABLE with the reason', async (t) => {
  const store = new SecretStore({ providers: {} });
  await t.rejects(store.get('aws-sm:prod/db'), {
    code: 'PGS_SECRET_UNAVAILABLE',
    message: /AWS Secrets Manager is not configured/,
  });
  await t.rejects(store.get('file:prod'), { code: 'PGS_SECRET_UNAVAILABLE', message: /no secrets file/ });
});

t.test('an invalid ref is refused before any provider is asked', async (t) => {
  let calls = 0;
  const counting: SecretProvider = {
    fetch: async () => {
      calls++;
      return { username: 'u', password: 'p' };
    },
  };
  const store = new SecretStore({ providers: { 'aws-sm': counting, file: counting } });
  await t.rejects(store.get('file:../../etc/passwd x'), { code: 'PGS_SECRET_REF_INVALID' });
  await t.rejects(store.get('hunter2'), { code: 'PGS_SECRET_REF_INVALID' });
  t.equal(calls, 0);
});

t.test('isPgAuthFailure matches SQLSTATE 28P01 and 28000 only', async (t) => {
  t.ok(isPgAuthFailure({ code: '28P01' }));
  t.ok(isPgAuthFailure(Object.assign(new Error('x'), { code: '28000' })));
  for (const other of [{ code: '08006' }, { code: '42501' }, new Error('28P01'), null, undefined, '28P01']) {
    t.notOk(isPgAuthFailure(other), String(JSON.stringify(other)));
  }
});

t.test('withRotationRetry does not retry other failures', async (t) => {
  const id = newId();
  fake.setSecret(id, { username: 'u', password: newPassword() });
  const store = new SecretStore({ providers: { 'aws-sm': aws } });
  let uses = 0;
  const before = fake.requests;
  const boom = Object.assign(new Error('no route'), { code: 'ECONNREFUSED' });
  await t.rejects(
    store.withRotationRetry(
      `aws-sm:${id}`,
      async () => {
        uses++;
        throw boom;
      },
      isPgAuthFailure,
    ),
    boom,
  );
  t.equal(uses, 1);
  t.equal(fake.requests, before + 1);
});

t.test('withRotationRetry retries only once, and not at all when the secret did not change', async (t) => {
  const id = newId();
  fake.setSecret(id, { username: 'u', password: newPassword() });
  const store = new SecretStore({ providers: { 'aws-sm': aws } });
  const authFailure = () => Object.assign(new Error('password authentication failed'), { code: '28P01' });
  const attempt = (uses: DbSecret[]) =>
    store.withRotationRetry(
      `aws-sm:${id}`,
      async (secret) => {
        uses.push(secret);
        fake.setSecret(id, { username: 'u', password: newPassword() }); // rotates under every attempt
        throw authFailure();
      },
      isPgAuthFailure,
    );
  const rotating: DbSecret[] = [];
  const before = fake.requests;
  await t.rejects(attempt(rotating), { code: '28P01' });
  t.equal(rotating.length, 2, 'one retry, not more');
  t.not(rotating[0]?.password, rotating[1]?.password, 'the retry used the refetched secret');
  t.equal(fake.requests, before + 2);

  // The stored secret now equals what the next refetch returns: a retry could only fail again.
  const unchanged = new SecretStore({ providers: { 'aws-sm': aws } });
  let uses = 0;
  await t.rejects(
    unchanged.withRotationRetry(
      `aws-sm:${id}`,
      async () => {
        uses++;
        throw authFailure();
      },
      isPgAuthFailure,
    ),
    { code: '28P01' },
  );
  t.equal(uses, 1, 'same credentials after refetching: no second login attempt');
});

t.test('concurrent auth failures share one refetch', async (t) => {
  const id = newId();
  const [a, b] = [newPassword(), newPassword()];
  fake.setSecret(id, { username: 'u', password: a });
  const store = new SecretStore({ providers: { 'aws-sm': aws } });
  await store.get(`aws-sm:${id}`);
  fake.setSecret(id, { username: 'u', password: b });
  const before = fake.requests;
  const connectLike = async (secret: DbSecret) => {
    if (secret.password !== b) throw Object.assign(new Error('auth'), { code: '28P01' });
    return 'ok';
  };
  const results = await Promise.all(
    Array.from({ length: 5 }, () => store.withRotationRetry(`aws-sm:${id}`, connectLike, isPgAuthFailure)),
  );
  t.same(results, ['ok', 'ok', 'ok', 'ok', 'ok']);
  t.equal(fake.requests, before + 1, 'five failed jobs, one GetSecretValue');
});

t.test('a real password rotation: 28P01 with the cached password, one refetch, then connected', async (t) => {
  const db = await createTestDatabase(t);
  const role = `rotating_${randomBytes(4).toString('hex')}`;
  const [a, b] = [newPassword(), newPassword()];
  // format(%I, %L) quotes server-side: CREATE/ALTER ROLE take no bind parameters.
  const setPassword = async (verb: 'CREATE' | 'ALTER', password: string) => {
    const [stmt] = await db.ownerQuery<{ sql: string }>(
      `SELECT format('${verb} ROLE %I WITH LOGIN PASSWORD %L', $1::text, $2::text) AS sql`,
      [role, password],
    );
    await db.ownerQuery(stmt?.sql ?? '');
  };
  await setPassword('CREATE', a);
  t.teardown(() =>
    db
      .ownerQuery(`SELECT format('DROP ROLE IF EXISTS %I', $1::text) AS sql`, [role])
      .then(([stmt]) => db.ownerQuery(stmt?.sql ?? '')),
  );

  const id = `rds/${role}`;
  fake.setSecret(id, { username: role, password: a, engine: 'postgres' });
  const store = new SecretStore({ providers: { 'aws-sm': aws } });
  const ref = `aws-sm:${id}`;
  const errors: unknown[] = [];
  const connectAndAsk = (secret: DbSecret) =>
    (async () => {
      const client = new pg.Client(db.cluster.clientConfig(db.name, secret.username, secret.password));
      try {
        await client.connect();
        const { rows } = await client.query<{ who: string }>('SELECT current_user AS who');
        return rows[0]?.who;
      } catch (err) {
        errors.push(err);
        throw err;
      } finally {
        await client.end().catch(() => {});
      }
    })();

  t.equal(await store.withRotationRetry(ref, connectAndAsk, isPgAuthFailure), role, 'connected with A');
  t.equal(errors.length, 0);

  await setPassword('ALTER', b);
  fake.setSecret(id, { username: role, password: b, engine: 'postgres' });
  const before = fake.requests;
  t.equal(await store.withRotationRetry(ref, connectAndAsk, isPgAuthFailure), role, 'connected with B');
  t.equal(errors.length, 1, 'exactly one failed attempt');
  t.match(errors[0], { code: '28P01' }, 'the cached password A was refused');
  t.equal(fake.requests, before + 1, 'exactly one extra GetSecretValue');
  for (const err of errors) {
    const text = `${(err as Error).message} ${JSON.stringify(err)}`;
    t.ok(!text.includes(a) && !text.includes(b), 'the connection error holds neither password');
  }

  t.equal(await store.withRotationRetry(ref, connectAndAsk, isPgAuthFailure), role, 'B is now cached');
  t.equal(fake.requests, before + 1, 'no further request');
});

t.test('errors from the store carry no password', async (t) => {
  const id = newId();
  const password = newPassword();
  fake.setSecret(id, `{"username":"u","password":"${password}"`);
  const store = new SecretStore({ providers: { 'aws-sm': aws } });
  const err = await store.get(`aws-sm:${id}`).catch((e: unknown) => e);
  t.ok(isPgStewardError(err));
  t.ok(!String((err as Error).message).includes(password), 'no password in the message');
  t.ok(!JSON.stringify(err).includes(password), 'nor anywhere in the serialised error');
});
