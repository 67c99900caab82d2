import type { IResolvers } from 'mercurius';
import { getJob, listJobs } from '../../domain/jobs/service.js';
import type { JobView as Job } from '../../domain/jobs/view.js';
import type { JobStatus } from '../../jobs/types.js';
import { fromOptionalEnum, toEnum } from '../enums.js';
import { type PageArgs, pageRequest } from '../paging.js';

type JobFilter = PageArgs & { status?: string | null; kind?: string | null; targetId?: string | null };

/** Jobs: thin calls into the services REST uses; their relations go through loaders. */
export const jobResolvers: IResolvers = {
  Query: {
    jobs: (_r, a: JobFilter, { ctx }) =>
      listJobs(ctx, {
        ...pageRequest(a),
        status: fromOptionalEnum<JobStatus>(a.status),
        kind: a.kind ?? undefined,
        targetId: a.targetId ?? undefined,
      }),
    job: (_r, { id }: { id: string }, { ctx }) => getJob(ctx, id),
  },
  Job: { status: (j: Job) => toEnum(j.status) },
};
