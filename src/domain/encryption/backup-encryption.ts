import type { Tx } from '../../db/tenant-scope.js';
import type { ArtifactStorage } from '../backups/storage/artifact-storage.js';
import { EncryptingStorage } from './encrypting-storage.js';
import { ENVELOPE_ALGORITHM, newDataKey } from './envelope.js';
import type { TenantKeys, WrappedKey } from './key-encryption.js';
import { selectTenantEncryption, type TenantEncryptionRow } from './queries.js';

/** What an encrypted backup records (backups.encryption): the wrapped data key, never the key. */
export interface BackupEncryption extends WrappedKey {
  algorithm: typeof ENVELOPE_ALGORITHM;
  /** The dump's plaintext digest (null for the directory format, whose files are listed in its manifest). */
  plaintextSha256: string | null;
  plaintextSizeBytes: number | null;
}

/** The key-encryption key new backups of the tenant use, or undefined when it does not encrypt. */
export async function tenantKeyRef(tx: Tx, tenantId: string): Promise<string | undefined> {
  return (await tx.one<TenantEncryptionRow>(selectTenantEncryption(tenantId)))?.key_ref;
}

/** One backup attempt's encryption: the storage to write through, and the record once written. */
export interface BackupSealing {
  storage: EncryptingStorage;
  record(dumpKey: string | null): BackupEncryption;
}

/**
 * A fresh data key for one backup attempt, wrapped at once with the tenant's KEK: a KEK that cannot
 * be used fails the backup before anything is dumped, never after.
 */
export async function sealBackup(o: {
  keys: TenantKeys;
  storage: ArtifactStorage;
  tenantId: string;
  backupId: string;
  keyRef: string;
}): Promise<BackupSealing> {
  const dataKey = newDataKey();
  const wrapped = await o.keys.wrap(o.tenantId, o.backupId, dataKey, o.keyRef);
  const storage = new EncryptingStorage(o.storage, dataKey);
  return {
    storage,
    record: (dumpKey) => {
      const plain = dumpKey === null ? undefined : storage.plaintextOf(dumpKey);
      return {
        algorithm: ENVELOPE_ALGORITHM,
        ...wrapped,
        plaintextSha256: plain?.sha256 ?? null,
        plaintextSizeBytes: plain?.sizeBytes ?? null,
      };
    },
  };
}

/** An encrypted backup as the API shows it: how, and under which key; never the key, wrapped or not. */
export interface BackupEncryptionView {
  algorithm: typeof ENVELOPE_ALGORITHM;
  keyRef: string;
  wrapping: WrappedKey['wrapping'];
  plaintextSha256: string | null;
  plaintextSizeBytes: number | null;
}

export const backupEncryptionView = (e: BackupEncryption | null): BackupEncryptionView | null =>
  e && {
    algorithm: e.algorithm,
    keyRef: e.keyRef,
    wrapping: e.wrapping,
    plaintextSha256: e.plaintextSha256,
    plaintextSizeBytes: e.plaintextSizeBytes,
  };
