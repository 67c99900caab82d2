import { defineError } from '../../errors.js';
import { defineTaskFailure } from '../../task-failures.js';

const final = { retryable: false };

/** Encryption at rest: the API's answers. */
export const EncryptionErrors = {
  keyRefInvalid: defineError(
    'PGS_KEY_REF_INVALID',
    400,
    'Bad Request',
    (shown: string) =>
      `keyRef ${shown} is not a key reference: file:<tenant>/<key>, aws-sm:<secret id or ARN> or kms:<key id, ARN or alias>.`,
  ),
  keyUnusable: defineError(
    'PGS_KEY_UNUSABLE',
    422,
    'Unprocessable Content',
    (ref: string, why: string) => `The key '${ref}' cannot be used: ${why}.`,
  ),
  notConfigured: defineError(
    'PGS_ENCRYPTION_NOT_CONFIGURED',
    409,
    'Conflict',
    (tenantId: string) =>
      `Tenant '${tenantId}' has no key-encryption key; set one with PUT /v1/tenants/${tenantId}/encryption.`,
  ),
};

/** Encryption at rest: what a running backup, restore, drill or rewrap fails with. */
export const EncryptionFailures = {
  /** The data key could not be unwrapped: the key-encryption key is not the one that wrapped it. */
  decryptFailed: defineTaskFailure(
    'PGS_DECRYPT_FAILED',
    (why: string) => `The backup's data key could not be unwrapped (${why}); nothing was restored.`,
    final,
  ),
  /** The envelope does not authenticate: a flipped bit, a truncated or reordered object, a foreign file. */
  artifactCorrupt: defineTaskFailure(
    'PGS_ARTIFACT_CORRUPT',
    (what: string) => `The encrypted artifact does not authenticate (${what}); nothing was restored.`,
    final,
  ),
  rewrapIncomplete: defineTaskFailure(
    'PGS_REWRAP_INCOMPLETE',
    (failed: { backupId: string; code: string }[], count: number, total: number) =>
      `${count} of ${total} data keys could not be re-wrapped (${failed
        .map((f) => `${f.backupId}: ${f.code}`)
        .join(', ')}${count > failed.length ? ', ...' : ''}); the others were. ` +
      'Run the rewrap again once their old key can be read.',
    final,
  ),
  // Final like the rest: a backup or restore records its failure on its own row, so the engine's retry
  // would find it no longer pending. Run the work again once the key is reachable.
  keyUnavailable: defineTaskFailure(
    'PGS_KEY_UNAVAILABLE',
    (ref: string, why: string) => `The key-encryption key '${ref}' could not be used (${why}).`,
    final,
  ),
};
