import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type {
  ArtifactStorage,
  ArtifactWriter,
  StoredObject,
  WriterOptions,
} from '../backups/storage/artifact-storage.js';
import { DecryptStream, EncryptStream, type PlaintextDigest } from './envelope.js';

/** Encrypts on the way into the wrapped writer; commit() waits for the last record to be written. */
class EncryptingWriter implements ArtifactWriter {
  readonly stream: EncryptStream;
  readonly #inner: ArtifactWriter;
  readonly #piped: Promise<void>;
  readonly #onCommit: (key: string, plaintext: PlaintextDigest) => void;

  constructor(inner: ArtifactWriter, dataKey: Buffer, onCommit: (key: string, plaintext: PlaintextDigest) => void) {
    this.#inner = inner;
    this.#onCommit = onCommit;
    this.stream = new EncryptStream(dataKey);
    this.#piped = pipeline(this.stream, inner.stream);
    // Observed by commit() and abort(); a failure also reaches whoever writes into this.stream.
    this.#piped.catch(() => {});
  }

  get bytesWritten(): number {
    return this.#inner.bytesWritten;
  }

  async commit(): Promise<StoredObject> {
    await this.#piped;
    const stored = await this.#inner.commit();
    this.#onCommit(stored.key, this.stream.plaintext);
    return stored;
  }

  async abort(): Promise<void> {
    this.stream.destroy();
    await this.#piped.catch(() => {});
    await this.#inner.abort();
  }
}

/**
 * A backup's view of storage when its tenant encrypts: every object written goes through the envelope
 * under the backup's data key, so the dump, its globals file and a directory dump's files are all
 * encrypted without the dump code knowing. What commit() returns (size, sha256) is of the stored,
 * encrypted object; the plaintext's digest is kept per key (plaintextOf).
 */
export class EncryptingStorage implements ArtifactStorage {
  readonly #inner: ArtifactStorage;
  readonly #dataKey: Buffer;
  readonly #plaintext = new Map<string, PlaintextDigest>();

  constructor(inner: ArtifactStorage, dataKey: Buffer) {
    this.#inner = inner;
    this.#dataKey = dataKey;
  }

  get description(): string {
    return this.#inner.description;
  }

  /** The plaintext size and sha256 of an object this storage committed. */
  plaintextOf(key: string): PlaintextDigest | undefined {
    return this.#plaintext.get(key);
  }

  async createWriter(key: string, opts?: WriterOptions): Promise<ArtifactWriter> {
    const inner = await this.#inner.createWriter(key, opts);
    return new EncryptingWriter(inner, this.#dataKey, (k, digest) => this.#plaintext.set(k, digest));
  }

  /** Decrypted: an object that does not authenticate errors the stream with PGS_ARTIFACT_CORRUPT. */
  async read(key: string): Promise<Readable> {
    const source = await this.#inner.read(key);
    const decrypt = new DecryptStream(this.#dataKey);
    pipeline(source, decrypt).catch(() => {}); // the error surfaces on `decrypt`
    return decrypt;
  }

  stat(key: string) {
    return this.#inner.stat(key);
  }
  delete(keyOrPrefix: string) {
    return this.#inner.delete(keyOrPrefix);
  }
  list(prefix: string) {
    return this.#inner.list(prefix);
  }
  listTemporary() {
    return this.#inner.listTemporary();
  }
  discardStaged(group: string) {
    return this.#inner.discardStaged(group);
  }
}
