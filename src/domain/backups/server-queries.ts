import type { Sql } from '../../db/tenant-scope.js';

// SQL a backup runs on the tenant's server (shared statements: targets/server-queries.ts).

/** The dump's snapshot is exported from this transaction and stays valid while it is open. */
export const beginSnapshotTransaction = (): Sql => ({
  text: 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY',
  values: [],
});

export const exportSnapshot = (): Sql => ({ text: 'SELECT pg_catalog.pg_export_snapshot() AS s', values: [] });

/** The progress estimate's total. */
export const selectDatabaseSize = (): Sql => ({
  text: 'SELECT pg_catalog.pg_database_size(pg_catalog.current_database()) AS n',
  values: [],
});

/** Whether pg_dumpall may read role passwords (pg_authid); managed services refuse it. */
export const selectReadsAuthid = (): Sql => ({
  text: "SELECT pg_catalog.has_table_privilege('pg_catalog.pg_authid', 'SELECT') AS ok",
  values: [],
});

/** Which of the named relations exist: anything pg_dump --table can match, exactly by name. */
export const selectNamedRelations = (names: { schema: string; name: string }[]): Sql => ({
  text: `SELECT n.nspname AS schema, c.relname AS name
           FROM unnest($1::text[], $2::text[]) AS w(schema, name)
           JOIN pg_catalog.pg_namespace n ON n.nspname = w.schema
           JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = w.name
          WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')`,
  values: [names.map((t) => t.schema), names.map((t) => t.name)],
});

export const selectNamedSchemas = (names: string[]): Sql => ({
  text: 'SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = ANY($1::text[])',
  values: [names],
});
