import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { newDataKey } from '../../src/domain/encryption/envelope.js';
import { parseKeyRef, TenantKeys } from '../../src/domain/encryption/key-encryption.js';
import { FileSecretProvider } from '../../src/secrets/file.js';
import { SecretStore } from '../../src/secrets/store.js';
import { TenantSecretBinding } from '../../src/secrets/tenant-binding.js';

const dir = mkdtempSync(join(tmpdir(), 'pgsteward-keys-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const path = join(dir, 'secrets.json');
const write = (secrets: object) => writeFileSync(path, JSON.stringify(secrets), { mode: 0o600 });
const kek = () => ({ key: randomBytes(32).toString('base64') });
write({ 'acme/kek': kek(), 'acme/other': kek(), 'acme/short': { key: 'AAAA' }, 'globex/kek': kek() });
const keys = new TenantKeys({
  secrets: new SecretStore({ providers: { file: new FileSecretProvider({ path }) } }),
  binding: new TenantSecretBinding({ fileTenants: {}, awsTagKey: 'pgsteward:tenant', operatorRefs: [] }),
});

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
};

t.test('key references: secrets and KMS keys; anything else is PGS_KEY_REF_INVALID', async (t) => {
  t.same(parseKeyRef('file:acme/kek'), { kind: 'secret', ref: 'file:acme/kek' });
  t.same(parseKeyRef('aws-sm:arn:aws:secretsmanager:eu-west-1:1:secret:x'), {
    kind: 'secret',
    ref: 'aws-sm:arn:aws:secretsmanager:eu-west-1:1:secret:x',
  });
  t.match(parseKeyRef('kms:alias/acme'), { kind: 'kms', keyId: 'alias/acme' });
  t.match(parseKeyRef('kms:arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab'), { kind: 'kms' });
  for (const bad of [
    '',
    'kms:',
    'kms:a b',
    'vault:x',
    'file:',
    'secret-looking-thing',
    42,
    null,
    `kms:${'a'.repeat(3000)}`,
  ]) {
    t.throws(() => parseKeyRef(bad), { code: 'PGS_KEY_REF_INVALID' }, JSON.stringify(bad)?.slice(0, 30));
  }
  try {
    parseKeyRef('hunter2-password');
  } catch (err) {
    t.notOk((err as Error).message.includes('hunter2'), 'a ref without a known prefix is not echoed');
  }
});

t.test('a data key wrapped by a secret-held key unwraps for its own backup and tenant only', async (t) => {
  const dataKey = newDataKey();
  const wrapped = await keys.wrap('acme', 'b1', dataKey, 'file:acme/kek');
  t.match(wrapped, { keyRef: 'file:acme/kek', wrapping: 'aes-256-gcm', keyVersion: /./ });
  t.notOk(JSON.stringify(wrapped).includes(dataKey.toString('base64')), 'not the key itself');
  t.ok((await keys.unwrap('acme', 'b1', wrapped)).equals(dataKey));
  t.equal(await codeOf(keys.unwrap('acme', 'b2', wrapped)), 'PGS_DECRYPT_FAILED', 'another backup');
  t.equal(await codeOf(keys.unwrap('acme', 'b1', { ...wrapped, keyRef: 'file:acme/other' })), 'PGS_DECRYPT_FAILED');
  t.equal(
    await codeOf(keys.unwrap('acme', 'b1', { ...wrapped, wrappedKey: 'AAAA' })),
    'PGS_DECRYPT_FAILED',
    'malformed',
  );
  t.equal(await codeOf(keys.unwrap('globex', 'b1', wrapped)), 'PGS_KEY_UNAVAILABLE', "another tenant's key ref");
  t.equal(await codeOf(keys.unwrap('acme', 'b1', { ...wrapped, keyRef: 'file:acme/short' })), 'PGS_DECRYPT_FAILED');
  t.equal(
    await codeOf(keys.unwrap('acme', 'b1', { ...wrapped, wrapping: 'aws-kms' })),
    'PGS_DECRYPT_FAILED',
    'not kms',
  );
  t.equal(await keys.isCurrent('acme', wrapped, 'file:acme/kek'), true);
  t.equal(await keys.isCurrent('acme', wrapped, 'file:acme/other'), false);
});

t.test('check() tries a key before it is set', async (t) => {
  t.equal(await codeOf(keys.check('acme', 'file:acme/kek')), 'ok');
  t.equal(await codeOf(keys.check('acme', 'file:acme/short')), 'PGS_KEY_UNUSABLE');
  t.equal(await codeOf(keys.check('acme', 'file:acme/missing')), 'PGS_SECRET_NOT_FOUND');
  t.equal(await codeOf(keys.check('acme', 'file:globex/kek')), 'PGS_SECRET_NOT_FOUND', "another tenant's");
  t.equal(await codeOf(keys.check('acme', 'aws-sm:pgsteward/acme/kek')), 'PGS_SECRET_UNAVAILABLE', 'no AWS here');
});
