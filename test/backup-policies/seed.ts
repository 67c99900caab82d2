import type { TestDatabase } from '../helpers/database.js';

/** The options a default backup records (normaliseBackupOptions({})). */
export const DEFAULT_OPTIONS = {
  format: 'custom',
  tables: [],
  excludeTables: [],
  schemas: [],
  excludeSchemas: [],
  schemaOnly: false,
  dataOnly: false,
  compression: null,
  parallel: null,
  includeGlobals: true,
};

export interface SeededBackup {
  status?: string;
  /** Created this long before `at` (default now). */
  ageMs?: number;
  at?: Date;
  /** Made by a schedule (tick = created_at). */
  scheduled?: boolean;
  policyId?: string | null;
  verified?: boolean;
  tenant?: string;
}

/**
 * A backup record as a finished job leaves it, backdated: retention only reads the record, and a test
 * that needs the artifact writes it into storage itself.
 */
export async function seedBackup(db: TestDatabase, target: string, b: SeededBackup = {}): Promise<string> {
  const created = new Date((b.at ?? new Date()).getTime() - (b.ageMs ?? 0));
  const available = (b.status ?? 'available') === 'available';
  const [row] = await db.ownerQuery<{ id: string }>(
    `INSERT INTO backups (tenant_id, target_id, status, format, options, artifact_key, size_bytes, sha256,
                          created_at, completed_at, tick, policy_id, last_verified_at, last_verification)
     VALUES ($1, $2, $3, 'custom', $4, $5, $6, $7, $8, $8, CASE WHEN $9 THEN $8::timestamptz END, $10,
             CASE WHEN $11 THEN $8::timestamptz END,
             CASE WHEN $11 THEN jsonb_build_object('verified', true) END)
     RETURNING id`,
    [
      b.tenant ?? 'acme',
      target,
      b.status ?? 'available',
      JSON.stringify(DEFAULT_OPTIONS),
      available ? 'k' : null,
      available ? 1 : null,
      available ? 'a'.repeat(64) : null,
      created,
      b.scheduled ?? true,
      b.policyId ?? null,
      b.verified ?? false,
    ],
  );
  return row?.id as string;
}
