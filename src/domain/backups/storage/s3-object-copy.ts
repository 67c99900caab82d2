import type { S3Client } from '@aws-sdk/client-s3';

/** The SDK module, passed in by its (lazy) loader so that this file does not load it at start-up. */
type S3Sdk = typeof import('@aws-sdk/client-s3');

/** CopyObject refuses sources over 5 GiB; beyond that S3 only copies in parts (UploadPartCopy). */
export const SINGLE_COPY_LIMIT_BYTES = 5 * 1024 ** 3;
export const DEFAULT_COPY_PART_BYTES = 512 * 1024 ** 2;
const MAX_PARTS = 10_000;
const PARTS_IN_FLIGHT = 4;

export interface ObjectCopy {
  bucket: string;
  sourceKey: string;
  targetKey: string;
  sizeBytes: number;
  /** Tests lower these to run the multipart path on small objects. */
  singleCopyLimitBytes?: number;
  copyPartBytes?: number;
}

/**
 * Server-side copy, the S3 stand-in for a rename: the bytes never pass through this process.
 * Up to 5 GiB in one CopyObject; above, a multipart upload whose parts are UploadPartCopy ranges
 * (512 MiB each, or larger so that a 5 TiB object still fits in 10,000 parts), aborted on failure
 * so no orphaned parts stay billed.
 */
export async function copyObject(sdk: S3Sdk, client: S3Client, copy: ObjectCopy): Promise<void> {
  const copySource = `${copy.bucket}/${copy.sourceKey.split('/').map(encodeURIComponent).join('/')}`;
  if (copy.sizeBytes <= (copy.singleCopyLimitBytes ?? SINGLE_COPY_LIMIT_BYTES)) {
    await client.send(new sdk.CopyObjectCommand({ Bucket: copy.bucket, Key: copy.targetKey, CopySource: copySource }));
    return;
  }

  const partBytes = Math.max(copy.copyPartBytes ?? DEFAULT_COPY_PART_BYTES, Math.ceil(copy.sizeBytes / MAX_PARTS));
  const ranges: Array<{ partNumber: number; first: number; last: number }> = [];
  for (let first = 0; first < copy.sizeBytes; first += partBytes) {
    ranges.push({ partNumber: ranges.length + 1, first, last: Math.min(first + partBytes, copy.sizeBytes) - 1 });
  }

  const { UploadId } = await client.send(
    new sdk.CreateMultipartUploadCommand({ Bucket: copy.bucket, Key: copy.targetKey }),
  );
  try {
    const etags: string[] = [];
    let next = 0;
    let failed = false;
    const copyParts = async () => {
      for (let range = ranges[next++]; range !== undefined && !failed; range = ranges[next++]) {
        const result = await client.send(
          new sdk.UploadPartCopyCommand({
            Bucket: copy.bucket,
            Key: copy.targetKey,
            UploadId,
            PartNumber: range.partNumber,
            CopySource: copySource,
            CopySourceRange: `bytes=${range.first}-${range.last}`,
          }),
        );
        const etag = result.CopyPartResult?.ETag;
        if (!etag) throw new Error(`UploadPartCopy of part ${range.partNumber} returned no ETag.`);
        etags[range.partNumber - 1] = etag;
      }
    };
    // Settle every worker before aborting, so no part copy lands after AbortMultipartUpload.
    const outcomes = await Promise.allSettled(
      Array.from({ length: Math.min(PARTS_IN_FLIGHT, ranges.length) }, () =>
        copyParts().catch((err: unknown) => {
          failed = true;
          throw err;
        }),
      ),
    );
    const rejected = outcomes.find((outcome) => outcome.status === 'rejected');
    if (rejected) throw rejected.reason;
    await client.send(
      new sdk.CompleteMultipartUploadCommand({
        Bucket: copy.bucket,
        Key: copy.targetKey,
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, index) => ({ ETag, PartNumber: index + 1 })) },
      }),
    );
  } catch (err) {
    await client
      .send(new sdk.AbortMultipartUploadCommand({ Bucket: copy.bucket, Key: copy.targetKey, UploadId }))
      .catch(() => undefined); // the copy error is the one to report
    throw err;
  }
}
