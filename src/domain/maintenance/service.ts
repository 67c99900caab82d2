import { inTenantScope } from '../../db/tenant-scope.js';
import { Errors } from '../../errors.js';
import { enqueueTask } from '../../jobs/task.js';
import { parseSchedule } from '../../schedules/cron.js';
import { type Ctx, ownTenant, requireScopes } from '../context.js';
import { isUuid } from '../ids.js';
import { type JobView, toJobView } from '../jobs/view.js';
import { byCreatedAtAndId, listPage, type Page, type PageRequest } from '../pagination.js';
import { loadTargetRow } from '../targets/service.js';
import { withTargetAccess, withTargetClient } from '../targets/session.js';
import { MaintenanceErrors } from './errors.js';
import {
  actionLabel,
  DEFAULT_LOCK_TIMEOUT_SECONDS,
  estimateRewrite,
  fitsWindow,
  MAINTENANCE_ACTIONS,
  type MaintenanceAction,
  type MaintenanceOptions,
  needsWindow,
  nextWindowAfter,
  openWindowAt,
  overrunReason,
  type WindowSpec,
} from './plan.js';
import {
  deleteWindow as deleteWindowSql,
  insertRun,
  type MaintainedTable,
  type MaintenanceRunRow,
  type MaintenanceStatus,
  type MaintenanceWindowRow,
  type RunEstimate,
  selectRun,
  selectRunPage,
  selectWindow,
  selectWindowsByTargets,
  upsertWindow,
} from './queries.js';
import { maintenanceTask } from './run-maintenance.js';
import { parseSelection, resolveTables } from './tables.js';

export interface MaintenanceWindow {
  targetId: string;
  schedule: string;
  durationMinutes: number;
  timezone: string;
  /** Whether the window is open now, and until when. */
  openNow: boolean;
  openUntil: string | null;
  /** When the next window opens (after the current one); null if the schedule never fires again. */
  nextStart: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface MaintenanceRun {
  id: string;
  /** The job that runs it: the same id. */
  jobId: string;
  targetId: string | null;
  action: MaintenanceAction;
  selection: { tables: string[]; schemas: string[] };
  options: MaintenanceOptions;
  status: MaintenanceStatus;
  windowEnd: string | null;
  estimate: RunEstimate | null;
  /** Which of the target's credentials ran it: secret (secretRef) or admin (adminSecretRef). */
  credential: 'secret' | 'admin' | null;
  tables: MaintainedTable[];
  error: { code: string; message: string } | null;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
}

export interface StartMaintenanceInput {
  action: string;
  tables?: string[] | undefined;
  schemas?: string[] | undefined;
  verbose?: boolean | undefined;
  concurrently?: boolean | undefined;
  outsideWindow?: boolean | undefined;
  confirm?: string | undefined;
  lockTimeoutSeconds?: number | undefined;
}

export interface MaintenanceWindowInput {
  schedule: string;
  durationMinutes: number;
  timezone?: string | undefined;
}

const specOf = (r: MaintenanceWindowRow): WindowSpec => ({
  schedule: r.schedule,
  timezone: r.timezone,
  durationMinutes: r.duration_minutes,
});

export function toMaintenanceWindow(r: MaintenanceWindowRow, now = new Date()): MaintenanceWindow {
  const open = openWindowAt(specOf(r), now);
  const next = nextWindowAfter(specOf(r), open ? open.end : now);
  return {
    targetId: r.target_id,
    schedule: r.schedule,
    durationMinutes: r.duration_minutes,
    timezone: r.timezone,
    openNow: open !== null,
    openUntil: open?.end.toISOString() ?? null,
    nextStart: next?.start.toISOString() ?? null,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export const toMaintenanceRun = (r: MaintenanceRunRow): MaintenanceRun => ({
  id: r.id,
  jobId: r.id,
  targetId: r.target_id,
  action: r.action,
  selection: r.selection,
  options: r.options,
  status: r.status,
  windowEnd: r.window_end?.toISOString() ?? null,
  estimate: r.estimate,
  credential: r.credential,
  tables: r.tables,
  error: r.error,
  createdAt: r.created_at.toISOString(),
  startedAt: r.started_at?.toISOString() ?? null,
  completedAt: r.completed_at?.toISOString() ?? null,
});

/** Reading windows and runs: health:read (what dashboards hold) or maintenance:write (who starts them). */
function requireReadScope(ctx: Ctx): void {
  if (ctx.scopes.has('maintenance:write')) return;
  requireScopes(ctx, 'health:read');
}

/** A target's maintenance window; PGS_MAINTENANCE_WINDOW_NOT_FOUND when it has none. */
export async function getMaintenanceWindow(ctx: Ctx, targetId: string): Promise<MaintenanceWindow> {
  requireReadScope(ctx);
  const target = await loadTargetRow(ctx, targetId);
  const row = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
    tx.one<MaintenanceWindowRow>(selectWindow(target.id)),
  );
  if (!row) throw MaintenanceErrors.windowNotFound(targetId);
  return toMaintenanceWindow(row);
}

/** Windows by target id (for batch loads); targets without one are absent. Same scope as the single read. */
export async function getMaintenanceWindowsByTargets(
  ctx: Ctx,
  targetIds: string[],
): Promise<Map<string, MaintenanceWindow>> {
  requireReadScope(ctx);
  const wanted = [...new Set(targetIds.filter(isUuid))];
  if (wanted.length === 0) return new Map();
  const rows = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
    tx.rows<MaintenanceWindowRow>(selectWindowsByTargets(wanted)),
  );
  const now = new Date();
  return new Map(rows.map((r) => [r.target_id, toMaintenanceWindow(r, now)]));
}

/**
 * Set (create or replace) a target's maintenance window: the five-field cron of its start, read in an
 * IANA time zone (UTC by default), open for durationMinutes (1 to 1440). Validated like drill
 * schedules: PGS_INVALID_SCHEDULE, PGS_INVALID_TIMEZONE. Needs maintenance:write.
 */
export async function setMaintenanceWindow(
  ctx: Ctx,
  targetId: string,
  input: MaintenanceWindowInput,
): Promise<MaintenanceWindow> {
  requireScopes(ctx, 'maintenance:write');
  const scope = ownTenant(ctx);
  const timezone = input.timezone ?? 'UTC';
  parseSchedule(input.schedule, timezone);
  const { durationMinutes } = input;
  if (!Number.isInteger(durationMinutes) || durationMinutes < 1 || durationMinutes > 1440) {
    throw Errors.validation('durationMinutes must be a whole number from 1 to 1440');
  }
  const target = await loadTargetRow(ctx, targetId);
  const row = await inTenantScope(ctx.pool, scope, (tx) =>
    tx.one<MaintenanceWindowRow>(
      upsertWindow(scope.tenantId, target.id, { schedule: input.schedule.trim(), durationMinutes, timezone }),
    ),
  );
  if (!row) throw Errors.internal();
  return toMaintenanceWindow(row);
}

/** Remove a target's maintenance window; PGS_MAINTENANCE_WINDOW_NOT_FOUND when it has none. */
export async function deleteMaintenanceWindow(ctx: Ctx, targetId: string): Promise<void> {
  requireScopes(ctx, 'maintenance:write');
  const target = await loadTargetRow(ctx, targetId);
  const gone = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.one(deleteWindowSql(target.id)));
  if (!gone) throw MaintenanceErrors.windowNotFound(targetId);
}

const isAction = (a: string): a is MaintenanceAction => (MAINTENANCE_ACTIONS as readonly string[]).includes(a);

/** The request's options, defaults filled in; 400 for what REST's schema would have refused too. */
export function normaliseMaintenanceInput(input: StartMaintenanceInput): {
  action: MaintenanceAction;
  options: MaintenanceOptions;
  selection: { tables: string[]; schemas: string[] };
} {
  if (!isAction(input.action)) throw Errors.validation(`action must be one of ${MAINTENANCE_ACTIONS.join(', ')}`);
  const selection = { tables: input.tables ?? [], schemas: input.schemas ?? [] };
  if (selection.tables.length > 1000 || selection.schemas.length > 1000) {
    throw Errors.validation('name at most 1000 tables or schemas');
  }
  if (input.concurrently !== undefined && input.action !== 'reindex') {
    throw Errors.validation('concurrently applies to reindex only');
  }
  const lockTimeoutSeconds = input.lockTimeoutSeconds ?? DEFAULT_LOCK_TIMEOUT_SECONDS;
  if (!Number.isInteger(lockTimeoutSeconds) || lockTimeoutSeconds < 1 || lockTimeoutSeconds > 600) {
    throw Errors.validation('lockTimeoutSeconds must be a whole number from 1 to 600');
  }
  parseSelection(selection);
  return {
    action: input.action,
    selection,
    options: {
      verbose: input.verbose ?? false,
      concurrently: input.action === 'reindex' ? (input.concurrently ?? true) : false,
      outsideWindow: input.outsideWindow ?? false,
      lockTimeoutSeconds,
    },
  };
}

/**
 * Start a maintenance job (202 with the job; its id is also the run's, GET /v1/maintenance/{id}).
 * VACUUM FULL and REINDEX without CONCURRENTLY take ACCESS EXCLUSIVE locks: inside the target's window
 * they start only if the size estimate says they end before it closes (409
 * PGS_MAINTENANCE_WOULD_OVERRUN); outside it only with outsideWindow and confirm equal to the target's
 * name (409 PGS_OUTSIDE_MAINTENANCE_WINDOW, PGS_CONFIRM_REQUIRED). Every named table or schema must
 * exist (422 PGS_UNKNOWN_RELATION). A refusal starts nothing. Needs maintenance:write.
 */
export async function startMaintenance(ctx: Ctx, targetId: string, input: StartMaintenanceInput): Promise<JobView> {
  requireScopes(ctx, 'maintenance:write');
  const scope = ownTenant(ctx);
  const { action, options, selection } = normaliseMaintenanceInput(input);
  const target = await loadTargetRow(ctx, targetId);
  const label = actionLabel(action, options);
  let windowEnd: Date | null = null;
  if (needsWindow(action, options)) {
    const row = await inTenantScope(ctx.pool, scope, (tx) => tx.one<MaintenanceWindowRow>(selectWindow(target.id)));
    const now = new Date();
    const open = row ? openWindowAt(specOf(row), now) : null;
    if (open) windowEnd = open.end;
    else if (!options.outsideWindow) {
      const next = row ? nextWindowAfter(specOf(row), now) : null;
      throw MaintenanceErrors.outsideWindow(label, target.name, next?.start.toISOString() ?? null);
    } else if (input.confirm !== target.name) throw MaintenanceErrors.confirmRequired(target.name);
  }
  // The tables are checked (and sized) now, so an unknown name is refused before any job exists.
  const tables = await withTargetAccess(ctx.services, target, (access) =>
    withTargetClient(access, (client) => resolveTables(client, selection)),
  );
  let estimate: RunEstimate | null = null;
  if (windowEnd !== null) {
    estimate = estimateRewrite(tables.map((t) => t.stats));
    const now = new Date();
    if (!fitsWindow(estimate, now, windowEnd)) {
      throw MaintenanceErrors.wouldOverrun(overrunReason(label, estimate, now, windowEnd));
    }
  }
  return inTenantScope(ctx.pool, scope, async (tx) => {
    const job = await enqueueTask(tx, maintenanceTask, {
      tenantId: scope.tenantId,
      targetId: target.id,
      payload: { action },
    });
    await tx.rows(
      insertRun({
        id: job.id,
        tenantId: scope.tenantId,
        targetId: target.id,
        action,
        selection,
        options,
        windowEnd,
        estimate,
      }),
    );
    return toJobView(job);
  });
}

/** One maintenance run (its id is its job's); another tenant's answers PGS_MAINTENANCE_NOT_FOUND. */
export async function getMaintenanceRun(ctx: Ctx, id: string): Promise<MaintenanceRun> {
  requireReadScope(ctx);
  if (!isUuid(id)) throw MaintenanceErrors.runNotFound(id);
  const row = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) => tx.one<MaintenanceRunRow>(selectRun(id)));
  if (!row) throw MaintenanceErrors.runNotFound(id);
  return toMaintenanceRun(row);
}

/** A target's maintenance runs, newest first; another tenant's target answers PGS_TARGET_NOT_FOUND. */
export async function listMaintenanceRuns(
  ctx: Ctx,
  targetId: string,
  page: PageRequest,
): Promise<Page<MaintenanceRun>> {
  requireReadScope(ctx);
  const target = await loadTargetRow(ctx, targetId);
  return listPage(
    page,
    byCreatedAtAndId,
    (before, limit) =>
      inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
        tx.rows<MaintenanceRunRow>(selectRunPage(target.id, before, limit)),
      ),
    toMaintenanceRun,
  );
}
