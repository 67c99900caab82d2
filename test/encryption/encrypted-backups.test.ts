import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { bearer } from '../helpers/app.js';
import { readArtifact, writeArtifact } from '../helpers/artifacts.js';
import { postGraphql } from '../helpers/graphql.js';
import { waitForJob } from '../helpers/jobs.js';
import { restoreFixture } from '../restores/restore-fixture.js';

// Encryption at rest end to end, on file storage with file: key-encryption keys: what lands on disk,
// restores and drills of encrypted backups, the ways an encrypted backup can be broken, and rewrap.
const f = await restoreFixture(t);
const expected = await f.fingerprint(f.source.name);
const kek = () => ({ key: randomBytes(32).toString('base64') });
const firstKey = kek();
f.writeSecrets({ 'acme/kek-1': firstKey, 'acme/kek-2': kek(), 'globex/kek': kek() });
const admin = f.adminToken;

const setKey = (tenant: string, keyRef: unknown, token = admin) =>
  f.app.inject({ method: 'PUT', url: `/v1/tenants/${tenant}/encryption`, headers: bearer(token), payload: { keyRef } });
const getKey = (tenant: string, token = admin) =>
  f.app.inject({ method: 'GET', url: `/v1/tenants/${tenant}/encryption`, headers: bearer(token) });
const stored = async (key: string) => readArtifact(f.services.storage, key);
const nothingCreated = async (t: Test, database: string) => t.same(await f.databases(database), [], 'nothing created');
const row = async (id: string) =>
  (
    await f.db.ownerQuery<{ encryption: Record<string, unknown> | null }>(
      'SELECT encryption FROM backups WHERE id = $1',
      [id],
    )
  )[0]?.encryption;

t.test('operators set a tenant key; it is tried first, shown by reference only, and tenancy holds', async (t) => {
  const before = await getKey('acme');
  t.equal(before.statusCode, 200);
  t.same(before.json(), { tenantId: 'acme', encrypted: false, keyRef: null, since: null });

  t.equal((await setKey('acme', 'file:acme/kek-1', f.acme)).statusCode, 403, 'a tenant token cannot set it');
  t.equal((await setKey('acme', 'vault:x')).json().code, 'PGS_KEY_REF_INVALID');
  t.equal((await setKey('acme', 'kms:has space')).json().code, 'PGS_KEY_REF_INVALID');
  const foreign = await setKey('acme', 'file:globex/kek');
  t.equal(foreign.statusCode, 422);
  t.equal(foreign.json().code, 'PGS_SECRET_NOT_FOUND', "another tenant's secret is refused");
  f.writeSecrets({ 'acme/not-a-key': { key: 'c2hvcnQ=' } });
  t.equal((await setKey('acme', 'file:acme/not-a-key')).json().code, 'PGS_KEY_UNUSABLE');
  t.equal((await setKey('nosuch', 'file:acme/kek-1')).statusCode, 404);

  const set = await setKey('acme', 'file:acme/kek-1');
  t.equal(set.statusCode, 200);
  t.match(set.json(), { tenantId: 'acme', encrypted: true, keyRef: 'file:acme/kek-1' });
  t.notOk(set.body.includes(firstKey.key), 'no key material in the answer');
  const own = await getKey('acme', f.token('acme', ['tenants:read']));
  t.equal(own.statusCode, 200, 'a tenant reads its own status');
  t.equal((await getKey('acme', f.token('globex', ['tenants:read']))).statusCode, 404, "another tenant's is 404");
  const audit = await f.db.ownerQuery<{ n: number }>(
    `SELECT count(*)::int AS n FROM audit_events WHERE resource = 'tenants/acme/encryption'`,
  );
  t.ok((audit[0]?.n ?? 0) >= 1, 'the change is audited');
});

for (const format of ['custom', 'plain', 'tar', 'directory'] as const) {
  t.test(`a ${format} backup is stored encrypted and restores with every row`, async (t) => {
    const b = await f.backup({ format, includeGlobals: format === 'custom' });
    const enc = await row(b.id);
    t.match(enc, { algorithm: 'aes-256-gcm-chunked-v1', keyRef: 'file:acme/kek-1', wrapping: 'aes-256-gcm' });
    t.equal(enc?.wrappedKey && Buffer.from(String(enc.wrappedKey), 'base64').length, 60);
    const key = await f.artifactKey(b.id);
    const objects = format === 'directory' ? await f.services.storage.list(key) : [key];
    t.ok(objects.length > 0);
    for (const object of objects) {
      const bytes = await stored(object);
      t.equal(bytes.subarray(0, 6).toString('latin1'), 'PGSENC', `${object} is an envelope`);
      t.notOk(bytes.includes('PGDMP'), 'no dump header anywhere');
      t.notOk(bytes.includes('user1@example.com'), 'no source row in plain text');
    }
    if (format !== 'directory') {
      t.match(enc, { plaintextSha256: /^[0-9a-f]{64}$/ });
      t.not(enc?.plaintextSha256, b.sha256, 'the recorded sha256 is of the stored (encrypted) object');
    }
    if (format === 'custom') {
      const [globalsRow] = await f.db.ownerQuery<{ g: { key: string; plaintextSha256?: string } }>(
        'SELECT globals AS g FROM backups WHERE id = $1',
        [b.id],
      );
      const globals = globalsRow?.g;
      t.ok(globals?.key);
      t.match(globals, { plaintextSha256: /^[0-9a-f]{64}$/ });
      const g = await stored(globals?.key as string);
      t.equal(g.subarray(0, 6).toString('latin1'), 'PGSENC', 'the globals file is encrypted too');
      t.notOk(g.includes('CREATE ROLE'), 'no role in plain text');
    }
    const database = f.newName(format);
    const r = await f.restore(b.id, { database, ...(format === 'custom' ? { includeGlobals: true } : {}) });
    t.equal(r.job?.status, 'succeeded', JSON.stringify(r.job?.error));
    t.same(await f.fingerprint(database), expected, 'same rows, same content');
  });
}

t.test('GraphQL shows encryption status on backups and tenants, never key material', async (t) => {
  const b = await f.backup({ format: 'custom' });
  const got = await postGraphql(
    f.app,
    f.acme,
    `query($id: ID!) { backup(id: $id) { sha256 encryption { algorithm keyRef wrapping plaintextSha256 plaintextSizeBytes } } }`,
    { id: b.id },
  );
  t.same(got.errors, undefined);
  const backup = got.data?.backup as { sha256: string; encryption: Record<string, unknown> };
  t.match(backup.encryption, {
    algorithm: 'aes-256-gcm-chunked-v1',
    keyRef: 'file:acme/kek-1',
    wrapping: 'aes-256-gcm',
  });
  t.not(backup.encryption.plaintextSha256, backup.sha256);
  const rest = await f.app.inject({ method: 'GET', url: `/v1/backups/${b.id}`, headers: bearer(f.acme) });
  t.same(rest.json().encryption, backup.encryption, 'REST shows the same');
  t.notOk(rest.body.includes('wrappedKey'), 'not even the wrapped key is shown');

  const tenants = await postGraphql(
    f.app,
    admin,
    '{ tenants(first: 10) { items { id encryption { encrypted keyRef since } } } }',
  );
  t.same(tenants.errors, undefined);
  const items =
    (tenants.data?.tenants as { items: { id: string; encryption: { encrypted: boolean } }[] } | undefined)?.items ?? [];
  t.match(items.find((i) => i.id === 'acme')?.encryption, { encrypted: true, keyRef: 'file:acme/kek-1' });
  t.match(items.find((i) => i.id === 'globex')?.encryption, { encrypted: false, keyRef: null });
  const other = await postGraphql(
    f.app,
    f.token('globex', ['tenants:read']),
    '{ tenant(id: "acme") { encryption { keyRef } } }',
  );
  t.equal(other.errors?.[0]?.extensions.code, 'PGS_TENANT_NOT_FOUND', "another tenant's status is not found");
  const own = await postGraphql(f.app, f.token('acme', ['tenants:read']), '{ tenant { encryption { encrypted } } }');
  t.same(own.data, { tenant: { encryption: { encrypted: true } } });
  const denied = await postGraphql(
    f.app,
    f.acme,
    'mutation { setTenantEncryption(tenantId: "acme", keyRef: "file:acme/kek-2") { keyRef } }',
  );
  t.equal(denied.errors?.[0]?.extensions.code, 'PGS_MISSING_SCOPE');
  const set = await postGraphql(
    f.app,
    admin,
    'mutation { setTenantEncryption(tenantId: "acme", keyRef: "file:acme/kek-1") { keyRef encrypted } }',
  );
  t.same(set.data, { setTenantEncryption: { keyRef: 'file:acme/kek-1', encrypted: true } });
});

t.test('a drill of an encrypted backup restores and verifies it', async (t) => {
  const b = await f.backup({ format: 'custom' });
  const res = await f.app.inject({ method: 'POST', url: `/v1/backups/${b.id}/verify`, headers: bearer(f.acme) });
  t.equal(res.statusCode, 202);
  const job = await waitForJob(f.app, f.acme, res.json().id, 90_000);
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));
  t.equal((job.result as { verified?: boolean }).verified, true);
});

t.test('a flipped byte, a truncated object and a wrong key each fail before anything is created', async (t) => {
  const b = await f.backup({ format: 'custom' });
  const key = await f.artifactKey(b.id);
  const original = await stored(key);

  const flipped = Buffer.from(original);
  flipped[Math.floor(flipped.length / 2)] = (flipped[Math.floor(flipped.length / 2)] as number) ^ 0x01;
  await writeArtifact(f.services.storage, key, flipped);
  let database = f.newName('flip');
  let r = await f.restore(b.id, { database });
  t.equal(r.job?.error?.code, 'PGS_ARTIFACT_CORRUPT', 'flipped byte');
  await nothingCreated(t, database);

  // The same flip with a record that agrees: the envelope alone must catch it.
  await f.db.ownerQuery(`UPDATE backups SET sha256 = encode(sha256($1::bytea), 'hex') WHERE id = $2`, [flipped, b.id]);
  database = f.newName('flip');
  r = await f.restore(b.id, { database });
  t.equal(r.job?.error?.code, 'PGS_ARTIFACT_CORRUPT', 'flipped byte, record rewritten to match');
  t.match(r.job?.error?.message, /authenticat/);
  await nothingCreated(t, database);

  const cut = original.subarray(0, original.length - 100);
  await writeArtifact(f.services.storage, key, cut);
  await f.db.ownerQuery(`UPDATE backups SET sha256 = encode(sha256($1::bytea), 'hex'), size_bytes = $2 WHERE id = $3`, [
    cut,
    cut.length,
    b.id,
  ]);
  database = f.newName('cut');
  r = await f.restore(b.id, { database });
  t.equal(r.job?.error?.code, 'PGS_ARTIFACT_CORRUPT', 'truncated, record rewritten to match');
  await nothingCreated(t, database);

  await writeArtifact(f.services.storage, key, original);
  await f.db.ownerQuery(`UPDATE backups SET sha256 = encode(sha256($1::bytea), 'hex'), size_bytes = $2 WHERE id = $3`, [
    original,
    original.length,
    b.id,
  ]);
  f.writeSecrets({ 'acme/kek-1': kek() }); // the secret now holds another key
  database = f.newName('wrong');
  r = await f.restore(b.id, { database });
  t.equal(r.job?.error?.code, 'PGS_DECRYPT_FAILED', 'wrong key');
  t.notOk(JSON.stringify(r.job).includes(firstKey.key));
  await nothingCreated(t, database);

  f.writeSecrets({ 'acme/kek-1': firstKey });
  database = f.newName('back');
  r = await f.restore(b.id, { database });
  t.equal(r.job?.status, 'succeeded', 'with the right key back, the same backup restores');
});

t.test('rewrap moves every data key to the new key without touching artifacts, and can run again', async (t) => {
  const b = await f.backup({ format: 'custom' });
  const key = await f.artifactKey(b.id);
  const bytesBefore = await stored(key);
  t.equal((await setKey('acme', 'file:acme/kek-2')).statusCode, 200);
  const newer = await f.backup({ format: 'plain' });
  t.match(await row(newer.id), { keyRef: 'file:acme/kek-2' }, 'new backups use the new key at once');

  const start = await f.app.inject({
    method: 'POST',
    url: '/v1/tenants/acme/encryption/rewrap',
    headers: bearer(admin),
  });
  t.equal(start.statusCode, 202);
  t.equal(start.json().kind, 'encryption-rewrap');
  const job = await waitForJob(f.app, f.acme, start.json().id);
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));
  t.match(job.result, { keyRef: 'file:acme/kek-2', alreadyCurrent: 1 });
  t.ok((job.result as { rewrapped: number }).rewrapped >= 1);
  t.match(await row(b.id), { keyRef: 'file:acme/kek-2' });
  t.ok((await stored(key)).equals(bytesBefore), 'the artifact is untouched');

  f.writeSecrets({ 'acme/kek-1': kek() }); // the old key is gone
  const database = f.newName('rewrapped');
  const r = await f.restore(b.id, { database });
  t.equal(r.job?.status, 'succeeded', 'an old backup restores with the new key alone');

  const again = await f.app.inject({
    method: 'POST',
    url: '/v1/tenants/acme/encryption/rewrap',
    headers: bearer(admin),
  });
  const second = await waitForJob(f.app, f.acme, again.json().id);
  t.match(second.result, { rewrapped: 0 }, 'a second run finds nothing to do');

  t.equal(
    (await f.app.inject({ method: 'POST', url: '/v1/tenants/globex/encryption/rewrap', headers: bearer(admin) })).json()
      .code,
    'PGS_ENCRYPTION_NOT_CONFIGURED',
  );
  t.equal(
    (await f.app.inject({ method: 'POST', url: '/v1/tenants/acme/encryption/rewrap', headers: bearer(f.acme) }))
      .statusCode,
    403,
  );
});
