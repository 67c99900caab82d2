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
    (work: 'backup' | 'restore' | 'drill' | 'health report') => `The ${work} was stopped before it finished.`,
    final,
  ),
  // What the job was queued for is gone or has changed.
  backupNotPending: defineTaskFailure(
    'PGS_BACKUP_NOT_FOUND',
    (id: string) => `Backup '${id}' is no longer pending.`,
    final,
  ),
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
  restoreNotPending: defineTaskFailure(
    'PGS_RESTORE_NOT_FOUND',
    (id: string) => `Restore '${id}' is no longer pending.`,
    final,
  ),
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
  artifactMissing: defineTaskFailure(
    'PGS_ARTIFACT_MISSING',
    () => "The backup's artifact is missing from storage.",
    final,
  ),
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
