import type { Sql } from '../../db/tenant-scope.js';
import { quoteIdent, quoteQualified } from '../../sql/identifiers.js';

// SQL that runs on a tenant's server (never on pgsteward's metadata database) and that more than one
// capability needs. What only one capability runs there sits beside it, in its own server-queries.ts.
// Catalogs are named pg_catalog.* so that nothing a tenant puts on the search_path can stand in for them.

export const selectServerVersion = (): Sql => ({
  text: "SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version",
  values: [],
});

/** What a connection check reports: the version, and whether this session runs over TLS. */
export const selectSessionFacts = (): Sql => ({
  text: `SELECT current_setting('server_version') AS version,
                (SELECT ssl FROM pg_catalog.pg_stat_ssl WHERE pid = pg_catalog.pg_backend_pid()) AS ssl`,
  values: [],
});

export const selectDatabaseExists = (database: string): Sql => ({
  text: 'SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1',
  values: [database],
});

/**
 * The tables whose rows a dump holds and a restore brings back: ordinary and partitioned tables outside
 * the system schemas, except an extension's own (CREATE EXTENSION recreates those; pg_dump skips them).
 */
export const selectUserTables = (): Sql => ({
  text: `SELECT n.nspname AS schema, c.relname AS name
           FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p')
            AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            AND n.nspname !~ '^pg_(toast|temp_)'
            AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                             WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
          ORDER BY 1, 2`,
  values: [],
});

/** One table's exact row count (a full scan; estimates cannot prove a restore whole). */
export const countTableRows = (schema: string, name: string): Sql => ({
  text: `SELECT count(*) AS n FROM ${quoteQualified(schema, name)}`,
  values: [],
});

/** Sessions connected to `database`; `others` leaves out the one asking. */
export const countConnections = (database: string, others = false): Sql => ({
  text: `SELECT count(*)::int AS n FROM pg_catalog.pg_stat_activity
          WHERE datname = $1${others ? ' AND pid <> pg_catalog.pg_backend_pid()' : ''}`,
  values: [database],
});

export const terminateConnections = (database: string, others = false): Sql => ({
  text: `SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity
          WHERE datname = $1${others ? ' AND pid <> pg_catalog.pg_backend_pid()' : ''}`,
  values: [database],
});

/** `force` (PostgreSQL 13+) ends the database's sessions first. */
export const dropDatabase = (database: string, force = false): Sql => ({
  text: `DROP DATABASE IF EXISTS ${quoteIdent(database)}${force ? ' WITH (FORCE)' : ''}`,
  values: [],
});
