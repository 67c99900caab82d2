import type { IResolvers, MercuriusContext } from 'mercurius';
import { getJobsByIds } from '../../domain/jobs/service.js';
import type { JobView as Job } from '../../domain/jobs/view.js';
import type { RestoreOptionsInput } from '../../domain/restores/options.js';
import {
  getRestore,
  getRestoresByIds,
  listRestores,
  type Restore,
  startRestore,
} from '../../domain/restores/service.js';
import { fromEnum, toEnum } from '../enums.js';

type Page = { first?: number | null; after?: string | null };
type Input = { [K in keyof RestoreOptionsInput]: RestoreOptionsInput[K] | null };

/** GraphQL input -> the service's input: nulls become absent, the mode enum lower-case. */
function restoreInput(input: Input): RestoreOptionsInput {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) if (v !== null && v !== undefined) out[k] = v;
  if (input.mode) out.mode = fromEnum(input.mode);
  return out as unknown as RestoreOptionsInput;
}

/** Restores: thin calls into the services REST uses; Job.restore and Restore.job go through loaders. */
export const restoreResolvers: IResolvers = {
  Query: {
    restores: (_r, a: Page & { backupId?: string | null; targetId?: string | null }, { ctx }) =>
      listRestores(ctx, {
        limit: a.first ?? undefined,
        cursor: a.after ?? undefined,
        backupId: a.backupId ?? undefined,
        targetId: a.targetId ?? undefined,
      }),
    restore: (_r, { id }: { id: string }, { ctx }) => getRestore(ctx, id),
  },
  Mutation: {
    startRestore: (_r, a: { backupId: string; input: Input }, { ctx, reply }) => {
      reply.request.auditActions = ['graphql:startRestore'];
      return startRestore(ctx, a.backupId, restoreInput(a.input));
    },
  },
  Restore: {
    mode: (r: Restore) => toEnum(r.mode),
    status: (r: Restore) => toEnum(r.status),
  },
};

type Query<T> = { obj: T };

export const restoreLoaders = {
  Job: {
    async restore(queries: Query<Job>[], { ctx }: MercuriusContext) {
      if (!ctx.scopes.has('backups:read')) return queries.map(() => null);
      const found = await getRestoresByIds(
        ctx,
        queries.map((q) => q.obj.restoreId ?? ''),
      );
      return queries.map((q) => found.get(q.obj.restoreId ?? '') ?? null);
    },
  },
  Restore: {
    async job(queries: Query<Restore>[], { ctx }: MercuriusContext) {
      if (!ctx.scopes.has('jobs:read')) return queries.map(() => null);
      const found = await getJobsByIds(
        ctx,
        queries.map((q) => q.obj.jobId ?? ''),
      );
      return queries.map((q) => found.get(q.obj.jobId ?? '') ?? null);
    },
  },
};
