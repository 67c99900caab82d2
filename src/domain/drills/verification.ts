/** What a restore drill found; stored on the backup (last_verification) and returned as the job result. */
export interface Verification {
  /** True when every recorded count matched and no index check failed. */
  verified: boolean;
  jobId: string;
  /** Where the scratch database lived: the backup's own target, or the PGSTEWARD_DRILL_TARGET server. */
  server: 'target' | 'drill-server';
  tables: VerifiedTable[];
  /** `schema.name` of every table whose restored row count differs from the count recorded at backup time. */
  mismatches: string[];
  indexesChecked: number;
  /** Indexes bt_index_check found corrupt. */
  indexFailures: { index: string; message: string }[];
  /** Whether amcheck could be used; when not, indexesChecked is 0 and `reason` says why. */
  amcheck: { available: boolean; reason: string | null };
  durationMs: number;
}

/** As kept on the backup: a drill whose restore failed because of the backup also carries the error. */
export type StoredVerification = Verification & { error?: { code: string; message: string } };

export interface VerifiedTable {
  schema: string;
  name: string;
  /** The count recorded at backup time; null when none was (a schema-only dump). */
  expectedRows: number | null;
  /** The count in the restored copy; null when the table is missing from it. */
  actualRows: number | null;
}

const keyOf = (t: { schema: string; name: string }) => `${t.schema}\u0000${t.name}`;

/**
 * Line up the backup's recorded tables with what the restore holds. A recorded table missing from the
 * restore, or with a different count, is a mismatch; a table without a recorded count is listed but
 * not judged. Tables the record does not know are listed with expectedRows null.
 */
export function compareTables(
  recorded: { schema: string; name: string; rows: number | null }[],
  restored: { schema: string; name: string; rows: number }[],
): { tables: VerifiedTable[]; mismatches: string[] } {
  const actual = new Map(restored.map((t) => [keyOf(t), t.rows]));
  const seen = new Set<string>();
  const tables: VerifiedTable[] = [];
  const mismatches: string[] = [];
  for (const r of recorded) {
    const key = keyOf(r);
    seen.add(key);
    const actualRows = actual.get(key) ?? null;
    tables.push({ schema: r.schema, name: r.name, expectedRows: r.rows, actualRows });
    if (r.rows !== null && actualRows !== r.rows) mismatches.push(`${r.schema}.${r.name}`);
  }
  for (const t of restored) {
    if (!seen.has(keyOf(t))) tables.push({ schema: t.schema, name: t.name, expectedRows: null, actualRows: t.rows });
  }
  return { tables, mismatches };
}

/** The scratch database of one verify job; derivable from the job id, so a retry finds its leftover. */
export const scratchDatabaseName = (jobId: string): string =>
  `pgsteward_drill_${jobId.replaceAll('-', '').slice(0, 16).toLowerCase()}`;
