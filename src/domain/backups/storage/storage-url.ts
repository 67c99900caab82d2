import { isAbsolute, normalize } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export type StorageLocation =
  | { kind: 'file'; root: string }
  /** `prefix` has no leading or trailing '/'; '' means the bucket's top level. */
  | { kind: 's3'; bucket: string; prefix: string };

const SHAPE = 'PGSTEWARD_STORAGE_URL must be file:///absolute/path or s3://bucket[/prefix]';

// S3's bucket naming rules, minus the legacy upper-case and underscore names no region still accepts.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;

/**
 * Validates PGSTEWARD_STORAGE_URL. Messages never echo the value: a mistyped URL may carry
 * credentials (s3://KEY:SECRET@bucket), and this message ends up in logs.
 */
export function parseStorageUrl(url: string): StorageLocation {
  if (typeof url !== 'string' || url.trim() === '') throw new Error(`${SHAPE}; it is empty.`);
  if (url.startsWith('file:')) return parseFileUrl(url);
  if (url.startsWith('s3:')) return parseS3Url(url);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
  throw new Error(scheme ? `${SHAPE}; the scheme '${scheme}' is not supported.` : `${SHAPE}; it has no scheme.`);
}

function parseFileUrl(url: string): StorageLocation {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${SHAPE}; it is not a valid file URL.`);
  }
  if (!url.startsWith('file:///') && !url.startsWith('file://localhost/')) {
    throw new Error(`${SHAPE}; a file URL needs three slashes and no host (file:///var/lib/pgsteward/artifacts).`);
  }
  if (parsed.search || parsed.hash) throw new Error(`${SHAPE}; a file URL takes no query or fragment.`);
  let path: string;
  try {
    path = fileURLToPath(parsed);
  } catch {
    throw new Error(`${SHAPE}; the file URL does not name a usable path.`);
  }
  const root = normalize(path).replace(/\/+$/, '');
  if (!isAbsolute(path) || root === '') throw new Error(`${SHAPE}; the directory must be absolute and not '/'.`);
  return { kind: 'file', root };
}

function parseS3Url(url: string): StorageLocation {
  const match = /^s3:\/\/([^/?#]*)(\/[^?#]*)?$/.exec(url);
  if (!match) throw new Error(`${SHAPE}; an s3 URL takes no query or fragment.`);
  const [, bucket = '', path = ''] = match;
  if (bucket.includes('@') || bucket.includes(':')) {
    throw new Error(`${SHAPE}; credentials or ports do not belong in the URL (configure them separately).`);
  }
  if (!BUCKET.test(bucket) || bucket.includes('..')) {
    throw new Error(`${SHAPE}; the bucket name must be 3-63 of lower-case letters, digits, '.' and '-'.`);
  }
  const prefix = path.replace(/^\//, '').replace(/\/$/, '');
  if (prefix !== '' && !prefix.split('/').every((segment) => PREFIX_SEGMENT.test(segment))) {
    throw new Error(
      `${SHAPE}; each prefix segment must be 1-200 of [A-Za-z0-9._-], not start with '.', with single '/' between.`,
    );
  }
  return { kind: 's3', bucket, prefix };
}

/** The location as a URL again, normalized; it never held credentials, so it is safe to log. */
export function describeStorageLocation(location: StorageLocation): string {
  if (location.kind === 'file') return pathToFileURL(location.root).href;
  return `s3://${location.bucket}${location.prefix ? `/${location.prefix}` : ''}`;
}
