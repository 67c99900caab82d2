import { Errors } from '../errors.js';
import { type DbSecret, parseDbSecretObject, type SecretProvider } from './db-secret.js';
import {
  describeEntry,
  holdsVersion,
  moveStage,
  newEntry,
  newVersionId,
  putVersion,
  readEntry,
  selectVersion,
  type VersionedEntry,
} from './file-versions.js';
import { redactedSecretFields, type SecretFields, secretTextToWrite } from './secret-fields.js';
import { formatSecretRef } from './secret-ref.js';
import {
  AWSCURRENT,
  type CreateSecretOptions,
  checkCreate,
  checkSelector,
  checkStage,
  checkStages,
  checkTags,
  checkVersionId,
  type PutSecretValueOptions,
  type SecretDescription,
  type SecretTags,
  type SecretVersionRead,
  type SecretVersionSelector,
  type SecretVersionWritten,
  type SecretWriter,
  type UpdateVersionStageOptions,
} from './secret-writer.js';
import { readSecretsFile, type SecretsFileContent, updateSecretsFile } from './secrets-file.js';

export interface FileSecretOptions {
  /** PGSTEWARD_SECRETS_FILE, by default `<data dir>/secrets.json`. */
  path: string;
  /** The clock for createdAt, for tests. */
  now?: () => Date;
}

const refOf = (key: string) => formatSecretRef({ scheme: 'file', id: key });

/**
 * Database secrets in a JSON file: `{ "<key>": { "username": ..., "password": ... } }`, or
 * `{ "<key>": "<the same object as a JSON string>" }` (the shape AWS exports), or the versioned entry
 * the write side keeps (see file-versions.ts), which reads its AWSCURRENT version.
 *
 * The file is refused while group or others may read or write it. It is re-parsed only when it changes,
 * so a rotated password is picked up without a restart. Writes are atomic and locked across processes
 * (see secrets-file.ts).
 */
export class FileSecretProvider implements SecretProvider, SecretWriter {
  readonly path: string;
  readonly #now: () => Date;
  #parsed: SecretsFileContent | undefined;

  constructor(options: FileSecretOptions) {
    this.path = options.path;
    this.#now = options.now ?? (() => new Date());
  }

  async fetch(key: string, ref: string): Promise<DbSecret> {
    const [, version] = selectVersion(ref, await this.#entry(key, ref));
    return parseDbSecretObject(ref, version.value);
  }

  async getSecretValue(key: string, selector: SecretVersionSelector = {}): Promise<SecretVersionRead> {
    const ref = refOf(key);
    const checked = checkSelector(selector);
    const [versionId, version] = selectVersion(ref, await this.#entry(key, ref), checked);
    return { versionId, stages: [...version.stages], value: redactedSecretFields(version.value) };
  }

  async describeSecret(key: string): Promise<SecretDescription> {
    const ref = refOf(key);
    return describeEntry(await this.#entry(key, ref));
  }

  async createSecret(
    key: string,
    value: SecretFields,
    options: CreateSecretOptions = {},
  ): Promise<SecretVersionWritten> {
    const ref = refOf(key);
    const { text, tags, token } = checkCreate(ref, value, options);
    return this.#update(ref, (entries) => {
      if (Object.hasOwn(entries, key)) {
        // AWS answers a repeated create with ResourceExistsException; the same token and value is our retry.
        const existing = readEntry(ref, this.path, entries[key]);
        if (token !== undefined && holdsVersion(existing, token, text)) {
          return { versionId: token, stages: [...(existing.versions[token]?.stages ?? [])] };
        }
        throw Errors.secretExists(ref);
      }
      const versionId = newVersionId(token);
      entries[key] = newEntry(JSON.parse(text), tags, versionId, this.#now());
      return { versionId, stages: [AWSCURRENT] };
    });
  }

  async putSecretValue(
    key: string,
    value: SecretFields,
    options: PutSecretValueOptions,
  ): Promise<SecretVersionWritten> {
    const ref = refOf(key);
    const text = secretTextToWrite(ref, value);
    const versionId = checkVersionId(options.clientRequestToken, 'clientRequestToken');
    const stages = checkStages(options.stages ?? [AWSCURRENT]);
    return this.#change(key, ref, (entry) =>
      putVersion(ref, entry, JSON.parse(text), text, { versionId, stages, now: this.#now() }),
    );
  }

  async updateVersionStage(key: string, stage: string, options: UpdateVersionStageOptions): Promise<void> {
    const ref = refOf(key);
    checkStage(stage);
    const moveTo = options.moveToVersionId;
    const removeFrom = options.removeFromVersionId;
    if (moveTo !== undefined) checkVersionId(moveTo, 'moveToVersionId');
    if (removeFrom !== undefined) checkVersionId(removeFrom, 'removeFromVersionId');
    await this.#change(key, ref, (entry) => moveStage(ref, entry, stage, options));
  }

  async tagSecret(key: string, tags: SecretTags): Promise<void> {
    const ref = refOf(key);
    const checked = checkTags(tags);
    await this.#change(key, ref, (entry) => {
      entry.tags = checkTags({ ...entry.tags, ...checked });
    });
  }

  /** Removes the key at once: a file has no recovery window (the options are AWS's and ignored here). */
  async deleteSecret(key: string): Promise<void> {
    const ref = refOf(key);
    await this.#update(ref, (entries) => {
      if (!Object.hasOwn(entries, key)) throw Errors.secretNotFound(ref);
      delete entries[key];
    });
  }

  /** Edits one existing entry; a plain entry is converted to the versioned shape on the way. */
  #change<T>(key: string, ref: string, edit: (entry: VersionedEntry) => T): Promise<T> {
    return this.#update(ref, (entries) => {
      if (!Object.hasOwn(entries, key)) throw Errors.secretNotFound(ref);
      const entry = readEntry(ref, this.path, entries[key]);
      const result = edit(entry);
      entries[key] = entry;
      return result;
    });
  }

  async #update<T>(ref: string, change: (entries: Record<string, unknown>) => T): Promise<T> {
    const refuse = (why: string) => Errors.secretWriteUnavailable(ref, why);
    return updateSecretsFile(this.path, refuse, change);
  }

  async #entry(key: string, ref: string): Promise<VersionedEntry> {
    const refuse = (why: string) => Errors.secretUnavailable(ref, why);
    const content = await readSecretsFile(this.path, refuse, this.#parsed);
    if (content === undefined) throw refuse(`${this.path} does not exist`);
    this.#parsed = content;
    // Own properties only: `file:constructor` must not find Object.prototype.constructor.
    if (!Object.hasOwn(content.entries, key)) throw Errors.secretNotFound(ref);
    return readEntry(ref, this.path, content.entries[key]);
  }
}
