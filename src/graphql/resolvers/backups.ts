import type { IResolvers } from 'mercurius';
import type { BackupOptionsInput } from '../../domain/backups/options.js';
import type { BackupStatus } from '../../domain/backups/queries.js';
import { type Backup, getBackup, listBackups, startBackup } from '../../domain/backups/service.js';
import { fromEnum, fromOptionalEnum, toEnum } from '../enums.js';
import { type PageArgs, pageRequest } from '../paging.js';

export interface OptionsArg extends Omit<BackupOptionsInput, 'format' | 'compression'> {
  format?: string | null;
  compression?: { method: string; level?: number | null } | null;
}

/** GraphQL input -> the service's options (enum values and nulls translated; absent stays absent). */
export function backupOptions(o: OptionsArg | null | undefined): BackupOptionsInput {
  if (!o) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== null && v !== undefined) out[k] = v;
  if (o.format) out.format = fromEnum(o.format);
  if (o.compression) {
    out.compression = {
      method: fromEnum(o.compression.method),
      ...(o.compression.level === null || o.compression.level === undefined ? {} : { level: o.compression.level }),
    };
  }
  return out as BackupOptionsInput;
}

type StartArgs = { targetId: string; options?: OptionsArg | null; idempotencyKey?: string | null };

/** Backups: thin calls into the services REST uses; Backup.target and Backup.job go through loaders. */
export const backupResolvers: IResolvers = {
  Query: {
    backups: (_r, a: PageArgs & { targetId?: string | null; status?: string | null }, { ctx }) =>
      listBackups(ctx, {
        ...pageRequest(a),
        targetId: a.targetId ?? undefined,
        status: fromOptionalEnum<BackupStatus>(a.status),
      }),
    backup: (_r, { id }: { id: string }, { ctx }) => getBackup(ctx, id),
  },
  Mutation: {
    startBackup: (_r, a: StartArgs, { ctx }) =>
      startBackup(ctx, a.targetId, backupOptions(a.options), a.idempotencyKey ?? undefined),
  },
  Backup: {
    status: (b: Backup) => toEnum(b.status),
    format: (b: Backup) => toEnum(b.format),
  },
  BackupOptions: { format: (o: Backup['options']) => toEnum(o.format) },
  Compression: { method: (c: { method: string }) => toEnum(c.method) },
};
