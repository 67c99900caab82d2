import { parseSchedule } from '../../schedules/cron.js';
import { quoteQualified } from '../../sql/identifiers.js';

// The pure part of maintenance: which actions need the window, the statements, the window's clock and
// the duration estimate. Nothing here talks to a database.

export const MAINTENANCE_ACTIONS = ['vacuum', 'vacuum_analyze', 'analyze', 'vacuum_full', 'reindex'] as const;
export type MaintenanceAction = (typeof MAINTENANCE_ACTIONS)[number];

export interface MaintenanceOptions {
  verbose: boolean;
  /** reindex only: REINDEX ... CONCURRENTLY (the default), which takes no ACCESS EXCLUSIVE lock. */
  concurrently: boolean;
  outsideWindow: boolean;
  /** How long each statement may wait for its table's lock before the job fails. */
  lockTimeoutSeconds: number;
}

export const DEFAULT_LOCK_TIMEOUT_SECONDS = 5;

/** At most this many tables per job: every one is recorded before and after, in one row. */
export const MAX_TABLES_PER_JOB = 1000;

/** VACUUM FULL and plain REINDEX take ACCESS EXCLUSIVE: no reads or writes of the table while they run. */
export const needsWindow = (action: MaintenanceAction, o: Pick<MaintenanceOptions, 'concurrently'>): boolean =>
  action === 'vacuum_full' || (action === 'reindex' && !o.concurrently);

/** How the action reads in messages: `VACUUM FULL`, `REINDEX CONCURRENTLY`. */
export function actionLabel(action: MaintenanceAction, o: Pick<MaintenanceOptions, 'concurrently'>): string {
  if (action === 'reindex') return o.concurrently ? 'REINDEX CONCURRENTLY' : 'REINDEX';
  return action.toUpperCase().replace('_', ' ');
}

/** The statement for one table. Names are always quoted; nothing else from the request reaches the text. */
export function maintenanceStatement(
  action: MaintenanceAction,
  o: Pick<MaintenanceOptions, 'verbose' | 'concurrently'>,
  table: { schema: string; name: string },
): string {
  const rel = quoteQualified(table.schema, table.name);
  const verbose = o.verbose ? ['VERBOSE'] : [];
  const opts = (list: string[]) => (list.length > 0 ? ` (${list.join(', ')})` : '');
  switch (action) {
    case 'vacuum':
      return `VACUUM${opts(verbose)} ${rel}`;
    case 'vacuum_analyze':
      return `VACUUM${opts(['ANALYZE', ...verbose])} ${rel}`;
    case 'analyze':
      return `ANALYZE${opts(verbose)} ${rel}`;
    case 'vacuum_full':
      return `VACUUM${opts(['FULL', ...verbose])} ${rel}`;
    case 'reindex':
      return `REINDEX${opts(verbose)} TABLE${o.concurrently ? ' CONCURRENTLY' : ''} ${rel}`;
  }
}

/** What the caller is told when a run is stopped in the middle of a table. */
export function intactNote(
  action: MaintenanceAction,
  o: Pick<MaintenanceOptions, 'concurrently'>,
  table: string,
): string {
  if (action === 'vacuum_full' || (action === 'reindex' && !o.concurrently)) {
    return `${table} is intact: ${actionLabel(action, o)} builds new files and swaps them in only when it commits, so a cancelled one leaves the old table and indexes as they were (PostgreSQL guarantees this).`;
  }
  if (action === 'reindex') {
    return `${table}'s indexes are intact and still used; a REINDEX CONCURRENTLY stopped midway can leave an invalid index named like <index>_ccnew, which the job drops.`;
  }
  return `${table} is intact: ${actionLabel(action, o)} changes no data; the work done so far is kept.`;
}

export interface WindowSpec {
  schedule: string;
  timezone: string;
  durationMinutes: number;
}

export interface WindowSpan {
  start: Date;
  end: Date;
}

/**
 * The window open at `now`, or null. A window is open from a tick of its schedule for durationMinutes;
 * the latest tick at or before now decides (an earlier tick's window cannot end later).
 */
export function openWindowAt(spec: WindowSpec, now: Date): WindowSpan | null {
  const cron = parseSchedule(spec.schedule, spec.timezone);
  // previousRuns excludes `now` itself; one millisecond later includes a tick exactly at now.
  const [start] = cron.previousRuns(1, new Date(now.getTime() + 1));
  if (start === undefined) return null;
  const end = new Date(start.getTime() + spec.durationMinutes * 60_000);
  return end > now ? { start, end } : null;
}

/** The next window to open after `now`, or null if the schedule never fires again. */
export function nextWindowAfter(spec: WindowSpec, now: Date): WindowSpan | null {
  const start = parseSchedule(spec.schedule, spec.timezone).nextRun(now);
  return start ? { start, end: new Date(start.getTime() + spec.durationMinutes * 60_000) } : null;
}

/**
 * The throughput a rewrite (VACUUM FULL, REINDEX) is assumed to keep, for the window estimate. It is
 * deliberately low: a rewrite reads every byte, writes it again (plus WAL) and rebuilds every index,
 * on a server that is also serving traffic. Measured here (PostgreSQL 15, this 2-core machine, other work
 * running): VACUUM FULL of a 251 MB table (1M rows, half deleted, one btree index) took 5.4 s, about
 * 46 MB/s of its pg_total_relation_size. 16 MiB/s is about a third of that, room for slower
 * disks. Sizes come from pg_total_relation_size (heap, TOAST and indexes).
 */
export const REWRITE_BYTES_PER_SECOND = 16 * 1024 * 1024;

/** Lock waits, catalog work and the before/after reads of each table: the job must end this early. */
export const WINDOW_MARGIN_SECONDS = 60;

export interface Estimate {
  totalBytes: number;
  tables: number;
  estimatedSeconds: number;
  bytesPerSecond: number;
  marginSeconds: number;
}

export function estimateRewrite(tables: { totalBytes: number }[]): Estimate {
  const totalBytes = tables.reduce((sum, t) => sum + t.totalBytes, 0);
  return {
    totalBytes,
    tables: tables.length,
    estimatedSeconds: Math.ceil(totalBytes / REWRITE_BYTES_PER_SECOND),
    bytesPerSecond: REWRITE_BYTES_PER_SECOND,
    marginSeconds: WINDOW_MARGIN_SECONDS,
  };
}

/** Whether the estimated work, with its margin, ends before the window closes. */
export const fitsWindow = (estimate: Estimate, now: Date, windowEnd: Date): boolean =>
  now.getTime() + (estimate.estimatedSeconds + estimate.marginSeconds) * 1000 <= windowEnd.getTime();

const mb = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;

/** The refusal's reason, naming the estimate and how it was made. */
export function overrunReason(label: string, estimate: Estimate, now: Date, windowEnd: Date): string {
  const left = Math.max(0, Math.floor((windowEnd.getTime() - now.getTime()) / 1000));
  return (
    `${label} of ${estimate.tables} table${estimate.tables === 1 ? '' : 's'} (${mb(estimate.totalBytes)} by ` +
    `pg_total_relation_size) is estimated at ${estimate.estimatedSeconds} s (at ${mb(estimate.bytesPerSecond)}/s) ` +
    `plus a ${estimate.marginSeconds} s margin, but the maintenance window closes in ${left} s (${windowEnd.toISOString()}); ` +
    'it would not finish in time.'
  );
}
