import { createHash, type Hash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import type { ArtifactWriter, StoredObject } from './artifact-storage.js';

export interface StreamedDigest {
  sizeBytes: number;
  sha256: string;
}

/** Counts and hashes bytes as a backend's stream accepts them. */
export class ByteTally {
  bytes = 0;
  readonly #hash: Hash = createHash('sha256');
  #digest: string | undefined;

  add(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.bytes += chunk.byteLength;
  }

  digest(): string {
    this.#digest ??= this.#hash.digest('hex');
    return this.#digest;
  }
}

/** What a backend does with the temporary object; the state machine around it is shared. */
export interface StagingBackend {
  /** Compare the stored temporary object with what was streamed, then move it to the final key. */
  verifyAndMove(expected: StreamedDigest, signal: AbortSignal | undefined): Promise<void>;
  /** Remove the temporary object; resolves once nothing of this write can appear any more. */
  discard(): Promise<void>;
}

/** Reads a stream to its end, hashing as it goes: the read-back half of every verification. */
export async function digestReadable(readable: Readable, signal?: AbortSignal): Promise<StreamedDigest> {
  const tally = new ByteTally();
  const onAbort = () => readable.destroy(abortReason(signal));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    signal?.throwIfAborted();
    for await (const chunk of readable) tally.add(chunk as Uint8Array);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return { sizeBytes: tally.bytes, sha256: tally.digest() };
}

export const abortReason = (signal: AbortSignal | undefined): Error =>
  signal?.reason instanceof Error ? signal.reason : new Error('The artifact write was aborted.');

/**
 * Destroys with the error only when someone listens for it (e.g. the caller's pipeline, which then
 * rejects with that error); an 'error' event nobody listens to would crash the process.
 */
export function destroyStream(stream: Writable | Readable, err: Error): void {
  if (stream.listenerCount('error') > 0) stream.destroy(err);
  else stream.destroy();
}

const GROUP_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

/** The temporary object's name: `<group>.<uuid>`, or just `<uuid>` without a group. */
export function stagingName(group: string | undefined, unique: string): string {
  if (group === undefined) return unique;
  if (!GROUP_PATTERN.test(group)) throw new Error(`invalid staging group '${group.slice(0, 80)}'`);
  return `${group}.${unique}`;
}

export const stagedInGroup = (name: string, group: string): boolean => name.startsWith(`${group}.`);

type State = 'writing' | 'committing' | 'committed' | 'discarded';

/**
 * The commit/abort state machine both backends share. The invariant: once commit() has been called,
 * it either resolves with the object in place under its key, or it has removed the temporary object
 * before rejecting. abort() during a commit waits for that commit and never deletes a committed object.
 */
export class StagedArtifactWriter implements ArtifactWriter {
  #state: State = 'writing';
  #committing: Promise<StoredObject> | undefined;
  #discarding: Promise<void> | undefined;
  readonly #onAbort: () => void;

  constructor(
    readonly key: string,
    readonly stream: Writable,
    private readonly tally: ByteTally,
    private readonly backend: StagingBackend,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.#onAbort = () => {
      if (this.#state !== 'writing') return; // a running commit watches the signal itself
      destroyStream(this.stream, abortReason(signal));
      this.abort().catch(() => undefined); // the caller's own abort() returns the same promise and sees errors
    };
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  get bytesWritten(): number {
    return this.tally.bytes;
  }

  commit(): Promise<StoredObject> {
    if (this.#state !== 'writing') {
      return Promise.reject(new Error(`commit() called on an artifact writer that is already ${this.#state}.`));
    }
    this.#state = 'committing';
    this.#committing = this.#commit();
    return this.#committing;
  }

  async #commit(): Promise<StoredObject> {
    try {
      this.signal?.throwIfAborted();
      if (!this.stream.writableFinished || this.stream.errored) {
        throw this.stream.errored ?? new Error('commit() called before the artifact stream finished.');
      }
      const expected = { sizeBytes: this.tally.bytes, sha256: this.tally.digest() };
      await this.backend.verifyAndMove(expected, this.signal);
      this.#state = 'committed';
      this.signal?.removeEventListener('abort', this.#onAbort);
      return { key: this.key, ...expected };
    } catch (err) {
      this.#state = 'discarded';
      await this.#discard().catch(() => undefined); // the commit error is the one worth reporting
      throw err;
    }
  }

  async abort(): Promise<void> {
    if (this.#state === 'committing') {
      await this.#committing?.catch(() => undefined);
    }
    if (this.#state === 'committed') return;
    this.#state = 'discarded';
    return this.#discard();
  }

  #discard(): Promise<void> {
    this.#discarding ??= (async () => {
      this.signal?.removeEventListener('abort', this.#onAbort);
      if (!this.stream.writableFinished) destroyStream(this.stream, new Error('The artifact write was aborted.'));
      await this.backend.discard();
    })();
    return this.#discarding;
  }
}
