import type { IResolvers } from 'mercurius';
import type { RestoreOptionsInput } from '../../domain/restores/options.js';
import { getRestore, listRestores, type Restore, startRestore } from '../../domain/restores/service.js';
import { fromEnum, toEnum } from '../enums.js';
import { type PageArgs, pageRequest } from '../paging.js';

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
    restores: (_r, a: PageArgs & { backupId?: string | null; targetId?: string | null }, { ctx }) =>
      listRestores(ctx, {
        ...pageRequest(a),
        backupId: a.backupId ?? undefined,
        targetId: a.targetId ?? undefined,
      }),
    restore: (_r, { id }: { id: string }, { ctx }) => getRestore(ctx, id),
  },
  Mutation: {
    startRestore: (_r, a: { backupId: string; input: Input }, { ctx }) =>
      startRestore(ctx, a.backupId, restoreInput(a.input)),
  },
  Restore: {
    mode: (r: Restore) => toEnum(r.mode),
    status: (r: Restore) => toEnum(r.status),
  },
};
