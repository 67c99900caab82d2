import type { Sql } from '../../db/tenant-scope.js';
import type { StoredVerification } from '../drills/verification.js';
import type { BackupEncryption } from '../encryption/backup-encryption.js';
import type { BackupOptions } from './options.js';

export type BackupStatus = 'pending' | 'running' | 'available' | 'failed' | 'deleted' | 'expired';

export interface BackupRow {
  id: string;
  tenant_id: string;
  target_id: string | null;
  job_id: string | null;
  status: BackupStatus;
  format: BackupOptions['format'];
  options: BackupOptions;
  artifact_key: string | null;
  size_bytes: string | null;
  sha256: string | null;
  server_version: string | null;
  tool_version: string | null;
  tables: { schema: string; name: string; rows: number | null }[];
  /** sha256 is of the stored object; plaintextSha256 is set when it is encrypted. */
  globals: {
    key: string;
    sizeBytes: number;
    sha256: string;
    noRolePasswords: boolean;
    plaintextSha256?: string;
  } | null;
  /** Set when the artifact is encrypted at rest (domain/encryption): the wrapped data key, never the key. */
  encryption: BackupEncryption | null;
  error: { code: string; message: string } | null;
  created_at: Date;
  completed_at: Date | null;
  /** The newest restore drill of this backup (domain/drills), and what it found. */
  last_verified_at: Date | null;
  last_verification: StoredVerification | null;
  /** The backup policy and tick that made it (domain/backup-policies); null for a manual backup. */
  policy_id: string | null;
  tick: Date | null;
  pinned: boolean;
  /** Retention's rule, set when it decided to expire the backup; expired_at once its objects are gone. */
  expired_rule: string | null;
  expired_at: Date | null;
}

const COLUMNS = `id, tenant_id, target_id, job_id, status, format, options, artifact_key, size_bytes, sha256,
  server_version, tool_version, tables, globals, error, created_at, completed_at, last_verified_at, last_verification,
  policy_id, tick, pinned, expired_rule, expired_at, encryption`;

export const insertBackup = (
  tenantId: string,
  targetId: string,
  options: BackupOptions,
  schedule?: { policyId: string; tick: Date },
): Sql => ({
  text: `INSERT INTO backups (tenant_id, target_id, format, options, policy_id, tick) VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING ${COLUMNS}`,
  values: [
    tenantId,
    targetId,
    options.format,
    JSON.stringify(options),
    schedule?.policyId ?? null,
    schedule?.tick ?? null,
  ],
});

export const setBackupPinned = (id: string, pinned: boolean): Sql => ({
  text: `UPDATE backups SET pinned = $2 WHERE id = $1 RETURNING ${COLUMNS}`,
  values: [id, pinned],
});

export const setBackupJob = (backupId: string, jobId: string): Sql => ({
  text: 'UPDATE backups SET job_id = $2 WHERE id = $1',
  values: [backupId, jobId],
});

export const selectBackup = (id: string): Sql => ({
  text: `SELECT ${COLUMNS} FROM backups WHERE id = $1`,
  values: [id],
});

export const selectBackupsByIds = (ids: string[]): Sql => ({
  text: `SELECT ${COLUMNS} FROM backups WHERE id = ANY($1::uuid[])`,
  values: [ids],
});

/** Newest first, keyset on (created_at, id). */
export const selectBackupPage = (
  filter: { targetId?: string; status?: BackupStatus },
  before: { createdAt: string; id: string } | undefined,
  limit: number,
): Sql => ({
  text: `SELECT ${COLUMNS} FROM backups
          WHERE ($1::uuid IS NULL OR target_id = $1)
            AND ($2::text IS NULL OR status = $2)
            AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
          ORDER BY created_at DESC, id DESC
          LIMIT $5`,
  values: [filter.targetId ?? null, filter.status ?? null, before?.createdAt ?? null, before?.id ?? null, limit + 1],
});

/**
 * The newest `limit` backups of each target in one statement (GraphQL's Target.backups over a page of
 * targets): a LATERAL per target walks backups_target_created, so each target costs one index scan
 * of `limit` rows rather than a query of its own.
 */
export const selectBackupPagesByTargets = (
  targetIds: string[],
  before: { createdAt: string; id: string } | undefined,
  limit: number,
): Sql => ({
  text: `SELECT b.* FROM unnest($1::uuid[]) AS t(id)
         CROSS JOIN LATERAL (
           SELECT ${COLUMNS} FROM backups
            WHERE target_id = t.id
              AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
            ORDER BY created_at DESC, id DESC
            LIMIT $4) AS b`,
  values: [targetIds, before?.createdAt ?? null, before?.id ?? null, limit + 1],
});

/**
 * A (re)started attempt: clears whatever a previous, interrupted attempt recorded. Every write a job makes
 * to its backup goes through fencedBy (src/jobs/fence.ts): a stale attempt's matches no row.
 */
export const markBackupRunning = (id: string): Sql => ({
  text: `UPDATE backups SET status = 'running', error = NULL, artifact_key = NULL, size_bytes = NULL, sha256 = NULL,
                            globals = NULL, tables = '[]', completed_at = NULL, encryption = NULL
          WHERE id = $1 AND status IN ('pending', 'running') RETURNING ${COLUMNS}`,
  values: [id],
});

export interface BackupOutcome {
  artifactKey: string;
  sizeBytes: number;
  sha256: string;
  serverVersion: string;
  toolVersion: string;
  tables: { schema: string; name: string; rows: number | null }[];
  globals: BackupRow['globals'];
  encryption: BackupEncryption | null;
}

export const markBackupAvailable = (id: string, o: BackupOutcome): Sql => ({
  text: `UPDATE backups SET status = 'available', artifact_key = $2, size_bytes = $3, sha256 = $4, server_version = $5,
                            tool_version = $6, tables = $7, globals = $8, encryption = $9, completed_at = now()
          WHERE id = $1 AND status = 'running' RETURNING ${COLUMNS}`,
  values: [
    id,
    o.artifactKey,
    o.sizeBytes,
    o.sha256,
    o.serverVersion,
    o.toolVersion,
    JSON.stringify(o.tables),
    o.globals === null ? null : JSON.stringify(o.globals),
    o.encryption === null ? null : JSON.stringify(o.encryption),
  ],
});

export const markBackupFailed = (id: string, error: { code: string; message: string }): Sql => ({
  text: `UPDATE backups SET status = 'failed', error = $2, artifact_key = NULL, globals = NULL, completed_at = now()
          WHERE id = $1 AND status IN ('pending', 'running')`,
  values: [id, JSON.stringify(error)],
});

/** A released attempt (shutdown): pending again, as if never started; the next attempt takes it from there. */
export const markBackupPending = (id: string): Sql => ({
  text: `UPDATE backups SET status = 'pending', error = NULL, artifact_key = NULL, size_bytes = NULL, sha256 = NULL,
                            globals = NULL, tables = '[]', completed_at = NULL
          WHERE id = $1 AND status = 'running'`,
  values: [id],
});

export const markBackupDeleted = (id: string): Sql => ({
  text: `UPDATE backups SET status = 'deleted', deleted_at = now() WHERE id = $1 AND status IN ('available', 'failed')
         RETURNING ${COLUMNS}`,
  values: [id],
});

export const selectIdempotencyKey = (operation: string, key: string): Sql => ({
  text: 'SELECT request_hash, job_id FROM idempotency_keys WHERE operation = $1 AND key = $2',
  values: [operation, key],
});

export const insertIdempotencyKey = (
  tenantId: string,
  operation: string,
  key: string,
  hash: string,
  jobId: string,
): Sql => ({
  text: `INSERT INTO idempotency_keys (tenant_id, operation, key, request_hash, job_id) VALUES ($1, $2, $3, $4, $5)`,
  values: [tenantId, operation, key, hash, jobId],
});

/** A target's backup posture (health reports): its newest available backup, and its newest drill. */
export const selectBackupPosture = (targetId: string): Sql => ({
  text: `SELECT (SELECT max(coalesce(completed_at, created_at)) FROM backups
                  WHERE target_id = $1 AND status = 'available') AS newest_backup_at,
                d.id AS drilled_backup_id, d.last_verified_at, (d.last_verification ->> 'verified') = 'true' AS verified
           FROM (SELECT 1) one
           LEFT JOIN LATERAL (SELECT id, last_verified_at, last_verification FROM backups
                               WHERE target_id = $1 AND last_verified_at IS NOT NULL
                               ORDER BY last_verified_at DESC LIMIT 1) d ON true`,
  values: [targetId],
});
