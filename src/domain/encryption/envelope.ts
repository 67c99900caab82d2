import { createCipheriv, createDecipheriv, createHash, type Hash, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { EncryptionFailures } from './errors.js';

/*
 * The envelope every encrypted artifact is stored in (version 1).
 *
 *   header   20 bytes
 *     0..5    magic "PGSENC" (never "PGDMP": nothing mistakes it for a dump, and pg_restore refuses it)
 *     6       format version, 1
 *     7       algorithm, 1 = AES-256-GCM
 *     8..11   plaintext chunk size C, uint32 big-endian (1 MiB by default; 1 KiB to 16 MiB accepted)
 *     12..19  nonce prefix: 8 random bytes, new for every object
 *   records  one per plaintext chunk i = 0, 1, ...: ciphertext (same length as the chunk) then the
 *            16-byte GCM tag. Every record but the last holds exactly C plaintext bytes; the last holds
 *            1..C bytes (0 only when the whole plaintext is empty), so a reader knows a record is the
 *            last one only by reaching the end of the object.
 *
 *   key      the backup's data key: 32 random bytes, wrapped by the tenant's key-encryption key and
 *            stored beside the backup record, never with the object.
 *   nonce    prefix (8) || i as uint32 big-endian (4). The prefix is random per object, and objects of one
 *            backup (dump, globals, directory files) share its data key, so nonces never repeat under a key.
 *   AAD      header (20) || i as uint64 big-endian (8) || final flag (1 byte: 1 on the last record, else 0)
 *
 * What the AAD buys: a changed header (chunk size, prefix) fails every record; a reordered or dropped
 * record fails on its index; an object cut at a record boundary fails because the record that is now
 * last was sealed with final = 0; bytes appended after the last record make it non-final and fail it.
 */

export const ENVELOPE_MAGIC = Buffer.from('PGSENC', 'latin1');
export const ENVELOPE_VERSION = 1;
export const ENVELOPE_ALGORITHM = 'aes-256-gcm-chunked-v1';
const ALGORITHM_AES_256_GCM = 1;
export const HEADER_BYTES = 20;
const TAG_BYTES = 16;
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
const MIN_CHUNK_BYTES = 1024;
const MAX_CHUNK_BYTES = 16 * 1024 * 1024;
export const DATA_KEY_BYTES = 32;

const corrupt = EncryptionFailures.artifactCorrupt;

/** A fresh data key for one backup. */
export const newDataKey = (): Buffer => randomBytes(DATA_KEY_BYTES);

function header(chunkBytes: number, prefix: Buffer): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  ENVELOPE_MAGIC.copy(h, 0);
  h[6] = ENVELOPE_VERSION;
  h[7] = ALGORITHM_AES_256_GCM;
  h.writeUInt32BE(chunkBytes, 8);
  prefix.copy(h, 12);
  return h;
}

function nonceOf(h: Buffer, index: number): Buffer {
  const nonce = Buffer.alloc(12);
  h.copy(nonce, 0, 12, 20);
  nonce.writeUInt32BE(index, 8);
  return nonce;
}

function aadOf(h: Buffer, index: number, final: boolean): Buffer {
  const aad = Buffer.alloc(HEADER_BYTES + 9);
  h.copy(aad, 0);
  aad.writeBigUInt64BE(BigInt(index), HEADER_BYTES);
  aad[HEADER_BYTES + 8] = final ? 1 : 0;
  return aad;
}

function checkKey(key: Buffer): void {
  if (key.length !== DATA_KEY_BYTES) throw new RangeError(`a data key is ${DATA_KEY_BYTES} bytes`);
}

/** Plaintext size and sha256 as they passed through either direction. */
export interface PlaintextDigest {
  sizeBytes: number;
  sha256: string;
}

/**
 * Encrypts a stream into the envelope. Input chunks are copied into one chunk-sized buffer before the
 * write callback runs, so a caller may reuse its buffers (the dump pump does).
 */
export class EncryptStream extends Transform {
  readonly #key: Buffer;
  readonly #header: Buffer;
  readonly #chunkBytes: number;
  readonly #pending: Buffer;
  #pendingLength = 0;
  #index = 0;
  #headerSent = false;
  readonly #hash: Hash = createHash('sha256');
  #size = 0;

  constructor(key: Buffer, opts: { chunkBytes?: number } = {}) {
    super();
    checkKey(key);
    this.#key = key;
    this.#chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (this.#chunkBytes < MIN_CHUNK_BYTES || this.#chunkBytes > MAX_CHUNK_BYTES) throw new RangeError('chunk size');
    this.#header = header(this.#chunkBytes, randomBytes(8));
    this.#pending = Buffer.allocUnsafe(this.#chunkBytes);
  }

  /** Valid once the stream has finished. */
  get plaintext(): PlaintextDigest {
    return { sizeBytes: this.#size, sha256: this.#hash.copy().digest('hex') };
  }

  #seal(final: boolean): void {
    if (!this.#headerSent) {
      this.push(this.#header);
      this.#headerSent = true;
    }
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonceOf(this.#header, this.#index));
    cipher.setAAD(aadOf(this.#header, this.#index, final));
    const body = cipher.update(this.#pending.subarray(0, this.#pendingLength));
    cipher.final();
    this.push(body);
    this.push(cipher.getAuthTag());
    this.#index += 1;
    this.#pendingLength = 0;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#hash.update(chunk);
    this.#size += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      // A full chunk is sealed only once another byte arrives: until then it may be the final one.
      if (this.#pendingLength === this.#chunkBytes) this.#seal(false);
      const n = chunk.copy(this.#pending, this.#pendingLength, offset);
      this.#pendingLength += n;
      offset += n;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    this.#seal(true);
    done();
  }
}

/**
 * Decrypts and authenticates the envelope, record by record; nothing of a record is passed on before
 * its tag has been verified. A bad header, tag, truncation or trailing garbage errors the stream with
 * PGS_ARTIFACT_CORRUPT.
 */
export class DecryptStream extends Transform {
  readonly #key: Buffer;
  #header: Buffer | null = null;
  #recordBytes = 0;
  #buffer: Buffer = Buffer.alloc(0);
  #parts: Buffer[] = [];
  #length = 0;
  #index = 0;
  readonly #hash: Hash = createHash('sha256');
  #size = 0;

  constructor(key: Buffer) {
    super();
    checkKey(key);
    this.#key = key;
  }

  /** Valid once the stream has ended. */
  get plaintext(): PlaintextDigest {
    return { sizeBytes: this.#size, sha256: this.#hash.copy().digest('hex') };
  }

  #open(record: Buffer, final: boolean): void {
    const h = this.#header as Buffer;
    if (record.length < TAG_BYTES) throw corrupt('a record is shorter than its tag');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, nonceOf(h, this.#index));
    decipher.setAAD(aadOf(h, this.#index, final));
    decipher.setAuthTag(record.subarray(record.length - TAG_BYTES));
    const body = decipher.update(record.subarray(0, record.length - TAG_BYTES));
    try {
      decipher.final();
    } catch {
      throw corrupt(`record ${this.#index} fails authentication`);
    }
    this.#hash.update(body);
    this.#size += body.length;
    this.#index += 1;
    if (body.length > 0) this.push(body);
  }

  #readHeader(): void {
    const h = this.#buffer.subarray(0, HEADER_BYTES);
    if (!h.subarray(0, 6).equals(ENVELOPE_MAGIC)) throw corrupt('not an encrypted artifact');
    if (h[6] !== ENVELOPE_VERSION || h[7] !== ALGORITHM_AES_256_GCM) throw corrupt('unknown envelope version');
    const chunkBytes = h.readUInt32BE(8);
    if (chunkBytes < MIN_CHUNK_BYTES || chunkBytes > MAX_CHUNK_BYTES) throw corrupt('impossible chunk size');
    this.#header = Buffer.from(h);
    this.#recordBytes = chunkBytes + TAG_BYTES;
    this.#buffer = this.#buffer.subarray(HEADER_BYTES);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      // Chunks are collected and joined once per record, not once per chunk (a record is ~16 reads).
      this.#parts.push(chunk);
      this.#length += chunk.length;
      if (this.#header === null) {
        if (this.#length < HEADER_BYTES) {
          done();
          return;
        }
        this.#buffer = Buffer.concat(this.#parts);
        this.#readHeader();
        this.#parts = [this.#buffer];
        this.#length = this.#buffer.length;
      }
      // A full record is known not to be the last only when at least one more byte follows it.
      if (this.#length <= this.#recordBytes) {
        done();
        return;
      }
      const all = this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts);
      let offset = 0;
      while (all.length - offset > this.#recordBytes) {
        this.#open(all.subarray(offset, offset + this.#recordBytes), false);
        offset += this.#recordBytes;
      }
      const rest = all.subarray(offset);
      this.#parts = rest.length > 0 ? [rest] : [];
      this.#length = rest.length;
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.#header === null) throw corrupt('the object ends inside its header');
      this.#open(Buffer.concat(this.#parts), true);
      this.#parts = [];
      done();
    } catch (err) {
      done(err as Error);
    }
  }
}
