import type { Sql } from '../../db/tenant-scope.js';
import { quoteIdent } from '../../sql/identifiers.js';

// The catalog reads a health report makes on the tenant's server, each bounded (top N, with a count of
// all that matched) so a report's size does not grow with the database. Catalogs are named pg_catalog.*
// so nothing on a tenant's search_path can stand in for them. Each runs under the report's
// statement_timeout in one READ ONLY transaction (see snapshot.ts).

export const TOP = 10;

/** Who we are on the server, and what it is. pg_has_role on a predefined role works from PostgreSQL 10. */
export const selectServerInfo = (): Sql => ({
  text: `SELECT current_setting('server_version_num')::int AS num, current_setting('server_version') AS version,
                pg_catalog.pg_postmaster_start_time() AS started_at,
                extract(epoch FROM now() - pg_catalog.pg_postmaster_start_time())::float8 AS uptime_seconds,
                current_database() AS database, current_user AS role, pg_catalog.pg_is_in_recovery() AS in_recovery,
                r.rolsuper AS superuser,
                pg_catalog.pg_has_role(current_user, 'pg_monitor', 'MEMBER') AS pg_monitor,
                pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') AS read_all_stats,
                pg_catalog.pg_has_role(current_user, 'pg_read_all_settings', 'MEMBER') AS read_all_settings,
                CASE WHEN pg_catalog.pg_is_in_recovery()
                     THEN extract(epoch FROM now() - pg_catalog.pg_last_xact_replay_timestamp())::float8 END
                  AS replay_lag_seconds
           FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`,
  values: [],
});

export const SETTINGS = [
  'ssl',
  'ssl_min_protocol_version',
  'password_encryption',
  'log_statement',
  'log_connections',
  'log_disconnections',
  'shared_preload_libraries',
  'pgaudit.log',
  'max_connections',
  'superuser_reserved_connections',
  'data_checksums',
  'archive_mode',
  'autovacuum',
  'autovacuum_freeze_max_age',
  'block_size',
] as const;

export const selectSettings = (): Sql => ({
  text: 'SELECT name, setting FROM pg_catalog.pg_settings WHERE name = ANY($1::text[])',
  values: [[...SETTINGS]],
});

// The user tables pg_stat_user_tables covers (ordinary and materialized; no system or TOAST schema).
// The statistics are read through the view's own functions (pg_stat_get_*), which is what the view does
// too, but only the few a report needs: the view computes some twenty per table, and over 10,000 tables
// that took 240 ms against about 30 ms for these (B4, docs/BENCHMARKS.md).
const USER_TABLES = `pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            AND n.nspname !~ '^pg_toast'`;

const TABLE_STATS = `n.nspname AS schema, c.relname AS name,
                pg_catalog.pg_stat_get_dead_tuples(c.oid)::float8 AS dead,
                pg_catalog.pg_stat_get_live_tuples(c.oid)::float8 AS live,
                pg_catalog.pg_stat_get_last_autovacuum_time(c.oid) AS last_autovacuum,
                pg_catalog.pg_stat_get_last_vacuum_time(c.oid) AS last_vacuum,
                coalesce(c.reloptions @> ARRAY['autovacuum_enabled=false'], false) AS autovacuum_off`;

/** The seed's query (pg_stat_user_tables: top 10 by n_dead_tup, with n_live_tup and last_autovacuum). */
export const selectTopDeadTuples = (): Sql => ({
  text: `SELECT ${TABLE_STATS}
           FROM ${USER_TABLES} AND pg_catalog.pg_stat_get_dead_tuples(c.oid) > 0
          ORDER BY 3 DESC LIMIT ${TOP}`,
  values: [],
});

/** Tables over both dead-tuple thresholds (count and share of all tuples), worst share first. */
export const selectDeadTupleRatios = (minDead: number, ratio: number): Sql => ({
  text: `SELECT *, count(*) OVER ()::int AS matched FROM (
           SELECT ${TABLE_STATS}
             FROM ${USER_TABLES} AND pg_catalog.pg_stat_get_dead_tuples(c.oid) >= $1::float8
         ) t
          WHERE dead >= $2::float8 * (live + dead)
          ORDER BY dead / greatest(live + dead, 1) DESC, dead DESC
          LIMIT ${TOP}`,
  values: [minDead, ratio],
});

/**
 * Estimated table bloat: the statistics-based estimate of ioguix's pgsql-bloat-estimation
 * (table/table_bloat.sql), simplified: the expected heap size is reltuples rows of a MAXALIGNed
 * 23-byte header (plus null bitmap) and the pg_stats average width, plus a 4-byte line pointer, in
 * pages of block_size minus the 24-byte page header; fillfactor and TOAST are ignored. Only tables of
 * at least $1 pages are estimated, and pg_stats shows only columns the role may read.
 */
export const selectTableBloat = (minPages: number, minRatio: number, minBytes: number): Sql => ({
  text: `WITH cols AS (
           SELECT s.schemaname, s.tablename, sum((1 - s.null_frac) * s.avg_width) AS data_width,
                  bool_or(s.null_frac > 0) AS has_nulls, count(*) AS ncols
             FROM pg_catalog.pg_stats s
            WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema') AND NOT s.inherited
            GROUP BY 1, 2
         ), est AS (
           SELECT n.nspname AS schema, c.relname AS name, c.relpages::float8 AS pages,
                  current_setting('block_size')::float8 AS bs,
                  ceil(greatest(c.reltuples, 0) * (4 + 8 * ceil((23 + CASE WHEN cols.has_nulls THEN (cols.ncols + 7) / 8 ELSE 0 END) / 8.0)
                       + 8 * ceil(cols.data_width / 8.0)) / (current_setting('block_size')::float8 - 24)) AS expected
             FROM cols
             JOIN pg_catalog.pg_namespace n ON n.nspname = cols.schemaname
             JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = cols.tablename
            WHERE c.relkind = 'r' AND c.relpages >= $1::float8
         )
         SELECT schema, name, pages * bs AS size_bytes, greatest(pages - expected, 0) * bs AS bloat_bytes,
                greatest(pages - expected, 0) / greatest(pages, 1) AS bloat_ratio, count(*) OVER ()::int AS matched
           FROM est
          WHERE greatest(pages - expected, 0) / greatest(pages, 1) >= $2::float8 AND greatest(pages - expected, 0) * bs >= $3::float8
          ORDER BY bloat_bytes DESC LIMIT ${TOP}`,
  values: [minPages, minRatio, minBytes],
});

export const selectDatabaseAges = (): Sql => ({
  text: `SELECT datname AS name, pg_catalog.age(datfrozenxid)::float8 AS age
           FROM pg_catalog.pg_database WHERE datallowconn ORDER BY 2 DESC LIMIT ${TOP}`,
  values: [],
});

export const selectOldestTables = (): Sql => ({
  text: `SELECT n.nspname AS schema, c.relname AS name, pg_catalog.age(c.relfrozenxid)::float8 AS age
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'm', 't') AND c.relfrozenxid <> '0'::xid
          ORDER BY pg_catalog.age(c.relfrozenxid) DESC LIMIT ${TOP}`,
  values: [],
});

/**
 * Sequences past $1 of their range. A sequence owned by (or the identity of) an int2/int4 column
 * overflows at that column's maximum, not its own: a bigint sequence feeding an integer key fails there.
 * last_value is read only where the role may (pg_sequences does the same); the others are counted.
 */
export const selectSequenceUse = (ratio: number): Sql => ({
  text: `WITH seq AS (
           SELECT n.nspname AS schema, c.relname AS name, sq.seqmax::float8 AS seq_max, t.typname AS column_type,
                  a.attname AS column_name, owner.relname AS column_table,
                  CASE WHEN pg_catalog.has_sequence_privilege(c.oid, 'SELECT,USAGE')
                       THEN pg_catalog.pg_sequence_last_value(c.oid)::float8 END AS last_value,
                  pg_catalog.has_sequence_privilege(c.oid, 'SELECT,USAGE') AS readable
             FROM pg_catalog.pg_sequence sq
             JOIN pg_catalog.pg_class c ON c.oid = sq.seqrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                  AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')
             LEFT JOIN pg_catalog.pg_class owner ON owner.oid = d.refobjid
             LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
             LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
            WHERE sq.seqincrement > 0
         ), used AS (
           SELECT *, least(seq_max, CASE column_type WHEN 'int2' THEN 32767 WHEN 'int4' THEN 2147483647
                                                      ELSE seq_max END) AS limit_value
             FROM seq
         )
         SELECT schema, name, last_value, limit_value, column_type, column_table, column_name,
                last_value / limit_value AS used, count(*) OVER ()::int AS matched,
                (SELECT count(*) FROM seq WHERE NOT readable)::int AS unreadable
           FROM used
          WHERE last_value / limit_value >= $1::float8 OR NOT readable
          ORDER BY last_value / limit_value DESC NULLS LAST LIMIT ${TOP}`,
  values: [ratio],
});

export const selectInvalidIndexes = (): Sql => ({
  text: `SELECT n.nspname AS schema, ci.relname AS index, ct.relname AS table, count(*) OVER ()::int AS matched
           FROM pg_catalog.pg_index i
           JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid
           JOIN pg_catalog.pg_class ct ON ct.oid = i.indrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = ci.relnamespace
          WHERE NOT i.indisvalid ORDER BY 1, 2 LIMIT ${TOP}`,
  values: [],
});

/**
 * PgHero's duplicate indexes: a valid, non-unique index whose columns (and operator classes) are a
 * leading prefix of another valid index of the same method, expressions and predicate on the same table.
 * Of two identical ones, the one with the later name is reported. indkey is compared as text ("1 2").
 */
export const selectDuplicateIndexes = (): Sql => ({
  text: `SELECT n.nspname AS schema, ct.relname AS table, ca.relname AS index, cb.relname AS covered_by,
                pg_catalog.pg_relation_size(a.indexrelid)::float8 AS size_bytes, count(*) OVER ()::int AS matched
           FROM pg_catalog.pg_index a
           JOIN pg_catalog.pg_index b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
           JOIN pg_catalog.pg_class ca ON ca.oid = a.indexrelid
           JOIN pg_catalog.pg_class cb ON cb.oid = b.indexrelid
           JOIN pg_catalog.pg_class ct ON ct.oid = a.indrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = ct.relnamespace
          WHERE a.indisvalid AND b.indisvalid AND NOT a.indisprimary AND NOT a.indisunique
            AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
            AND ca.relam = cb.relam
            AND (b.indkey::text || ' ') LIKE (a.indkey::text || ' %')
            AND (b.indclass::text || ' ') LIKE (a.indclass::text || ' %')
            AND a.indexprs::text IS NOT DISTINCT FROM b.indexprs::text
            AND a.indpred::text IS NOT DISTINCT FROM b.indpred::text
            AND (a.indkey::text <> b.indkey::text OR b.indisprimary OR b.indisunique OR ca.relname > cb.relname)
          ORDER BY 5 DESC, 1, 3 LIMIT ${TOP}`,
  values: [],
});

/**
 * Indexes that enforce nothing, scanned at most $1 times since statistics were reset, of at least $2
 * bytes. Each candidate's size is read once (pg_relation_size is a stat() per index).
 */
export const selectUnusedIndexes = (maxScans: number, minBytes: number): Sql => ({
  text: `WITH candidates AS MATERIALIZED (
           SELECT i.indexrelid, i.indrelid, pg_catalog.pg_stat_get_numscans(i.indexrelid)::float8 AS scans,
                  pg_catalog.pg_relation_size(i.indexrelid)::float8 AS size_bytes
             FROM pg_catalog.pg_index i
             JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE NOT i.indisunique AND NOT i.indisprimary
              AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
              AND pg_catalog.pg_stat_get_numscans(i.indexrelid) <= $1::float8
              -- relpages (as of the last VACUUM, ANALYZE or CREATE INDEX) first, with a 2x margin, so the
              -- exact size is read only for indexes that may be big enough: 340 ms became ~20 ms in B4.
              AND c.relpages::float8 * current_setting('block_size')::float8 * 2 >= $2::float8
         )
         SELECT n.nspname AS schema, t.relname AS table, c.relname AS index, k.scans, k.size_bytes,
                count(*) OVER ()::int AS matched
           FROM candidates k
           JOIN pg_catalog.pg_class c ON c.oid = k.indexrelid
           JOIN pg_catalog.pg_class t ON t.oid = k.indrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE k.size_bytes >= $2::float8
          ORDER BY k.size_bytes DESC LIMIT ${TOP}`,
  values: [maxScans, minBytes],
});

export const selectInvalidConstraints = (): Sql => ({
  text: `SELECT n.nspname AS schema, c.relname AS table, con.conname AS constraint, count(*) OVER ()::int AS matched
           FROM pg_catalog.pg_constraint con
           JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE NOT con.convalidated ORDER BY 1, 2, 3 LIMIT ${TOP}`,
  values: [],
});

/** Block hits and reads of user tables and indexes, in one pass over pg_class (the statio views take four). */
export const selectCacheHits = (): Sql => ({
  text: `SELECT coalesce(sum(pg_catalog.pg_stat_get_blocks_hit(c.oid)) FILTER (WHERE c.relkind <> 'i'), 0)::float8 AS table_hit,
                coalesce(sum(pg_catalog.pg_stat_get_blocks_fetched(c.oid) - pg_catalog.pg_stat_get_blocks_hit(c.oid))
                  FILTER (WHERE c.relkind <> 'i'), 0)::float8 AS table_read,
                coalesce(sum(pg_catalog.pg_stat_get_blocks_hit(c.oid)) FILTER (WHERE c.relkind = 'i'), 0)::float8 AS index_hit,
                coalesce(sum(pg_catalog.pg_stat_get_blocks_fetched(c.oid) - pg_catalog.pg_stat_get_blocks_hit(c.oid))
                  FILTER (WHERE c.relkind = 'i'), 0)::float8 AS index_read
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'm', 'i') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            AND n.nspname !~ '^pg_toast'`,
  values: [],
});

/**
 * Every other session, with its TLS state. For a role without pg_read_all_stats (part of pg_monitor),
 * other roles' sessions show query '<insufficient privilege>' and NULL state and TLS: `hidden` says so.
 */
export const selectActivity = (): Sql => ({
  text: `SELECT a.pid, a.usename AS role, a.datname AS database, a.state, a.backend_type,
                a.client_addr IS NOT NULL AS remote, s.ssl,
                extract(epoch FROM now() - a.query_start)::float8 AS query_seconds,
                extract(epoch FROM now() - a.state_change)::float8 AS state_seconds,
                extract(epoch FROM now() - a.xact_start)::float8 AS xact_seconds,
                a.query = '<insufficient privilege>' AS hidden, left(a.query, 300) AS query
           FROM pg_catalog.pg_stat_activity a LEFT JOIN pg_catalog.pg_stat_ssl s ON s.pid = a.pid
          WHERE a.pid <> pg_catalog.pg_backend_pid()`,
  values: [],
});

export const selectStatStatementsSchema = (): Sql => ({
  text: `SELECT n.nspname AS schema FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
          WHERE e.extname = 'pg_stat_statements'`,
  values: [],
});

/** The slowest statements by mean time (PgHero: at least 100 calls); the columns were renamed in 13. */
export const selectSlowStatements = (schema: string, major: number, minCalls: number, minMeanMs: number): Sql => {
  const mean = major >= 13 ? 'mean_exec_time' : 'mean_time';
  const total = major >= 13 ? 'total_exec_time' : 'total_time';
  return {
    text: `SELECT calls::float8 AS calls, ${mean}::float8 AS mean_ms, ${total}::float8 AS total_ms, left(query, 300) AS query,
                  count(*) OVER ()::int AS matched
             FROM ${quoteIdent(schema)}.pg_stat_statements
            WHERE calls >= $1::float8 AND ${mean} >= $2::float8
            ORDER BY ${mean} DESC LIMIT ${TOP}`,
    values: [minCalls, minMeanMs],
  };
};

/** Replication slots and the WAL each keeps (on a primary; a replica cannot say its current LSN). */
export const selectReplicationSlots = (): Sql => ({
  text: `SELECT slot_name AS name, slot_type AS type, active,
                CASE WHEN pg_catalog.pg_is_in_recovery() OR restart_lsn IS NULL THEN NULL
                     ELSE pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn)::float8 END AS retained_bytes
           FROM pg_catalog.pg_replication_slots ORDER BY 4 DESC NULLS LAST LIMIT 100`,
  values: [],
});

export const selectHbaRules = (): Sql => ({
  text: `SELECT line_number, type, database, user_name, address, netmask, auth_method, error
           FROM pg_catalog.pg_hba_file_rules ORDER BY line_number LIMIT 1000`,
  values: [],
});

export const selectLoginRoles = (): Sql => ({
  text: `SELECT rolname AS name, rolsuper AS superuser, rolvaliduntil AS valid_until, oid = 10 AS bootstrap
           FROM pg_catalog.pg_roles WHERE rolcanlogin ORDER BY rolname LIMIT 1000`,
  values: [],
});

/** Stored password hashes: pg_authid is readable only by superusers, which is the point of it. */
export const selectMd5Roles = (): Sql => ({
  text: `SELECT rolname AS name FROM pg_catalog.pg_authid WHERE rolpassword LIKE 'md5%' ORDER BY 1 LIMIT 1000`,
  values: [],
});

export const selectPublicCreateSchemas = (): Sql => ({
  text: `SELECT nspname AS schema FROM pg_catalog.pg_namespace
          WHERE pg_catalog.has_schema_privilege('public', oid, 'CREATE')
            AND nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY 1 LIMIT ${TOP}`,
  values: [],
});

export const selectArchiver = (): Sql => ({
  text: `SELECT archived_count::float8 AS archived, failed_count::float8 AS failed, last_archived_time AS last_archived_at,
                last_failed_time AS last_failed_at, last_failed_wal FROM pg_catalog.pg_stat_archiver`,
  values: [],
});
