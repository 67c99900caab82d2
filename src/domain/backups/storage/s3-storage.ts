import { randomUUID } from 'node:crypto';
import { PassThrough, type Readable, Writable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { Errors } from '../../../errors.js';
import { assertArtifactKey, assertArtifactPrefix, TEMPORARY_AREA } from './artifact-key.js';
import type { ArtifactStorage, ArtifactWriter, WriterOptions } from './artifact-storage.js';
import { copyObject } from './s3-object-copy.js';
import {
  ByteTally,
  destroyStream,
  digestReadable,
  StagedArtifactWriter,
  type StagingBackend,
  type StreamedDigest,
  stagedInGroup,
  stagingName,
} from './staged-writer.js';
import { describeStorageLocation, type StorageLocation } from './storage-url.js';

export interface S3StorageOptions {
  /** For S3-compatible services (MinIO, s3rver); AWS itself needs none. */
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  /**
   * The SDK's request/response checksum mode. 'when_supported' (the SDK default) suits AWS S3;
   * some S3-compatible servers mishandle the aws-chunked bodies it sends for streamed requests
   * (s3rver stores the chunk framing as data), which the read-back verification catches.
   */
  checksumMode?: 'when_supported' | 'when_required';
  /** Absent: the SDK's default chain (environment, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Tests only: run the >5 GiB multipart-copy path on small objects. */
  singleCopyLimitBytes?: number;
  copyPartBytes?: number;
}

type S3Location = Extract<StorageLocation, { kind: 's3' }>;
type S3Sdk = typeof import('@aws-sdk/client-s3');

/**
 * The SDK (client-s3 and lib-storage: importing them adds 23 MiB of RSS to a bare node 20 process) is
 * loaded when the storage is first used, so a server that stores artifacts in files never carries it.
 */
const loadSdk = (): Promise<S3Sdk> => import('@aws-sdk/client-s3');

// Memory per write stays near (QUEUE_SIZE + 1) x PART_SIZE: Upload holds one part being filled and
// at most QUEUE_SIZE in flight, and backpressure stops the dump from running ahead of that.
const PART_SIZE = 8 * 1024 * 1024;
const QUEUE_SIZE = 2;
const MAX_OBJECT_KEY_BYTES = 1024;

/**
 * Artifacts as objects in one bucket under a prefix. S3 has no rename: a write goes to
 * `<prefix>/.tmp/<uuid>` (multipart, streamed), is read back and compared, then copied server-side
 * to its key; only then is the temporary object deleted.
 */
export function createS3ArtifactStorage(location: S3Location, options: S3StorageOptions): ArtifactStorage {
  const mode = options.checksumMode === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  let connected: Promise<{ sdk: S3Sdk; client: S3Client }> | undefined;
  const connect = () =>
    (connected ??= loadSdk().then((sdk) => ({
      sdk,
      client: new sdk.S3Client({
        endpoint: options.endpoint,
        region: options.region,
        forcePathStyle: options.forcePathStyle,
        credentials: options.credentials,
        requestChecksumCalculation: mode,
        responseChecksumValidation: mode,
        // Without a socket timeout a stalled connection would hold an upload, and its abort, forever.
        requestHandler: { connectionTimeout: 10_000, socketTimeout: 120_000 },
      }),
    })));
  const { bucket } = location;
  const base = location.prefix === '' ? '' : `${location.prefix}/`;
  const temporaryBase = `${base}${TEMPORARY_AREA}/`;
  const objectKey = (key: string): string => {
    assertArtifactKey(key);
    const full = `${base}${key}`;
    if (Buffer.byteLength(full) > MAX_OBJECT_KEY_BYTES)
      throw Errors.artifactKeyInvalid('prefix and key exceed 1024 bytes');
    return full;
  };

  const listKeys = async (prefix: string): Promise<string[]> => {
    const { sdk, client } = await connect();
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  };

  return {
    description:
      describeStorageLocation(location) + (options.endpoint ? ` at ${new URL(options.endpoint).origin}` : ''),

    async createWriter(key: string, opts?: WriterOptions): Promise<ArtifactWriter> {
      const finalKey = objectKey(key);
      opts?.signal?.throwIfAborted();
      const [{ sdk, client }, { Upload }] = await Promise.all([connect(), import('@aws-sdk/lib-storage')]);
      opts?.signal?.throwIfAborted();
      const temporaryKey = `${temporaryBase}${stagingName(opts?.group, randomUUID())}`;
      const tally = new ByteTally();
      const body = new PassThrough();
      // Upload reads `body`; when Upload fails it stops reading and destroys `body` with a bare AbortError.
      // The real cause arrives a little later through done(), and that is what the caller's stream gets.
      body.on('error', () => undefined);
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: temporaryKey, Body: body },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
        leavePartsOnError: false,
      });
      // Not upload.abort(): it makes done() reject at once while requests already sent carry on, so a
      // PutObject could create the temporary object after discard() deleted it. Destroying the body
      // instead ends Upload's read loop; done() then settles only after in-flight parts have finished
      // and AbortMultipartUpload has run, and discard() waits for exactly that.
      const uploaded = upload.done().then(() => undefined);
      const settled = uploaded.catch(() => undefined);
      const sink = new UploadSink(body, tally, uploaded);
      uploaded.catch((err: unknown) => destroyStream(sink, err instanceof Error ? err : new Error(String(err))));

      const backend: StagingBackend = {
        async verifyAndMove(expected, signal) {
          await uploaded;
          await verifyObject(sdk, client, bucket, temporaryKey, key, expected, signal);
          signal?.throwIfAborted();
          // From here the move runs to completion (the signal no longer applies): the bytes are verified.
          try {
            await copyObject(sdk, client, {
              bucket,
              sourceKey: temporaryKey,
              targetKey: finalKey,
              sizeBytes: expected.sizeBytes,
              singleCopyLimitBytes: options.singleCopyLimitBytes,
              copyPartBytes: options.copyPartBytes,
            });
            const copied = await client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: finalKey }));
            if (copied.ContentLength !== expected.sizeBytes) {
              throw Errors.artifactIntegrity(
                key,
                `the copy has ${copied.ContentLength} bytes, ${expected.sizeBytes} were streamed`,
              );
            }
          } catch (err) {
            // A commit that throws leaves nothing under the key, whatever state the copy reached.
            await client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: finalKey })).catch(() => undefined);
            throw err;
          }
          // The artifact is in place and verified; a leftover temporary object is only clutter.
          await client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: temporaryKey })).catch(() => undefined);
        },
        async discard() {
          await settled;
          await client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: temporaryKey }));
        },
      };
      return new StagedArtifactWriter(key, sink, tally, backend, opts?.signal);
    },

    async read(key: string): Promise<Readable> {
      const { sdk, client } = await connect();
      try {
        const object = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
        return object.Body as Readable;
      } catch (err) {
        if (isNotFound(err)) throw Errors.artifactNotFound(key);
        throw err;
      }
    },

    async stat(key: string) {
      const { sdk, client } = await connect();
      try {
        const head = await client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
        return { sizeBytes: head.ContentLength ?? 0 };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },

    async delete(keyOrPrefix: string): Promise<void> {
      const { sdk, client } = await connect();
      if (!keyOrPrefix.endsWith('/')) {
        await client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: objectKey(keyOrPrefix) }));
        return;
      }
      assertArtifactPrefix(keyOrPrefix);
      if (keyOrPrefix === '') throw Errors.artifactKeyInvalid('refusing to delete the whole store');
      const keys = await listKeys(`${base}${keyOrPrefix}`);
      for (let start = 0; start < keys.length; start += 1000) {
        const batch = keys.slice(start, start + 1000);
        const result = await client.send(
          new sdk.DeleteObjectsCommand({
            Bucket: bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        );
        const failed = result.Errors ?? [];
        if (failed.length > 0) {
          throw new Error(`Could not delete ${failed.length} object(s) under '${keyOrPrefix}': ${failed[0]?.Code}.`);
        }
      }
    },

    async list(prefix: string): Promise<string[]> {
      assertArtifactPrefix(prefix);
      const keys = await listKeys(`${base}${prefix}`);
      return keys
        .map((full) => full.slice(base.length))
        .filter((key) => !key.startsWith(`${TEMPORARY_AREA}/`))
        .sort();
    },

    async listTemporary(): Promise<string[]> {
      return (await listKeys(temporaryBase)).map((full) => full.slice(temporaryBase.length)).sort();
    },

    async discardStaged(group: string): Promise<number> {
      const { sdk, client } = await connect();
      const stale = (await this.listTemporary()).filter((name) => stagedInGroup(name, group));
      for (const name of stale)
        await client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: `${temporaryBase}${name}` }));
      return stale.length;
    },
  };
}

/**
 * The caller's end of an upload: counts and hashes each chunk on its way into Upload's body, holds
 * the caller back while Upload is not reading (backpressure), and finishes only once the upload has
 * stored the temporary object, so "the stream finished" means "the bytes are in the bucket".
 */
class UploadSink extends Writable {
  constructor(
    private readonly body: PassThrough,
    private readonly tally: ByteTally,
    private readonly uploaded: Promise<void>,
  ) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.tally.add(chunk);
    // Once Upload has stopped reading, the callback never comes: the upload's error destroys this stream.
    if (this.body.destroyed) return;
    // A copy: Upload keeps chunks until it has a whole part, and the caller may reuse this chunk's memory
    // once the callback has run (ArtifactWriter.stream).
    if (this.body.write(Buffer.from(chunk))) callback();
    else this.body.once('drain', () => callback());
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.body.end();
    this.uploaded.then(() => callback(), callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.body.destroy();
    callback(err);
  }
}

/** HeadObject for the size, then a streamed GetObject for the sha256: the stored bytes, not metadata. */
async function verifyObject(
  sdk: S3Sdk,
  client: S3Client,
  bucket: string,
  objectKey: string,
  key: string,
  expected: StreamedDigest,
  signal: AbortSignal | undefined,
): Promise<void> {
  const head = await client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: objectKey }), {
    abortSignal: signal,
  });
  if (head.ContentLength !== expected.sizeBytes) {
    throw Errors.artifactIntegrity(
      key,
      `the stored object has ${head.ContentLength} bytes, ${expected.sizeBytes} were streamed`,
    );
  }
  const object = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: objectKey }), {
    abortSignal: signal,
  });
  const stored = await digestReadable(object.Body as Readable, signal);
  if (stored.sizeBytes !== expected.sizeBytes || stored.sha256 !== expected.sha256) {
    throw Errors.artifactIntegrity(key, 'the stored object has a different sha256 than the streamed bytes');
  }
}

const isNotFound = (err: unknown): boolean => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
};
