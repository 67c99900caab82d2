import type { IResolvers } from 'mercurius';
import type { BackupOptionsInput } from '../../domain/backups/options.js';
import type { BackupStatus } from '../../domain/backups/queries.js';
import { type Backup, getBackup, listBackups, startBackup } from '../../domain/backups/service.js';
import { getJob, listJobs } from '../../domain/jobs/service.js';
import type { JobView as Job } from '../../domain/jobs/view.js';
import { getTarget, listTargets, type Target } from '../../domain/targets/service.js';
import type { JobStatus } from '../../jobs/types.js';
import { fromEnum, fromOptionalEnum, toEnum } from '../enums.js';

type Page = { first?: number | null; after?: string | null };
const page = (a: Page) => ({ limit: a.first ?? undefined, cursor: a.after ?? undefined });

interface OptionsArg extends Omit<BackupOptionsInput, 'format' | 'compression'> {
  format?: string | null;
  compression?: { method: string; level?: number | null } | null;
}

/** GraphQL input -> the service's options (enum values and nulls translated; absent stays absent). */
function backupOptions(o: OptionsArg | null | undefined): BackupOptionsInput {
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

/** Targets, jobs and backups: thin calls into the same services REST uses; relations go through loaders. */
export const operationResolvers: IResolvers = {
  Query: {
    targets: (_r, args: Page, { ctx }) => listTargets(ctx, page(args)),
    target: (_r, { id }: { id: string }, { ctx }) => getTarget(ctx, id),
    jobs: (_r, a: Page & { status?: string | null; kind?: string | null; targetId?: string | null }, { ctx }) =>
      listJobs(ctx, {
        ...page(a),
        status: fromOptionalEnum<JobStatus>(a.status),
        kind: a.kind ?? undefined,
        targetId: a.targetId ?? undefined,
      }),
    job: (_r, { id }: { id: string }, { ctx }) => getJob(ctx, id),
    backups: (_r, a: Page & { targetId?: string | null; status?: string | null }, { ctx }) =>
      listBackups(ctx, {
        ...page(a),
        targetId: a.targetId ?? undefined,
        status: fromOptionalEnum<BackupStatus>(a.status),
      }),
    backup: (_r, { id }: { id: string }, { ctx }) => getBackup(ctx, id),
  },
  Mutation: {
    startBackup: (
      _r,
      a: { targetId: string; options?: OptionsArg | null; idempotencyKey?: string | null },
      { ctx, reply },
    ) => {
      reply.request.auditActions = ['graphql:startBackup'];
      return startBackup(ctx, a.targetId, backupOptions(a.options), a.idempotencyKey ?? undefined);
    },
  },
  Target: {
    sslMode: (t: Target) => toEnum(t.sslMode),
    backups: (t: Target, a: Page, { ctx }) => listBackups(ctx, { ...page(a), targetId: t.id }),
  },
  Job: { status: (j: Job) => toEnum(j.status) },
  Backup: {
    status: (b: Backup) => toEnum(b.status),
    format: (b: Backup) => toEnum(b.format),
  },
  BackupOptions: { format: (o: Backup['options']) => toEnum(o.format) },
  Compression: { method: (c: { method: string }) => toEnum(c.method) },
};
