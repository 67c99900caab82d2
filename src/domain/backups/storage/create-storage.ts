import type { ArtifactStorage } from './artifact-storage.js';
import { createFileArtifactStorage } from './file-storage.js';
import { createS3ArtifactStorage, type S3StorageOptions } from './s3-storage.js';
import { parseStorageUrl } from './storage-url.js';

export type { S3StorageOptions } from './s3-storage.js';

export interface StorageConfig {
  /** PGSTEWARD_STORAGE_URL: file:///abs/path or s3://bucket/optional/prefix. */
  url: string;
  s3?: S3StorageOptions;
}

/** Builds the storage named by the URL; the file root or bucket is touched on first use, not here. */
export function createArtifactStorage(config: StorageConfig): ArtifactStorage {
  const location = parseStorageUrl(config.url);
  if (location.kind === 'file') return createFileArtifactStorage(location.root);
  return createS3ArtifactStorage(location, config.s3 ?? {});
}
