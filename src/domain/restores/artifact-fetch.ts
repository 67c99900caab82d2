import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isPgStewardError } from '../../errors.js';
import { TaskFailures } from '../../task-failures.js';
import type { BackupRow } from '../backups/service.js';
import type { ArtifactStorage } from '../backups/storage/artifact-storage.js';
import { EncryptingStorage } from '../encryption/encrypting-storage.js';
import { DecryptStream } from '../encryption/envelope.js';
import type { TenantKeys } from '../encryption/key-encryption.js';
import { type PlainDumpGuard, type PlainDumpOutline, PlainDumpRefused } from './plain-guard.js';

/** The artifact on local disk, proven to be the bytes the backup recorded. */
export interface FetchedArtifact {
  /** A file (custom, tar, plain) or a directory (directory format). */
  path: string;
  /** For a plain dump: what the guard learnt while the bytes streamed past. */
  plain: PlainDumpOutline | null;
}

/** Hashes, counts and (for plain dumps) scans the bytes as they pass. */
class Inspect extends Transform {
  readonly hash = createHash('sha256');
  size = 0;
  /** The guard's refusal, kept until the bytes are known to be the recorded ones. */
  refused: unknown;
  constructor(private readonly guard: PlainDumpGuard | null) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    if (this.refused === undefined) {
      try {
        this.guard?.feed(chunk);
      } catch (err) {
        this.refused = err;
      }
    }
    done(null, chunk);
  }
}

const corrupt = TaskFailures.artifactCorrupt;

/** A storage or guard error as the restore's failure (PGS_DUMP_REFUSED, PGS_ARTIFACT_MISSING). */
export function asFetchFailure(err: unknown): unknown {
  if (err instanceof PlainDumpRefused) return TaskFailures.dumpRefused(err.refusal.line, err.refusal.kind);
  if (isPgStewardError(err) && err.code === 'PGS_ARTIFACT_NOT_FOUND') return TaskFailures.artifactMissing();
  return err;
}

/**
 * Stream one object to `path`. Encrypted (dataKey given): the stored bytes are hashed as they arrive,
 * decrypted record by record (each authenticated before any of it is written), and the plaintext is
 * hashed and guarded; `sha256`/`size` are always the stored object's.
 */
async function download(
  storage: ArtifactStorage,
  key: string,
  path: string,
  signal: AbortSignal,
  guard: PlainDumpGuard | null = null,
  dataKey: Buffer | null = null,
): Promise<{ sha256: string; size: number; plaintextSha256: string; refused: unknown }> {
  const inspect = new Inspect(guard);
  const stored = dataKey === null ? inspect : new Inspect(null);
  const stages = dataKey === null ? [inspect] : [stored, new DecryptStream(dataKey), inspect];
  try {
    await pipeline([await storage.read(key), ...stages, createWriteStream(path, { mode: 0o600 })], { signal });
  } catch (err) {
    throw asFetchFailure(err);
  }
  const plaintextSha256 = inspect.hash.digest('hex');
  return {
    sha256: stored === inspect ? plaintextSha256 : stored.hash.digest('hex'),
    size: stored.size,
    plaintextSha256,
    refused: inspect.refused,
  };
}

/** The backup's data key, unwrapped with its tenant's key-encryption key; null when it is not encrypted. */
async function dataKeyOf(keys: TenantKeys | undefined, backup: BackupRow): Promise<Buffer | null> {
  if (backup.encryption === null) return null;
  if (keys === undefined) throw new Error('an encrypted backup needs the tenant keys to be read');
  return keys.unwrap(backup.tenant_id, backup.id, backup.encryption);
}

/**
 * Copy the backup's artifact into `dir` (private to the job) while computing its sha256 and size, and
 * compare both with the record: a mismatch is PGS_ARTIFACT_CORRUPT, before anything else happens. A
 * plain dump passes the hostile-input guard in the same pass (PGS_DUMP_REFUSED). A directory-format
 * artifact is checked file by file against its manifest, whose own sha256 is the recorded one.
 */
export async function fetchVerifiedArtifact(o: {
  storage: ArtifactStorage;
  backup: BackupRow;
  dir: string;
  signal: AbortSignal;
  guard: PlainDumpGuard | null;
  /** Needed for an encrypted backup (backup.encryption set). */
  keys?: TenantKeys;
}): Promise<FetchedArtifact> {
  const { storage, backup, dir, signal } = o;
  const key = backup.artifact_key;
  if (key === null || backup.sha256 === null || backup.size_bytes === null) {
    throw TaskFailures.artifactNotRecorded();
  }
  // Unwrapped first: a wrong key-encryption key fails (PGS_DECRYPT_FAILED) before a byte is fetched.
  const dataKey = await dataKeyOf(o.keys, backup);
  const expectedSize = Number(backup.size_bytes);
  if (backup.format === 'directory') {
    const path = join(dir, 'dump.dir');
    await mkdir(path, { mode: 0o700 });
    // The manifest lists the stored (encrypted) files' digests; its own plaintext is the recorded sha256.
    const manifest = await readSmall(
      dataKey ? new EncryptingStorage(storage, dataKey) : storage,
      `${key}MANIFEST.sha256`,
    );
    if (createHash('sha256').update(manifest).digest('hex') !== backup.sha256) throw corrupt('manifest sha256');
    let total = 0;
    for (const line of manifest.toString('utf8').split('\n').filter(Boolean)) {
      const m = /^([0-9a-f]{64}) {2}(\d+) {2}([A-Za-z0-9._-]+)$/.exec(line);
      if (!m || m[3] === '.' || m[3] === '..') throw corrupt('manifest line');
      const [, sha256, size, file] = m as unknown as [string, string, string, string];
      const got = await download(storage, `${key}${file}`, join(path, file), signal, null, dataKey);
      if (got.sha256 !== sha256 || got.size !== Number(size)) throw corrupt(`file ${file}`);
      total += got.size;
    }
    if (total !== expectedSize) throw corrupt('size');
    return { path, plain: null };
  }
  const path = join(dir, `dump.${backup.format === 'plain' ? 'sql' : backup.format}`);
  const got = await download(storage, key, path, signal, o.guard, dataKey);
  // The record is checked first: a refusal of a dump that is not the recorded one would mislead.
  if (got.size !== expectedSize) throw corrupt('size');
  if (got.sha256 !== backup.sha256) throw corrupt('sha256');
  const plaintextSha256 = backup.encryption?.plaintextSha256;
  if (plaintextSha256 && got.plaintextSha256 !== plaintextSha256) throw corrupt('plaintext sha256');
  if (got.refused !== undefined) throw asFetchFailure(got.refused);
  try {
    return { path, plain: o.guard ? o.guard.end() : null };
  } catch (err) {
    throw asFetchFailure(err);
  }
}

/** A small object (a manifest, a globals file) read whole into memory. */
export async function readSmall(storage: ArtifactStorage, key: string, limit = 64 * 1024 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of await storage.read(key)) {
      size += (chunk as Buffer).length;
      if (size > limit) throw corrupt(`${key.split('/').pop()} is too large`);
      parts.push(chunk as Buffer);
    }
  } catch (err) {
    throw asFetchFailure(err);
  }
  return Buffer.concat(parts);
}

/**
 * The globals file (pg_dumpall --globals-only), checked against its recorded sha256 (of the stored
 * object) and, when encrypted, decrypted and checked against its plaintext sha256 too.
 */
export async function fetchVerifiedGlobals(
  storage: ArtifactStorage,
  backup: BackupRow,
  keys?: TenantKeys,
): Promise<string | null> {
  if (backup.globals === null) return null;
  const stored = await readSmall(storage, backup.globals.key);
  if (createHash('sha256').update(stored).digest('hex') !== backup.globals.sha256) throw corrupt('globals sha256');
  const dataKey = await dataKeyOf(keys, backup);
  if (dataKey === null) return stored.toString('utf8');
  const decrypt = new DecryptStream(dataKey);
  const parts: Buffer[] = [];
  decrypt.on('data', (part: Buffer) => parts.push(part));
  await pipeline(Readable.from([stored]), decrypt);
  const bytes = Buffer.concat(parts);
  const expected = backup.globals.plaintextSha256;
  if (expected && createHash('sha256').update(bytes).digest('hex') !== expected)
    throw corrupt('globals plaintext sha256');
  return bytes.toString('utf8');
}
