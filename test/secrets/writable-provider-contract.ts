import { randomBytes, randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import type { Test } from 'tap';
import { isPgStewardError, type PgStewardError } from '../../src/errors.js';
import type { SecretProvider } from '../../src/secrets/db-secret.js';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS, type SecretWriter } from '../../src/secrets/secret-writer.js';

export type WritableProvider = SecretProvider & SecretWriter;

export interface ContractSetup {
  /** Two instances over the same store (the same file, the same endpoint), as two processes would have. */
  providers: [WritableProvider, WritableProvider];
  /** The ref `fetch` is given for an id. */
  refOf(id: string): string;
  /** A fresh secret id. */
  newId(): string;
}

/** Every password a test made; no error message, log line or serialised value may contain one. */
const passwords: string[] = [];
export const newPassword = () => {
  const password = `pw-${randomBytes(12).toString('hex')}`;
  passwords.push(password);
  return password;
};

/** Asserts `text` holds none of the passwords made so far. */
export function assertNoPassword(t: Test, text: string, what: string): void {
  t.ok(!passwords.some((password) => text.includes(password)), `${what} holds no password`);
}

/** The PgStewardError `promise` rejected with, after checking it leaks no password in any form. */
export async function rejection(t: Test, promise: Promise<unknown>): Promise<PgStewardError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isPgStewardError(err)) throw new Error(`expected a PgStewardError, got ${String(err)}`);
  assertNoPassword(t, `${err.message} ${JSON.stringify(err)} ${inspect(err)} ${err.stack}`, `${err.code}`);
  return err;
}

const dbValue = (password: string, extra: Record<string, unknown> = {}) => ({
  engine: 'postgres',
  host: 'db.internal',
  port: 5432,
  username: 'app_login',
  password,
  dbname: 'app',
  ...extra,
});

const sorted = (versions: Record<string, string[]>) =>
  Object.fromEntries(Object.entries(versions).map(([id, stages]) => [id, [...stages].sort()]));

/**
 * The behaviour both writable providers share, AWS's semantics: create, put pending, move stages, read
 * by stage and by version, idempotent and conflicting repeats, concurrent writers, deletion, and no
 * password in any error or serialised value.
 */
export function writableProviderContract(t: Test, setup: ContractSetup): void {
  const [provider, other] = setup.providers;
  const { refOf, newId } = setup;

  t.test('create: the first version is AWSCURRENT, tagged, readable by fetch and getSecretValue', async (t) => {
    const id = newId();
    const token = randomUUID();
    const password = newPassword();
    const created = await provider.createSecret(id, dbValue(password), {
      tags: { 'pgsteward:tenant': 'acme' },
      clientRequestToken: token,
    });
    t.same(created, { versionId: token, stages: [AWSCURRENT] });
    t.same(await provider.describeSecret(id), {
      versions: { [token]: [AWSCURRENT] },
      tags: { 'pgsteward:tenant': 'acme' },
    });
    const secret = await other.fetch(id, refOf(id));
    t.ok(secret.password === password, 'fetch reads the new secret, from the other instance too');
    t.equal(secret.engine, 'postgres');
    const read = await provider.getSecretValue(id);
    t.equal(read.versionId, token);
    t.same(read.stages, [AWSCURRENT]);
    t.ok(read.value.password === password, 'the password is readable as a property');
    t.equal(read.value.dbname, 'app', 'extra fields are kept');
    assertNoPassword(
      t,
      `${JSON.stringify(read)} ${inspect(read)} ${JSON.stringify({ ...read.value })}`,
      'the read value serialised',
    );

    const untokened = newId();
    const generated = await provider.createSecret(untokened, dbValue(newPassword()));
    t.match(generated.versionId, /^[\x21-\x7e]{32,64}$/, 'without a token, a version id is generated');
  });

  t.test('rotation: put AWSPENDING, read it, move AWSCURRENT, AWSPREVIOUS follows, drop AWSPENDING', async (t) => {
    const id = newId();
    const [oldPassword, newPasswordValue] = [newPassword(), newPassword()];
    const first = randomUUID();
    await provider.createSecret(id, dbValue(oldPassword), { clientRequestToken: first });

    const job = randomUUID();
    const pending = await provider.putSecretValue(id, dbValue(newPasswordValue), {
      clientRequestToken: job,
      stages: [AWSPENDING],
    });
    t.same(pending, { versionId: job, stages: [AWSPENDING] });
    t.ok(
      (await provider.getSecretValue(id, { stage: AWSPENDING })).value.password === newPasswordValue,
      'AWSPENDING reads the new value',
    );
    t.ok((await provider.fetch(id, refOf(id))).password === oldPassword, 'AWSCURRENT is still the old value');
    t.same(sorted((await provider.describeSecret(id)).versions), { [first]: [AWSCURRENT], [job]: [AWSPENDING] });

    await provider.updateVersionStage(id, AWSCURRENT, { moveToVersionId: job, removeFromVersionId: first });
    t.same(sorted((await provider.describeSecret(id)).versions), {
      [first]: [AWSPREVIOUS],
      [job]: [AWSCURRENT, AWSPENDING],
    });
    await provider.updateVersionStage(id, AWSPENDING, { removeFromVersionId: job });
    t.same((await provider.describeSecret(id)).versions, { [first]: [AWSPREVIOUS], [job]: [AWSCURRENT] });
    t.ok((await other.fetch(id, refOf(id))).password === newPasswordValue, 'fetch reads the rotated value');

    const previous = await provider.getSecretValue(id, { stage: AWSPREVIOUS });
    t.equal(previous.versionId, first);
    t.ok(previous.value.password === oldPassword);
    const byId = await provider.getSecretValue(id, { versionId: first });
    t.same(byId.stages, [AWSPREVIOUS]);
    t.ok(byId.value.password === oldPassword, 'read by version id');
    t.equal(
      (await provider.getSecretValue(id, { versionId: job, stage: AWSCURRENT })).versionId,
      job,
      'by id and stage',
    );

    // A second rotation: AWSPREVIOUS moves on to the version AWSCURRENT leaves.
    const next = randomUUID();
    await provider.putSecretValue(id, dbValue(newPassword()), { clientRequestToken: next, stages: [AWSPENDING] });
    await provider.updateVersionStage(id, AWSCURRENT, { moveToVersionId: next, removeFromVersionId: job });
    await provider.updateVersionStage(id, AWSPENDING, { removeFromVersionId: next });
    t.same((await provider.describeSecret(id)).versions, { [job]: [AWSPREVIOUS], [next]: [AWSCURRENT] });

    // Rolling back moves AWSCURRENT onto the AWSPREVIOUS version, which then carries only AWSCURRENT.
    await provider.updateVersionStage(id, AWSCURRENT, { moveToVersionId: job, removeFromVersionId: next });
    t.same((await provider.describeSecret(id)).versions, { [job]: [AWSCURRENT], [next]: [AWSPREVIOUS] });
  });

  t.test('a put without stages becomes AWSCURRENT and moves AWSPREVIOUS', async (t) => {
    const id = newId();
    const [a, b] = [randomUUID(), randomUUID()];
    await provider.createSecret(id, dbValue(newPassword()), { clientRequestToken: a });
    const password = newPassword();
    t.same(await provider.putSecretValue(id, dbValue(password), { clientRequestToken: b }), {
      versionId: b,
      stages: [AWSCURRENT],
    });
    t.same((await provider.describeSecret(id)).versions, { [a]: [AWSPREVIOUS], [b]: [AWSCURRENT] });
    t.ok((await provider.fetch(id, refOf(id))).password === password);
  });

  t.test('stage conflicts and unknown versions are refused with coded errors, and change nothing', async (t) => {
    const id = newId();
    const [a, b] = [randomUUID(), randomUUID()];
    await provider.createSecret(id, dbValue(newPassword()), { clientRequestToken: a });
    await provider.putSecretValue(id, dbValue(newPassword()), { clientRequestToken: b, stages: [AWSPENDING] });
    const before = await provider.describeSecret(id);

    const withoutRemove = await rejection(t, provider.updateVersionStage(id, AWSCURRENT, { moveToVersionId: b }));
    t.match(withoutRemove, {
      code: 'PGS_SECRET_CONFLICT',
      statusCode: 409,
      message: /attached to version .*removeFromVersionId/,
    });
    const wrongRemove = await rejection(
      t,
      provider.updateVersionStage(id, AWSCURRENT, { moveToVersionId: a, removeFromVersionId: b }),
    );
    t.match(wrongRemove, { code: 'PGS_SECRET_CONFLICT', message: /not attached to version/ });
    const unknown = randomUUID();
    t.match(
      await rejection(
        t,
        provider.updateVersionStage(id, AWSCURRENT, { moveToVersionId: unknown, removeFromVersionId: a }),
      ),
      {
        code: 'PGS_SECRET_VERSION_NOT_FOUND',
        message: new RegExp(unknown),
      },
    );
    t.match(await rejection(t, provider.updateVersionStage(id, AWSCURRENT, { removeFromVersionId: a })), {
      code: 'PGS_SECRET_CONFLICT',
      message: /AWSCURRENT can only be moved/,
    });
    t.match(await rejection(t, provider.updateVersionStage(id, 'not a label!', { moveToVersionId: a })), {
      code: 'PGS_VALIDATION',
    });
    t.same(await provider.describeSecret(id), before, 'the labels are unchanged');

    t.match(await rejection(t, provider.getSecretValue(id, { stage: 'NOSUCHSTAGE' })), {
      code: 'PGS_SECRET_VERSION_NOT_FOUND',
      message: /with stage NOSUCHSTAGE/,
    });
    t.match(await rejection(t, provider.getSecretValue(id, { versionId: unknown })), {
      code: 'PGS_SECRET_VERSION_NOT_FOUND',
    });
    t.match(await rejection(t, provider.getSecretValue(id, { versionId: a, stage: AWSPENDING })), {
      code: 'PGS_SECRET_VERSION_NOT_FOUND',
    });
  });

  t.test('idempotent repeat: the same token and value again succeeds and adds nothing', async (t) => {
    const id = newId();
    const [first, job] = [randomUUID(), randomUUID()];
    const password = newPassword();
    const created = await provider.createSecret(id, dbValue(password), { clientRequestToken: first, tags: { a: 'b' } });
    // A retry rebuilds the value, perhaps with its fields in another order: still the same value.
    const reordered = Object.fromEntries(Object.entries(dbValue(password)).reverse());
    t.same(
      await other.createSecret(id, reordered, { clientRequestToken: first, tags: { a: 'b' } }),
      created,
      'create again',
    );

    const pendingPassword = newPassword();
    const put = await provider.putSecretValue(id, dbValue(pendingPassword), {
      clientRequestToken: job,
      stages: [AWSPENDING],
    });
    const described = await provider.describeSecret(id);
    const again = await other.putSecretValue(id, dbValue(pendingPassword), {
      clientRequestToken: job,
      stages: [AWSPENDING],
    });
    t.same(again, put, 'put again answers the same version');
    t.same(await provider.describeSecret(id), described, 'and changes nothing');
  });

  t.test('conflicting repeat: the same token with another value, or an existing name, is refused', async (t) => {
    const id = newId();
    const [first, job] = [randomUUID(), randomUUID()];
    await provider.createSecret(id, dbValue(newPassword()), { clientRequestToken: first });
    await provider.putSecretValue(id, dbValue(newPassword()), { clientRequestToken: job, stages: [AWSPENDING] });
    const described = await provider.describeSecret(id);
    const pending = await provider.getSecretValue(id, { stage: AWSPENDING });

    const put = await rejection(
      t,
      other.putSecretValue(id, dbValue(newPassword()), { clientRequestToken: job, stages: [AWSPENDING] }),
    );
    t.match(put, { code: 'PGS_SECRET_CONFLICT', statusCode: 409, message: /already exists with a different value/ });
    t.match(await rejection(t, other.createSecret(id, dbValue(newPassword()), { clientRequestToken: first })), {
      code: 'PGS_SECRET_EXISTS',
      statusCode: 409,
    });
    t.match(await rejection(t, other.createSecret(id, dbValue(newPassword()))), { code: 'PGS_SECRET_EXISTS' });
    t.same(await provider.describeSecret(id), described, 'nothing changed');
    t.ok((await provider.getSecretValue(id, { stage: AWSPENDING })).value.password === pending.value.password);
  });

  t.test('a value that is not a usable database secret is refused before anything is written', async (t) => {
    const id = newId();
    const password = newPassword();
    t.match(await rejection(t, provider.createSecret(id, { username: 'u' })), {
      code: 'PGS_SECRET_MALFORMED',
      message: /password is missing/,
    });
    t.match(await rejection(t, provider.createSecret(id, { username: 'u', password, port: `x${password}` })), {
      code: 'PGS_SECRET_MALFORMED',
      message: /port must be an integer/,
    });
    t.match(await rejection(t, provider.createSecret(id, { username: 'u', password, big: 10n } as never)), {
      code: 'PGS_SECRET_MALFORMED',
      message: /not representable as JSON/,
    });
    t.match(await rejection(t, provider.createSecret(id, [password] as never)), { code: 'PGS_SECRET_MALFORMED' });
    t.match(await rejection(t, provider.createSecret(id, dbValue(password, { pad: 'x'.repeat(70_000) }))), {
      code: 'PGS_SECRET_MALFORMED',
      message: /longer than/,
    });
    t.match(await rejection(t, provider.describeSecret(id)), { code: 'PGS_SECRET_NOT_FOUND' }, 'nothing was created');
    t.match(await rejection(t, provider.createSecret(id, dbValue(password), { clientRequestToken: 'short' })), {
      code: 'PGS_VALIDATION',
    });
    t.match(await rejection(t, provider.createSecret(id, dbValue(password), { tags: { 'aws:x': 'y' } })), {
      code: 'PGS_VALIDATION',
    });
  });

  t.test('a missing secret is PGS_SECRET_NOT_FOUND for every operation', async (t) => {
    const id = newId();
    const token = randomUUID();
    const attempts = [
      () => provider.putSecretValue(id, dbValue(newPassword()), { clientRequestToken: token }),
      () => provider.updateVersionStage(id, AWSCURRENT, { moveToVersionId: token }),
      () => provider.describeSecret(id),
      () => provider.getSecretValue(id),
      () => provider.tagSecret(id, { a: 'b' }),
      () => provider.deleteSecret(id, { forceWithoutRecovery: true }),
    ];
    for (const attempt of attempts) {
      t.match(await rejection(t, attempt()), { code: 'PGS_SECRET_NOT_FOUND', statusCode: 422 });
    }
  });

  t.test('tags are added and replaced, others kept', async (t) => {
    const id = newId();
    await provider.createSecret(id, dbValue(newPassword()), { tags: { 'pgsteward:tenant': 'acme', keep: 'me' } });
    await other.tagSecret(id, { 'pgsteward:tenant': 'globex', added: 'yes' });
    t.same((await provider.describeSecret(id)).tags, { 'pgsteward:tenant': 'globex', keep: 'me', added: 'yes' });
  });

  t.test('delete removes the secret: it can no longer be read', async (t) => {
    const id = newId();
    await provider.createSecret(id, dbValue(newPassword()));
    await other.deleteSecret(id, { forceWithoutRecovery: true });
    t.match(await rejection(t, provider.fetch(id, refOf(id))), { code: 'PGS_SECRET_NOT_FOUND' });
    t.match(await rejection(t, provider.describeSecret(id)), { code: 'PGS_SECRET_NOT_FOUND' });
  });

  t.test('concurrent writers from two instances lose nothing', async (t) => {
    // Twenty creates of distinct secrets: for a file, twenty read-modify-writes of the same file.
    const ids = Array.from({ length: 20 }, () => newId());
    const values = ids.map(() => newPassword());
    await Promise.all(ids.map((id, i) => (i % 2 === 0 ? provider : other).createSecret(id, dbValue(values[i] ?? ''))));
    const read = await Promise.all(ids.map((id) => provider.fetch(id, refOf(id))));
    t.ok(
      read.every((secret, i) => secret.password === values[i]),
      'all twenty secrets are there with their values',
    );

    // Sixteen versions of one secret at once, each with its own label, so none is deprecated.
    const id = newId();
    const first = randomUUID();
    await provider.createSecret(id, dbValue(newPassword()), { clientRequestToken: first });
    const tokens = Array.from({ length: 16 }, () => randomUUID());
    await Promise.all(
      tokens.map((token, i) =>
        (i % 2 === 0 ? provider : other).putSecretValue(id, dbValue(newPassword()), {
          clientRequestToken: token,
          stages: [`writer-${i}`],
        }),
      ),
    );
    const expected = Object.fromEntries([[first, [AWSCURRENT]], ...tokens.map((token, i) => [token, [`writer-${i}`]])]);
    t.same((await provider.describeSecret(id)).versions, expected, 'all sixteen versions, each with its label');
  });

  t.test('readers during writes see a whole value: one that was written, never a torn one', async (t) => {
    const id = newId();
    const written = new Set<string>([newPassword()]);
    await provider.createSecret(id, dbValue([...written][0] ?? ''));
    let writing = true;
    const reads: string[] = [];
    const reader = (async () => {
      while (writing) reads.push((await other.getSecretValue(id)).value.password as string);
    })();
    for (let i = 0; i < 15; i++) {
      const password = newPassword();
      written.add(password);
      await provider.putSecretValue(id, dbValue(password, { pad: 'p'.repeat(20_000) }), {
        clientRequestToken: randomUUID(),
      });
    }
    writing = false;
    await reader;
    t.ok(reads.length > 0, `${reads.length} reads during the writes`);
    t.ok(
      reads.every((password) => written.has(password)),
      'every read is a value that was written',
    );
  });
}
