import { CATEGORIES, type Category, type CheckResult, type CheckStatus, SEVERITY } from './checks/types.js';
import type { HealthReportRow } from './queries.js';

/** A health report as the API shows it (REST `HealthReport`, GraphQL `HealthReport`). */
export interface HealthReport {
  id: string;
  targetId: string;
  jobId: string | null;
  /** pending until the job finishes; then the worst check status, or error when the report could not run. */
  status: HealthReportRow['status'];
  startedAt: string | null;
  finishedAt: string | null;
  server: Record<string, unknown> | null;
  counts: Record<CheckStatus, number>;
  checks: CheckResult[];
  error: { code: string; message: string } | null;
  createdAt: string;
}

export const countByStatus = (checks: Pick<CheckResult, 'status'>[]): Record<CheckStatus, number> => {
  const counts: Record<CheckStatus, number> = { fail: 0, warn: 0, unknown: 0, pass: 0 };
  for (const c of checks) counts[c.status] += 1;
  return counts;
};

export function toHealthReport(r: HealthReportRow): HealthReport {
  const checks = r.checks as CheckResult[];
  return {
    id: r.id,
    targetId: r.target_id,
    jobId: r.job_id,
    status: r.status,
    startedAt: r.started_at?.toISOString() ?? null,
    finishedAt: r.finished_at?.toISOString() ?? null,
    server: r.server,
    counts: countByStatus(checks),
    checks,
    error: r.error,
    createdAt: r.created_at.toISOString(),
  };
}

/** Checks ordered worst first (fail, warn, unknown, pass), report order within a status. */
export const worstFirst = (checks: CheckResult[]): CheckResult[] =>
  checks
    .map((c, i) => ({ c, i }))
    .sort((a, b) => SEVERITY[b.c.status] - SEVERITY[a.c.status] || a.i - b.i)
    .map(({ c }) => c);

/** How many checks of each category fail or warn (the metrics' bounded labels). */
export function failingByCategory(checks: Pick<CheckResult, 'status' | 'category'>[]): Record<Category, number> {
  const out = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  for (const c of checks) if (c.status === 'fail' || c.status === 'warn') out[c.category] += 1;
  return out;
}
