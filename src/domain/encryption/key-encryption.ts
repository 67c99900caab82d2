import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { KMSClient } from '@aws-sdk/client-kms';
import { isPgStewardError } from '../../errors.js';
import { awsFailureReason } from '../../secrets/aws-failure.js';
import { displaySecretRef, parseSecretRef } from '../../secrets/secret-ref.js';
import type { SecretStore } from '../../secrets/store.js';
import type { TenantSecretBinding } from '../../secrets/tenant-binding.js';
import { DATA_KEY_BYTES } from './envelope.js';
import { EncryptionErrors, EncryptionFailures } from './errors.js';

/**
 * A tenant's key-encryption key (KEK), named by a reference:
 * - `file:<tenant>/<key>` or `aws-sm:<secret id or ARN>`: a secret whose JSON value holds
 *   `{"key": "<base64 of 32 random bytes>"}`, bound to the tenant like every secret ref
 *   (src/secrets/tenant-binding.ts). It wraps a data key with AES-256-GCM; the secret's version id is
 *   recorded, so a rotated secret (a new AWSCURRENT) still unwraps the backups of the old version.
 * - `kms:<key id, ARN or alias>`: AWS KMS Encrypt/Decrypt; the key material never leaves KMS. The
 *   encryption context names the tenant and the backup, so a wrapped key moved to another backup or
 *   tenant does not decrypt (and CloudTrail shows whose backup each Decrypt was for).
 */
export type KeyRef = { kind: 'secret'; ref: string } | { kind: 'kms'; keyId: string; ref: string };

/** A data key as stored with a backup: never the key itself. */
export interface WrappedKey {
  keyRef: string;
  /** The secret version that wrapped it (secrets only; KMS records its own key version in the blob). */
  keyVersion: string | null;
  wrapping: 'aes-256-gcm' | 'aws-kms';
  /** base64: nonce (12) || ciphertext (32) || tag (16) for aes-256-gcm; KMS's CiphertextBlob for aws-kms. */
  wrappedKey: string;
}

const KMS_KEY_ID = /^[A-Za-z0-9:/_.+=,@-]{1,2048}$/;

/** Validates a key reference. Throws PGS_KEY_REF_INVALID (400). */
export function parseKeyRef(ref: unknown): KeyRef {
  if (typeof ref === 'string' && ref.startsWith('kms:')) {
    const keyId = ref.slice(4);
    if (!KMS_KEY_ID.test(keyId)) throw EncryptionErrors.keyRefInvalid(JSON.stringify(ref.slice(0, 120)));
    return { kind: 'kms', keyId, ref };
  }
  try {
    parseSecretRef(ref);
  } catch {
    throw EncryptionErrors.keyRefInvalid(displaySecretRef(ref));
  }
  return { kind: 'secret', ref: ref as string };
}

const wrapAad = (tenantId: string, backupId: string) => Buffer.from(`pgsteward:dek:v1:${tenantId}:${backupId}`);
const kmsContext = (tenantId: string, backupId: string) => ({
  'pgsteward:tenant': tenantId,
  'pgsteward:backup': backupId,
});

export interface KmsOptions {
  /** AWS_REGION. */
  region?: string | undefined;
  /** PGSTEWARD_KMS_ENDPOINT: a VPC endpoint, LocalStack, or the test suite's fake KMS. */
  endpoint?: string | undefined;
  /** Tests only; production uses the SDK's default credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * Wraps and unwraps backups' data keys with tenants' key-encryption keys. Secret-held keys are read
 * uncached (a wrap or unwrap is once per backup, and a rotated secret must take effect at once).
 */
export class TenantKeys {
  readonly #secrets: SecretStore;
  readonly #binding: TenantSecretBinding;
  readonly #kmsOptions: KmsOptions;
  #kms: Promise<{ sdk: typeof import('@aws-sdk/client-kms'); client: KMSClient }> | undefined;

  constructor(o: { secrets: SecretStore; binding: TenantSecretBinding; kms?: KmsOptions }) {
    this.#secrets = o.secrets;
    this.#binding = o.binding;
    this.#kmsOptions = o.kms ?? {};
  }

  // Loaded on first use: a server without KMS keys never pays for the SDK.
  #kmsClient() {
    this.#kms ??= import('@aws-sdk/client-kms').then((sdk) => {
      const o = this.#kmsOptions;
      const client = new sdk.KMSClient({
        ...(o.region === undefined ? {} : { region: o.region }),
        ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint }),
        ...(o.credentials === undefined ? {} : { credentials: o.credentials }),
        requestHandler: { connectionTimeout: 3000, requestTimeout: 10_000 },
      });
      return { sdk, client };
    });
    return this.#kms;
  }

  /** The secret-held KEK (and its version id), after checking the secret is the tenant's. */
  async #secretKey(tenantId: string, ref: string, versionId?: string): Promise<{ key: Buffer; versionId: string }> {
    await this.#binding.assertBound(tenantId, ref);
    const read = await this.#secrets.getSecretValue(ref, versionId === undefined ? {} : { versionId });
    const text = read.value.key;
    const key = typeof text === 'string' && /^[A-Za-z0-9+/]{43}=$/.test(text) ? Buffer.from(text, 'base64') : null;
    if (key === null || key.length !== DATA_KEY_BYTES) {
      throw EncryptionErrors.keyUnusable(ref, 'its value is not {"key": "<base64 of 32 bytes>"}');
    }
    return { key, versionId: read.versionId };
  }

  /**
   * Check a KEK works for the tenant: the secret is bound and well-formed, or KMS encrypts and decrypts
   * with it. Throws the API's errors (PGS_SECRET_NOT_FOUND, PGS_KEY_UNUSABLE, ...).
   */
  async check(tenantId: string, keyRef: string): Promise<void> {
    const probe = randomBytes(DATA_KEY_BYTES);
    try {
      const wrapped = await this.wrap(tenantId, 'key-check', probe, keyRef);
      const back = await this.unwrap(tenantId, 'key-check', wrapped);
      if (!back.equals(probe)) throw new Error('the key did not give back what it wrapped');
    } catch (err) {
      if (isPgStewardError(err)) throw err;
      throw EncryptionErrors.keyUnusable(keyRef, (err as Error).message);
    }
  }

  /**
   * Whether a data key wrapped as `wrapped` is already under the KEK `keyRef` as it is now (a secret's
   * current version; KMS rotates its key material itself, so any blob of the same key is current).
   */
  async isCurrent(tenantId: string, wrapped: WrappedKey, keyRef: string): Promise<boolean> {
    if (wrapped.keyRef !== keyRef) return false;
    if (wrapped.wrapping === 'aws-kms') return true;
    const { versionId } = await this.#secretKey(tenantId, keyRef);
    return wrapped.keyVersion === versionId;
  }

  /** Wrap a backup's data key with the KEK `keyRef` (the secret's current version). */
  async wrap(tenantId: string, backupId: string, dataKey: Buffer, keyRef: string): Promise<WrappedKey> {
    const parsed = parseKeyRef(keyRef);
    if (parsed.kind === 'kms') {
      const { sdk, client } = await this.#kmsClient();
      let blob: Uint8Array | undefined;
      try {
        const out = await client.send(
          new sdk.EncryptCommand({
            KeyId: parsed.keyId,
            Plaintext: dataKey,
            EncryptionContext: kmsContext(tenantId, backupId),
          }),
        );
        blob = out.CiphertextBlob;
      } catch (err) {
        throw EncryptionFailures.keyUnavailable(keyRef, `KMS Encrypt: ${awsFailureReason(err)}`);
      }
      if (blob === undefined) throw EncryptionFailures.keyUnavailable(keyRef, 'KMS Encrypt returned no ciphertext');
      return { keyRef, keyVersion: null, wrapping: 'aws-kms', wrappedKey: Buffer.from(blob).toString('base64') };
    }
    const { key, versionId } = await this.#secretKey(tenantId, keyRef);
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(wrapAad(tenantId, backupId));
    const sealed = Buffer.concat([nonce, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
    return { keyRef, keyVersion: versionId, wrapping: 'aes-256-gcm', wrappedKey: sealed.toString('base64') };
  }

  /**
   * The data key back. A KEK that does not open it (another key, a replaced secret, another backup's
   * wrapped key) is PGS_DECRYPT_FAILED; a KEK that cannot be reached is PGS_KEY_UNAVAILABLE.
   */
  async unwrap(tenantId: string, backupId: string, wrapped: WrappedKey): Promise<Buffer> {
    const blob = Buffer.from(wrapped.wrappedKey, 'base64');
    if (wrapped.wrapping === 'aws-kms') {
      const parsed = parseKeyRef(wrapped.keyRef);
      if (parsed.kind !== 'kms') throw EncryptionFailures.decryptFailed('the record names no KMS key');
      const { sdk, client } = await this.#kmsClient();
      let plain: Uint8Array | undefined;
      try {
        const out = await client.send(
          new sdk.DecryptCommand({
            KeyId: parsed.keyId,
            CiphertextBlob: blob,
            EncryptionContext: kmsContext(tenantId, backupId),
          }),
        );
        plain = out.Plaintext;
      } catch (err) {
        const name = (err as { name?: unknown } | null)?.name;
        if (name === 'InvalidCiphertextException' || name === 'IncorrectKeyException') {
          throw EncryptionFailures.decryptFailed(`KMS refused the wrapped key: ${name}`);
        }
        throw EncryptionFailures.keyUnavailable(wrapped.keyRef, `KMS Decrypt: ${awsFailureReason(err)}`);
      }
      if (plain?.length !== DATA_KEY_BYTES) throw EncryptionFailures.decryptFailed('KMS gave back no data key');
      return Buffer.from(plain);
    }
    let key: Buffer;
    try {
      ({ key } = await this.#secretKey(tenantId, wrapped.keyRef, wrapped.keyVersion ?? undefined));
    } catch (err) {
      const code = isPgStewardError(err) ? err.code : undefined;
      if (code === 'PGS_KEY_UNUSABLE' || code === 'PGS_SECRET_VERSION_NOT_FOUND' || code === 'PGS_SECRET_MALFORMED') {
        throw EncryptionFailures.decryptFailed(err instanceof Error ? err.message : String(err));
      }
      if (isPgStewardError(err)) throw EncryptionFailures.keyUnavailable(wrapped.keyRef, err.message);
      throw err;
    }
    if (blob.length !== 12 + DATA_KEY_BYTES + 16)
      throw EncryptionFailures.decryptFailed('the wrapped key is malformed');
    const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(0, 12));
    decipher.setAAD(wrapAad(tenantId, backupId));
    decipher.setAuthTag(blob.subarray(blob.length - 16));
    const dataKey = decipher.update(blob.subarray(12, blob.length - 16));
    try {
      decipher.final();
    } catch {
      throw EncryptionFailures.decryptFailed(`the key-encryption key ${wrapped.keyRef} is not the one that wrapped it`);
    }
    return dataKey;
  }

  close(): void {
    void this.#kms?.then(({ client }) => client.destroy()).catch(() => {});
  }
}
