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

const define =
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
  unauthorized: define('PGS_UNAUTHORIZED', 401, 'Unauthorized', (why: string) => why),
  missingScope: define(
    'PGS_MISSING_SCOPE',
    403,
    'Forbidden',
    (scopes: string[]) => `This token lacks the scope ${scopes.join(' and ')}.`,
    (scopes: string[]) => ({ missingScopes: scopes }),
  ),
  unknownTenant: define(
    'PGS_UNKNOWN_TENANT',
    403,
    'Forbidden',
    (tenant: string) => `The token's tenant '${tenant}' does not exist.`,
  ),
  tenantRequired: define('PGS_TENANT_REQUIRED', 403, 'Forbidden', () => 'This token carries no tenant claim.'),
  validation: define('PGS_VALIDATION', 400, 'Bad Request', (detail: string) => detail),
  routeNotFound: define(
    'PGS_ROUTE_NOT_FOUND',
    404,
    'Not Found',
    (method: string, url: string) => `No route ${method} ${url}.`,
  ),
  tenantNotFound: define('PGS_TENANT_NOT_FOUND', 404, 'Not Found', (id: string) => `Tenant '${id}' was not found.`),
  tenantExists: define('PGS_TENANT_EXISTS', 409, 'Conflict', (id: string) => `Tenant '${id}' already exists.`),
  conflict: define('PGS_CONFLICT', 409, 'Conflict', (detail: string) => detail),
  invalidCursor: define('PGS_INVALID_CURSOR', 400, 'Bad Request', () => 'The cursor is not one this API issued.'),
  payloadTooLarge: define('PGS_PAYLOAD_TOO_LARGE', 413, 'Payload Too Large', (detail: string) => detail),
  unsupportedMediaType: define('PGS_UNSUPPORTED_MEDIA_TYPE', 415, 'Unsupported Media Type', (detail: string) => detail),
  graphqlBatchTooLarge: define(
    'PGS_GRAPHQL_BATCH_TOO_LARGE',
    400,
    'Bad Request',
    (max: number) => `A batch may hold at most ${max} queries.`,
  ),
  idempotencyMismatch: define(
    'PGS_IDEMPOTENCY_MISMATCH',
    422,
    'Unprocessable Content',
    () => 'This Idempotency-Key was already used with a different request body.',
  ),
  // Secrets: the message names the reference, never the contents.
  secretRefInvalid: define(
    'PGS_SECRET_REF_INVALID',
    400,
    'Bad Request',
    (ref: string) => `secretRef '${ref}' must be aws-sm:<secret id or ARN> or file:<key>.`,
  ),
  secretNotFound: define(
    'PGS_SECRET_NOT_FOUND',
    422,
    'Unprocessable Content',
    (ref: string) => `Secret '${ref}' does not exist.`,
  ),
  secretMalformed: define(
    'PGS_SECRET_MALFORMED',
    422,
    'Unprocessable Content',
    (ref: string, why: string) => `Secret '${ref}' is not a usable database secret: ${why}.`,
  ),
  secretUnavailable: define(
    'PGS_SECRET_UNAVAILABLE',
    503,
    'Service Unavailable',
    (ref: string, why: string) => `Secret '${ref}' could not be read: ${why}.`,
  ),
  // The write side (role provisioning, rotation): a retry with another value, or labels that moved meanwhile.
  secretWriteUnavailable: define(
    'PGS_SECRET_UNAVAILABLE',
    503,
    'Service Unavailable',
    (ref: string, why: string) => `Secret '${ref}' could not be written: ${why}.`,
  ),
  secretExists: define('PGS_SECRET_EXISTS', 409, 'Conflict', (ref: string) => `Secret '${ref}' already exists.`),
  secretConflict: define(
    'PGS_SECRET_CONFLICT',
    409,
    'Conflict',
    (ref: string, why: string) => `Secret '${ref}' was not changed: ${why}.`,
  ),
  secretVersionNotFound: define(
    'PGS_SECRET_VERSION_NOT_FOUND',
    422,
    'Unprocessable Content',
    (ref: string, which: string) => `Secret '${ref}' has no version ${which}.`,
  ),
  // Targets.
  targetNotFound: define('PGS_TARGET_NOT_FOUND', 404, 'Not Found', (id: string) => `Target '${id}' was not found.`),
  targetExists: define(
    'PGS_TARGET_EXISTS',
    409,
    'Conflict',
    (name: string) => `A target named '${name}' already exists.`,
  ),
  targetHasBackups: define(
    'PGS_TARGET_HAS_BACKUPS',
    409,
    'Conflict',
    (id: string, n: number) =>
      `Target '${id}' still has ${n} backup${n === 1 ? '' : 's'}; delete ${n === 1 ? 'it' : 'them'} first.`,
  ),
  targetHostRefused: define('PGS_TARGET_HOST_REFUSED', 422, 'Unprocessable Content', (why: string) => why),
  targetIncomplete: define('PGS_TARGET_INCOMPLETE', 422, 'Unprocessable Content', (why: string) => why),
  secretAddressMismatch: define('PGS_SECRET_ADDRESS_MISMATCH', 422, 'Unprocessable Content', (why: string) => why),
  targetConnectionFailed: define('PGS_CONNECTION_FAILED', 502, 'Bad Gateway', (why: string) => why),
  targetAuthFailed: define('PGS_AUTH_FAILED', 502, 'Bad Gateway', (why: string) => why),
  // Jobs.
  jobNotFound: define('PGS_JOB_NOT_FOUND', 404, 'Not Found', (id: string) => `Job '${id}' was not found.`),
  jobNotCancellable: define(
    'PGS_JOB_NOT_CANCELLABLE',
    409,
    'Conflict',
    (id: string, status: string) => `Job '${id}' is ${status} and can no longer be cancelled.`,
  ),
  // Backups.
  backupNotFound: define('PGS_BACKUP_NOT_FOUND', 404, 'Not Found', (id: string) => `Backup '${id}' was not found.`),
  backupNotDeletable: define(
    'PGS_BACKUP_NOT_DELETABLE',
    409,
    'Conflict',
    (id: string, status: string) => `Backup '${id}' is ${status}; it cannot be deleted now.`,
  ),
  unknownRelations: define(
    'PGS_UNKNOWN_RELATION',
    422,
    'Unprocessable Content',
    (kind: 'table' | 'schema', names: string[]) =>
      `Unknown ${kind}${names.length > 1 ? 's' : ''}: ${names.join(', ')}.`,
    (kind: 'table' | 'schema', names: string[]) => ({ unknown: names, kind }),
  ),
  compressionUnsupported: define(
    'PGS_COMPRESSION_UNSUPPORTED',
    422,
    'Unprocessable Content',
    (method: string, toolMajor: number) =>
      `pg_dump ${toolMajor} cannot compress with ${method}; it needs pg_dump 16 or newer.`,
  ),
  artifactIncomplete: define(
    'PGS_VERIFY_FAILED',
    502,
    'Bad Gateway',
    (why: string) => `The backup failed its read check: ${why}.`,
  ),
  // Artifact storage. A key is built by our own code, so an invalid one is a bug that the message names.
  artifactKeyInvalid: define(
    'PGS_ARTIFACT_KEY_INVALID',
    400,
    'Bad Request',
    (why: string) => `Invalid artifact key: ${why}.`,
  ),
  artifactNotFound: define(
    'PGS_ARTIFACT_NOT_FOUND',
    404,
    'Not Found',
    (key: string) => `Artifact '${key}' does not exist in storage.`,
  ),
  /** The storage holds different bytes than were streamed to it: the artifact must not be used. */
  artifactIntegrity: define(
    'PGS_ARTIFACT_INTEGRITY',
    502,
    'Bad Gateway',
    (key: string, why: string) => `Artifact '${key}' failed verification after upload: ${why}.`,
  ),
  toolVersion: define(
    'PGS_TOOL_VERSION',
    422,
    'Unprocessable Content',
    (tool: string, toolMajor: number | null, serverMajor: number) =>
      toolMajor === null
        ? `No ${tool} for PostgreSQL ${serverMajor} or newer is installed.`
        : `The newest installed ${tool} is ${toolMajor}; PostgreSQL ${serverMajor} needs ${tool} ${serverMajor} or newer.`,
  ),
  psqlUnsafe: define(
    'PGS_PSQL_UNSAFE',
    422,
    'Unprocessable Content',
    (version: string) =>
      `psql ${version} cannot be put into \\restrict mode (13.22, 14.19, 15.14, 16.10, 17.6, 18.0 or newer can); plain dumps are not restored with it.`,
  ),
  drillServerSuperuser: define(
    'PGS_DRILL_SERVER_SUPERUSER',
    422,
    'Unprocessable Content',
    (role: string) =>
      `The drill server's role '${role}' is a superuser; drills restore tenants' SQL, so it must not be (CREATEDB and CREATEROLE are enough).`,
  ),
  drillServerRole: define(
    'PGS_DRILL_SERVER_ROLE',
    422,
    'Unprocessable Content',
    (why: string) => `The drill server's role cannot set up a drill: ${why}; it needs CREATEDB and CREATEROLE.`,
  ),
  // Restores and drills. These answer the request itself; what fails inside a running job is a
  // TaskFailures entry (below).
  restoreNotFound: define('PGS_RESTORE_NOT_FOUND', 404, 'Not Found', (id: string) => `Restore '${id}' was not found.`),
  backupNotRestorable: define(
    'PGS_BACKUP_NOT_AVAILABLE',
    409,
    'Conflict',
    (id: string, status: string) =>
      `Backup '${id}' is ${status}; only an available backup can be restored or verified.`,
  ),
  confirmRequired: define(
    'PGS_CONFIRM_REQUIRED',
    409,
    'Conflict',
    (database: string) => `Replacing database '${database}' needs "confirm": "${database}" in the request.`,
  ),
  databaseExists: define(
    'PGS_DATABASE_EXISTS',
    409,
    'Conflict',
    (database: string) => `Database '${database}' already exists; use mode "replace" to overwrite it.`,
  ),
  noKeptDatabase: define(
    'PGS_NO_KEPT_DATABASE',
    409,
    'Conflict',
    (id: string) => `Restore '${id}' is not a succeeded replace whose old database is still kept.`,
  ),
  databaseInUse: define(
    'PGS_DATABASE_IN_USE',
    409,
    'Conflict',
    (database: string, connections: number) =>
      `Database '${database}' has ${connections} open connection${connections === 1 ? '' : 's'}; it is not dropped while in use.`,
  ),
  drillPolicyNotFound: define(
    'PGS_DRILL_POLICY_NOT_FOUND',
    404,
    'Not Found',
    (targetId: string) => `Target '${targetId}' has no drill policy.`,
  ),
  invalidSchedule: define(
    'PGS_INVALID_SCHEDULE',
    400,
    'Bad Request',
    (schedule: string, why: string) => `schedule '${schedule}' is not a usable cron expression: ${why}.`,
  ),
  invalidTimezone: define(
    'PGS_INVALID_TIMEZONE',
    400,
    'Bad Request',
    (timezone: string) => `timezone '${timezone}' is not an IANA time zone name (e.g. UTC, Europe/Berlin).`,
  ),
  unavailable: define('PGS_UNAVAILABLE', 503, 'Service Unavailable', (detail: string) => detail),
  retryable: define(
    'PGS_RETRY',
    503,
    'Service Unavailable',
    () => 'A concurrent change got in the way; retry the request.',
  ),
  internal: define(
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

const failure =
  <A extends unknown[]>(code: string, message: (...args: A) => string, opts: { retryable: boolean }) =>
  (...args: A) =>
    new TaskFailure(code, message(...args), opts.retryable);

// None is retried: each says something a second attempt would find again, or needs a person (a crashed
// worker's job is retried by the engine without any of these).
const final = { retryable: false };

/** Every code a task records on a failed job. Some share a code with an Errors entry and mean the same. */
export const TaskFailures = {
  cancelled: failure(
    'PGS_CANCELLED',
    (work: 'backup' | 'restore' | 'drill') => `The ${work} was stopped before it finished.`,
    final,
  ),
  // What the job was queued for is gone or has changed.
  backupNotPending: failure('PGS_BACKUP_NOT_FOUND', (id: string) => `Backup '${id}' is no longer pending.`, final),
  backupGone: failure('PGS_BACKUP_NOT_FOUND', (id: string) => `Backup '${id}' was not found.`, final),
  backupNoLongerAvailable: failure(
    'PGS_BACKUP_NOT_AVAILABLE',
    (id: string) => `Backup '${id}' is no longer available.`,
    final,
  ),
  backupNotVerifiable: failure(
    'PGS_BACKUP_NOT_AVAILABLE',
    (id: string, status: string) => `Backup '${id}' is ${status}; it cannot be verified.`,
    final,
  ),
  restoreNotPending: failure('PGS_RESTORE_NOT_FOUND', (id: string) => `Restore '${id}' is no longer pending.`, final),
  restoreTargetGone: failure('PGS_TARGET_NOT_FOUND', () => 'The target to restore onto was deleted.', final),
  backupTargetGone: failure(
    'PGS_TARGET_NOT_FOUND',
    (backupId: string) => `The target of backup '${backupId}' no longer exists.`,
    final,
  ),
  // Backups.
  dumpFailed: failure('PGS_DUMP_FAILED', (detail: string) => detail, final),
  dumpSessionEnded: failure(
    'PGS_DUMP_FAILED',
    (sqlState: string) => `The database ended the backup session (SQLSTATE ${sqlState}).`,
    final,
  ),
  storageFailed: failure(
    'PGS_STORAGE_FAILED',
    (what: string) => `Writing the backup to storage failed (${what}).`,
    final,
  ),
  // Restores, and the restore inside a drill.
  artifactMissing: failure('PGS_ARTIFACT_MISSING', () => "The backup's artifact is missing from storage.", final),
  artifactNotRecorded: failure('PGS_ARTIFACT_MISSING', () => 'The backup records no artifact.', final),
  artifactCorrupt: failure(
    'PGS_ARTIFACT_CORRUPT',
    (what: string) => `The backup's artifact does not match its record (${what}); nothing was restored.`,
    final,
  ),
  dumpRefused: failure(
    'PGS_DUMP_REFUSED',
    (line: number, kind: string) => `The plain dump was refused at line ${line}: ${kind}. Nothing was run.`,
    final,
  ),
  foreignUnrestrict: failure(
    'PGS_DUMP_REFUSED',
    () => "The plain dump was refused: it carries a \\unrestrict that is not pg_dump's own. Nothing more was run.",
    final,
  ),
  databaseNameInvalid: failure('PGS_VALIDATION', (problem: string) => problem, final),
  noGlobals: failure('PGS_NO_GLOBALS', () => 'The backup was taken without its globals file.', final),
  rolesMissing: failure(
    'PGS_ROLES_MISSING',
    (missing: string[]) =>
      `The dump refers to roles the target lacks: ${missing.join(', ')}. Restore with includeGlobals, or with noOwner and noPrivileges.`,
    final,
  ),
  databaseExists: failure(
    'PGS_DATABASE_EXISTS',
    (database: string) => `Database '${database}' already exists on the target.`,
    final,
  ),
  databaseAppeared: failure(
    'PGS_DATABASE_EXISTS',
    (database: string) => `Database '${database}' appeared meanwhile.`,
    final,
  ),
  databaseInUse: failure(
    'PGS_DATABASE_IN_USE',
    (database: string, connections: number) =>
      `Database '${database}' has ${connections} open connection${connections === 1 ? '' : 's'}; close them or restore with terminateConnections.`,
    final,
  ),
  databaseGainedConnections: failure(
    'PGS_DATABASE_IN_USE',
    (database: string) => `Database '${database}' gained connections during the swap.`,
    final,
  ),
  restoreFailed: failure('PGS_RESTORE_FAILED', (detail: string) => detail, final),
  restoreRefused: failure(
    'PGS_RESTORE_FAILED',
    (sqlState: string) => `The target refused the restore (SQLSTATE ${sqlState}).`,
    final,
  ),
  restoreInterrupted: failure(
    'PGS_RESTORE_INTERRUPTED',
    (database: string, aside: string) =>
      `An earlier attempt swapped the restored database into '${database}' before it was interrupted; ` +
      `the original is kept as '${aside}'. Check the data, then drop '${aside}' or rename it back.`,
    final,
  ),
  // Drills.
  drillFailed: failure(
    'PGS_DRILL_FAILED',
    (sqlState: string) => `The drill's session ended with SQLSTATE ${sqlState}.`,
    final,
  ),
} as const;
