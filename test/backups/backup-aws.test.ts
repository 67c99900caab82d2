import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import t from 'tap';
import { createArtifactStorage } from '../../src/domain/backups/storage/create-storage.js';
import { AwsSecretDescriber } from '../../src/secrets/aws-secret-tags.js';
import { AwsSecretsManagerProvider } from '../../src/secrets/aws-secrets-manager.js';
import { SecretStore } from '../../src/secrets/store.js';
import { TenantSecretBinding } from '../../src/secrets/tenant-binding.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { startFakeSecretsManager } from '../helpers/fake-secrets-manager.js';
import { waitForJob } from '../helpers/jobs.js';
import { startTestS3Server } from '../helpers/s3-server.js';
import { createSourceDatabase } from '../helpers/source-database.js';
import { clusterSecret } from '../helpers/targets.js';

// The AWS path end to end: credentials from Secrets Manager and the artifact in S3, both through the
// real SDK clients, against protocol-level peers (a Secrets Manager JSON 1.1 server, and s3rver).
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const s3 = await startTestS3Server('pgsteward-e2e');
t.teardown(() => s3.close());
const sm = await startFakeSecretsManager();
t.teardown(() => sm.close());

const fakeAws = {
  endpoint: sm.endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
};
const { app, db, token, seedTenants, services } = await buildTestApp(
  t,
  { PGSTEWARD_TARGET_ALLOWLIST: '127.0.0.0/8,::1/128' },
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
      secrets: new SecretStore({
        providers: {
          'aws-sm': new AwsSecretsManagerProvider(fakeAws),
        },
      }),
      secretBinding: new TenantSecretBinding({
        fileTenants: {},
        awsTagKey: 'pgsteward:tenant',
        operatorRefs: [],
        describer: new AwsSecretDescriber(fakeAws),
      }),
    },
  },
);
await seedTenants('acme');
const source = await createSourceDatabase(t, db.cluster);
sm.setSecret('prod/acme/main', {
  ...clusterSecret(db.cluster, source, 'verify-full'),
  engine: 'postgres',
});
// Tagged for its tenant through the provider's write side (the SDK's TagResource).
const writer = new AwsSecretsManagerProvider(fakeAws);
t.teardown(() => writer.close());
await writer.tagSecret('prod/acme/main', { 'pgsteward:tenant': 'acme' });
const acme = token('acme', ['targets:write', 'backups:write', 'backups:read', 'jobs:read']);

t.test('a backup with credentials from Secrets Manager lands, verified, in S3', async (t) => {
  const target = await app.inject({
    method: 'POST',
    url: '/v1/targets',
    headers: bearer(acme),
    payload: { name: 'main', secretRef: `aws-sm:${sm.arnOf('prod/acme/main')}`, sslMode: 'verify-full' },
  });
  t.equal(target.statusCode, 201);
  const started = await app.inject({
    method: 'POST',
    url: `/v1/targets/${target.json().id}/backups`,
    headers: bearer(acme),
  });
  t.equal(started.statusCode, 202, 'a backup needs no body');
  const job = await waitForJob(app, acme, started.json().id);
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));
  t.ok(sm.requests >= 1, 'the secret was read through the SDK');
  const b = (
    await app.inject({ method: 'GET', url: `/v1/backups/${started.json().backupId}`, headers: bearer(acme) })
  ).json();

  const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  t.teardown(() => client.destroy());
  const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'backups/' }));
  const keys = (listed.Contents ?? []).map((o) => o.Key).sort();
  t.same(keys, [
    `backups/acme/${target.json().id}/${b.id}/dump.custom`,
    `backups/acme/${target.json().id}/${b.id}/globals.sql`,
  ]);
  const object = await client.send(
    new GetObjectCommand({ Bucket: s3.bucket, Key: `backups/acme/${target.json().id}/${b.id}/dump.custom` }),
  );
  const bytes = Buffer.from(
    await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
  t.equal(createHash('sha256').update(bytes).digest('hex'), b.sha256, 'the object in S3 hashes to the recorded sha256');
  t.equal(bytes.length, b.sizeBytes);
});

t.test('an unknown secret fails the job with a code that names the ref, not the contents', async (t) => {
  // A secret that is gone by the time the job runs (create refuses one that is already missing).
  sm.setSecret('prod/acme/missing', { username: 'u', password: 'p', host: 'localhost', dbname: 'x' });
  await writer.tagSecret('prod/acme/missing', { 'pgsteward:tenant': 'acme' });
  const target = await app.inject({
    method: 'POST',
    url: '/v1/targets',
    headers: bearer(acme),
    payload: { name: 'ghost', secretRef: 'aws-sm:prod/acme/missing' },
  });
  await writer.deleteSecret('prod/acme/missing', { forceWithoutRecovery: true });
  services.secrets.invalidate('aws-sm:prod/acme/missing'); // as after the cache's TTL
  const started = await app.inject({
    method: 'POST',
    url: `/v1/targets/${target.json().id}/backups`,
    headers: bearer(acme),
    payload: {},
  });
  const job = await waitForJob(app, acme, started.json().id);
  t.equal(job.status, 'failed');
  t.equal(job.error?.code, 'PGS_SECRET_NOT_FOUND');
  t.match(job.error?.message, /prod\/acme\/missing/);
});
