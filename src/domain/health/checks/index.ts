import type { CollectorThresholds } from '../snapshot.js';
import { availabilityChecks } from './availability.js';
import { backupChecks } from './backups.js';
import { maintenanceChecks } from './maintenance.js';
import { performanceChecks } from './performance.js';
import { securityChecks } from './security.js';
import type { CheckContext, CheckResult, HealthCheck } from './types.js';

/** Every check a report runs, in report order. Ids are stable: policies and dashboards name them. */
export const CHECKS: readonly HealthCheck[] = [
  ...maintenanceChecks,
  ...performanceChecks,
  ...securityChecks,
  ...availabilityChecks,
  ...backupChecks,
];

const byId = new Map(CHECKS.map((c) => [c.id, c]));

export type Thresholds = Record<string, Record<string, number>>;

/** The defaults with a policy's overrides on top, for every check. */
export function effectiveThresholds(overrides: Thresholds = {}): Thresholds {
  return Object.fromEntries(CHECKS.map((c) => [c.id, { ...c.defaults, ...(overrides[c.id] ?? {}) }]));
}

/**
 * A policy's thresholds, checked: only known check ids, only the keys that check has, finite numbers
 * of at least 0. Returns the problems (empty when fine), each naming the path.
 */
export function thresholdProblems(input: Record<string, Record<string, unknown>>): string[] {
  const problems: string[] = [];
  for (const [id, values] of Object.entries(input)) {
    const check = byId.get(id);
    if (!check) {
      problems.push(`thresholds.${id}: no such check`);
      continue;
    }
    for (const [key, value] of Object.entries(values)) {
      if (!Object.hasOwn(check.defaults, key)) {
        const known = Object.keys(check.defaults);
        problems.push(`thresholds.${id}.${key}: ${id} takes ${known.length ? known.join(', ') : 'no thresholds'}`);
      } else if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        problems.push(`thresholds.${id}.${key}: must be a number of at least 0`);
      }
    }
  }
  return problems;
}

/** The thresholds the collector applies in SQL, read from the effective ones. */
export function collectorThresholds(t: Thresholds): CollectorThresholds {
  const v = (id: string, key: string) => Number(t[id]?.[key] ?? byId.get(id)?.defaults[key] ?? 0);
  return {
    deadTuples: {
      minDeadTuples: v('maintenance.dead_tuples', 'minDeadTuples'),
      ratio: v('maintenance.dead_tuples', 'ratio'),
    },
    bloat: {
      minPages: v('maintenance.table_bloat', 'minPages'),
      ratio: v('maintenance.table_bloat', 'ratio'),
      minBytes: v('maintenance.table_bloat', 'minBytes'),
    },
    sequences: { ratio: v('maintenance.sequence_overflow', 'ratio') },
    unusedIndexes: {
      maxScans: v('performance.unused_indexes', 'maxScans'),
      minSizeBytes: v('performance.unused_indexes', 'minSizeBytes'),
    },
    slowQueries: {
      minCalls: v('performance.slow_queries', 'minCalls'),
      meanMs: v('performance.slow_queries', 'meanMs'),
    },
  };
}

/** Runs every check over one snapshot. A check that throws is our bug: it reads as unknown, not as a pass. */
export function runChecks(ctx: CheckContext): CheckResult[] {
  return CHECKS.map((check) => {
    try {
      const outcome = check.run(ctx, ctx.thresholds[check.id] ?? check.defaults);
      return {
        id: check.id,
        category: check.category,
        ...outcome,
        ...(check.docsUrl ? { docsUrl: check.docsUrl } : {}),
      };
    } catch {
      return {
        id: check.id,
        category: check.category,
        status: 'unknown' as const,
        summary: 'The check could not evaluate what the server returned.',
        evidence: [],
        remediation: '',
      };
    }
  });
}
