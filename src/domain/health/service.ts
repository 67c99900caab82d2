import { setTimeout as sleep } from 'node:timers/promises';
import { inTenantScope, type Tx } from '../../db/tenant-scope.js';
import { Errors } from '../../errors.js';
import { enqueueTask } from '../../jobs/task.js';
import type { Job } from '../../jobs/types.js';
import { type Ctx, ownTenant, requireScopes } from '../context.js';
import { isUuid } from '../ids.js';
import { type JobView, toJobView } from '../jobs/view.js';
import { byCreatedAtAndId, listPage, type Page, type PageRequest } from '../pagination.js';
import { loadTargetRow } from '../targets/service.js';
import type { CheckResult, CheckStatus } from './checks/types.js';
import { HealthErrors } from './errors.js';
import {
  type HealthReportRow,
  insertHealthReport,
  selectDeadTupleHistory,
  selectFleetPage,
  selectHealthReport,
  selectHealthReportPage,
  selectLatestForMetrics,
  selectLatestReports,
  selectRecentReports,
  setHealthReportJob,
} from './queries.js';
import { renderHtml, renderText } from './render.js';
import { countByStatus, failingByCategory, type HealthReport, toHealthReport } from './report.js';
import { reportTask } from './report-task.js';

export type { HealthReport };

/** The longest `?wait=` a caller may ask for, in seconds (chatops bots want an answer in one call). */
export const MAX_WAIT_SECONDS = 30;
const WAIT_POLL_MS = 200;
/** GraphQL's Target.healthReports: the newest reports of each target, at most this many. */
export const RECENT_REPORTS_CAP = 100;

/**
 * Create a pending report of a target and queue its job, in the caller's transaction. The job names the
 * report as its subject, so GET /v1/jobs/{id} leads to it.
 */
export async function enqueueHealthReport(
  tx: Tx,
  tenantId: string,
  targetId: string,
  trigger: { by: 'api' } | { by: 'schedule'; tick: string },
): Promise<{ job: Job; report: HealthReportRow }> {
  const report = await tx.one<HealthReportRow>(insertHealthReport(tenantId, targetId));
  if (!report) throw Errors.internal();
  const job = await enqueueTask(tx, reportTask, {
    tenantId,
    targetId,
    subjects: { healthReport: report.id },
    payload:
      trigger.by === 'schedule'
        ? { reportId: report.id, trigger: 'schedule', tick: trigger.tick }
        : { reportId: report.id, trigger: 'api' },
  });
  await tx.rows(setHealthReportJob(report.id, job.id));
  return { job, report: { ...report, job_id: job.id } };
}

/**
 * Start a health report of a target: the job that runs it (202). With `waitSeconds` (at most 30), wait
 * for the report and answer it when it finished in time; otherwise (or on time-out) the job. Needs
 * health:write.
 */
export async function startHealthReport(
  ctx: Ctx,
  targetId: string,
  opts: { waitSeconds?: number | undefined } = {},
): Promise<{ job: JobView; report?: HealthReport }> {
  requireScopes(ctx, 'health:write');
  const wait = opts.waitSeconds ?? 0;
  if (!Number.isInteger(wait) || wait < 0 || wait > MAX_WAIT_SECONDS) {
    throw Errors.validation(`wait must be a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}`);
  }
  const scope = ownTenant(ctx);
  const target = await loadTargetRow(ctx, targetId);
  const { job, report } = await inTenantScope(ctx.pool, scope, (tx) =>
    enqueueHealthReport(tx, scope.tenantId, target.id, { by: 'api' }),
  );
  const deadline = Date.now() + wait * 1000;
  while (Date.now() < deadline) {
    await sleep(WAIT_POLL_MS);
    const row = await inTenantScope(ctx.pool, scope, (tx) => tx.one<HealthReportRow>(selectHealthReport(report.id)));
    if (row?.finished_at) return { job: toJobView(job), report: toHealthReport(row) };
  }
  return { job: toJobView(job) };
}

/** One report; another tenant's, a missing one and a malformed id answer PGS_HEALTH_REPORT_NOT_FOUND. */
export async function getHealthReport(ctx: Ctx, id: string): Promise<HealthReport> {
  requireScopes(ctx, 'health:read');
  if (!isUuid(id)) throw HealthErrors.reportNotFound(id);
  const row = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.one<HealthReportRow>(selectHealthReport(id)));
  if (!row) throw HealthErrors.reportNotFound(id);
  return toHealthReport(row);
}

/** A target's newest finished report; PGS_HEALTH_REPORT_NOT_FOUND before its first. Needs health:read. */
export async function getLatestHealthReport(ctx: Ctx, targetId: string): Promise<HealthReport> {
  requireScopes(ctx, 'health:read');
  const target = await loadTargetRow(ctx, targetId);
  const row = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
    tx.one<HealthReportRow>(selectLatestReports([target.id])),
  );
  if (!row) throw HealthErrors.reportNotFound(`latest of target ${targetId}`);
  return toHealthReport(row);
}

/** A target's reports, newest first, paginated. Needs health:read. */
export async function listHealthReports(ctx: Ctx, targetId: string, page: PageRequest): Promise<Page<HealthReport>> {
  requireScopes(ctx, 'health:read');
  const target = await loadTargetRow(ctx, targetId);
  return listPage(
    page,
    byCreatedAtAndId,
    (before, limit) =>
      inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
        tx.rows<HealthReportRow>(selectHealthReportPage(target.id, before, limit)),
      ),
    toHealthReport,
  );
}

/** Newest finished report per target, for batch loads (GraphQL Target.latestHealthReport). */
export async function getLatestReportsByTargets(ctx: Ctx, targetIds: string[]): Promise<Map<string, HealthReport>> {
  requireScopes(ctx, 'health:read');
  const wanted = [...new Set(targetIds.filter(isUuid))];
  if (wanted.length === 0) return new Map();
  const rows = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
    tx.rows<HealthReportRow>(selectLatestReports(wanted)),
  );
  return new Map(rows.map((r) => [r.target_id, toHealthReport(r)]));
}

/** The newest reports (at most 100) of each target, for batch loads (GraphQL Target.healthReports). */
export async function getRecentReportsByTargets(ctx: Ctx, targetIds: string[]): Promise<Map<string, HealthReport[]>> {
  requireScopes(ctx, 'health:read');
  const wanted = [...new Set(targetIds.filter(isUuid))];
  const found = new Map<string, HealthReport[]>(wanted.map((id) => [id, []]));
  if (wanted.length === 0) return found;
  const rows = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
    tx.rows<HealthReportRow>(selectRecentReports(wanted, RECENT_REPORTS_CAP)),
  );
  for (const r of rows) found.get(r.target_id)?.push(toHealthReport(r));
  return found;
}

export interface FleetEntry {
  targetId: string;
  targetName: string;
  reportId: string | null;
  status: HealthReport['status'] | null;
  counts: Record<CheckStatus, number>;
  finishedAt: string | null;
  ageSeconds: number | null;
}

/**
 * The fleet view: each of the tenant's targets with its newest finished report's status, how many
 * checks fail or warn, and the report's age; targets never reported on have status null. A page of
 * targets, newest first. Needs health:read.
 */
export async function getFleetHealth(ctx: Ctx, page: PageRequest): Promise<Page<FleetEntry>> {
  requireScopes(ctx, 'health:read');
  const now = Date.now();
  type Row = {
    id: string;
    name: string;
    created_at: Date;
    report_id: string | null;
    status: HealthReport['status'] | null;
    finished_at: Date | null;
    checks: CheckResult[] | null;
  };
  return listPage(
    page,
    byCreatedAtAndId,
    (before, limit) => inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.rows<Row>(selectFleetPage(before, limit))),
    (r: Row) => ({
      targetId: r.id,
      targetName: r.name,
      reportId: r.report_id,
      status: r.status,
      counts: countByStatus(r.checks ?? []),
      finishedAt: r.finished_at?.toISOString() ?? null,
      ageSeconds: r.finished_at ? Math.max(0, Math.round((now - r.finished_at.getTime()) / 1000)) : null,
    }),
  );
}

/**
 * Dead tuples of the top tables across a report and the ones before it (oldest first), for the HTML
 * chart. Needs health:read (the caller has already read the report).
 */
export async function deadTupleSeries(
  ctx: Ctx,
  report: HealthReport,
  reports = 20,
): Promise<{ at: string; tables: { table: string; deadTuples: number }[] }[]> {
  requireScopes(ctx, 'health:read');
  const rows = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
    tx.rows<{ finished_at: Date; evidence: { table?: string; deadTuples?: number }[] }>(
      selectDeadTupleHistory(report.targetId, reports, new Date(Date.parse(report.createdAt) + 1)),
    ),
  );
  return rows.reverse().map((r) => ({
    at: r.finished_at.toISOString(),
    tables: r.evidence
      .filter((e) => typeof e.table === 'string')
      .map((e) => ({ table: String(e.table), deadTuples: Number(e.deadTuples ?? 0) })),
  }));
}

/** The report for people: chatops text (at most 15 lines) or one self-contained HTML page. Needs health:read. */
export async function renderHealthReport(ctx: Ctx, id: string, format: 'text' | 'html'): Promise<string> {
  const report = await getHealthReport(ctx, id);
  const target = await loadTargetRow(ctx, report.targetId);
  if (format === 'text') return renderText(report, target.name);
  return renderHtml(report, target.name, await deadTupleSeries(ctx, report));
}

/**
 * Every tenant's targets with their newest finished report's status and failing (fail or warn) checks
 * per category: what the metrics scrape exports. Operator-level; no caller context.
 */
export async function latestHealthForMetrics(
  pool: Ctx['pool'],
): Promise<{ targetId: string; status: HealthReport['status']; failing: Record<string, number> }[]> {
  const rows = await inTenantScope(pool, { allTenants: true }, (tx) =>
    tx.rows<{ target_id: string; status: HealthReport['status']; checks: CheckResult[] }>(selectLatestForMetrics()),
  );
  return rows.map((r) => ({ targetId: r.target_id, status: r.status, failing: failingByCategory(r.checks) }));
}
