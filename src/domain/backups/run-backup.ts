import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { z } from 'zod';
import { inTenantScope, type Sql } from '../../db/tenant-scope.js';
import { Errors } from '../../errors.js';
import { asAttemptOwner, fencedBy } from '../../jobs/fence.js';
import { DEFAULT_MAX_ATTEMPTS } from '../../jobs/queue.js';
import { defineTask, payloadParser, type TaskRun } from '../../jobs/task.js';
import { StaleAttemptError, type TaskContext } from '../../jobs/types.js';
import { dbnameArgument } from '../../pgtools/conninfo.js';
import { withPrivateToolDir } from '../../pgtools/passfile.js';
import { runPgTool } from '../../pgtools/run-tool.js';
import { type SelectedTool, selectClientTool } from '../../pgtools/select-tool.js';
import { TaskFailures } from '../../task-failures.js';
import { type BackupSealing, sealBackup, tenantKeyRef } from '../encryption/backup-encryption.js';
import { isUuid } from '../ids.js';
import { failTask, toJobFailure } from '../job-failures.js';
import type { Services } from '../services.js';
import { findTargetRow, type TargetRow } from '../targets/service.js';
import { withTargetAccess, withTargetClient, withTargetToolsFor } from '../targets/session.js';
import { countRows, serverVersion } from '../targets/tenant-server.js';
import { backupPrefix } from './artifact-prefix.js';
import { listDumpedTables, resolveSelection } from './catalog.js';
import { type DumpRun, streamDumpToStorage } from './dump-stream.js';
import { pgDumpArgs } from './pg-dump-args.js';
import {
  type BackupOutcome,
  type BackupRow,
  markBackupAvailable,
  markBackupFailed,
  markBackupPending,
  markBackupRunning,
} from './queries.js';
import { beginSnapshotTransaction, exportSnapshot, selectDatabaseSize, selectReadsAuthid } from './server-queries.js';
import type { ArtifactStorage, StoredObject } from './storage/artifact-storage.js';

const FILE_NAMES = { custom: 'dump.custom', plain: 'dump.sql', tar: 'dump.tar', directory: 'dump.dir' } as const;
// pg_dump --verbose: "pg_dump: dumping contents of table "public.orders"".
const DUMPING_TABLE = /dumping contents of table "(.+)"$/;

/**
 * `backup` jobs: take the backup startBackup recorded as pending. A retryable failure (a crashed
 * worker) gets the engine's default attempts.
 */
export const backupTask = defineTask({
  kind: 'backup',
  maxAttempts: DEFAULT_MAX_ATTEMPTS,
  parsePayload: payloadParser('backup', z.object({ backupId: z.string().refine(isUuid, 'must be a UUID') })),
  handler: backupJob,
});

function backupJob(deps: { pool: pg.Pool; services: Services }): TaskRun<{ backupId: string }> {
  return async (task, { backupId }) => {
    const scope = { tenantId: task.job.tenantId };
    const attempt = { jobId: task.job.id, attemptId: task.attemptId };
    const backup = await inTenantScope(deps.pool, scope, (tx) =>
      tx.one<BackupRow>(fencedBy(attempt, markBackupRunning(backupId))),
    );
    if (!backup) throw toJobFailure(TaskFailures.backupNotPending(backupId));
    // Ends the backup's record while this attempt still owns its job, after removing every object under
    // the backup's id: a failed, cancelled or released backup leaves nothing behind (globals.sql included),
    // and a stale attempt removes nothing, since a newer attempt may be writing there.
    const endRecord = (sql: Sql) =>
      inTenantScope(deps.pool, scope, (tx) =>
        asAttemptOwner(tx, attempt, async () => {
          await removeBackupObjects(deps.services.storage, backup);
          await tx.rows(fencedBy(attempt, sql));
        }),
      );
    try {
      // A retry after a crash: whatever the dead attempt had staged is garbage now (one attempt at a time).
      await deps.services.storage.discardStaged(backup.id);
      const target = await inTenantScope(deps.pool, scope, (tx) => findTargetRow(tx, backup.target_id ?? ''));
      if (!target) throw Errors.targetNotFound(backup.target_id ?? '');
      // Encrypted at rest when the tenant has a key-encryption key (domain/encryption).
      const keyRef = await inTenantScope(deps.pool, scope, (tx) => tenantKeyRef(tx, backup.tenant_id));
      const sealing =
        keyRef === undefined
          ? null
          : await sealBackup({
              keys: deps.services.keys,
              storage: deps.services.storage,
              tenantId: backup.tenant_id,
              backupId: backup.id,
              keyRef,
            });
      const outcome = sealed(
        await runBackup(sealing ? { ...deps.services, storage: sealing.storage } : deps.services, task, backup, target),
        sealing,
        backup.options.format,
      );
      const available = await inTenantScope(deps.pool, scope, (tx) =>
        tx.one<BackupRow>(fencedBy(attempt, markBackupAvailable(backup.id, outcome))),
      );
      if (!available) throw new StaleAttemptError(attempt.jobId, attempt.attemptId);
      return {
        backupId: backup.id,
        sizeBytes: outcome.sizeBytes,
        sha256: outcome.sha256,
        globals: outcome.globals !== null,
        noRolePasswords: outcome.globals?.noRolePasswords ?? false,
        tables: outcome.tables.length,
      };
    } catch (err) {
      return failTask(err, 'backup', task.signal, {
        record: (error) => endRecord(markBackupFailed(backup.id, error)),
        release: () => endRecord(markBackupPending(backup.id)),
      });
    }
  };
}

/**
 * Every committed object under the backup's id, and its staged ones. Best effort: when the storage
 * itself is what failed, the failure must still be recorded; what is left is removed with the backup
 * (deleteBackup removes everything under its id, failed ones included) or by its next attempt.
 */
export async function removeBackupObjects(
  storage: ArtifactStorage,
  backup: Pick<BackupRow, 'id' | 'tenant_id' | 'target_id'>,
): Promise<void> {
  const prefix = backup.target_id === null ? null : backupPrefix(backup.tenant_id, backup.target_id, backup.id);
  await Promise.allSettled([prefix === null ? undefined : storage.delete(prefix), storage.discardStaged(backup.id)]);
}

async function runBackup(
  services: Services,
  task: TaskContext,
  backup: BackupRow,
  target: TargetRow,
): Promise<BackupOutcome> {
  const options = backup.options;
  const prefix = backupPrefix(backup.tenant_id, target.id, backup.id);
  return withTargetAccess(services, target, (access) =>
    withTargetClient(access, async (control) => {
      await task.reportProgress({ phase: 'connect' });
      const server = await serverVersion(control);
      const installations = await services.installations();
      const pgDump = await selectClientTool('pg_dump', server.major, installations);
      // pg_restore and pg_dumpall must read what this pg_dump writes: the same major or newer.
      const pgRestore = await selectClientTool('pg_restore', pgDump.major, installations);
      const selection = await resolveSelection(control, options);
      const tables = await listDumpedTables(control, selection);
      // One snapshot for the dump and the row counts, held open by this session until both are done.
      await control.query(beginSnapshotTransaction());
      const snapshot = (await control.query<{ s: string }>(exportSnapshot())).rows[0]?.s ?? '';
      const totalBytes = Number((await control.query<{ n: string }>(selectDatabaseSize())).rows[0]?.n ?? 0);
      const readsAuthid = (await control.query<{ ok: boolean }>(selectReadsAuthid())).rows[0]?.ok ?? false;
      let currentTable: string | null = null;
      let bytesWritten = 0;
      const progress = (phase: string) =>
        task.reportProgress({ phase, bytesWritten, totalBytes, currentTable }).catch(() => {});
      return withTargetToolsFor(access, pgDump.major, async (tool) => {
        const globals = options.includeGlobals
          ? await dumpGlobals({
              storage: services.storage,
              key: `${prefix}globals.sql`,
              group: backup.id,
              pgDumpall: await selectClientTool('pg_dumpall', pgDump.major, installations),
              tool,
              noRolePasswords: !readsAuthid,
              signal: task.signal,
            })
          : null;
        await progress('dump');
        const counting = options.schemaOnly
          ? Promise.resolve(tables.map((t) => ({ ...t, rows: null })))
          : countRows(control, tables);
        const common = {
          pgDump,
          pgRestore,
          env: tool.env,
          storage: services.storage,
          group: backup.id,
          signal: task.signal,
          onStderrLine: (line: string) => {
            const m = DUMPING_TABLE.exec(line);
            if (m) {
              currentTable = m[1] ?? null;
              void progress('dump');
            }
          },
          onProgress: (bytes: number) => {
            bytesWritten = bytes;
            void progress('dump');
          },
        };
        const key = `${prefix}${FILE_NAMES[options.format]}`;
        const [stored, counted] = await Promise.all([
          options.format === 'directory'
            ? dumpDirectory({
                ...common,
                key,
                args: (dir) =>
                  pgDumpArgs(options, selection, {
                    conninfo: tool.conninfo,
                    snapshot,
                    toolMajor: pgDump.major,
                    directory: dir,
                  }),
              })
            : streamDumpToStorage({
                ...common,
                format: options.format,
                key,
                args: pgDumpArgs(options, selection, { conninfo: tool.conninfo, snapshot, toolMajor: pgDump.major }),
              }).then((r) => r.stored),
          counting,
        ]);
        await control.query('COMMIT');
        currentTable = null;
        bytesWritten = stored.sizeBytes;
        await progress('done');
        return {
          artifactKey: stored.key,
          sizeBytes: stored.sizeBytes,
          sha256: stored.sha256,
          serverVersion: server.version,
          toolVersion: pgDump.version,
          tables: counted,
          globals,
          encryption: null,
        };
      });
    }),
  );
}

/** The outcome with what encryption adds: the wrapped data key and the plaintext digests. */
function sealed(outcome: BackupOutcome, sealing: BackupSealing | null, format: string): BackupOutcome {
  if (sealing === null) return outcome;
  const globalsPlain = outcome.globals && sealing.storage.plaintextOf(outcome.globals.key);
  return {
    ...outcome,
    globals: outcome.globals && {
      ...outcome.globals,
      ...(globalsPlain ? { plaintextSha256: globalsPlain.sha256 } : {}),
    },
    encryption: sealing.record(format === 'directory' ? null : outcome.artifactKey),
  };
}

/**
 * pg_dumpall --globals-only beside the dump. Reading role passwords needs pg_authid; without that
 * privilege (managed services), --no-role-passwords still captures the roles, and the result says so.
 */
async function dumpGlobals(o: {
  storage: ArtifactStorage;
  key: string;
  group: string;
  pgDumpall: SelectedTool;
  tool: { env: Record<string, string>; conninfo: string };
  noRolePasswords: boolean;
  signal: AbortSignal;
}): Promise<NonNullable<BackupOutcome['globals']>> {
  const { tool, noRolePasswords, signal } = o;
  const writer = await o.storage.createWriter(o.key, { signal, group: o.group });
  const args = [
    '--globals-only',
    dbnameArgument(tool.conninfo),
    '--no-password',
    ...(noRolePasswords ? ['--no-role-passwords'] : []),
  ];
  const run = runPgTool({ path: o.pgDumpall.path, args, env: tool.env, signal, stdout: 'pipe' });
  try {
    await Promise.all([pipeline(run.stdout as NodeJS.ReadableStream, writer.stream), run.done]);
    const stored = await writer.commit();
    return { key: stored.key, sizeBytes: stored.sizeBytes, sha256: stored.sha256, noRolePasswords };
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

/**
 * Directory format: pg_dump writes (with -j) into a private local directory, pg_restore reads it all
 * back, then every file is uploaded and verified. The backup's sha256 is that of its manifest
 * (`<sha256>  <size>  <file>` per line, sorted), which is stored beside the files.
 */
async function dumpDirectory(o: DumpRun & { args: (dir: string) => string[] }): Promise<StoredObject> {
  return withPrivateToolDir(async (work) => {
    const out = join(work, 'dump');
    const dump = runPgTool({
      path: o.pgDump.path,
      args: o.args(out),
      env: o.env,
      signal: o.signal,
      onStderrLine: o.onStderrLine,
    });
    await dump.done;
    await runPgTool({
      path: o.pgRestore.path,
      args: ['--format=directory', '--file=/dev/null', out],
      env: {},
      signal: o.signal,
    }).done;
    const files = (await readdir(out)).sort();
    const lines: string[] = [];
    let total = 0;
    try {
      for (const file of files) {
        const writer = await o.storage.createWriter(`${o.key}/${file}`, { signal: o.signal, group: o.group });
        try {
          await pipeline(createReadStream(join(out, file)), writer.stream);
          const stored = await writer.commit();
          total += stored.sizeBytes;
          lines.push(`${stored.sha256}  ${stored.sizeBytes}  ${file}`);
          o.onProgress(total);
        } catch (err) {
          await writer.abort();
          throw err;
        }
      }
      const manifest = `${lines.join('\n')}\n`;
      const writer = await o.storage.createWriter(`${o.key}/MANIFEST.sha256`, { signal: o.signal, group: o.group });
      await pipeline(Readable.from([manifest]), writer.stream);
      await writer.commit();
    } catch (err) {
      await o.storage.delete(`${o.key}/`).catch(() => {});
      throw err;
    }
    return {
      key: `${o.key}/`,
      sizeBytes: total,
      sha256: createHash('sha256')
        .update(`${lines.join('\n')}\n`)
        .digest('hex'),
    };
  });
}
