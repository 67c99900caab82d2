import type { Sql } from '../../db/tenant-scope.js';
import { quoteQualified } from '../../sql/identifiers.js';

// SQL maintenance runs on a tenant's server. Catalogs are named pg_catalog.* so that nothing a tenant
// puts on the search_path can stand in for them. Only ordinary tables and materialized views are
// maintained (relkind r, m): a partitioned parent has no storage of its own; name its partitions.

const TABLE_FACTS = `n.nspname AS schema, c.relname AS name, c.oid::int8 AS oid,
       pg_catalog.pg_get_userbyid(c.relowner) AS owner,
       pg_catalog.pg_total_relation_size(c.oid)::int8 AS total_bytes,
       s.n_dead_tup::int8 AS dead_tuples, s.n_live_tup::int8 AS live_tuples`;

const TABLE_JOINS = `FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = c.oid`;

export interface TableFactsRow {
  schema: string;
  name: string;
  oid: string;
  owner: string;
  total_bytes: string;
  dead_tuples: string | null;
  live_tuples: string | null;
}

/** The named tables that exist, with their size and dead tuples: exact names, no patterns. */
export const selectNamedTables = (names: { schema: string; name: string }[]): Sql => ({
  text: `SELECT ${TABLE_FACTS}
           FROM unnest($1::text[], $2::text[]) AS w(schema, name)
           JOIN pg_catalog.pg_namespace n ON n.nspname = w.schema
           JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = w.name
           LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = c.oid
          WHERE c.relkind IN ('r', 'm')
          ORDER BY 1, 2`,
  values: [names.map((t) => t.schema), names.map((t) => t.name)],
});

/**
 * Every table of the given schemas, or (schemas null) of the database outside the system schemas; an
 * extension's own tables are left out (the extension manages them). One more than `limit` is read, so
 * the caller can tell "too many" from "exactly enough".
 */
export const selectTablesIn = (schemas: string[] | null, limit: number): Sql => ({
  text: `SELECT ${TABLE_FACTS}
           ${TABLE_JOINS}
          WHERE c.relkind IN ('r', 'm')
            AND ($1::text[] IS NULL OR n.nspname = ANY($1::text[]))
            AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            AND n.nspname !~ '^pg_(toast|temp_)'
            AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                             WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
          ORDER BY 1, 2
          LIMIT $2`,
  values: [schemas, limit + 1],
});

/** The same facts by oid, read again after the statement ran (a table renamed meanwhile is still found). */
export const selectTablesByOid = (oids: string[]): Sql => ({
  text: `SELECT ${TABLE_FACTS} ${TABLE_JOINS} WHERE c.oid = ANY($1::oid[])`,
  values: [oids],
});

export const selectNamedSchemas = (names: string[]): Sql => ({
  text: 'SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = ANY($1::text[])',
  values: [names],
});

/**
 * Which tables this session may maintain, per PostgreSQL's own rule: a superuser, a member of the table's
 * owner, or (VACUUM and ANALYZE only, as PostgreSQL 15 and 16 allow) of the database's owner; from 17 on,
 * the MAINTAIN privilege (pg_maintain) as well. VACUUM on a table it may not touch only warns and skips
 * it, so this is asked first, and the job fails naming the owners instead of "succeeding" at nothing.
 */
export const selectNotMaintainable = (oids: string[], databaseOwnerCounts: boolean, hasMaintain: boolean): Sql => ({
  text: `SELECT n.nspname AS schema, c.relname AS name, pg_catalog.pg_get_userbyid(c.relowner) AS owner
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.oid = ANY($1::oid[])
            AND NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
            AND NOT pg_catalog.pg_has_role(current_user, c.relowner, 'MEMBER')
            AND NOT ($2 AND pg_catalog.pg_has_role(current_user,
                       (SELECT datdba FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()), 'MEMBER'))
            ${hasMaintain ? "AND NOT pg_catalog.has_table_privilege(c.oid, 'MAINTAIN')" : ''}
          ORDER BY 1, 2`,
  values: [oids, databaseOwnerCounts],
});

export const selectBackendPid = (): Sql => ({ text: 'SELECT pg_catalog.pg_backend_pid() AS pid', values: [] });

/** Session settings for the work connection: locks wait at most lockTimeout; statements as long as allowed. */
export const setSessionLimits = (lockTimeoutMs: number, statementTimeoutMs: number): Sql => ({
  text: "SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)",
  values: [`${lockTimeoutMs}ms`, `${statementTimeoutMs}ms`],
});

/** Stats are cached per transaction by default; a fresh read after a VACUUM must not see the old ones. */
export const clearStatsSnapshot = (): Sql => ({ text: 'SELECT pg_catalog.pg_stat_clear_snapshot()', values: [] });

export const cancelBackend = (pid: number): Sql => ({
  text: 'SELECT pg_catalog.pg_cancel_backend($1) AS ok',
  values: [pid],
});

export interface ServerProgressRow {
  phase: string;
  blocks_done: string | null;
  blocks_total: string | null;
  relation: string | null;
}

/**
 * The work session's progress, from the view for its command: pg_stat_progress_vacuum (VACUUM),
 * pg_stat_progress_cluster (VACUUM FULL), pg_stat_progress_create_index (REINDEX),
 * pg_stat_progress_analyze (ANALYZE, and the second half of VACUUM ANALYZE). Blocks are heap blocks, or
 * for an index build the view's own blocks.
 */
export const selectServerProgress = (pid: number): Sql => ({
  text: `SELECT phase, heap_blks_scanned::int8 AS blocks_done, heap_blks_total::int8 AS blocks_total,
                relid::regclass::text AS relation
           FROM pg_catalog.pg_stat_progress_vacuum WHERE pid = $1
         UNION ALL
         SELECT phase, heap_blks_scanned::int8, heap_blks_total::int8, relid::regclass::text
           FROM pg_catalog.pg_stat_progress_cluster WHERE pid = $1
         UNION ALL
         SELECT phase, blocks_done::int8, blocks_total::int8, relid::regclass::text
           FROM pg_catalog.pg_stat_progress_create_index WHERE pid = $1
         UNION ALL
         SELECT phase, sample_blks_scanned::int8, sample_blks_total::int8, relid::regclass::text
           FROM pg_catalog.pg_stat_progress_analyze WHERE pid = $1`,
  values: [pid],
});

/** Invalid indexes a stopped REINDEX CONCURRENTLY left on a table (named <index>_ccnew, _ccnew1, ...). */
export const selectLeftoverConcurrentIndexes = (oid: string): Sql => ({
  text: `SELECT n.nspname AS schema, i.relname AS name
           FROM pg_catalog.pg_index x
           JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = i.relnamespace
          WHERE x.indrelid = $1::oid AND NOT x.indisvalid AND i.relname ~ '_ccnew[0-9]*$'`,
  values: [oid],
});

export const dropIndexConcurrently = (schema: string, name: string): Sql => ({
  text: `DROP INDEX CONCURRENTLY IF EXISTS ${quoteQualified(schema, name)}`,
  values: [],
});
