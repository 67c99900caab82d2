import type pg from 'pg';
import { z } from 'zod';
import { sqlStateOf } from '../../db/pg-errors.js';
import { inTenantScope, type Tx } from '../../db/tenant-scope.js';
import { isPgStewardError, type PgStewardError } from '../../errors.js';
import { defineTask, payloadParser, type TaskRun } from '../../jobs/task.js';
import { TaskFailure } from '../../task-failures.js';
import { backupPostureOf } from '../backups/service.js';
import { isUuid } from '../ids.js';
import { toJobFailure } from '../job-failures.js';
import { failedJobCounts } from '../jobs/service.js';
import type { Services } from '../services.js';
import { findTargetRow } from '../targets/service.js';
import { withTargetAccess, withTargetClient } from '../targets/session.js';
import { collectorThresholds, effectiveThresholds, runChecks } from './checks/index.js';
import { type BackupPosture, type DeadTupleHistory, worstStatus } from './checks/types.js';
import { HealthFailures } from './errors.js';
import {
  failHealthReport,
  finishHealthReport,
  type HealthPolicyRow,
  type HealthReportRow,
  markHealthReportStarted,
  selectDeadTupleHistory,
  selectHealthPolicy,
  selectHealthReport,
} from './queries.js';
import { collectSnapshot, type ServerSnapshot } from './snapshot.js';

export const HEALTH_REPORT_KIND = 'health.report';

/**
 * Each catalog read may take 5 s and wait 1 s for a lock; a report on 10,000 tables takes well under
 * 2 s in all (docs/BENCHMARKS.md, B4), so these only stop a sick server from holding a report forever.
 */
export const REPORT_LIMITS = { statementTimeoutMs: 5_000, lockTimeoutMs: 1_000 };

// How many earlier reports the history checks compare against.
const HISTORY_REPORTS = 10;
// The kinds whose failures count against a target's backup posture.
const POSTURE_KINDS = ['backup', 'restore', 'verify'];

const reportPayload = z.object({
  reportId: z.string().refine(isUuid, 'must be a UUID'),
  trigger: z.enum(['api', 'schedule']),
  tick: z.iso.datetime().optional(),
});
export type ReportPayload = z.output<typeof reportPayload>;

/**
 * `health.report` jobs: read the target's catalog once (snapshot.ts) as the target's own role, run every
 * check over it, and store the report. One attempt: a report is cheap to ask for again, and a retry of a
 * sick server's report would only pile onto it.
 */
export const reportTask = defineTask({
  kind: HEALTH_REPORT_KIND,
  maxAttempts: 1,
  parsePayload: payloadParser(HEALTH_REPORT_KIND, reportPayload),
  handler: (deps: { pool: pg.Pool; services: Services }) => runReport(deps),
});

interface Loaded {
  report: HealthReportRow;
  target: NonNullable<Awaited<ReturnType<typeof findTargetRow>>>;
  policy: HealthPolicyRow | undefined;
  history: DeadTupleHistory[];
  posture: BackupPosture;
}

function runReport(deps: { pool: pg.Pool; services: Services }): TaskRun<ReportPayload> {
  return async (task, { reportId }) => {
    const scope = { tenantId: task.job.tenantId };
    const loaded = await inTenantScope(deps.pool, scope, (tx) => loadForReport(tx, reportId));
    if (!loaded) throw toJobFailure(HealthFailures.reportGone(reportId));
    const { report, target, policy, history, posture } = loaded;
    const thresholds = effectiveThresholds(policy?.thresholds);
    let snapshot: ServerSnapshot;
    try {
      snapshot = await withTargetAccess(deps.services, target, (access) =>
        withTargetClient(access, (client) => {
          // A cancel ends the session: the server abandons the read and the transaction with it.
          const stop = () => void client.end().catch(() => {});
          task.signal.addEventListener('abort', stop, { once: true });
          return collectSnapshot(client, collectorThresholds(thresholds), REPORT_LIMITS).finally(() =>
            task.signal.removeEventListener('abort', stop),
          );
        }),
      );
    } catch (err) {
      const failure = asReportFailure(err, task.signal);
      const recorded = failure ?? { code: 'PGS_INTERNAL', message: 'The report failed on an internal error.' };
      await inTenantScope(deps.pool, scope, (tx) =>
        tx.rows(failHealthReport(report.id, { code: recorded.code, message: recorded.message })),
      );
      if (!failure) throw err; // our bug: the worker records PGS_INTERNAL and logs it
      throw task.signal.aborted ? err : toJobFailure(failure);
    }
    const checks = runChecks({ snapshot, thresholds, posture, history, now: new Date() });
    const status = worstStatus(checks.map((c) => c.status));
    const { info } = snapshot;
    const server = {
      version: info.version,
      versionNum: info.num,
      uptimeSeconds: Math.round(info.uptime_seconds),
      startedAt: new Date(info.started_at).toISOString(),
      database: info.database,
      role: info.role,
      inRecovery: info.in_recovery,
      superuser: info.superuser,
      pgMonitor: info.pg_monitor || info.superuser,
    };
    await inTenantScope(deps.pool, scope, (tx) => tx.rows(finishHealthReport(report.id, status, server, checks)));
    return { healthReportId: report.id, status, checks: checks.length };
  };
}

async function loadForReport(tx: Tx, reportId: string): Promise<Loaded | undefined> {
  const report = await tx.one<HealthReportRow>(selectHealthReport(reportId));
  if (!report) return undefined;
  const target = await findTargetRow(tx, report.target_id);
  if (!target) return undefined;
  const policy = await tx.one<HealthPolicyRow>(selectHealthPolicy(target.id));
  const thresholds = effectiveThresholds(policy?.thresholds);
  const days = thresholds['backups.failed_jobs']?.days ?? 7;
  const since = new Date(Date.now() - days * 24 * 3600_000);
  const historyRows = await tx.rows<{ finished_at: Date; evidence: { table?: string; deadTuples?: number }[] }>(
    selectDeadTupleHistory(target.id, HISTORY_REPORTS, report.created_at),
  );
  const facts = await backupPostureOf(tx, target.id);
  const failedJobs = await failedJobCounts(tx, target.id, POSTURE_KINDS, since);
  await tx.rows(markHealthReportStarted(report.id));
  return {
    report,
    target,
    policy,
    history: historyRows.map((h) => ({
      finishedAt: h.finished_at,
      tables: h.evidence
        .filter((e) => typeof e.table === 'string')
        .map((e) => ({ table: String(e.table), deadTuples: Number(e.deadTuples ?? 0) })),
    })),
    posture: { ...facts, failedJobs },
  };
}

/** A catalogued failure for what collecting threw, or undefined for our own bug. */
function asReportFailure(err: unknown, signal: AbortSignal): TaskFailure | PgStewardError | undefined {
  if (signal.aborted) return HealthFailures.cancelled();
  if (err instanceof TaskFailure || isPgStewardError(err)) return err;
  const state = sqlStateOf(err);
  return state === undefined ? undefined : HealthFailures.serverRefused(state);
}
