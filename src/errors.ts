/**
 * The one catalogue of coded errors. Services throw these; REST renders them as
 * problem+json and GraphQL puts the same `code` in `extensions.code`.
 */
export class PgStewardError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly title: string;
  /** Extra, safe-to-show fields merged into the problem document (e.g. `missingScope`). */
  readonly extra: Record<string, unknown> | undefined;

  constructor(code: string, statusCode: number, title: string, detail: string, extra?: Record<string, unknown>) {
    super(detail);
    this.name = 'PgStewardError';
    this.code = code;
    this.statusCode = statusCode;
    this.title = title;
    this.extra = extra;
  }
}

export const isPgStewardError = (err: unknown): err is PgStewardError => err instanceof PgStewardError;

/**
 * Declares one coded API error. Errors below are the shared ones; a capability keeps its own in
 * `src/domain/<capability>/errors.ts`, built with this same function so codes stay one style.
 */
export const defineError =
  <A extends unknown[]>(
    code: string,
    status: number,
    title: string,
    detail: (...args: A) => string,
    extra?: (...args: A) => Record<string, unknown>,
  ) =>
  (...args: A) =>
    new PgStewardError(code, status, title, detail(...args), extra?.(...args));

export const Errors = {
  unauthorized: defineError('PGS_UNAUTHORIZED', 401, 'Unauthorized', (why: string) => why),
  missingScope: defineError(
    'PGS_MISSING_SCOPE',
    403,
    'Forbidden',
    (scopes: string[]) => `This token lacks the scope ${scopes.join(' and ')}.`,
    (scopes: string[]) => ({ missingScopes: scopes }),
  ),
  unknownTenant: defineError(
    'PGS_UNKNOWN_TENANT',
    403,
    'Forbidden',
    (tenant: string) => `The token's tenant '${tenant}' does not exist.`,
  ),
  tenantRequired: defineError('PGS_TENANT_REQUIRED', 403, 'Forbidden', () => 'This token carries no tenant claim.'),
  validation: defineError('PGS_VALIDATION', 400, 'Bad Request', (detail: string) => detail),
  routeNotFound: defineError(
    'PGS_ROUTE_NOT_FOUND',
    404,
    'Not Found',
    (method: string, url: string) => `No route ${method} ${url}.`,
  ),
  tenantNotFound: defineError('PGS_TENANT_NOT_FOUND', 404, 'Not Found', (id: string) => `Tenant '${id}' was not found.`),
  tenantExists: defineError('PGS_TENANT_EXISTS', 409, 'Conflict', (id: string) => `Tenant '${id}' already exists.`),
  conflict: defineError('PGS_CONFLICT', 409, 'Conflict', (detail: string) => detail),
  invalidCursor: defineError('PGS_INVALID_CURSOR', 400, 'Bad Request', () => 'The cursor is not one this API issued.'),
  payloadTooLarge: defineError('PGS_PAYLOAD_TOO_LARGE', 413, 'Payload Too Large', (detail: string) => detail),
  unsupportedMediaType: defineError('PGS_UNSUPPORTED_MEDIA_TYPE', 415, 'Unsupported Media Type', (detail: string) => detail),
  graphqlBatchTooLarge: defineError(
    'PGS_GRAPHQL_BATCH_TOO_LARGE',
    400,
    'Bad Request',
    (max: number) => `A batch may hold at most ${max} queries.`,
  ),
  idempotencyMismatch: defineError(
    'PGS_IDEMPOTENCY_MISMATCH',
    422,
    'Unprocessable Content',
    () => 'This Idempotency-Key was already used with a different request body.',
  ),
  // Secrets: the message names the reference, never the contents.
  secretRefInvalid: defineError(
    'PGS_SECRET_REF_INVALID',
    400,
    'Bad Request',
    (ref: string) => `secretRef '${ref}' must be aws-sm:<secret id or ARN> or file:<key>.`,
  ),
  secretNotFound: defineError(
    'PGS_SECRET_NOT_FOUND',
    422,
    'Unprocessable Content',
    (ref: string) => `Secret '${ref}' does not exist.`,
  ),
  secretMalformed: defineError(
    'PGS_SECRET_MALFORMED',
    422,
    'Unprocessable Content',
    (ref: string, why: string) => `Secret '${ref}' is not a usable database secret: ${why}.`,
  ),
  secretUnavailable: defineError(
    'PGS_SECRET_UNAVAILABLE',
    503,
    'Service Unavailable',
    (ref: string, why: string) => `Secret '${ref}' could not be read: ${why}.`,
  ),
  // The write side (role provisioning, rotation): a retry with another value, or labels that moved meanwhile.
  secretWriteUnavailable: defineError(
    'PGS_SECRET_UNAVAILABLE',
    503,
    'Service Unavailable',
    (ref: string, why: string) => `Secret '${ref}' could not be written: ${why}.`,
  ),
  secretExists: defineError('PGS_SECRET_EXISTS', 409, 'Conflict', (ref: string) => `Secret '${ref}' already exists.`),
  secretConflict: defineError(
    'PGS_SECRET_CONFLICT',
    409,
    'Conflict',
    (ref: string, why: string) => `Secret '${ref}' was not changed: ${why}.`,
  ),
  secretVersionNotFound: defineError(
    'PGS_SECRET_VERSION_NOT_FOUND',
    422,
    'Unprocessable Content',
    (ref: string, which: string) => `Secret '${ref}' has no version ${which}.`,
  ),
  // Targets.
  targetNotFound: defineError('PGS_TARGET_NOT_FOUND', 404, 'Not Found', (id: string) => `Target '${id}' was not found.`),
  targetExists: defineError(
    'PGS_TARGET_EXISTS',
    409,
    'Conflict',
    (name: string) => `A target named '${name}' already exists.`,
  ),
  targetHasBackups: defineError(
    'PGS_TARGET_HAS_BACKUPS',
    409,
    'Conflict',
    (id: string, n: number) =>
      `Target '${id}' still has ${n} backup${n === 1 ? '' : 's'}; delete ${n === 1 ? 'it' : 'them'} first.`,
  ),
  targetHostRefused: defineError('PGS_TARGET_HOST_REFUSED', 422, 'Unprocessable Content', (why: string) => why),
  targetIncomplete: defineError('PGS_TARGET_INCOMPLETE', 422, 'Unprocessable Content', (why: string) => why),
  secretAddressMismatch: defineError('PGS_SECRET_ADDRESS_MISMATCH', 422, 'Unprocessable Content', (why: string) => why),
  targetConnectionFailed: defineError('PGS_CONNECTION_FAILED', 502, 'Bad Gateway', (why: string) => why),
  targetAuthFailed: defineError('PGS_AUTH_FAILED', 502, 'Bad Gateway', (why: string) => why),
  // Jobs.
  jobNotFound: defineError('PGS_JOB_NOT_FOUND', 404, 'Not Found', (id: string) => `Job '${id}' was not found.`),
  jobNotCancellable: defineError(
    'PGS_JOB_NOT_CANCELLABLE',
    409,
    'Conflict',
    (id: string, status: string) => `Job '${id}' is ${status} and can no longer be cancelled.`,
  ),
  // Backups.
  backupNotFound: defineError('PGS_BACKUP_NOT_FOUND', 404, 'Not Found', (id: string) => `Backup '${id}' was not found.`),
  backupNotDeletable: defineError(
    'PGS_BACKUP_NOT_DELETABLE',
    409,
    'Conflict',
    (id: string, status: string) => `Backup '${id}' is ${status}; it cannot be deleted now.`,
  ),
  unknownRelations: defineError(
    'PGS_UNKNOWN_RELATION',
    422,
    'Unprocessable Content',
    (kind: 'table' | 'schema', names: string[]) =>
      `Unknown ${kind}${names.length > 1 ? 's' : ''}: ${names.join(', ')}.`,
    (kind: 'table' | 'schema', names: string[]) => ({ unknown: names, kind }),
  ),
  compressionUnsupported: defineError(
    'PGS_COMPRESSION_UNSUPPORTED',
    422,
    'Unprocessable Content',
    (method: string, toolMajor: number) =>
      `pg_dump ${toolMajor} cannot compress with ${method}; it needs pg_dump 16 or newer.`,
  ),
  artifactIncomplete: defineError(
    'PGS_VERIFY_FAILED',
    502,
    'Bad Gateway',
    (why: string) => `The backup failed its read check: ${why}.`,
  ),
  // Artifact storage. A key is built by our own code, so an invalid one is a bug that the message names.
  artifactKeyInvalid: defineError(
    'PGS_ARTIFACT_KEY_INVALID',
    400,
    'Bad Request',
    (why: string) => `Invalid artifact key: ${why}.`,
  ),
  artifactNotFound: defineError(
    'PGS_ARTIFACT_NOT_FOUND',
    404,
    'Not Found',
    (key: string) => `Artifact '${key}' does not exist in storage.`,
  ),
  /** The storage holds different bytes than were streamed to it: the artifact must not be used. */
  artifactIntegrity: defineError(
    'PGS_ARTIFACT_INTEGRITY',
    502,
    'Bad Gateway',
    (key: string, why: string) => `Artifact '${key}' failed verification after upload: ${why}.`,
  ),
  toolVersion: defineError(
    'PGS_TOOL_VERSION',
    422,
    'Unprocessable Content',
    (tool: string, toolMajor: number | null, serverMajor: number) =>
      toolMajor === null
        ? `No ${tool} for PostgreSQL ${serverMajor} or newer is installed.`
        : `The newest installed ${tool} is ${toolMajor}; PostgreSQL ${serverMajor} needs ${tool} ${serverMajor} or newer.`,
  ),
  psqlUnsafe: defineError(
    'PGS_PSQL_UNSAFE',
    422,
    'Unprocessable Content',
    (version: string) =>
      `psql ${version} cannot be put into \\restrict mode (13.22, 14.19, 15.14, 16.10, 17.6, 18.0 or newer can); plain dumps are not restored with it.`,
  ),
  drillServerSuperuser: defineError(
    'PGS_DRILL_SERVER_SUPERUSER',
    422,
    'Unprocessable Content',
    (role: string) =>
      `The drill server's role '${role}' is a superuser; drills restore tenants' SQL, so it must not be (CREATEDB and CREATEROLE are enough).`,
  ),
  drillServerRole: defineError(
    'PGS_DRILL_SERVER_ROLE',
    422,
    'Unprocessable Content',
    (why: string) => `The drill server's role cannot set up a drill: ${why}; it needs CREATEDB and CREATEROLE.`,
  ),
  // Restores and drills. These answer the request itself; what fails inside a running job is a
  // TaskFailures entry (below).
  restoreNotFound: defineError('PGS_RESTORE_NOT_FOUND', 404, 'Not Found', (id: string) => `Restore '${id}' was not found.`),
  backupNotRestorable: defineError(
    'PGS_BACKUP_NOT_AVAILABLE',
    409,
    'Conflict',
    (id: string, status: string) =>
      `Backup '${id}' is ${status}; only an available backup can be restored or verified.`,
  ),
  confirmRequired: defineError(
    'PGS_CONFIRM_REQUIRED',
    409,
    'Conflict',
    (database: string) => `Replacing database '${database}' needs "confirm": "${database}" in the request.`,
  ),
  databaseExists: defineError(
    'PGS_DATABASE_EXISTS',
    409,
    'Conflict',
    (database: string) => `Database '${database}' already exists; use mode "replace" to overwrite it.`,
  ),
  noKeptDatabase: defineError(
    'PGS_NO_KEPT_DATABASE',
    409,
    'Conflict',
    (id: string) => `Restore '${id}' is not a succeeded replace whose old database is still kept.`,
  ),
  databaseInUse: defineError(
    'PGS_DATABASE_IN_USE',
    409,
    'Conflict',
    (database: string, connections: number) =>
      `Database '${database}' has ${connections} open connection${connections === 1 ? '' : 's'}; it is not dropped while in use.`,
  ),
  drillPolicyNotFound: defineError(
    'PGS_DRILL_POLICY_NOT_FOUND',
    404,
    'Not Found',
    (targetId: string) => `Target '${targetId}' has no drill policy.`,
  ),
  invalidSchedule: defineError(
    'PGS_INVALID_SCHEDULE',
    400,
    'Bad Request',
    (schedule: string, why: string) => `schedule '${schedule}' is not a usable cron expression: ${why}.`,
  ),
  invalidTimezone: defineError(
    'PGS_INVALID_TIMEZONE',
    400,
    'Bad Request',
    (timezone: string) => `timezone '${timezone}' is not an IANA time zone name (e.g. UTC, Europe/Berlin).`,
  ),
  unavailable: defineError('PGS_UNAVAILABLE', 503, 'Service Unavailable', (detail: string) => detail),
  retryable: defineError(
    'PGS_RETRY',
    503,
    'Service Unavailable',
    () => 'A concurrent change got in the way; retry the request.',
  ),
  internal: defineError(
    'PGS_INTERNAL',
    500,
    'Internal Server Error',
    () => 'An internal error occurred; the log has details.',
  ),
} as const;

/**
 * A failure inside a running job (a backup, a restore, a drill). It never answers a request: the task
 * hands it to the job engine as a JobFailure (domain/job-failures.ts), whose code and message are stored
 * on the job and on its backup or restore and shown as they are, so they must hold nothing secret.
 */
export class TaskFailure extends Error {
  readonly code: string;
  /** Whether the engine may try the job again (with backoff, while attempts remain). */
  readonly retryable: boolean;

  constructor(code: string, message: string, retryable: boolean) {
    super(message);
    this.name = 'TaskFailure';
    this.code = code;
    this.retryable = retryable;
  }
}

/** Declares one task failure; a capability's own live in `src/domain/<capability>/errors.ts`. */
export const defineTaskFailure =
  <A extends unknown[]>(code: string, message: (...args: A) => string, opts: { retryable: boolean }) =>
  (...args: A) =>
    new TaskFailure(code, message(...args), opts.retryable);

// None is retried: each says something a second attempt would find again, or needs a person (a crashed
// worker's job is retried by the engine without any of these).
const final = { retryable: false };

/** Every code a task records on a failed job. Some share a code with an Errors entry and mean the same. */
export const TaskFailures = {
  cancelled: defineTaskFailure(
    'PGS_CANCELLED',
    (work: 'backup' | 'restore' | 'drill') => `The ${work} was stopped before it finished.`,
    final,
  ),
  // What the job was queued for is gone or has changed.
  backupNotPending: defineTaskFailure('PGS_BACKUP_NOT_FOUND', (id: string) => `Backup '${id}' is no longer pending.`, final),
  backupGone: defineTaskFailure('PGS_BACKUP_NOT_FOUND', (id: string) => `Backup '${id}' was not found.`, final),
  backupNoLongerAvailable: defineTaskFailure(
    'PGS_BACKUP_NOT_AVAILABLE',
    (id: string) => `Backup '${id}' is no longer available.`,
    final,
  ),
  backupNotVerifiable: defineTaskFailure(
    'PGS_BACKUP_NOT_AVAILABLE',
    (id: string, status: string) => `Backup '${id}' is ${status}; it cannot be verified.`,
    final,
  ),
  restoreNotPending: defineTaskFailure('PGS_RESTORE_NOT_FOUND', (id: string) => `Restore '${id}' is no longer pending.`, final),
  restoreTargetGone: defineTaskFailure('PGS_TARGET_NOT_FOUND', () => 'The target to restore onto was deleted.', final),
  backupTargetGone: defineTaskFailure(
    'PGS_TARGET_NOT_FOUND',
    (backupId: string) => `The target of backup '${backupId}' no longer exists.`,
    final,
  ),
  // Backups.
  dumpFailed: defineTaskFailure('PGS_DUMP_FAILED', (detail: string) => detail, final),
  dumpSessionEnded: defineTaskFailure(
    'PGS_DUMP_FAILED',
    (sqlState: string) => `The database ended the backup session (SQLSTATE ${sqlState}).`,
    final,
  ),
  storageFailed: defineTaskFailure(
    'PGS_STORAGE_FAILED',
    (what: string) => `Writing the backup to storage failed (${what}).`,
    final,
  ),
  // Restores, and the restore inside a drill.
  artifactMissing: defineTaskFailure('PGS_ARTIFACT_MISSING', () => "The backup's artifact is missing from storage.", final),
  artifactNotRecorded: defineTaskFailure('PGS_ARTIFACT_MISSING', () => 'The backup records no artifact.', final),
  artifactCorrupt: defineTaskFailure(
    'PGS_ARTIFACT_CORRUPT',
    (what: string) => `The backup's artifact does not match its record (${what}); nothing was restored.`,
    final,
  ),
  dumpRefused: defineTaskFailure(
    'PGS_DUMP_REFUSED',
    (line: number, kind: string) => `The plain dump was refused at line ${line}: ${kind}. Nothing was run.`,
    final,
  ),
  foreignUnrestrict: defineTaskFailure(
    'PGS_DUMP_REFUSED',
    () => "The plain dump was refused: it carries a \\unrestrict that is not pg_dump's own. Nothing more was run.",
    final,
  ),
  databaseNameInvalid: defineTaskFailure('PGS_VALIDATION', (problem: string) => problem, final),
  noGlobals: defineTaskFailure('PGS_NO_GLOBALS', () => 'The backup was taken without its globals file.', final),
  rolesMissing: defineTaskFailure(
    'PGS_ROLES_MISSING',
    (missing: string[]) =>
      `The dump refers to roles the target lacks: ${missing.join(', ')}. Restore with includeGlobals, or with noOwner and noPrivileges.`,
    final,
  ),
  databaseExists: defineTaskFailure(
    'PGS_DATABASE_EXISTS',
    (database: string) => `Database '${database}' already exists on the target.`,
    final,
  ),
  databaseAppeared: defineTaskFailure(
    'PGS_DATABASE_EXISTS',
    (database: string) => `Database '${database}' appeared meanwhile.`,
    final,
  ),
  databaseInUse: defineTaskFailure(
    'PGS_DATABASE_IN_USE',
    (database: string, connections: number) =>
      `Database '${database}' has ${connections} open connection${connections === 1 ? '' : 's'}; close them or restore with terminateConnections.`,
    final,
  ),
  databaseGainedConnections: defineTaskFailure(
    'PGS_DATABASE_IN_USE',
    (database: string) => `Database '${database}' gained connections during the swap.`,
    final,
  ),
  restoreFailed: defineTaskFailure('PGS_RESTORE_FAILED', (detail: string) => detail, final),
  restoreRefused: defineTaskFailure(
    'PGS_RESTORE_FAILED',
    (sqlState: string) => `The target refused the restore (SQLSTATE ${sqlState}).`,
    final,
  ),
  restoreInterrupted: defineTaskFailure(
    'PGS_RESTORE_INTERRUPTED',
    (database: string, aside: string) =>
      `An earlier attempt swapped the restored database into '${database}' before it was interrupted; ` +
      `the original is kept as '${aside}'. Check the data, then drop '${aside}' or rename it back.`,
    final,
  ),
  // Drills.
  drillFailed: defineTaskFailure(
    'PGS_DRILL_FAILED',
    (sqlState: string) => `The drill's session ended with SQLSTATE ${sqlState}.`,
    final,
  ),
} as const;
