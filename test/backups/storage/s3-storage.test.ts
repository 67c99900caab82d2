import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import t from 'tap';
import type { ArtifactStorage } from '../../../src/domain/backups/storage/artifact-storage.js';
import { createArtifactStorage, type S3StorageOptions } from '../../../src/domain/backups/storage/create-storage.js';
import { S3RVER_CREDENTIALS, S3RVER_REGION, startTestS3Server } from '../../helpers/s3-server.js';
import { assertNothingStored, MiB, randomSource, readAll, storageContract } from './storage-contract.js';

const server = await startTestS3Server();
t.teardown(() => server.close());

const connection = {
  endpoint: server.endpoint,
  region: S3RVER_REGION,
  forcePathStyle: true,
  credentials: S3RVER_CREDENTIALS,
} as const;
let runs = 0;
const freshPrefix = () => `run-${++runs}/artifacts`;

/** A storage over its own prefix of the shared bucket, so subtests never see each other's objects. */
function s3Storage(prefix: string, options: Partial<S3StorageOptions> = {}, bucket = server.bucket): ArtifactStorage {
  return createArtifactStorage({
    url: `s3://${bucket}/${prefix}`,
    s3: { ...connection, checksumMode: 'when_required', ...options },
  });
}

/** A plain SDK client for reaching around the storage, with the given checksum mode. */
const sdkClient = (mode: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED') =>
  new S3Client({ ...connection, requestChecksumCalculation: mode, responseChecksumValidation: mode });

const waitForTemporary = async (storage: ArtifactStorage): Promise<string> => {
  for (let attempt = 0; attempt < 500; attempt++) {
    const [name, ...more] = await storage.listTemporary();
    if (name && more.length === 0) return name;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the temporary object never appeared');
};

t.test('s3 storage contract (checksumMode when_required)', async (t) => {
  storageContract(t, async () => {
    const prefix = freshPrefix();
    return {
      storage: s3Storage(prefix),
      async tamperTemporary(name) {
        const Key = `${prefix}/.tmp/${name}`;
        const client = sdkClient('WHEN_REQUIRED');
        const head = await client.send(new HeadObjectCommand({ Bucket: server.bucket, Key }));
        await client.send(
          new PutObjectCommand({ Bucket: server.bucket, Key, Body: randomBytes(head.ContentLength ?? 0) }),
        );
      },
    };
  });
  t.test('the aborted writes above left no multipart upload behind', async (t) => {
    t.same(await server.pendingMultipartUploads(), []);
  });
});

t.test('the description names bucket, prefix and endpoint, never credentials', async (t) => {
  const storage = s3Storage('pg/artifacts');
  t.equal(storage.description, `s3://${server.bucket}/pg/artifacts at ${server.endpoint}`);
  t.notMatch(storage.description, S3RVER_CREDENTIALS.secretAccessKey);
});

t.test('a streamed PutObject under the SDK default checksum mode corrupts the object in s3rver', async (t) => {
  // The premise of the next test, checked so that it keeps meaning something.
  const client = sdkClient('WHEN_SUPPORTED');
  const data = randomBytes(MiB);
  const Key = `${freshPrefix()}/probe`;
  await client.send(
    new PutObjectCommand({ Bucket: server.bucket, Key, Body: Readable.from([data]), ContentLength: data.length }),
  );
  const head = await client.send(new HeadObjectCommand({ Bucket: server.bucket, Key }));
  t.not(
    head.ContentLength,
    data.length,
    `s3rver stored ${head.ContentLength} bytes for ${data.length} (aws-chunked framing)`,
  );
});

t.test('commit() catches the default-checksum-mode corruption in the temporary object', async (t) => {
  const prefix = freshPrefix();
  const storage = s3Storage(prefix, { checksumMode: 'when_supported' });
  const source = randomSource(5 * MiB);
  const writer = await storage.createWriter('acme/db/dump');
  await pipeline(source.readable, writer.stream);
  // The same bytes again, streamed the way the SDK default corrupts: the stored object is wrong, not the data.
  const Key = `${prefix}/.tmp/${await waitForTemporary(storage)}`;
  await sdkClient('WHEN_SUPPORTED').send(
    new PutObjectCommand({
      Bucket: server.bucket,
      Key,
      Body: Readable.from([source.bytes()]),
      ContentLength: 5 * MiB,
    }),
  );
  await t.rejects(writer.commit(), { code: 'PGS_ARTIFACT_INTEGRITY', message: /bytes, 5242880 were streamed/ });
  await assertNothingStored(t, storage, 'acme/db/dump');
});

t.test("the storage's own multipart uploads are intact under either checksum mode", async (t) => {
  // lib-storage sends each part as a Buffer of known length, which s3rver stores correctly.
  for (const checksumMode of ['when_supported', 'when_required'] as const) {
    const storage = s3Storage(freshPrefix(), { checksumMode });
    const source = randomSource(5 * MiB + 7);
    const writer = await storage.createWriter('acme/db/dump');
    await pipeline(source.readable, writer.stream);
    t.equal((await writer.commit()).sha256, source.sha256(), checksumMode);
    t.ok((await readAll(await storage.read('acme/db/dump'))).equals(source.bytes()), `${checksumMode}: reads back`);
  }
});

t.test('objects over the single-copy limit are moved with UploadPartCopy', async (t) => {
  // The real limit is 5 GiB; lowered here so that a 5 MB object takes the multipart-copy path.
  const storage = s3Storage(freshPrefix(), { singleCopyLimitBytes: MiB, copyPartBytes: MiB });
  const source = randomSource(5 * MiB + 123);
  const copiesBefore = server.uploadPartCopies;
  const writer = await storage.createWriter('acme/db/dump');
  await pipeline(source.readable, writer.stream);
  t.same(await writer.commit(), { key: 'acme/db/dump', sizeBytes: 5 * MiB + 123, sha256: source.sha256() });
  t.equal(server.uploadPartCopies - copiesBefore, 6, 'five 1 MiB parts and the 123-byte rest');
  t.ok((await readAll(await storage.read('acme/db/dump'))).equals(source.bytes()), 'the copy reads back equal');
  t.same(await storage.listTemporary(), []);
  t.same(await server.pendingMultipartUploads(), []);
});

t.test('a write to a bucket that does not exist fails and leaves nothing', async (t) => {
  const prefix = freshPrefix();
  const missing = s3Storage(prefix, {}, 'no-such-bucket');
  const writer = await missing.createWriter('acme/db/dump');
  await t.rejects(
    pipeline(randomSource(20 * MiB, { chunkBytes: 64 * 1024 }).readable, writer.stream).then(() => writer.commit()),
    { name: 'NoSuchBucket' },
  );
  await t.rejects(writer.commit());
  await writer.abort().catch(() => undefined); // DeleteObject in a missing bucket fails too; nothing to remove
  await assertNothingStored(t, s3Storage(prefix), 'acme/db/dump');
});

t.test('streaming 64 MiB keeps memory bounded', async (t) => {
  const storage = s3Storage(freshPrefix());
  const source = randomSource(64 * MiB, { chunkBytes: 64 * 1024 });
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 10);
  try {
    const writer = await storage.createWriter('acme/db/big');
    await pipeline(source.readable, writer.stream);
    const stored = await writer.commit();
    t.equal(stored.sha256, source.sha256());
    t.equal(stored.sizeBytes, 64 * MiB);
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, process.memoryUsage.rss());
  const growthMiB = (peak - baseline) / MiB;
  t.comment(`RSS growth while streaming and verifying 64 MiB: ${growthMiB.toFixed(1)} MiB`);
  t.ok(growthMiB < 60, `RSS grew by ${growthMiB.toFixed(1)} MiB (< 60)`);
});
