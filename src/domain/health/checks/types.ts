import type { ServerSnapshot } from '../snapshot.js';

export const CATEGORIES = ['maintenance', 'performance', 'security', 'availability', 'backups'] as const;
export type Category = (typeof CATEGORIES)[number];

export const STATUSES = ['pass', 'warn', 'fail', 'unknown'] as const;
export type CheckStatus = (typeof STATUSES)[number];

/** What one check found, as the report (REST, GraphQL, stored jsonb) carries it. */
export interface CheckResult {
  id: string;
  category: Category;
  status: CheckStatus;
  summary: string;
  /** Bounded: at most EVIDENCE_ROWS rows, with the numbers the query gave. */
  evidence: Record<string, unknown>[];
  /** The SQL or setting to change; empty when there is nothing to do. */
  remediation: string;
  docsUrl?: string;
}

export const EVIDENCE_ROWS = 10;

/** pgsteward's own records about the target's backups and drills (issue 10 §4), read through their services. */
export interface BackupPosture {
  newestBackupAt: Date | null;
  newestDrill: { at: Date; verified: boolean; backupId: string } | null;
  failedJobs: { kind: string; count: number }[];
}

/** Earlier reports' dead-tuple evidence, newest first: what "autovacuum falling behind" compares. */
export interface DeadTupleHistory {
  finishedAt: Date;
  tables: { table: string; deadTuples: number }[];
}

/** Everything a check reads: one snapshot of the server, the thresholds in force, and pgsteward's records. */
export interface CheckContext {
  snapshot: ServerSnapshot;
  thresholds: Record<string, Record<string, number>>;
  posture: BackupPosture;
  history: DeadTupleHistory[];
  now: Date;
}

export type CheckOutcome = Omit<CheckResult, 'id' | 'category'>;

/**
 * A check: a stable id, its category, PgHero-style default thresholds (overridable per target by
 * health policy), and a pure function of the collected snapshot. Checks run no SQL themselves: the
 * collector gathers everything in a few catalog queries, so a report costs the same however many
 * checks read the same view.
 */
export interface HealthCheck {
  id: string;
  category: Category;
  defaults: Record<string, number>;
  docsUrl?: string;
  run(ctx: CheckContext, thresholds: Record<string, number>): CheckOutcome;
}

/** A check whose data the credentials could not read: never a pass. */
export const unknown = (missing: string): CheckOutcome => ({
  status: 'unknown',
  summary: `Could not run: ${missing}.`,
  evidence: [],
  remediation: missing,
});

export const pass = (summary: string, evidence: Record<string, unknown>[] = []): CheckOutcome => ({
  status: 'pass',
  summary,
  evidence,
  remediation: '',
});

/** The worst status first: fail, warn, unknown, pass. */
export const SEVERITY: Record<CheckStatus, number> = { fail: 3, warn: 2, unknown: 1, pass: 0 };

export function worstStatus(statuses: CheckStatus[]): CheckStatus {
  return statuses.reduce<CheckStatus>((worst, s) => (SEVERITY[s] > SEVERITY[worst] ? s : worst), 'pass');
}
