import t from 'tap';
import { createArtifactStorage } from '../../src/domain/backups/storage/create-storage.js';
import { readArtifact, writeArtifact } from '../helpers/artifacts.js';
import { S3RVER_CREDENTIALS, S3RVER_REGION, startTestS3Server } from '../helpers/s3-server.js';
import { restoreFixture } from './restore-fixture.js';

// S3 has no local file to read in place: the object is downloaded through the hash into a private file
// while CREATE DATABASE runs, and pg_restore reads it only once it is verified.
const s3 = await startTestS3Server('pgsteward-restore');
t.teardown(() => s3.close());
const f = await restoreFixture(t, {
  services: {
    storage: createArtifactStorage({
      url: `s3://${s3.bucket}/artifacts`,
      s3: {
        endpoint: s3.endpoint,
        region: S3RVER_REGION,
        forcePathStyle: true,
        checksumMode: 'when_required',
        credentials: S3RVER_CREDENTIALS,
      },
    }),
  },
});
const expected = await f.fingerprint(f.source.name);

t.test('a custom backup in S3 restores with parallel 2', async (t) => {
  const b = await f.backup({ format: 'custom', includeGlobals: false });
  const database = f.newName('s3');
  const r = await f.restore(b.id, { database, parallel: 2 });
  t.equal(r.job?.status, 'succeeded', JSON.stringify(r.job?.error));
  t.same(await f.fingerprint(database), expected);
});

t.test('a silently corrupted S3 object fails PGS_ARTIFACT_CORRUPT and leaves no database', async (t) => {
  const b = await f.backup({ format: 'custom', includeGlobals: false, compression: { method: 'none' } });
  const key = await f.artifactKey(b.id);
  const bytes = await readArtifact(f.services.storage, key);
  const at = bytes.indexOf('user7@example.com');
  t.ok(at >= 0, 'the row is in the archive as text');
  bytes.write('user7@exbmple.com', at, 'latin1');
  await writeArtifact(f.services.storage, key, bytes);
  const database = f.newName('s3bad');
  const r = await f.restore(b.id, { database, parallel: 2 });
  t.equal(r.job?.error?.code, 'PGS_ARTIFACT_CORRUPT');
  t.same(await f.databases(`${database}%`), [], 'neither the name nor the work database (created beside the download)');
});
