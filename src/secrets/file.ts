import { open } from 'node:fs/promises';
import { Errors } from '../errors.js';
import {
  type DbSecret,
  MAX_SECRET_LENGTH,
  parseDbSecret,
  parseDbSecretObject,
  type SecretProvider,
} from './db-secret.js';

export interface FileSecretOptions {
  /** PGSTEWARD_SECRETS_FILE, by default `<data dir>/secrets.json`. */
  path: string;
}

/** Many secrets plus JSON overhead; far beyond any real file, small enough to never hurt. */
const MAX_FILE_LENGTH = 64 * MAX_SECRET_LENGTH;

interface ParsedFile {
  /** inode, size and mtime (ns): an edit in place or an atomic rename changes at least one. */
  version: string;
  entries: Record<string, unknown>;
}

/**
 * Reads database secrets from a JSON file: `{ "<key>": { "username": ..., "password": ... } }`, or
 * `{ "<key>": "<the same object as a JSON string>" }` (the shape AWS exports).
 *
 * The file is refused while group or others may read or write it, like ssh refuses a loose key.
 * It is re-parsed only when it changes, so a rotated password is picked up without a restart.
 */
export class FileSecretProvider implements SecretProvider {
  readonly path: string;
  #parsed: ParsedFile | undefined;

  constructor(options: FileSecretOptions) {
    this.path = options.path;
  }

  async fetch(key: string, ref: string): Promise<DbSecret> {
    const entries = await this.#entries(ref);
    // Own properties only: `file:constructor` must not find Object.prototype.constructor.
    if (!Object.hasOwn(entries, key)) throw Errors.secretNotFound(ref);
    const entry = entries[key];
    if (typeof entry === 'string') return parseDbSecret(ref, entry);
    if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) return parseDbSecretObject(ref, entry);
    throw Errors.secretMalformed(ref, `the entry in ${this.path} must be an object or a JSON string`);
  }

  async #entries(ref: string): Promise<Record<string, unknown>> {
    const unavailable = (why: string) => Errors.secretUnavailable(ref, why);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(this.path, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw unavailable(`${this.path} does not exist`);
      throw unavailable(`${this.path} cannot be opened (${code ?? 'error'})`);
    }
    try {
      // fstat on the open descriptor: the mode we check is the mode of the file we read.
      const stat = await handle.stat({ bigint: true });
      if (!stat.isFile()) throw unavailable(`${this.path} is not a regular file`);
      const mode = Number(stat.mode & 0o777n);
      if ((mode & 0o077) !== 0) {
        const octal = mode.toString(8).padStart(4, '0');
        throw unavailable(
          `${this.path} has mode ${octal}, so group or others may read or change it; run chmod 600 ${this.path}`,
        );
      }
      if (stat.size > BigInt(MAX_FILE_LENGTH))
        throw unavailable(`${this.path} is larger than ${MAX_FILE_LENGTH} bytes`);
      const version = `${stat.ino}:${stat.size}:${stat.mtimeNs}`;
      if (this.#parsed?.version === version) return this.#parsed.entries;
      const text = await handle.readFile('utf8');
      let entries: unknown;
      try {
        entries = JSON.parse(text);
      } catch {
        // Not the SyntaxError's message: it quotes the file around the fault, passwords included.
        throw unavailable(`${this.path} is not valid JSON`);
      }
      if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) {
        throw unavailable(`${this.path} must hold a JSON object mapping keys to secrets`);
      }
      this.#parsed = { version, entries: entries as Record<string, unknown> };
      return this.#parsed.entries;
    } finally {
      await handle.close();
    }
  }
}
