import type { MercuriusContext, MercuriusLoaders } from 'mercurius';
import { type Backup, getBackupsByIds } from '../domain/backups/service.js';
import { getJobsByIds } from '../domain/jobs/service.js';
import type { JobView as Job } from '../domain/jobs/view.js';
import { getTargetsByIds } from '../domain/targets/service.js';

type Query<T> = { obj: T };

/**
 * Relations are batched per request: a page of 50 backups asks for their targets in one query, not 50.
 * A relation the caller's scopes do not cover resolves to null rather than failing the whole page.
 */
export const loaders: MercuriusLoaders<MercuriusContext> = {
  Job: {
    async target(queries: Query<Job>[], { ctx }) {
      if (!ctx.scopes.has('targets:read')) return queries.map(() => null);
      const found = await getTargetsByIds(
        ctx,
        queries.map((q) => q.obj.targetId ?? ''),
      );
      return queries.map((q) => found.get(q.obj.targetId ?? '') ?? null);
    },
    async backup(queries: Query<Job>[], { ctx }) {
      if (!ctx.scopes.has('backups:read')) return queries.map(() => null);
      const found = await getBackupsByIds(
        ctx,
        queries.map((q) => q.obj.backupId ?? ''),
      );
      return queries.map((q) => found.get(q.obj.backupId ?? '') ?? null);
    },
  },
  Backup: {
    async target(queries: Query<Backup>[], { ctx }) {
      if (!ctx.scopes.has('targets:read')) return queries.map(() => null);
      const found = await getTargetsByIds(
        ctx,
        queries.map((q) => q.obj.targetId ?? ''),
      );
      return queries.map((q) => found.get(q.obj.targetId ?? '') ?? null);
    },
    async job(queries: Query<Backup>[], { ctx }) {
      if (!ctx.scopes.has('jobs:read')) return queries.map(() => null);
      const found = await getJobsByIds(
        ctx,
        queries.map((q) => q.obj.jobId ?? ''),
      );
      return queries.map((q) => found.get(q.obj.jobId ?? '') ?? null);
    },
  },
};
