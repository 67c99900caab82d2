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
  tenantNotFound: defineError(
    'PGS_TENANT_NOT_FOUND',
    404,
    'Not Found',
    (id: string) => `Tenant '${id}' was not found.`,
  ),
  tenantExists: defineError('PGS_TENANT_EXISTS', 409, 'Conflict', (id: string) => `Tenant '${id}' already exists.`),
  conflict: defineError('PGS_CONFLICT', 409, 'Conflict', (detail: string) => detail),
  invalidCursor: defineError('PGS_INVALID_CURSOR', 400, 'Bad Request', () => 'The cursor is not one this API issued.'),
  payloadTooLarge: defineError('PGS_PAYLOAD_TOO_LARGE', 413, 'Payload Too Large', (detail: string) => detail),
  unsupportedMediaType: defineError(
    'PGS_UNSUPPORTED_MEDIA_TYPE',
    415,
    'Unsupported Media Type',
    (detail: string) => detail,
  ),
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
  targetNotFound: defineError(
    'PGS_TARGET_NOT_FOUND',
    404,
    'Not Found',
    (id: string) => `Target '${id}' was not found.`,
  ),
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
  backupNotFound: defineError(
    'PGS_BACKUP_NOT_FOUND',
    404,
    'Not Found',
    (id: string) => `Backup '${id}' was not found.`,
  ),
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
  // TaskFailures entry (task-failures.ts).
  restoreNotFound: defineError(
    'PGS_RESTORE_NOT_FOUND',
    404,
    'Not Found',
    (id: string) => `Restore '${id}' was not found.`,
  ),
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
