import type pg from 'pg';
import { withPrivateToolDir } from '../../pgtools/passfile.js';
import { selectClientTool } from '../../pgtools/select-tool.js';
import { TaskFailures } from '../../task-failures.js';
import { parseQualifiedName } from '../backups/options.js';
import type { BackupRow } from '../backups/service.js';
import { asTaskFailure } from '../job-failures.js';
import type { Services } from '../services.js';
import { onDatabase, type TargetAccess, withTargetClient, withTargetToolsFor } from '../targets/session.js';
import { countRows, databaseExists, dropOwnDatabase, listUserTables, serverVersion } from '../targets/tenant-server.js';
import { fetchVerifiedArtifact, fetchVerifiedGlobals } from './artifact-fetch.js';
import { type RestoreOptions, restoreDatabaseNameProblem } from './options.js';
import { PlainDumpGuard } from './plain-guard.js';
import { listArchive, listWriter, runPgRestore, runPsql, selectRestrictingPsql } from './restore-tools.js';
import { createMissingRoles, dropCreatedRoles, missingRoles, parseGlobalRoles, rolesInArchive } from './roles.js';
import { createDatabase, revokeDatabaseFromPublic } from './server-queries.js';
import { parseToc, selectEntries } from './toc.js';

/** What to restore and how: a restore's options less terminateConnections, which only the swap uses. */
export type RestoreSelection = Omit<RestoreOptions, 'terminateConnections'>;

export interface RestoreProgress {
  phase: 'verify' | 'create' | 'pre-data' | 'data' | 'post-data';
  itemsDone: number;
  itemsTotal: number | null;
  currentItem: string | null;
}

export interface RestoreIntoRequest {
  services: Services;
  /** The target to restore onto. */
  access: TargetAccess;
  /** An 'available' backup. */
  backup: BackupRow;
  /** Created by restoreInto; it must not exist yet. */
  database: string;
  selection: RestoreSelection;
  /** The job's signal: aborting stops the tools promptly, and the database is dropped. */
  signal: AbortSignal;
  /**
   * Drills on a drill server: the database is created owned by `role` and closed to PUBLIC, and the
   * restore and the row counts run as `role` through `access` (its credentials on the same server).
   */
  runAs?: { role: string; access: TargetAccess };
  onProgress(p: RestoreProgress): void;
}

export interface RestoreIntoResult {
  tables: { schema: string; name: string; rows: number }[];
  /** missing: roles the dump refers to that the target lacks; created: made from the globals file;
   *  skipped: what was deliberately not carried over (passwords, SUPERUSER, ...). */
  roles: { missing: string[]; created: string[]; skipped: string[] };
  durationMs: number;
}

/** "15.18 (Debian 15.18-0+deb12u1)" -> 15; "9.6.24" -> 9. */
export function majorOf(version: string | null): number {
  const m = /^(\d+)(?:\.(\d+))?/.exec(version ?? '');
  if (!m) return 0;
  return Number(m[1]);
}

/** Exact row counts of every user table in the restored database. */
const countTables = async (client: pg.ClientBase) => countRows(client, await listUserTables(client));

/**
 * Restore a backup into a new database on a target, and prove what arrived:
 * 1. verify: fetch the artifact into a private directory, checking sha256 and size against the record
 *    (PGS_ARTIFACT_CORRUPT) and, for a plain dump, refusing hostile input (PGS_DUMP_REFUSED);
 * 2. create the database (owned by the secret's user);
 * 3. restore with pg_restore --exit-on-error or psql ON_ERROR_STOP --single-transaction, using a tool
 *    whose major is at least both the server's and the dump's;
 * 4. count the rows of every restored table.
 * On any failure or cancel, the database (and any role it created) is dropped again and the error is a
 * TaskFailures entry (or an Errors one, e.g. from the connection): PGS_ARTIFACT_CORRUPT, PGS_DUMP_REFUSED, PGS_DATABASE_EXISTS, PGS_ROLES_MISSING,
 * PGS_RESTORE_FAILED (the tool's first error line) or PGS_CANCELLED.
 */
export async function restoreInto(req: RestoreIntoRequest): Promise<RestoreIntoResult> {
  const started = Date.now();
  const { services, access, backup, database, selection, signal } = req;
  let progress: RestoreProgress = { phase: 'verify', itemsDone: 0, itemsTotal: null, currentItem: null };
  const report = (p: Partial<RestoreProgress>) => {
    progress = { ...progress, ...p };
    req.onProgress(progress);
  };
  try {
    const problem = restoreDatabaseNameProblem(database);
    if (problem) throw TaskFailures.databaseNameInvalid(problem);
    report({});
    return await withPrivateToolDir((work) =>
      // Manage databases from a session on the target's own database, or on `postgres` if that is the one.
      withTargetClient(
        access.endpoint.database === database ? onDatabase(access, 'postgres') : access,
        async (control) => {
          const plain = backup.format === 'plain';
          const needed = Math.max((await serverVersion(control)).major, majorOf(backup.tool_version));
          const installations = await services.installations();
          const tool = plain
            ? await selectRestrictingPsql(needed, installations)
            : await selectClientTool('pg_restore', needed, installations);
          const guard = plain ? new PlainDumpGuard({ trackBeginBlocks: tool.major >= 14 }) : null;
          const artifact = await fetchVerifiedArtifact({
            storage: services.storage,
            keys: services.keys,
            backup,
            dir: work,
            signal,
            guard,
          });
          let globals: ReturnType<typeof parseGlobalRoles> = [];
          if (selection.includeGlobals) {
            const text = await fetchVerifiedGlobals(services.storage, backup, services.keys);
            if (text === null) throw TaskFailures.noGlobals();
            globals = parseGlobalRoles(text);
          }
          let referenced: Set<string>;
          let listPath: string | null = null;
          let itemsTotal = 0;
          if (artifact.plain) {
            referenced = artifact.plain.roles;
          } else {
            const entries = parseToc(await listArchive(tool, artifact.path, signal));
            const chosen = selectEntries(entries, {
              tables: selection.tables.map((t) => parseQualifiedName(t)),
              schemas: selection.schemas,
            });
            const writeList = listWriter(work);
            if (chosen !== null) listPath = await writeList(chosen);
            itemsTotal = (chosen ?? entries).length;
            referenced = await rolesInArchive({
              pgRestore: tool,
              path: artifact.path,
              entries: chosen ?? entries,
              listFile: writeList,
              signal,
            });
          }
          if (await databaseExists(control, database)) {
            throw TaskFailures.databaseExists(database);
          }
          report({ phase: 'create' });
          await control.query(createDatabase(database, req.runAs?.role));
          const restorer = req.runAs?.access ?? access;
          const created: string[] = [];
          try {
            if (req.runAs) await control.query(revokeDatabaseFromPublic(database));
            const made = await createMissingRoles(control, globals, created);
            const missing = await missingRoles(control, referenced);
            // Owners and grantees must exist unless the restore leaves them out (plain dumps cannot).
            if (missing.length > 0 && (plain || !selection.noOwner || !selection.noPrivileges)) {
              throw TaskFailures.rolesMissing(missing);
            }
            await withTargetToolsFor(onDatabase(restorer, database), tool.major, (credentials) =>
              artifact.plain
                ? runPsql({
                    psql: tool,
                    tool: credentials,
                    path: artifact.path,
                    outline: artifact.plain,
                    signal,
                    onProgress: report,
                  })
                : runPgRestore({
                    pgRestore: tool,
                    tool: credentials,
                    path: artifact.path,
                    format: backup.format as 'custom' | 'directory' | 'tar',
                    parallel: selection.parallel,
                    noOwner: selection.noOwner,
                    noPrivileges: selection.noPrivileges,
                    listPath,
                    itemsTotal,
                    signal,
                    onProgress: report,
                  }),
            );
            const tables = await withTargetClient(onDatabase(restorer, database), countTables);
            return {
              tables,
              roles: { missing, created, skipped: made.skipped },
              durationMs: Date.now() - started,
            };
          } catch (err) {
            await dropOwnDatabase(control, database).catch(() => {});
            await dropCreatedRoles(control, created);
            throw err;
          }
        },
      ),
    );
  } catch (err) {
    throw asTaskFailure(err, 'restore', signal);
  }
}
