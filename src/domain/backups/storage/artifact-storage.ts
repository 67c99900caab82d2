import type { FileHandle } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';

// The contract every backend implements. It imports no backend: file-storage.ts and s3-storage.ts import
// it, and create-storage.ts picks between them.

export interface StoredObject {
  key: string;
  sizeBytes: number;
  /** Lower-case hex sha256 of the bytes as streamed, re-verified against the stored copy. */
  sha256: string;
}

/**
 * One artifact being written. Data lands under a temporary name; only `commit()` makes it visible
 * under its key, after reading the stored copy back. Either commit() resolves or nothing remains
 * under the final key (and, once abort() resolves, nothing under the temporary name either).
 */
export interface ArtifactWriter {
  /**
   * Stream bytes in; hashing (sha256) and counting happen as they pass, nothing is buffered whole. Once a
   * write's callback has run, the stream holds no reference to that chunk: the caller may reuse its memory.
   */
  readonly stream: Writable;
  /** Bytes accepted so far (for progress). */
  readonly bytesWritten: number;
  /**
   * After the stream has finished: re-verify the stored temporary object's size and sha256 against what
   * was streamed, then move it to its final key (replacing an object already there). On any failure it
   * removes the temporary object and throws; a commit after a failed or aborted stream throws too.
   */
  commit(): Promise<StoredObject>;
  /** Remove the temporary object (idempotent; safe after a failed stream; a no-op after a successful commit). */
  abort(): Promise<void>;
}

export interface ArtifactStorage {
  /** e.g. "file:///var/lib/pgsteward/artifacts" or "s3://bucket/prefix"; never holds credentials. */
  readonly description: string;
  /**
   * Start writing `key` (e.g. "<tenant>/<target>/<backup id>/dump.custom"). The signal, when it fires
   * before commit() has moved the data, destroys the stream and removes the temporary object.
   */
  createWriter(key: string, opts?: WriterOptions): Promise<ArtifactWriter>;
  /** Read a committed object as a stream; throws PGS_ARTIFACT_NOT_FOUND when it does not exist. */
  read(key: string): Promise<Readable>;
  /**
   * Local backends only: the committed file itself, opened read-only (PGS_ARTIFACT_NOT_FOUND when it
   * does not exist). A reader that hashes and uses this one descriptor reads one inode throughout: a
   * later rename over the key or a delete does not reach it. The caller closes it.
   */
  openFile?(key: string): Promise<FileHandle>;
  stat(key: string): Promise<{ sizeBytes: number } | null>;
  /** Delete one object, or every object under a prefix ending in "/" (a directory-format dump is many files). */
  delete(keyOrPrefix: string): Promise<void>;
  /** Committed keys under a prefix ('' or ending in '/'), sorted; temporary objects are not listed. */
  list(prefix: string): Promise<string[]>;
  /**
   * Names of temporary objects (writes in progress, or left by a crashed process), relative to the
   * temporary area. For tests, and for a sweeper that removes stale ones.
   */
  listTemporary(): Promise<string[]>;
  /**
   * Remove the temporary objects of a staging group: what an earlier attempt of the same work left
   * when its process died before it could clean up. Call it only when no attempt of that group runs.
   */
  discardStaged(group: string): Promise<number>;
}

export interface WriterOptions {
  signal?: AbortSignal;
  /**
   * Names the work the temporary object belongs to (e.g. a backup id), so a later attempt can discard
   * leftovers with discardStaged(group). Letters, digits and dashes only.
   */
  group?: string;
}
