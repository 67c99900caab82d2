import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

/** The credentials s3rver accepts; it checks signatures, so the SDK must sign with exactly these. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const S3RVER_REGION = 'us-east-1';

export interface TestS3Server {
  /** e.g. http://127.0.0.1:41234; use with forcePathStyle: true. */
  endpoint: string;
  bucket: string;
  /** UploadPartCopy requests served so far (s3rver itself has no such operation; see below). */
  readonly uploadPartCopies: number;
  /** Ids of multipart uploads started and neither completed nor aborted. */
  pendingMultipartUploads(): Promise<string[]>;
  close(): Promise<void>;
}

// s3rver ships no type declarations: this is the part of its API used here (see node_modules/s3rver/lib).
interface S3rverStore {
  getObject(
    bucket: string,
    key: string,
    range: { start: number; end: number },
  ): Promise<{ content: Readable | null } | null>;
  putPart(bucket: string, uploadId: string, partNumber: number, content: Readable): Promise<{ md5: string }>;
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
}
interface S3rverInstance {
  store: S3rverStore;
  logger: { exceptions: { unhandle(): void }; close(): void };
  configureBuckets(): Promise<void>;
  getMiddleware(): (req: IncomingMessage, res: ServerResponse) => void;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;

/**
 * An s3rver on 127.0.0.1 (free port) over a fresh temporary directory, with one bucket, silent.
 *
 * s3rver lacks two operations the artifact storage uses, so a thin front server implements them over
 * s3rver's own store: UploadPartCopy (range-read the source object, store it as the part; this lets
 * the multipart-copy path for objects over 5 GiB run against a protocol peer) and AbortMultipartUpload
 * (remove the upload's parts; s3rver answers 405, which would leave them behind). These two skip
 * signature checks. Every other request goes to s3rver untouched, signature checks included.
 */
export async function startTestS3Server(bucket = 'pgsteward-test'): Promise<TestS3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'pgsteward-s3rver-'));
  const s3rver = new S3rver({ directory, silent: true, configureBuckets: [{ name: bucket }] });
  try {
    await s3rver.configureBuckets();
  } catch (err) {
    await rm(directory, { recursive: true, force: true });
    throw err;
  }
  const s3rverHandler = s3rver.getMiddleware();
  const uploadsDir = s3rver.store.getResourcePath(bucket, undefined, 'uploads');
  let uploadPartCopies = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://s3rver');
    const uploadId = url.searchParams.get('uploadId');
    const copySource = req.headers['x-amz-copy-source'];
    if (req.method === 'PUT' && typeof copySource === 'string' && uploadId) {
      uploadPartCopies++;
      uploadPartCopy(s3rver.store, url, copySource, req.headers['x-amz-copy-source-range']).then(
        (xml) => res.writeHead(200, { 'content-type': 'application/xml' }).end(xml),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
      );
      return;
    }
    if (req.method === 'DELETE' && uploadId && /^[0-9a-f]+$/.test(uploadId)) {
      rm(join(uploadsDir, uploadId), { recursive: true, force: true }).then(
        () => res.writeHead(204).end(),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
      );
      return;
    }
    s3rverHandler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  let closed = false;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    get uploadPartCopies() {
      return uploadPartCopies;
    },
    async pendingMultipartUploads() {
      return readdir(uploadsDir).catch(() => []);
    },
    async close() {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      s3rver.logger.exceptions.unhandle();
      s3rver.logger.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

async function uploadPartCopy(
  store: S3rverStore,
  url: URL,
  copySource: string,
  rangeHeader: string | string[] | undefined,
): Promise<string> {
  const [, bucket = ''] = url.pathname.split('/');
  const uploadId = url.searchParams.get('uploadId') ?? '';
  const partNumber = Number(url.searchParams.get('partNumber'));
  const source = decodeURIComponent(copySource).replace(/^\//, '');
  const slash = source.indexOf('/');
  const [srcBucket, srcKey] = [source.slice(0, slash), source.slice(slash + 1)];
  const range = typeof rangeHeader === 'string' ? /^bytes=(\d+)-(\d+)$/.exec(rangeHeader) : null;
  if (!range) throw new Error('this fake needs x-amz-copy-source-range on UploadPartCopy');
  const object = await store.getObject(srcBucket, srcKey, { start: Number(range[1]), end: Number(range[2]) });
  if (!object?.content) throw new Error(`no such source object ${source}`);
  const { md5 } = await store.putPart(bucket, uploadId, partNumber, object.content);
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<CopyPartResult><LastModified>${new Date().toISOString()}</LastModified><ETag>"${md5}"</ETag></CopyPartResult>`
  );
}
