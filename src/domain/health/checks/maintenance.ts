import { bytes, evidenceOf, matchedOf, qualified, sqlIdent, withRows } from './evidence.js';
import { type CheckContext, EVIDENCE_ROWS, type HealthCheck, pass } from './types.js';

const DOCS = 'https://www.postgresql.org/docs/current/routine-vacuuming.html';
// 2^31 - 1: past this age a transaction id wraps; the server stops assigning ids well before.
const XID_LIMIT = 2_147_483_647;

type Row = Record<string, unknown>;
const num = (v: unknown) => Number(v ?? 0);
const tableOf = (r: Row) => `${r.schema}.${r.name}`;

/** The seed's top 10 by n_dead_tup, as the report keeps them for history and the HTML chart. */
export function deadTupleEvidence(ctx: CheckContext): Row[] {
  const s = ctx.snapshot.topDeadTuples;
  if (!s.ok) return [];
  return s.rows.map((r) => ({
    table: tableOf(r),
    deadTuples: num(r.dead),
    liveTuples: num(r.live),
    deadRatio: num(r.dead) / Math.max(num(r.dead) + num(r.live), 1),
    lastAutovacuum: r.last_autovacuum ?? null,
    autovacuumEnabled: !r.autovacuum_off,
  }));
}

export const deadTuples: HealthCheck = {
  id: 'maintenance.dead_tuples',
  category: 'maintenance',
  defaults: { minDeadTuples: 1000, ratio: 0.2 },
  docsUrl: DOCS,
  run: (ctx, th) =>
    withRows(ctx.snapshot.deadTupleRatios, (rows) => {
      const top = deadTupleEvidence(ctx);
      if (rows.length === 0) {
        return pass(
          `No table has ${th.minDeadTuples} dead tuples and ${(th.ratio ?? 0) * 100}% of its rows dead.`,
          top,
        );
      }
      const flagged = rows.map((r) => ({
        table: tableOf(r),
        deadTuples: num(r.dead),
        liveTuples: num(r.live),
        deadRatio: num(r.dead) / Math.max(num(r.dead) + num(r.live), 1),
        lastAutovacuum: r.last_autovacuum ?? null,
        autovacuumEnabled: !r.autovacuum_off,
        overThreshold: true,
      }));
      const names = new Set(flagged.map((f) => f.table));
      const evidence = [...flagged, ...top.filter((t) => !names.has(String(t.table)))].slice(0, EVIDENCE_ROWS);
      const off = rows.filter((r) => r.autovacuum_off);
      return {
        status: 'warn',
        summary: `${matchedOf(rows)} table(s) have at least ${th.minDeadTuples} dead tuples and ${(th.ratio ?? 0) * 100}% of their rows dead; worst: ${flagged[0]?.table} (${Math.round((flagged[0]?.deadRatio ?? 0) * 100)}% dead).`,
        evidence,
        remediation: [
          ...rows.slice(0, 3).map((r) => `VACUUM (ANALYZE) ${qualified(r.schema, r.name)};`),
          ...off.slice(0, 3).map((r) => `ALTER TABLE ${qualified(r.schema, r.name)} RESET (autovacuum_enabled);`),
        ].join('\n'),
      };
    }),
};

/** Dead tuples growing report after report while last_autovacuum stays old: autovacuum is not keeping up. */
export const autovacuumBehind: HealthCheck = {
  id: 'maintenance.autovacuum_behind',
  category: 'maintenance',
  defaults: { reports: 3, staleHours: 24 },
  docsUrl: DOCS,
  run: (ctx, th) =>
    withRows(ctx.snapshot.topDeadTuples, () => {
      const needed = Math.max(2, Math.trunc(th.reports ?? 3));
      const earlier = ctx.history.slice(0, needed - 1);
      if (earlier.length < needed - 1) {
        return pass(`Not enough history yet: ${earlier.length + 1} of the ${needed} reports this check compares.`);
      }
      const staleMs = (th.staleHours ?? 24) * 3600_000;
      const behind = deadTupleEvidence(ctx).filter((t) => {
        const series = [
          t.deadTuples as number,
          ...earlier.map((h) => h.tables.find((x) => x.table === t.table)?.deadTuples),
        ];
        if (series.some((v) => v === undefined)) return false;
        const growing = series.every((v, i) => i === series.length - 1 || (v as number) > (series[i + 1] as number));
        const last = t.lastAutovacuum ? new Date(String(t.lastAutovacuum)).getTime() : 0;
        return growing && ctx.now.getTime() - last > staleMs;
      });
      if (behind.length === 0)
        return pass(`No table's dead tuples grew across the last ${needed} reports without an autovacuum.`);
      return {
        status: 'warn',
        summary: `${behind.length} table(s) gained dead tuples in each of the last ${needed} reports and were not autovacuumed for ${th.staleHours} h.`,
        evidence: behind.slice(0, EVIDENCE_ROWS),
        remediation:
          'Make autovacuum visit these tables sooner: ALTER TABLE <table> SET (autovacuum_vacuum_scale_factor = 0.05); raise autovacuum_max_workers or autovacuum_vacuum_cost_limit if it is throttled; check for long transactions holding back cleanup.',
      };
    }),
};

export const tableBloat: HealthCheck = {
  id: 'maintenance.table_bloat',
  category: 'maintenance',
  defaults: { minPages: 128, ratio: 0.5, minBytes: 10 * 1024 * 1024 },
  docsUrl: 'https://github.com/ioguix/pgsql-bloat-estimation',
  run: (ctx, th) =>
    withRows(ctx.snapshot.tableBloat, (rows) => {
      if (rows.length === 0)
        return pass(
          `No table is estimated over ${(th.ratio ?? 0) * 100}% bloated and ${bytes(th.minBytes ?? 0)} of waste.`,
        );
      return {
        status: 'warn',
        summary: `${matchedOf(rows)} table(s) are estimated at least ${(th.ratio ?? 0) * 100}% bloated (statistics-based estimate); most waste: ${qualified(rows[0]?.schema, rows[0]?.name)} (${bytes(num(rows[0]?.bloat_bytes))}).`,
        evidence: evidenceOf(rows),
        remediation:
          'VACUUM FULL (or pg_repack) reclaims the space, but VACUUM FULL takes an ACCESS EXCLUSIVE lock: run it in the maintenance window (POST /v1/targets/{id}/maintenance).',
      };
    }),
};

export const wraparound: HealthCheck = {
  id: 'maintenance.xid_wraparound',
  category: 'maintenance',
  // PgHero's transaction_id_danger: 10 million transactions left.
  defaults: { warnAge: 500_000_000, failRemaining: 10_000_000 },
  docsUrl: `${DOCS}#VACUUM-FOR-WRAPAROUND`,
  run: (ctx, th) =>
    withRows(ctx.snapshot.databaseAges, (dbs) => {
      const oldest = ctx.snapshot.oldestTables.ok ? ctx.snapshot.oldestTables.rows : [];
      const evidence = [
        ...dbs.slice(0, 5).map((d) => ({ database: d.name, age: num(d.age), remaining: XID_LIMIT - num(d.age) })),
        ...oldest.slice(0, 5).map((t) => ({ table: tableOf(t), age: num(t.age), remaining: XID_LIMIT - num(t.age) })),
      ];
      const worst = Math.max(0, ...dbs.map((d) => num(d.age)));
      const remaining = XID_LIMIT - worst;
      if (remaining < (th.failRemaining ?? 0)) {
        return {
          status: 'fail',
          summary: `Only ${remaining} transaction ids are left before wraparound forces a shutdown.`,
          evidence,
          remediation:
            'VACUUM (FREEZE) the oldest tables now; end long-running transactions and drop stale replication slots first.',
        };
      }
      if (worst > (th.warnAge ?? 0)) {
        return {
          status: 'warn',
          summary: `The oldest database is ${worst} transactions old (warn at ${th.warnAge}).`,
          evidence,
          remediation: 'VACUUM (FREEZE) the oldest tables; check that autovacuum can finish anti-wraparound vacuums.',
        };
      }
      return pass(`The oldest database is ${worst} transactions old; ${remaining} remain before wraparound.`, evidence);
    }),
};

export const sequenceOverflow: HealthCheck = {
  id: 'maintenance.sequence_overflow',
  category: 'maintenance',
  // PgHero's sequence_danger: 90% of the range used.
  defaults: { ratio: 0.9 },
  docsUrl: 'https://www.postgresql.org/docs/current/functions-sequence.html',
  run: (ctx, th) =>
    withRows(ctx.snapshot.sequences, (rows) => {
      const near = rows.filter((r) => r.used !== null && num(r.used) >= (th.ratio ?? 0.9));
      const unreadable = num(rows[0]?.unreadable);
      if (near.length > 0) {
        return {
          status: num(near[0]?.used) >= 0.99 ? 'fail' : 'warn',
          summary: `${near.length} sequence(s) have used at least ${(th.ratio ?? 0.9) * 100}% of their range (or of their integer column's); highest: ${qualified(near[0]?.schema, near[0]?.name)} at ${(num(near[0]?.used) * 100).toFixed(1)}%.`,
          evidence: evidenceOf(near),
          remediation: near
            .slice(0, 3)
            .map((r) =>
              r.column_type === 'int4' || r.column_type === 'int2'
                ? `ALTER TABLE ${qualified(r.schema, r.column_table)} ALTER COLUMN ${sqlIdent(r.column_name)} TYPE bigint;`
                : `ALTER SEQUENCE ${qualified(r.schema, r.name)} MAXVALUE <higher> (or AS bigint);`,
            )
            .join('\n'),
        };
      }
      if (unreadable > 0) {
        return {
          status: 'unknown',
          summary: `${unreadable} sequence(s) are not readable by this role, so their use is unknown.`,
          evidence: [],
          remediation: 'GRANT SELECT ON ALL SEQUENCES IN SCHEMA <schema> TO <role> (or run the report as their owner).',
        };
      }
      return pass(`No sequence has used ${(th.ratio ?? 0.9) * 100}% of its range.`);
    }),
};

export const invalidConstraints: HealthCheck = {
  id: 'maintenance.invalid_constraints',
  category: 'maintenance',
  defaults: {},
  docsUrl: 'https://www.postgresql.org/docs/current/sql-altertable.html',
  run: (ctx) =>
    withRows(ctx.snapshot.invalidConstraints, (rows) => {
      if (rows.length === 0) return pass('Every constraint is validated.');
      return {
        status: 'warn',
        summary: `${matchedOf(rows)} constraint(s) were added NOT VALID and never validated.`,
        evidence: evidenceOf(rows),
        remediation: rows
          .slice(0, 3)
          .map((r) => `ALTER TABLE ${qualified(r.schema, r.table)} VALIDATE CONSTRAINT ${sqlIdent(r.constraint)};`)
          .join('\n'),
      };
    }),
};

export const maintenanceChecks = [
  deadTuples,
  autovacuumBehind,
  tableBloat,
  wraparound,
  sequenceOverflow,
  invalidConstraints,
];
