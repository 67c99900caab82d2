import { defineError } from '../../errors.js';
import { defineTaskFailure } from '../../task-failures.js';

/** Answers to maintenance requests (REST and GraphQL). */
export const MaintenanceErrors = {
  windowNotFound: defineError(
    'PGS_MAINTENANCE_WINDOW_NOT_FOUND',
    404,
    'Not Found',
    (targetId: string) => `Target '${targetId}' has no maintenance window.`,
  ),
  runNotFound: defineError(
    'PGS_MAINTENANCE_NOT_FOUND',
    404,
    'Not Found',
    (id: string) => `Maintenance run '${id}' was not found.`,
  ),
  outsideWindow: defineError(
    'PGS_OUTSIDE_MAINTENANCE_WINDOW',
    409,
    'Conflict',
    (action: string, target: string, nextStart: string | null) =>
      `${action} takes an ACCESS EXCLUSIVE lock, so it runs only inside target '${target}''s maintenance window; ` +
      (nextStart === null
        ? 'the target has no window (PUT /v1/targets/{id}/maintenance-window). '
        : `the next one opens at ${nextStart}. `) +
      `To run it now anyway, send "outsideWindow": true and "confirm": "${target}". Nothing was started.`,
  ),
  confirmRequired: defineError(
    'PGS_CONFIRM_REQUIRED',
    409,
    'Conflict',
    (target: string) =>
      `Running outside the maintenance window needs "confirm": "${target}" (the target's name) in the request. Nothing was started.`,
  ),
  wouldOverrun: defineError(
    'PGS_MAINTENANCE_WOULD_OVERRUN',
    409,
    'Conflict',
    (why: string) => `${why} Nothing was started.`,
  ),
  tooManyTables: defineError(
    'PGS_VALIDATION',
    400,
    'Bad Request',
    (max: number) =>
      `The selection covers more than ${max} tables; one maintenance job works on at most ${max}. Name tables or schemas.`,
  ),
} as const;

const final = { retryable: false };

/** What a running maintenance job fails with. Messages are shown to callers: nothing secret in them. */
export const MaintenanceFailures = {
  runNotPending: defineTaskFailure(
    'PGS_MAINTENANCE_NOT_FOUND',
    (id: string) => `Maintenance run '${id}' is no longer pending.`,
    final,
  ),
  targetGone: defineTaskFailure('PGS_TARGET_NOT_FOUND', () => 'The target of this maintenance job was deleted.', final),
  tablesGone: defineTaskFailure(
    'PGS_UNKNOWN_RELATION',
    (names: string[]) => `These tables no longer exist on the target: ${names.join(', ')}. Nothing was run.`,
    final,
  ),
  notOwner: defineTaskFailure(
    'PGS_MAINTENANCE_NOT_OWNER',
    (action: string, tables: { table: string; owner: string }[], tried: 'secret' | 'admin') =>
      `${action} needs the tables' owner (or a superuser), and the target's ` +
      `${tried === 'admin' ? 'admin credential (adminSecretRef) is' : 'credential (secretRef) is, and it has no adminSecretRef, is'} neither: ` +
      tables
        .slice(0, 10)
        .map((t) => `${t.table} is owned by '${t.owner}'`)
        .join('; ') +
      `${tables.length > 10 ? `; and ${tables.length - 10} more` : ''}. ` +
      `${tried === 'admin' ? 'Give adminSecretRef' : "Set the target's adminSecretRef to"} credentials of the owner (or a member of it). Nothing was run.`,
    final,
  ),
  lockTimeout: defineTaskFailure(
    'PGS_MAINTENANCE_LOCK_TIMEOUT',
    (action: string, table: string, lockTimeoutSeconds: number, done: number) =>
      `${action} of ${table} waited ${lockTimeoutSeconds} s for its lock and gave up, so that it would not queue ` +
      `behind another session and block the application's traffic behind it. Hint: find the holder in pg_locks ` +
      `/ pg_stat_activity (a long transaction, often "idle in transaction"), then retry, or raise lockTimeoutSeconds. ` +
      `${table} is unchanged; ${done} table${done === 1 ? '' : 's'} before it finished.`,
    final,
  ),
  windowClosed: defineTaskFailure(
    'PGS_MAINTENANCE_WINDOW_CLOSED',
    (action: string, table: string) =>
      `The maintenance window closed while ${action} of ${table} ran, so it was stopped; ${table} is intact ` +
      '(the statement is all-or-nothing). Tables finished before it keep their result.',
    final,
  ),
  notInWindow: defineTaskFailure(
    'PGS_OUTSIDE_MAINTENANCE_WINDOW',
    (action: string) =>
      `The job started after its maintenance window had closed (or no longer fits in it), so ${action} was not run. Nothing was run.`,
    final,
  ),
  cancelled: defineTaskFailure('PGS_CANCELLED', (detail: string) => detail, final),
  sessionFailed: defineTaskFailure(
    'PGS_MAINTENANCE_FAILED',
    (sqlState: string) => `The maintenance session on the target ended with SQLSTATE ${sqlState}.`,
    final,
  ),
  sessionLost: defineTaskFailure(
    'PGS_MAINTENANCE_FAILED',
    (action: string, table: string, intact: string) =>
      `The connection to the target ended during ${action} of ${table}. ${intact}`,
    final,
  ),
  failed: defineTaskFailure(
    'PGS_MAINTENANCE_FAILED',
    (action: string, table: string, sqlState: string) =>
      `${action} of ${table} failed on the target (SQLSTATE ${sqlState}).`,
    final,
  ),
} as const;
