import type { Sql } from '../../db/tenant-scope.js';

export interface TenantEncryptionRow {
  tenant_id: string;
  key_ref: string;
  since: Date;
}

const COLUMNS = 'tenant_id, key_ref, since';

export const selectTenantEncryption = (tenantId: string): Sql => ({
  text: `SELECT ${COLUMNS} FROM tenant_encryption WHERE tenant_id = $1`,
  values: [tenantId],
});

export const selectTenantEncryptionByIds = (tenantIds: string[]): Sql => ({
  text: `SELECT ${COLUMNS} FROM tenant_encryption WHERE tenant_id = ANY($1::text[])`,
  values: [tenantIds],
});

/** A new key applies from now; setting the same key again keeps its `since`. */
export const upsertTenantEncryption = (tenantId: string, keyRef: string): Sql => ({
  text: `INSERT INTO tenant_encryption (tenant_id, key_ref) VALUES ($1, $2)
         ON CONFLICT (tenant_id) DO UPDATE
           SET key_ref = excluded.key_ref,
               since = CASE WHEN tenant_encryption.key_ref = excluded.key_ref THEN tenant_encryption.since ELSE now() END
         RETURNING ${COLUMNS}`,
  values: [tenantId, keyRef],
});

export interface EncryptedBackupRow {
  id: string;
  encryption: import('./backup-encryption.js').BackupEncryption;
}

/**
 * The next page of a tenant's encrypted backups after `afterId`, by id (the partial index
 * backups_encrypted). Deleted backups are included: their record may outlive the artifact, and a
 * wrapped key under a retired KEK is what a rewrap exists to remove.
 */
export const selectEncryptedBackups = (afterId: string | null, limit: number): Sql => ({
  text: `SELECT id, encryption FROM backups
          WHERE encryption IS NOT NULL AND ($1::uuid IS NULL OR id > $1::uuid)
          ORDER BY id LIMIT $2`,
  values: [afterId, limit],
});

/**
 * Replace a backup's wrapped key, only if it is still the one that was unwrapped (two rewraps racing,
 * or a rewrap racing a retried backup, cannot store a key wrapped from a stale copy).
 */
export const replaceWrappedKey = (id: string, previousWrappedKey: string, wrapped: object): Sql => ({
  text: `UPDATE backups SET encryption = encryption || $3::jsonb
          WHERE id = $1 AND encryption ->> 'wrappedKey' = $2 RETURNING id`,
  values: [id, previousWrappedKey, JSON.stringify(wrapped)],
});
