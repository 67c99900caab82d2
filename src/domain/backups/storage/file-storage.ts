import { randomUUID } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { Errors } from '../../../errors.js';
import { assertArtifactKey, assertArtifactPrefix, TEMPORARY_AREA } from './artifact-key.js';
import type { ArtifactStorage, ArtifactWriter, WriterOptions } from './artifact-storage.js';
import {
  abortReason,
  ByteTally,
  StagedArtifactWriter,
  type StreamedDigest,
  stagedInGroup,
  stagingName,
} from './staged-writer.js';

/**
 * Artifacts as files under `root` (0700 directories, 0600 files). Writes go to `<root>/.tmp/<uuid>`,
 * on the same filesystem as their destination, so that the final step is an atomic rename: a reader
 * sees either no file or the complete, verified one.
 */
export function createFileArtifactStorage(root: string): ArtifactStorage {
  const temporaryDir = join(root, TEMPORARY_AREA);
  let ready: Promise<void> | undefined;
  const ensureRoot = (): Promise<void> => {
    ready ??= (async () => {
      await mkdir(root, { recursive: true, mode: 0o700 });
      await mkdir(temporaryDir, { recursive: true, mode: 0o700 });
    })().catch((err: unknown) => {
      ready = undefined; // a later call may succeed once the operator has fixed the directory
      throw err;
    });
    return ready;
  };
  const pathOf = (key: string): string => {
    assertArtifactKey(key);
    return join(root, ...key.split('/'));
  };
  const openCommitted = async (key: string): Promise<FileHandle> => {
    let handle: FileHandle;
    try {
      handle = await open(pathOf(key), 'r');
    } catch (err) {
      if (isMissing(err)) throw Errors.artifactNotFound(key);
      throw err;
    }
    if (!(await handle.stat()).isFile()) {
      await handle.close();
      throw Errors.artifactNotFound(key);
    }
    return handle;
  };

  return {
    description: pathToFileURL(root).href,

    async createWriter(key: string, opts?: WriterOptions): Promise<ArtifactWriter> {
      const finalPath = pathOf(key);
      opts?.signal?.throwIfAborted();
      await ensureRoot();
      const temporaryPath = join(temporaryDir, stagingName(opts?.group, randomUUID()));
      const handle = await open(temporaryPath, 'wx', 0o600);
      const tally = new ByteTally();
      const sink = new FileSink(handle, tally);
      return new StagedArtifactWriter(
        key,
        sink,
        tally,
        {
          verifyAndMove: (expected, signal) => moveVerified(root, temporaryPath, finalPath, key, expected, signal),
          async discard() {
            await sink.whenClosed;
            await rm(temporaryPath, { force: true });
          },
        },
        opts?.signal,
      );
    },

    async read(key: string): Promise<Readable> {
      return (await openCommitted(key)).createReadStream();
    },

    openFile: openCommitted,

    async stat(key: string) {
      try {
        const info = await stat(pathOf(key));
        return info.isFile() ? { sizeBytes: info.size } : null;
      } catch (err) {
        if (isMissing(err)) return null;
        throw err;
      }
    },

    async delete(keyOrPrefix: string): Promise<void> {
      if (keyOrPrefix.endsWith('/')) {
        assertArtifactPrefix(keyOrPrefix);
        if (keyOrPrefix === '') throw Errors.artifactKeyInvalid('refusing to delete the whole store');
        await rm(pathOf(keyOrPrefix.slice(0, -1)), { recursive: true, force: true });
        return;
      }
      try {
        await rm(pathOf(keyOrPrefix), { force: true });
      } catch (err) {
        if (!isMissing(err)) throw err;
      }
    },

    async list(prefix: string): Promise<string[]> {
      assertArtifactPrefix(prefix);
      const base = prefix === '' ? root : pathOf(prefix.slice(0, -1));
      const keys: string[] = [];
      await collectFiles(base, prefix, keys, prefix === '' ? TEMPORARY_AREA : undefined);
      return keys.sort();
    },

    async listTemporary(): Promise<string[]> {
      try {
        return (await readdir(temporaryDir)).sort();
      } catch (err) {
        if (isMissing(err)) return [];
        throw err;
      }
    },

    async discardStaged(group: string): Promise<number> {
      const stale = (await this.listTemporary()).filter((name) => stagedInGroup(name, group));
      await Promise.all(stale.map((name) => rm(join(temporaryDir, name), { force: true })));
      return stale.length;
    },
  };
}

/**
 * Bytes gathered before one write to the file. pg_dump's output arrives in 64 KiB pipe reads; a file
 * write for each cost ~0.75 CPU-s per GiB more than 1 MiB writes (test/bench/b1e-cpu.ts, 512 MiB, median of
 * 3: write + commit 1.67 -> 1.29 CPU-s at load 15), for a copy that costs ~0.06 s per GiB.
 */
const WRITE_BYTES = 1024 * 1024;

/** Writes to the file in 1 MiB pieces through one reused buffer (no other userland copy), fsyncs at the end. */
class FileSink extends Writable {
  readonly whenClosed: Promise<void>;
  #markClosed: () => void = () => undefined;
  readonly #pending = Buffer.allocUnsafe(WRITE_BYTES);
  #filled = 0;

  constructor(
    private readonly handle: FileHandle,
    private readonly tally: ByteTally,
  ) {
    super({ highWaterMark: WRITE_BYTES });
    this.whenClosed = new Promise((resolve) => {
      this.#markClosed = resolve;
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.tally.add(chunk);
    this.#gather(chunk).then(() => callback(), callback);
  }

  /** Copies the chunk into the pending buffer, writing the buffer out each time it fills. */
  async #gather(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      const copied = chunk.copy(this.#pending, this.#filled, offset);
      this.#filled += copied;
      offset += copied;
      if (this.#filled === WRITE_BYTES) await this.#flush();
    }
  }

  async #flush(): Promise<void> {
    const filled = this.#filled;
    this.#filled = 0;
    if (filled > 0) await writeFully(this.handle, this.#pending.subarray(0, filled));
  }

  override _final(callback: (err?: Error | null) => void): void {
    // Durability before the rename: a crash after commit() must not leave a renamed but empty file.
    this.#flush()
      .then(() => this.handle.sync())
      .then(() => callback(), callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    // FileHandle.close() waits for a write still in flight, so no write lands on a reused descriptor.
    this.handle
      .close()
      .then(
        () => callback(err),
        (closeErr: Error) => callback(err ?? closeErr),
      )
      .finally(this.#markClosed);
  }
}

async function writeFully(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

async function moveVerified(
  root: string,
  temporaryPath: string,
  finalPath: string,
  key: string,
  expected: StreamedDigest,
  signal: AbortSignal | undefined,
): Promise<void> {
  const stored = await digestFile(temporaryPath, signal);
  if (stored.sizeBytes !== expected.sizeBytes) {
    throw Errors.artifactIntegrity(
      key,
      `the stored file has ${stored.sizeBytes} bytes, ${expected.sizeBytes} were streamed`,
    );
  }
  if (stored.sha256 !== expected.sha256) {
    throw Errors.artifactIntegrity(key, 'the stored file has a different sha256 than the streamed bytes');
  }
  signal?.throwIfAborted();
  const firstCreated = await mkdir(dirname(finalPath), { recursive: true, mode: 0o700 });
  await rename(temporaryPath, finalPath);
  // The rename, and any directory mkdir just created, are durable only once their parents are synced.
  let dir = dirname(finalPath);
  await fsyncDirectory(dir);
  const lastParent = firstCreated === undefined ? dir : dirname(firstCreated);
  while (dir !== lastParent && dir.length > root.length) {
    dir = dirname(dir);
    await fsyncDirectory(dir);
  }
}

/** Bytes per read when re-reading a stored file; see digestFile. */
const REREAD_CHUNK_BYTES = 1024 * 1024;

/**
 * Size and sha256 of a file, read through two fixed buffers in turn: one is hashed while the next read
 * fills the other. A read stream would allocate a fresh 64 KiB Buffer per read, and V8 frees those only
 * at its next GC: re-reading a 1 GiB file that way peaked at 28 MiB of dead buffers (79 MiB RSS against
 * 51 MiB this way) and took 1.0 s against 0.66 s (node 20, page cache warm).
 */
async function digestFile(path: string, signal: AbortSignal | undefined): Promise<StreamedDigest> {
  signal?.throwIfAborted();
  const handle = await open(path, 'r');
  const tally = new ByteTally();
  // `reading` fills `target`; the other buffer is free to be hashed from.
  let target = Buffer.allocUnsafe(REREAD_CHUNK_BYTES);
  let other = Buffer.allocUnsafe(REREAD_CHUNK_BYTES);
  let reading = handle.read(target, 0, REREAD_CHUNK_BYTES, null);
  try {
    for (;;) {
      const { bytesRead } = await reading;
      if (bytesRead === 0) break;
      if (signal?.aborted) throw abortReason(signal);
      const data = target.subarray(0, bytesRead);
      [target, other] = [other, target];
      reading = handle.read(target, 0, REREAD_CHUNK_BYTES, null);
      tally.add(data);
    }
  } finally {
    reading.catch(() => undefined); // after a throw, a read may still be in flight; close() waits for it
    await handle.close();
  }
  return { sizeBytes: tally.bytes, sha256: tally.digest() };
}

async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function collectFiles(dir: string, keyPrefix: string, into: string[], skip?: string): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isMissing(err)) return;
    throw err;
  }
  for (const entry of entries) {
    if (entry.name === skip) continue;
    if (entry.isDirectory()) await collectFiles(join(dir, entry.name), `${keyPrefix}${entry.name}/`, into);
    else if (entry.isFile()) into.push(`${keyPrefix}${entry.name}`);
  }
}

const isMissing = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};
