import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import t from 'tap';
import { createArtifactStorage } from '../../src/domain/backups/storage/create-storage.js';
import { TenantKeys } from '../../src/domain/encryption/key-encryption.js';
import { AwsSecretDescriber } from '../../src/secrets/aws-secret-tags.js';
import { AwsSecretsManagerProvider } from '../../src/secrets/aws-secrets-manager.js';
import { SecretStore } from '../../src/secrets/store.js';
import { TenantSecretBinding } from '../../src/secrets/tenant-binding.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { startFakeKms } from '../helpers/fake-kms.js';
import { startFakeSecretsManager } from '../helpers/fake-secrets-manager.js';
import { waitForJob } from '../helpers/jobs.js';
import { startTestS3Server } from '../helpers/s3-server.js';
import { createSourceDatabase } from '../helpers/source-database.js';
import { clusterSecret } from '../helpers/targets.js';

// Encryption at rest on the AWS path: artifacts in S3 (s3rver), the tenant's key in KMS, then in
// Secrets Manager, each reached through the real SDK client against a protocol-level peer.
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const s3 = await startTestS3Server('pgsteward-crypt');
t.teardown(() => s3.close());
const sm = await startFakeSecretsManager();
t.teardown(() => sm.close());
const kms = await startFakeKms();
t.teardown(() => kms.close());
const fakeAws = {
  endpoint: sm.endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
};
const secrets = new SecretStore({ providers: { 'aws-sm': new AwsSecretsManagerProvider(fakeAws) } });
const binding = new TenantSecretBinding({
  fileTenants: {},
  awsTagKey: 'pgsteward:tenant',
  awsNamePattern: 'pgsteward/{tenant}/*',
  operatorRefs: [],
  describer: new AwsSecretDescriber(fakeAws),
});
const keys = new TenantKeys({
  secrets,
  binding,
  kms: { endpoint: kms.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } },
});
t.teardown(() => keys.close());
const { app, db, token, seedTenants, adminToken } = await buildTestApp(
  t,
  {},
  {
    worker: true,
    services: {
      storage: createArtifactStorage({
        url: `s3://${s3.bucket}/backups`,
        s3: {
          endpoint: s3.endpoint,
          region: 'us-east-1',
          forcePathStyle: true,
          checksumMode: 'when_required',
          credentials,
        },
      }),
      secrets,
      secretBinding: binding,
      keys,
    },
  },
);
await seedTenants('acme', 'globex');
const source = await createSourceDatabase(t, db.cluster, { rows: 300 });
sm.setSecret('pgsteward/acme/main', { ...clusterSecret(db.cluster, source, 'verify-full'), engine: 'postgres' });
const acme = token('acme', ['targets:write', 'backups:write', 'backups:read', 'restores:write', 'jobs:read']);
const target = await app.inject({
  method: 'POST',
  url: '/v1/targets',
  headers: bearer(acme),
  payload: { name: 'main', secretRef: 'aws-sm:pgsteward/acme/main', sslMode: 'verify-full' },
});
t.equal(target.statusCode, 201, JSON.stringify(target.json()));
const targetId = target.json().id as string;
const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
t.teardown(() => client.destroy());
const admin = new pg.Pool({ ...db.cluster.clientConfig(), max: 2 });
const made: string[] = [];
t.teardown(async () => {
  for (const name of made) await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => {});
  await admin.end();
});

const setKey = (keyRef: string) =>
  app.inject({ method: 'PUT', url: '/v1/tenants/acme/encryption', headers: bearer(adminToken), payload: { keyRef } });

async function backup(payload: object): Promise<{ id: string; sha256: string; sizeBytes: number }> {
  const res = await app.inject({
    method: 'POST',
    url: `/v1/targets/${targetId}/backups`,
    headers: bearer(acme),
    payload,
  });
  const job = await waitForJob(app, acme, res.json().id);
  if (job.status !== 'succeeded') throw new Error(`backup failed: ${JSON.stringify(job.error)}`);
  return (await app.inject({ method: 'GET', url: `/v1/backups/${job.backupId}`, headers: bearer(acme) })).json();
}

async function restore(backupId: string) {
  const database = `crypt_${Math.random().toString(36).slice(2, 8)}`;
  made.push(database);
  const res = await app.inject({
    method: 'POST',
    url: `/v1/backups/${backupId}/restores`,
    headers: bearer(acme),
    payload: { database },
  });
  const job = await waitForJob(app, acme, res.json().id, 90_000);
  const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount === 1;
  return { job, database, exists };
}

const counts = async (database: string) => {
  const c = new pg.Client(db.cluster.clientConfig(database));
  await c.connect();
  try {
    const { rows } = await c.query<{ u: string; o: string }>(
      'SELECT (SELECT count(*) FROM users) AS u, (SELECT count(*) FROM orders) AS o',
    );
    return rows[0];
  } finally {
    await c.end();
  }
};

async function s3Object(key: string): Promise<Buffer> {
  const object = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

const kmsKey = kms.createKey('acme-backups');

t.test('a KMS key: backups land in S3 encrypted, and restore with equal row counts', async (t) => {
  const unknown = await setKey('kms:alias/nosuch');
  t.equal(unknown.statusCode, 422);
  t.equal(unknown.json().code, 'PGS_KEY_UNUSABLE');
  const set = await setKey('kms:alias/acme-backups');
  t.equal(set.statusCode, 200, JSON.stringify(set.json()));

  const encryptsBefore = kms.requestsTo('Encrypt');
  const b = await backup({ format: 'custom', includeGlobals: true });
  t.equal(kms.requestsTo('Encrypt'), encryptsBefore + 1, 'the data key was wrapped by KMS through the SDK');
  t.match((b as unknown as { encryption: unknown }).encryption, {
    keyRef: 'kms:alias/acme-backups',
    wrapping: 'aws-kms',
  });
  const listed = await client.send(
    new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `backups/acme/${targetId}/${b.id}/` }),
  );
  const objects = (listed.Contents ?? []).map((o) => o.Key as string).sort();
  t.equal(objects.length, 2, 'the dump and its globals file');
  for (const key of objects) {
    const bytes = await s3Object(key);
    t.equal(bytes.subarray(0, 6).toString('latin1'), 'PGSENC', `${key} is an envelope`);
    t.notOk(bytes.includes('PGDMP'), 'no dump header');
    t.notOk(bytes.includes('user1@example.com'), 'no source row in plain text');
    t.notOk(bytes.includes('CREATE ROLE'), 'no role in plain text');
  }
  const dump = await s3Object(objects.find((k) => k.endsWith('dump.custom')) as string);
  t.equal(dump.length, b.sizeBytes);

  const r = await restore(b.id);
  t.equal(r.job.status, 'succeeded', JSON.stringify(r.job.error));
  t.same(await counts(r.database), await counts(source.name), 'equal row counts');
});

t.test('a disabled KMS key or a wrapped key moved to another backup fails before anything is created', async (t) => {
  const a = await backup({ format: 'plain' });
  const b = await backup({ format: 'plain' });
  kms.setEnabled(kmsKey, false);
  let r = await restore(a.id);
  t.equal(r.job.error?.code, 'PGS_KEY_UNAVAILABLE');
  t.notOk(r.exists, 'nothing created');
  kms.setEnabled(kmsKey, true);

  // The KMS encryption context names the backup: b's wrapped key does not open for a.
  await db.ownerQuery(
    `UPDATE backups SET encryption = jsonb_set(encryption, '{wrappedKey}', (SELECT encryption -> 'wrappedKey' FROM backups WHERE id = $2))
      WHERE id = $1`,
    [a.id, b.id],
  );
  r = await restore(a.id);
  t.equal(r.job.error?.code, 'PGS_DECRYPT_FAILED');
  t.notOk(r.exists, 'nothing created');

  r = await restore(b.id);
  t.equal(r.job.status, 'succeeded', 'the other backup is unharmed');
});

t.test('rewrap from KMS to a Secrets Manager key; the tenant binding holds', async (t) => {
  const b = await backup({ format: 'tar' });
  sm.setSecret('pgsteward/globex/kek', { key: Buffer.alloc(32, 7).toString('base64') });
  t.equal(
    (await setKey('aws-sm:pgsteward/globex/kek')).json().code,
    'PGS_SECRET_NOT_FOUND',
    "globex's secret is not acme's",
  );
  sm.setSecret('pgsteward/acme/kek', { key: Buffer.alloc(32, 9).toString('base64') });
  const set = await setKey('aws-sm:pgsteward/acme/kek');
  t.equal(set.statusCode, 200, JSON.stringify(set.json()));
  const start = await app.inject({
    method: 'POST',
    url: '/v1/tenants/acme/encryption/rewrap',
    headers: bearer(adminToken),
  });
  t.equal(start.statusCode, 202);
  const job = await waitForJob(app, acme, start.json().id);
  // One backup of the previous test had its wrapped key swapped: it cannot be re-wrapped, the rest can.
  t.equal(job.status, 'failed');
  t.equal(job.error?.code, 'PGS_REWRAP_INCOMPLETE');
  t.match(job.error?.message, /^1 of \d+ data keys could not be re-wrapped/);
  const got = (await app.inject({ method: 'GET', url: `/v1/backups/${b.id}`, headers: bearer(acme) })).json();
  t.match(got.encryption, { keyRef: 'aws-sm:pgsteward/acme/kek', wrapping: 'aes-256-gcm' });
  kms.deny(kmsKey); // KMS is out of the picture now
  const r = await restore(b.id);
  t.equal(r.job.status, 'succeeded', JSON.stringify(r.job.error));
  t.same(await counts(r.database), await counts(source.name));

  // The secret rotated in place (a new AWSCURRENT): older backups unwrap with the version that wrapped them.
  sm.setSecret('pgsteward/acme/kek', { key: Buffer.alloc(32, 11).toString('base64') });
  const again = await restore(b.id);
  t.equal(again.job.status, 'succeeded', 'the wrapping version is read, not AWSCURRENT');
  const [before] = await db.ownerQuery<{ v: string }>(
    `SELECT encryption ->> 'keyVersion' AS v FROM backups WHERE id = $1`,
    [b.id],
  );
  const second = await app.inject({
    method: 'POST',
    url: '/v1/tenants/acme/encryption/rewrap',
    headers: bearer(adminToken),
  });
  const done = await waitForJob(app, acme, second.json().id);
  t.equal(done.error?.code, 'PGS_REWRAP_INCOMPLETE', 'the swapped key still cannot be re-wrapped');
  const [after] = await db.ownerQuery<{ v: string }>(
    `SELECT encryption ->> 'keyVersion' AS v FROM backups WHERE id = $1`,
    [b.id],
  );
  t.not(after?.v, before?.v, 'the rewrap moved the key to the current version');
});
