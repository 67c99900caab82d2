import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { TaskFailures } from '../../task-failures.js';
import type { BackupRow } from '../backups/service.js';
import type { ArtifactStorage } from '../backups/storage/artifact-storage.js';
import { asFetchFailure } from './artifact-fetch.js';

/**
 * An artifact up to this size is hashed in full before any tool reads it; a larger one while pg_restore
 * runs (PGSTEWARD_RESTORE_VERIFY_FIRST_MB). Hashing runs at ~320-700 MB/s here, so 64 MiB costs at most
 * ~0.2 s up front, while at 1 GiB the ~1.5 s hash is 10% of a 15 s restore: that only hides behind it.
 */
export const DEFAULT_VERIFY_FIRST_BYTES = 64 * 1024 * 1024;

/** The first inherited descriptor as the tool sees it (RunPgToolOptions.inheritFds). */
const INHERITED_PATH = '/proc/self/fd/3';

/** Bytes per read while hashing: two fixed buffers, one hashed while the other fills (as digestFile). */
const CHUNK_BYTES = 1024 * 1024;

const corrupt = TaskFailures.artifactCorrupt;

/** A stored artifact read where it lies, through one descriptor that the tools inherit. */
export interface InPlaceArtifact {
  /** What the tools read: /proc/self/fd/3, the descriptor hashed here, passed on as their fd 3. */
  archive: { path: string; fds: number[] };
  sizeBytes: number;
  /**
   * Settles once every byte was hashed: resolves if sha256 and size are the recorded ones, rejects with
   * PGS_ARTIFACT_CORRUPT otherwise (or with the read's own error). Never left unobserved: callers may
   * await it late.
   */
  verified: Promise<void>;
  /**
   * After the tools have read it: `verified`, and the file has not been written to or truncated since it
   * was opened (size, mtime, and ctime unless only the link count changed, i.e. a delete or link).
   */
  confirm(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Open a file-storage artifact for a restore without copying it. The tools read the very inode that is
 * hashed: a rename over the key or a retention delete mid-restore does not reach it, and a write into
 * it is caught by confirm(). Null where that does not apply: S3 (no local file), encrypted artifacts
 * (the tools need the plaintext), plain dumps (the guard must pass every byte before psql reads one),
 * directory format (many files), and where /proc/self/fd is not a fresh open of the same file.
 */
export async function openInPlace(
  storage: ArtifactStorage,
  backup: BackupRow,
  signal: AbortSignal,
): Promise<InPlaceArtifact | null> {
  const key = backup.artifact_key;
  if (
    storage.openFile === undefined ||
    process.platform !== 'linux' ||
    backup.encryption !== null ||
    (backup.format !== 'custom' && backup.format !== 'tar') ||
    key === null ||
    backup.sha256 === null ||
    backup.size_bytes === null
  ) {
    return null;
  }
  const expectedSize = BigInt(backup.size_bytes);
  const expectedSha256 = backup.sha256;
  let handle: FileHandle;
  try {
    handle = await storage.openFile(key);
  } catch (err) {
    throw asFetchFailure(err);
  }
  let before: BigIntStats;
  try {
    before = await handle.stat({ bigint: true });
    if (before.size !== expectedSize) throw corrupt('size');
  } catch (err) {
    await handle.close();
    throw err;
  }
  const verified = digest(handle, signal).then(({ size, sha256 }) => {
    if (size !== expectedSize) throw corrupt('size');
    if (sha256 !== expectedSha256) throw corrupt('sha256');
  });
  verified.catch(() => {});
  let closed = false;
  return {
    archive: { path: INHERITED_PATH, fds: [handle.fd] },
    sizeBytes: Number(before.size),
    verified,
    async confirm() {
      await verified;
      const after = await handle.stat({ bigint: true });
      const written =
        after.size !== before.size ||
        after.mtimeNs !== before.mtimeNs ||
        (after.ctimeNs !== before.ctimeNs && after.nlink === before.nlink);
      if (written) throw corrupt('the file changed while it was restored');
    },
    async close() {
      if (closed) return;
      closed = true;
      await verified.catch(() => {}); // no read may be in flight on a closed (and reused) descriptor
      await handle.close();
    },
  };
}

/** sha256 and size of everything the descriptor holds, read by position from 0 to end of file. */
async function digest(handle: FileHandle, signal: AbortSignal): Promise<{ size: bigint; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  let target = Buffer.allocUnsafe(CHUNK_BYTES);
  let other = Buffer.allocUnsafe(CHUNK_BYTES);
  let reading = handle.read(target, 0, CHUNK_BYTES, 0);
  try {
    for (;;) {
      const { bytesRead } = await reading;
      if (bytesRead === 0) break;
      signal.throwIfAborted();
      const data = target.subarray(0, bytesRead);
      [target, other] = [other, target];
      size += bytesRead;
      reading = handle.read(target, 0, CHUNK_BYTES, size);
      hash.update(data);
    }
  } finally {
    await reading.catch(() => undefined);
  }
  return { size: BigInt(size), sha256: hash.digest('hex') };
}
