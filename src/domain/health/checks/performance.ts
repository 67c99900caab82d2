import { bytes, evidenceOf, matchedOf, qualified, redactQuery, withRows } from './evidence.js';
import { type CheckOutcome, type HealthCheck, pass, unknown } from './types.js';

type Row = Record<string, unknown>;
const num = (v: unknown) => Number(v ?? 0);
const MONITOR = "grant pg_monitor (it includes pg_read_all_stats) to see other roles' sessions";

export const invalidIndexes: HealthCheck = {
  id: 'performance.invalid_indexes',
  category: 'performance',
  defaults: {},
  docsUrl: 'https://www.postgresql.org/docs/current/sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY',
  run: (ctx) =>
    withRows(ctx.snapshot.invalidIndexes, (rows) =>
      rows.length === 0
        ? pass('No index is invalid.')
        : {
            status: 'warn',
            summary: `${matchedOf(rows)} index(es) are invalid (a failed CREATE INDEX CONCURRENTLY): written to, never used.`,
            evidence: evidenceOf(rows),
            remediation: rows
              .slice(0, 3)
              .map((r) => `REINDEX INDEX CONCURRENTLY ${qualified(r.schema, r.index)};`)
              .join('\n'),
          },
    ),
};

export const duplicateIndexes: HealthCheck = {
  id: 'performance.duplicate_indexes',
  category: 'performance',
  defaults: {},
  docsUrl: 'https://github.com/ankane/pghero/blob/master/guides/Query-Performance.md',
  run: (ctx) =>
    withRows(ctx.snapshot.duplicateIndexes, (rows) =>
      rows.length === 0
        ? pass('No index is covered by another.')
        : {
            status: 'warn',
            summary: `${matchedOf(rows)} index(es) are covered by another index on the same columns; each slows every write.`,
            evidence: evidenceOf(rows),
            remediation: rows
              .slice(0, 5)
              .map((r) => `DROP INDEX CONCURRENTLY ${qualified(r.schema, r.index)}; -- covered by ${r.covered_by}`)
              .join('\n'),
          },
    ),
};

export const unusedIndexes: HealthCheck = {
  id: 'performance.unused_indexes',
  category: 'performance',
  // PgHero: at most 50 scans; the issue's 10 MB floor keeps small indexes out of the way.
  defaults: { maxScans: 50, minSizeBytes: 10 * 1024 * 1024 },
  docsUrl: 'https://www.postgresql.org/docs/current/monitoring-stats.html#MONITORING-PG-STAT-ALL-INDEXES-VIEW',
  run: (ctx, th) =>
    withRows(ctx.snapshot.unusedIndexes, (rows) =>
      rows.length === 0
        ? pass(`No index of ${bytes(th.minSizeBytes ?? 0)} or more was scanned ${th.maxScans} times or fewer.`)
        : {
            status: 'warn',
            summary: `${matchedOf(rows)} index(es) of at least ${bytes(th.minSizeBytes ?? 0)} were scanned at most ${th.maxScans} times since statistics were reset; largest: ${qualified(rows[0]?.schema, rows[0]?.index)} (${bytes(num(rows[0]?.size_bytes))}).`,
            evidence: evidenceOf(rows),
            remediation: `Check replicas too (their scans are not counted here), then: ${rows
              .slice(0, 3)
              .map((r) => `DROP INDEX CONCURRENTLY ${qualified(r.schema, r.index)};`)
              .join(' ')}`,
          },
    ),
};

function hitRate(hit: number, read: number): number | null {
  return hit + read === 0 ? null : hit / (hit + read);
}

export const cacheHitRate: HealthCheck = {
  id: 'performance.cache_hit_rate',
  category: 'performance',
  // PgHero's cache_hit_rate_threshold: 99%.
  defaults: { ratio: 0.99, minBlocks: 10_000 },
  docsUrl: 'https://www.postgresql.org/docs/current/monitoring-stats.html#MONITORING-PG-STATIO-ALL-TABLES-VIEW',
  run: (ctx, th) =>
    withRows(ctx.snapshot.cacheHits, (rows) => {
      const r = rows[0] ?? {};
      const tables = hitRate(num(r.table_hit), num(r.table_read));
      const indexes = hitRate(num(r.index_hit), num(r.index_read));
      const evidence = [
        { kind: 'tables', hitRate: tables, blocksHit: num(r.table_hit), blocksRead: num(r.table_read) },
        { kind: 'indexes', hitRate: indexes, blocksHit: num(r.index_hit), blocksRead: num(r.index_read) },
      ];
      const total = num(r.table_hit) + num(r.table_read) + num(r.index_hit) + num(r.index_read);
      if (total < (th.minBlocks ?? 0)) {
        return pass(`Too few block reads (${total}) since statistics were reset to judge the cache.`, evidence);
      }
      const low = evidence.filter((e) => e.hitRate !== null && e.hitRate < (th.ratio ?? 0.99));
      if (low.length === 0) return pass(`Cache hit rates are at least ${(th.ratio ?? 0.99) * 100}%.`, evidence);
      return {
        status: 'warn',
        summary: `Cache hit rate below ${(th.ratio ?? 0.99) * 100}% for ${low.map((l) => `${l.kind} (${((l.hitRate ?? 0) * 100).toFixed(1)}%)`).join(' and ')}.`,
        evidence,
        remediation: 'Raise shared_buffers (or the instance memory), or find the queries reading most from disk.',
      };
    }),
};

const clientSessions = (rows: Row[]) => rows.filter((r) => r.backend_type === 'client backend' || r.hidden);

export const connections: HealthCheck = {
  id: 'performance.connections',
  category: 'performance',
  defaults: { ratio: 0.8 },
  docsUrl: 'https://www.postgresql.org/docs/current/runtime-config-connection.html#GUC-MAX-CONNECTIONS',
  run: (ctx, th) =>
    withRows(ctx.snapshot.activity, (rows) => {
      const max = num(ctx.snapshot.settings.get('max_connections'));
      const used = clientSessions(rows).length + 1; // and this report's own session
      const evidence = [{ connections: used, maxConnections: max, ratio: max ? used / max : null }];
      if (max > 0 && used / max >= (th.ratio ?? 0.8)) {
        return {
          status: 'warn',
          summary: `${used} of max_connections ${max} are in use (${Math.round((used / max) * 100)}%).`,
          evidence,
          remediation: 'Put a connection pooler (PgBouncer) in front, or close idle application connections.',
        };
      }
      return pass(`${used} of max_connections ${max} are in use.`, evidence);
    }),
};

/**
 * Sessions over a time threshold. A role without pg_read_all_stats sees other roles' sessions with no
 * state: when it finds none over the threshold among those it can see, the answer is unknown.
 */
function sessionsOver(
  rows: Row[],
  match: (r: Row) => boolean,
  found: (hits: Row[]) => CheckOutcome,
  none: string,
): CheckOutcome {
  const hits = rows.filter((r) => !r.hidden && match(r));
  if (hits.length > 0) return found(hits);
  if (rows.some((r) => r.hidden)) return unknown(MONITOR);
  return pass(none);
}

const sessionEvidence = (rows: Row[], seconds: string) =>
  rows.slice(0, 10).map((r) => ({
    pid: r.pid,
    role: r.role,
    database: r.database,
    state: r.state,
    seconds: Math.round(num(r[seconds])),
    query: redactQuery(r.query),
  }));

export const idleInTransaction: HealthCheck = {
  id: 'performance.idle_in_transaction',
  category: 'performance',
  defaults: { seconds: 60 },
  docsUrl: 'https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-IDLE-IN-TRANSACTION-SESSION-TIMEOUT',
  run: (ctx, th) =>
    withRows(ctx.snapshot.activity, (rows) =>
      sessionsOver(
        rows,
        (r) => String(r.state).startsWith('idle in transaction') && num(r.state_seconds) >= (th.seconds ?? 60),
        (hits) => ({
          status: 'warn',
          summary: `${hits.length} session(s) idle in transaction for at least ${th.seconds} s; they hold locks and hold back vacuum.`,
          evidence: sessionEvidence(
            hits.sort((a, b) => num(b.state_seconds) - num(a.state_seconds)),
            'state_seconds',
          ),
          remediation: `SELECT pg_terminate_backend(<pid>); and SET idle_in_transaction_session_timeout = '${th.seconds}s' for the application's role.`,
        }),
        `No session is idle in transaction for ${th.seconds} s.`,
      ),
    ),
};

export const longQueries: HealthCheck = {
  id: 'performance.long_queries',
  category: 'performance',
  // PgHero's long_running_query_sec: 60.
  defaults: { seconds: 60 },
  docsUrl: 'https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-STATEMENT-TIMEOUT',
  run: (ctx, th) =>
    withRows(ctx.snapshot.activity, (rows) =>
      sessionsOver(
        rows,
        (r) =>
          r.state === 'active' && r.backend_type === 'client backend' && num(r.query_seconds) >= (th.seconds ?? 60),
        (hits) => ({
          status: 'warn',
          summary: `${hits.length} quer(ies) running for at least ${th.seconds} s.`,
          evidence: sessionEvidence(
            hits.sort((a, b) => num(b.query_seconds) - num(a.query_seconds)),
            'query_seconds',
          ),
          remediation: 'SELECT pg_cancel_backend(<pid>); and set statement_timeout for the application role.',
        }),
        `No query has run for ${th.seconds} s.`,
      ),
    ),
};

export const slowQueries: HealthCheck = {
  id: 'performance.slow_queries',
  category: 'performance',
  // PgHero: slow_query_ms 20, slow_query_calls 100.
  defaults: { meanMs: 20, minCalls: 100 },
  docsUrl: 'https://www.postgresql.org/docs/current/pgstatstatements.html',
  run: (ctx, th) => {
    const section = ctx.snapshot.slowStatements;
    if (section === null) {
      return pass('pg_stat_statements is not installed in this database, so there is no statement history to rank.');
    }
    return withRows(section, (rows) =>
      rows.length === 0
        ? pass(`No statement called ${th.minCalls}+ times averages ${th.meanMs} ms or more.`)
        : {
            status: 'warn',
            summary: `${matchedOf(rows)} statement(s) called at least ${th.minCalls} times average ${th.meanMs} ms or more; slowest ${num(rows[0]?.mean_ms).toFixed(1)} ms.`,
            evidence: rows.slice(0, 10).map((r) => ({
              calls: num(r.calls),
              meanMs: num(r.mean_ms),
              totalMs: num(r.total_ms),
              query: redactQuery(r.query),
            })),
            remediation: 'EXPLAIN (ANALYZE, BUFFERS) the slowest statements; add the indexes they need.',
          },
    );
  },
};

export const performanceChecks = [
  invalidIndexes,
  duplicateIndexes,
  unusedIndexes,
  cacheHitRate,
  connections,
  idleInTransaction,
  longQueries,
  slowQueries,
];
