import type pg from 'pg';
import { withPrivateToolDir } from '../../pgtools/passfile.js';
import { type SelectedTool, selectClientTool } from '../../pgtools/select-tool.js';
import { TaskFailures } from '../../task-failures.js';
import { parseQualifiedName } from '../backups/options.js';
import type { BackupRow } from '../backups/service.js';
import { asTaskFailure } from '../job-failures.js';
import type { Services } from '../services.js';
import { onDatabase, type TargetAccess, withTargetClient, withTargetToolsFor } from '../targets/session.js';
import { countRows, databaseExists, dropOwnDatabase, listUserTables, serverVersion } from '../targets/tenant-server.js';
import { fetchVerifiedArtifact, fetchVerifiedGlobals } from './artifact-fetch.js';
import { type RestoreOptions, restoreDatabaseNameProblem } from './options.js';
import { PlainDumpGuard, type PlainDumpOutline } from './plain-guard.js';
import {
  type ArchiveRef,
  listArchive,
  listWriter,
  runPgRestore,
  runPsql,
  selectRestrictingPsql,
} from './restore-tools.js';
import { createMissingRoles, dropCreatedRoles, missingRoles, parseGlobalRoles, rolesInArchive } from './roles.js';
import { createDatabase, revokeDatabaseFromPublic } from './server-queries.js';
import { parseToc, selectEntries } from './toc.js';
import { DEFAULT_VERIFY_FIRST_BYTES, type InPlaceArtifact, openInPlace } from './verify-in-place.js';

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
  /**
   * A file-storage artifact up to this size is hashed before any tool reads it; a larger one while
   * pg_restore runs (PGSTEWARD_RESTORE_VERIFY_FIRST_MB; default DEFAULT_VERIFY_FIRST_BYTES).
   */
  verifyFirstBytes?: number;
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
 * 1. verify: check the artifact's sha256 and size against the record (PGS_ARTIFACT_CORRUPT) and, for a
 *    plain dump, refuse hostile input (PGS_DUMP_REFUSED). A file-storage custom or tar archive is read
 *    where it lies (openInPlace): hashed first up to verifyFirstBytes, above that while pg_restore runs,
 *    which hides the hash behind the restore (B3). Anything else is copied into a private directory
 *    while hashed, beside CREATE DATABASE;
 * 2. create the database (owned by the secret's user);
 * 3. restore with pg_restore --exit-on-error or psql ON_ERROR_STOP --single-transaction, using a tool
 *    whose major is at least both the server's and the dump's;
 * 4. count the rows of every restored table.
 * It returns only once the bytes are proven the recorded ones. On any failure or cancel, the database
 * (and any role it created) is dropped again and the error is a TaskFailures entry (or an Errors one,
 * e.g. from the connection): PGS_ARTIFACT_CORRUPT (first, whenever the hash disagrees, whatever else
 * failed), PGS_DUMP_REFUSED, PGS_DATABASE_EXISTS, PGS_ROLES_MISSING, PGS_RESTORE_FAILED (the tool's
 * first error line) or PGS_CANCELLED. The caller renames the database into place only after that.
 */
export async function restoreInto(req: RestoreIntoRequest): Promise<RestoreIntoResult> {
  const started = Date.now();
  const { services, access, backup, database, signal } = req;
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
          const inPlace = plain ? null : await openInPlace(services.storage, backup, signal);
          try {
            return await restoreVerified({ ...req, started, control, tool, work, inPlace, report });
          } catch (err) {
            // While unverified bytes were in use, a failure may be their doing: the verdict comes first.
            const verdict = await inPlace?.verified.then(
              () => undefined,
              (e: unknown) => e,
            );
            if (verdict !== undefined && !signal.aborted) throw verdict;
            throw err;
          } finally {
            await inPlace?.close();
          }
        },
      ),
    );
  } catch (err) {
    throw asTaskFailure(err, 'restore', signal);
  }
}

/**
 * The restore proper, once the tool is chosen. The artifact is either read in place (file storage:
 * `inPlace`, hashed while the tools read it unless small enough to hash first) or copied into `work`
 * while hashed (S3, encrypted, plain, directory), the copy overlapping CREATE DATABASE. Either way the
 * database is dropped again unless the bytes prove to be the recorded ones, and nothing is returned
 * before that is known.
 */
async function restoreVerified(
  o: RestoreIntoRequest & {
    started: number;
    control: pg.ClientBase;
    tool: SelectedTool;
    work: string;
    inPlace: InPlaceArtifact | null;
    report: (p: Partial<RestoreProgress>) => void;
  },
): Promise<RestoreIntoResult> {
  const { services, access, backup, database, selection, signal, control, tool, work, inPlace, report } = o;
  // A hash that disagrees stops the tools at once; the caller then reports PGS_ARTIFACT_CORRUPT.
  const corrupted = new AbortController();
  const toolSignal = AbortSignal.any([signal, corrupted.signal]);
  inPlace?.verified.catch(() => corrupted.abort());
  if (inPlace && inPlace.sizeBytes <= (o.verifyFirstBytes ?? DEFAULT_VERIFY_FIRST_BYTES)) await inPlace.verified;
  const guard = backup.format === 'plain' ? new PlainDumpGuard({ trackBeginBlocks: tool.major >= 14 }) : null;
  const stopFetch = new AbortController();
  const fetching: Promise<{ archive: ArchiveRef; plain: PlainDumpOutline | null }> = inPlace
    ? Promise.resolve({ archive: inPlace.archive, plain: null })
    : fetchVerifiedArtifact({
        storage: services.storage,
        keys: services.keys,
        backup,
        dir: work,
        signal: AbortSignal.any([signal, stopFetch.signal]),
        guard,
      }).then((a) => ({ archive: a.path, plain: a.plain }));
  fetching.catch(() => {}); // awaited after CREATE DATABASE, which it overlaps
  /** Whatever fails first: the copy stops, and its files are gone before `work` is removed. */
  const settleFetch = async () => {
    stopFetch.abort();
    await fetching.catch(() => {});
  };
  let globals: ReturnType<typeof parseGlobalRoles> = [];
  try {
    if (selection.includeGlobals) {
      const text = await fetchVerifiedGlobals(services.storage, backup, services.keys);
      if (text === null) throw TaskFailures.noGlobals();
      globals = parseGlobalRoles(text);
    }
    if (await databaseExists(control, database)) {
      throw TaskFailures.databaseExists(database);
    }
    await control.query(createDatabase(database, o.runAs?.role));
  } catch (err) {
    await settleFetch();
    throw err;
  }
  const restorer = o.runAs?.access ?? access;
  const created: string[] = [];
  try {
    if (o.runAs) await control.query(revokeDatabaseFromPublic(database));
    const artifact = await fetching;
    report({ phase: 'create' });
    let referenced: Set<string>;
    let listPath: string | null = null;
    let itemsTotal = 0;
    if (artifact.plain) {
      referenced = artifact.plain.roles;
    } else {
      const entries = parseToc(await listArchive(tool, artifact.archive, toolSignal));
      const chosen = selectEntries(entries, {
        tables: selection.tables.map((t) => parseQualifiedName(t)),
        schemas: selection.schemas,
      });
      const writeList = listWriter(work);
      if (chosen !== null) listPath = await writeList(chosen);
      itemsTotal = (chosen ?? entries).length;
      referenced = await rolesInArchive({
        pgRestore: tool,
        archive: artifact.archive,
        entries: chosen ?? entries,
        listFile: writeList,
        signal: toolSignal,
      });
    }
    const made = await createMissingRoles(control, globals, created);
    const missing = await missingRoles(control, referenced);
    // Owners and grantees must exist unless the restore leaves them out (plain dumps cannot).
    if (missing.length > 0 && (backup.format === 'plain' || !selection.noOwner || !selection.noPrivileges)) {
      throw TaskFailures.rolesMissing(missing);
    }
    await withTargetToolsFor(onDatabase(restorer, database), tool.major, (credentials) =>
      artifact.plain
        ? runPsql({
            psql: tool,
            tool: credentials,
            path: artifact.archive as string,
            outline: artifact.plain,
            signal,
            onProgress: report,
          })
        : runPgRestore({
            pgRestore: tool,
            tool: credentials,
            archive: artifact.archive,
            format: backup.format as 'custom' | 'directory' | 'tar',
            parallel: selection.parallel,
            noOwner: selection.noOwner,
            noPrivileges: selection.noPrivileges,
            listPath,
            itemsTotal,
            signal: toolSignal,
            onProgress: report,
          }),
    );
    await inPlace?.confirm();
    const tables = await withTargetClient(onDatabase(restorer, database), countTables);
    return {
      tables,
      roles: { missing, created, skipped: made.skipped },
      durationMs: Date.now() - o.started,
    };
  } catch (err) {
    await settleFetch();
    await dropOwnDatabase(control, database).catch(() => {});
    await dropCreatedRoles(control, created);
    throw err;
  }
}
