import type pg from 'pg';
import { sqlStateOf } from '../../db/pg-errors.js';
import type { Sql } from '../../db/tenant-scope.js';
import * as q from './server-queries.js';

/** One catalog read: its rows, or why the role could not read it (named so a check can say what to grant). */
export type Section<R> = { ok: true; rows: R[] } | { ok: false; missing: string };

export interface ServerInfo {
  num: number;
  version: string;
  started_at: Date;
  uptime_seconds: number;
  database: string;
  role: string;
  in_recovery: boolean;
  superuser: boolean;
  pg_monitor: boolean;
  read_all_stats: boolean;
  read_all_settings: boolean;
  replay_lag_seconds: number | null;
}

type Row = Record<string, unknown>;

/** What the collector read from the server, once per report; every check is a function of it. */
export interface ServerSnapshot {
  info: ServerInfo;
  settings: Map<string, string>;
  topDeadTuples: Section<Row>;
  deadTupleRatios: Section<Row>;
  tableBloat: Section<Row>;
  databaseAges: Section<Row>;
  oldestTables: Section<Row>;
  sequences: Section<Row>;
  invalidIndexes: Section<Row>;
  duplicateIndexes: Section<Row>;
  unusedIndexes: Section<Row>;
  invalidConstraints: Section<Row>;
  cacheHits: Section<Row>;
  activity: Section<Row>;
  slowStatements: Section<Row> | null;
  replicationSlots: Section<Row>;
  hbaRules: Section<Row>;
  loginRoles: Section<Row>;
  md5Roles: Section<Row>;
  publicCreate: Section<Row>;
  archiver: Section<Row>;
}

/** The thresholds the collector filters with in SQL (the rest are applied by the checks). */
export interface CollectorThresholds {
  deadTuples: { minDeadTuples: number; ratio: number };
  bloat: { minPages: number; ratio: number; minBytes: number };
  sequences: { ratio: number };
  unusedIndexes: { maxScans: number; minSizeBytes: number };
  slowQueries: { minCalls: number; meanMs: number };
}

export interface CollectLimits {
  statementTimeoutMs: number;
  lockTimeoutMs: number;
}

// What to grant when a read is refused (SQLSTATE 42501), per section.
const MISSING: Partial<Record<keyof ServerSnapshot, string>> = {
  hbaRules:
    'reading pg_hba_file_rules needs superuser, or GRANT SELECT ON pg_hba_file_rules and EXECUTE ON FUNCTION pg_hba_file_rules() to this role',
  md5Roles: 'reading stored password hashes (pg_authid) needs superuser',
  slowStatements: 'grant pg_monitor (pg_read_all_stats) to read pg_stat_statements',
};

/**
 * Reads everything a report needs in one READ ONLY transaction with statement_timeout and lock_timeout
 * set, so no read can write, wait behind the application's locks, or run long. Each read runs in its
 * own savepoint: a refused one (42501, or any other error, e.g. a timeout) is recorded as missing and the
 * others still run. About twenty statements whatever the database's size: the checks never query.
 */
export async function collectSnapshot(
  client: pg.ClientBase,
  thresholds: CollectorThresholds,
  limits: CollectLimits,
): Promise<ServerSnapshot> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    // SET LOCAL takes no parameters; the values are integers we computed.
    await client.query(`SET LOCAL statement_timeout = ${Math.trunc(limits.statementTimeoutMs)}`);
    await client.query(`SET LOCAL lock_timeout = ${Math.trunc(limits.lockTimeoutMs)}`);
    await client.query("SET LOCAL search_path = 'pg_catalog'");
    const read = async (name: keyof ServerSnapshot, sql: Sql): Promise<Section<Row>> => {
      await client.query('SAVEPOINT health_read');
      try {
        const { rows } = await client.query<Row>(sql.text, sql.values);
        await client.query('RELEASE SAVEPOINT health_read');
        return { ok: true, rows };
      } catch (err) {
        await client.query('ROLLBACK TO SAVEPOINT health_read');
        return { ok: false, missing: whyNot(name, err) };
      }
    };
    const infoRows = await client.query<ServerInfo>(q.selectServerInfo());
    const info = infoRows.rows[0];
    if (!info) throw new Error('the current role is not in pg_roles');
    const settingRows = await client.query<{ name: string; setting: string }>(q.selectSettings());
    const settings = new Map(settingRows.rows.map((r) => [r.name, r.setting]));
    const t = thresholds;
    const statements = await read('slowStatements', q.selectStatStatementsSchema());
    const statementsSchema = statements.ok ? (statements.rows[0]?.schema as string | undefined) : undefined;
    return {
      info,
      settings,
      topDeadTuples: await read('topDeadTuples', q.selectTopDeadTuples()),
      deadTupleRatios: await read(
        'deadTupleRatios',
        q.selectDeadTupleRatios(t.deadTuples.minDeadTuples, t.deadTuples.ratio),
      ),
      tableBloat: await read('tableBloat', q.selectTableBloat(t.bloat.minPages, t.bloat.ratio, t.bloat.minBytes)),
      databaseAges: await read('databaseAges', q.selectDatabaseAges()),
      oldestTables: await read('oldestTables', q.selectOldestTables()),
      sequences: await read('sequences', q.selectSequenceUse(t.sequences.ratio)),
      invalidIndexes: await read('invalidIndexes', q.selectInvalidIndexes()),
      duplicateIndexes: await read('duplicateIndexes', q.selectDuplicateIndexes()),
      unusedIndexes: await read(
        'unusedIndexes',
        q.selectUnusedIndexes(t.unusedIndexes.maxScans, t.unusedIndexes.minSizeBytes),
      ),
      invalidConstraints: await read('invalidConstraints', q.selectInvalidConstraints()),
      cacheHits: await read('cacheHits', q.selectCacheHits()),
      activity: await read('activity', q.selectActivity()),
      slowStatements:
        statementsSchema === undefined
          ? null
          : await read(
              'slowStatements',
              q.selectSlowStatements(
                statementsSchema,
                Math.floor(info.num / 10000),
                t.slowQueries.minCalls,
                t.slowQueries.meanMs,
              ),
            ),
      replicationSlots: await read('replicationSlots', q.selectReplicationSlots()),
      hbaRules: await read('hbaRules', q.selectHbaRules()),
      loginRoles: await read('loginRoles', q.selectLoginRoles()),
      md5Roles: await read('md5Roles', q.selectMd5Roles()),
      publicCreate: await read('publicCreate', q.selectPublicCreateSchemas()),
      archiver: await read('archiver', q.selectArchiver()),
    };
  } finally {
    await client.query('ROLLBACK').catch(() => {});
  }
}

function whyNot(name: keyof ServerSnapshot, err: unknown): string {
  const state = sqlStateOf(err);
  if (state === '42501') return MISSING[name] ?? `permission denied reading ${name} (grant pg_monitor)`;
  if (state === '57014') return `reading ${name} hit the report's statement_timeout`;
  if (state === '55P03') return `reading ${name} hit the report's lock_timeout`;
  // Other failures (an extension not preloaded, ...) carry the server's own words; none hold secrets.
  const message = (err as { message?: unknown }).message;
  return `reading ${name} failed (SQLSTATE ${state ?? 'unknown'}${typeof message === 'string' ? `: ${message.slice(0, 200)}` : ''})`;
}
