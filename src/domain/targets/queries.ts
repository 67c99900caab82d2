import type { Sql } from '../../db/tenant-scope.js';

export interface TargetRow {
  id: string;
  tenant_id: string;
  name: string;
  host: string | null;
  port: number | null;
  database: string | null;
  ssl_mode: string;
  secret_ref: string;
  /** The role-administering credential (issue 9); null when role work is not set up. */
  admin_secret_ref: string | null;
  created_at: Date;
  updated_at: Date;
  /** The newest drill of one of its backups (see LAST_VERIFIED_BACKUP); absent where not selected. */
  last_verified_backup?: { id: string; at: string; verified: boolean } | null;
}

// The target's most recently verified backup, for health views. backups_target_created narrows the
// scan to the target's own backups; a target has at most a few hundred live ones.
const LAST_VERIFIED_BACKUP = `(SELECT json_build_object('id', b.id, 'at', b.last_verified_at,
    'verified', coalesce((b.last_verification->>'verified')::boolean, false))
    FROM backups b WHERE b.target_id = targets.id AND b.last_verified_at IS NOT NULL
    ORDER BY b.last_verified_at DESC, b.id DESC LIMIT 1) AS last_verified_backup`;

const COLUMNS = `id, tenant_id, name, host, port, database, ssl_mode, secret_ref, admin_secret_ref, created_at, updated_at,
  ${LAST_VERIFIED_BACKUP}`;

export interface TargetFields {
  name: string;
  host: string | null;
  port: number | null;
  database: string | null;
  sslMode: string;
  secretRef: string;
  adminSecretRef: string | null;
}

export const insertTarget = (tenantId: string, f: TargetFields): Sql => ({
  text: `INSERT INTO targets (tenant_id, name, host, port, database, ssl_mode, secret_ref, admin_secret_ref)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
  values: [tenantId, f.name, f.host, f.port, f.database, f.sslMode, f.secretRef, f.adminSecretRef],
});

// Tenant filtering is row-level security's job; ids of other tenants simply find nothing.
export const selectTarget = (id: string): Sql => ({
  text: `SELECT ${COLUMNS} FROM targets WHERE id = $1`,
  values: [id],
});

export const selectTargetsByIds = (ids: string[]): Sql => ({
  text: `SELECT ${COLUMNS} FROM targets WHERE id = ANY($1::uuid[])`,
  values: [ids],
});

/** Oldest first, keyset on (created_at, id) encoded as one cursor string. */
export const selectTargetPage = (after: { createdAt: string; id: string } | undefined, limit: number): Sql => ({
  text: `SELECT ${COLUMNS} FROM targets
          WHERE ($1::timestamptz IS NULL OR (created_at, id) > ($1::timestamptz, $2::uuid))
          ORDER BY created_at, id
          LIMIT $3`,
  values: [after?.createdAt ?? null, after?.id ?? null, limit + 1],
});

export const updateTarget = (id: string, f: TargetFields): Sql => ({
  text: `UPDATE targets SET name = $2, host = $3, port = $4, database = $5, ssl_mode = $6, secret_ref = $7,
                            admin_secret_ref = $8, updated_at = now()
          WHERE id = $1 RETURNING ${COLUMNS}`,
  values: [id, f.name, f.host, f.port, f.database, f.sslMode, f.secretRef, f.adminSecretRef],
});

export const countLiveBackups = (targetId: string): Sql => ({
  text: `SELECT count(*)::int AS n FROM backups WHERE target_id = $1 AND status NOT IN ('deleted', 'expired')`,
  values: [targetId],
});

export const deleteTarget = (id: string): Sql => ({
  text: 'DELETE FROM targets WHERE id = $1 RETURNING id',
  values: [id],
});
