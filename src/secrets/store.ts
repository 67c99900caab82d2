import { Errors } from '../errors.js';
import type { DbSecret, SecretProvider } from './db-secret.js';
import type { SecretFields } from './secret-fields.js';
import { parseSecretRef, type SecretRef, type SecretScheme } from './secret-ref.js';
import type * as Writer from './secret-writer.js';
import { isSecretWriter, type SecretWriter } from './secret-writer.js';

export interface SecretStoreOptions {
  providers: { 'aws-sm'?: SecretProvider; file?: SecretProvider };
  /** How long a fetched secret is reused. Default 60 s: short enough for rotation, long enough to spare the API. */
  ttlMs?: number;
  /** The clock, for tests. */
  now?: () => number;
}

interface CacheEntry {
  promise: Promise<DbSecret>;
  /** Set once the fetch succeeded. */
  value?: DbSecret;
  expiresAt: number;
}

const UNCONFIGURED: Record<SecretScheme, string> = {
  'aws-sm': 'AWS Secrets Manager is not configured on this server (set AWS_REGION)',
  file: 'no secrets file is configured on this server',
};

/** Beyond this many cached refs, expired entries are swept on the next fetch. */
const SWEEP_THRESHOLD = 256;

/**
 * SQLSTATE 28P01 (invalid_password) or 28000 (invalid_authorization_specification): the credentials
 * were refused, which after a rotation means the cached secret is stale.
 */
export const isPgAuthFailure = (err: unknown): boolean => {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '28P01' || code === '28000';
};

/**
 * Fetches secrets through the provider for each ref's scheme and keeps them in memory for a short
 * TTL. Concurrent gets of one ref share a single fetch; failures are not cached.
 */
export class SecretStore {
  readonly #providers: SecretStoreOptions['providers'];
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, CacheEntry>();

  constructor(opts: SecretStoreOptions) {
    this.#providers = opts.providers;
    this.#ttlMs = opts.ttlMs ?? 60_000;
    this.#now = opts.now ?? Date.now;
  }

  /** The secret for `ref`, from the cache while fresh. Throws the PGS_SECRET_* errors. */
  get(ref: string): Promise<DbSecret> {
    let parsed: SecretRef;
    try {
      parsed = parseSecretRef(ref);
    } catch (err) {
      return Promise.reject(err);
    }
    const { scheme, id } = parsed;
    const cached = this.#entries.get(ref);
    if (cached !== undefined && (cached.value === undefined || cached.expiresAt > this.#now())) return cached.promise;

    const provider = this.#providers[scheme];
    if (provider === undefined) return Promise.reject(Errors.secretUnavailable(ref, UNCONFIGURED[scheme]));
    if (this.#entries.size >= SWEEP_THRESHOLD) this.#sweep();

    // The executor turns a provider's synchronous throw into a rejection like any other.
    const promise = new Promise<DbSecret>((resolve) => resolve(provider.fetch(id, ref)));
    const entry: CacheEntry = { promise, expiresAt: Number.POSITIVE_INFINITY };
    this.#entries.set(ref, entry);
    entry.promise.then(
      (value) => {
        entry.value = value;
        entry.expiresAt = this.#now() + this.#ttlMs;
      },
      () => {
        // Only drop our own entry: an invalidate() may already have replaced it with a newer fetch.
        if (this.#entries.get(ref) === entry) this.#entries.delete(ref);
      },
    );
    return entry.promise;
  }

  /** Forgets the cached secret; the next get fetches it again. */
  invalidate(ref: string): void {
    this.#entries.delete(ref);
  }

  /**
   * Runs `use` with the secret; if it fails with an authentication failure (per `isAuthFailure`,
   * e.g. isPgAuthFailure), the password was probably rotated: fetch the secret again and retry once.
   * If the fresh secret holds the same credentials, retrying would only fail again (and count
   * towards lockouts), so the original error is rethrown instead.
   */
  async withRotationRetry<T>(
    ref: string,
    use: (secret: DbSecret) => Promise<T>,
    isAuthFailure: (err: unknown) => boolean,
  ): Promise<T> {
    const secret = await this.get(ref);
    try {
      return await use(secret);
    } catch (err) {
      if (!isAuthFailure(err)) throw err;
      // When many jobs fail together, the first one to get here refetches and the rest share it.
      if (this.#entries.get(ref)?.value === secret) this.invalidate(ref);
      const fresh = await this.get(ref);
      if (fresh.username === secret.username && fresh.password === secret.password) throw err;
      return use(fresh);
    }
  }

  // The write side, routed by the ref's scheme like get(). Every write forgets the cached secret of its
  // ref, also when it fails (a timed-out write may have landed). A secret named both by name and by ARN
  // is cached under two refs; only the ref written through is forgotten, the other expires with its TTL.

  /** Creates a secret (first version AWSCURRENT). See SecretWriter.createSecret. */
  createSecret(
    ref: string,
    value: SecretFields,
    options?: Writer.CreateSecretOptions,
  ): Promise<Writer.SecretVersionWritten> {
    return this.#route(ref, true, (writer, id) => writer.createSecret(id, value, options));
  }

  /** Adds a version (rotation's createSecret step: stages [AWSPENDING], the job id as token). */
  putSecretValue(
    ref: string,
    value: SecretFields,
    options: Writer.PutSecretValueOptions,
  ): Promise<Writer.SecretVersionWritten> {
    return this.#route(ref, true, (writer, id) => writer.putSecretValue(id, value, options));
  }

  /** Moves a staging label (rotation's finishSecret step: AWSCURRENT to the new version). */
  updateVersionStage(ref: string, stage: string, options: Writer.UpdateVersionStageOptions): Promise<void> {
    return this.#route(ref, true, (writer, id) => writer.updateVersionStage(id, stage, options));
  }

  deleteSecret(ref: string, options?: Writer.DeleteSecretOptions): Promise<void> {
    return this.#route(ref, true, (writer, id) => writer.deleteSecret(id, options));
  }

  tagSecret(ref: string, tags: Writer.SecretTags): Promise<void> {
    return this.#route(ref, false, (writer, id) => writer.tagSecret(id, tags));
  }

  /** Labels per version and tags, uncached: tenancy decisions must not rest on a stale answer. */
  describeSecret(ref: string): Promise<Writer.SecretDescription> {
    return this.#route(ref, false, (writer, id) => writer.describeSecret(id));
  }

  /** One version's value by stage or id, uncached (rotation reads AWSPENDING between its steps). */
  getSecretValue(ref: string, selector?: Writer.SecretVersionSelector): Promise<Writer.SecretVersionRead> {
    return this.#route(ref, false, (writer, id) => writer.getSecretValue(id, selector));
  }

  async #route<T>(
    ref: string,
    invalidates: boolean,
    run: (writer: SecretWriter, id: string) => Promise<T>,
  ): Promise<T> {
    const { scheme, id } = parseSecretRef(ref);
    const provider = this.#providers[scheme];
    if (provider === undefined) throw Errors.secretWriteUnavailable(ref, UNCONFIGURED[scheme]);
    if (!isSecretWriter(provider)) throw Errors.secretWriteUnavailable(ref, `the ${scheme} provider cannot write`);
    try {
      return await run(provider, id);
    } finally {
      if (invalidates) this.invalidate(ref);
    }
  }

  #sweep(): void {
    const now = this.#now();
    for (const [ref, entry] of this.#entries) {
      if (entry.value !== undefined && entry.expiresAt <= now) this.#entries.delete(ref);
    }
  }
}
