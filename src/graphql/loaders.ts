import type { Loader, MercuriusLoaders } from 'mercurius';
import { getBackupPoliciesByTargets } from '../domain/backup-policies/service.js';
import { type Backup, getBackupsByIds, listBackupsOfTargets } from '../domain/backups/service.js';
import type { Ctx } from '../domain/context.js';
import { getDrillPoliciesByTargets } from '../domain/drills/service.js';
import { getTenantEncryptionsByIds } from '../domain/encryption/service.js';
import { getLatestReportsByTargets, getRecentReportsByTargets } from '../domain/health/service.js';
import { getJobsByIds } from '../domain/jobs/service.js';
import type { JobView as Job } from '../domain/jobs/view.js';
import { getMaintenanceWindowsByTargets } from '../domain/maintenance/service.js';
import type { Page, PageRequest } from '../domain/pagination.js';
import { getRestoresByIds, type Restore } from '../domain/restores/service.js';
import { getRoleSetsByTargets } from '../domain/roles/role-sets/service.js';
import { getLoginUsersByTargets } from '../domain/roles/users/service.js';
import { getTargetsByIds, type Target } from '../domain/targets/service.js';
import { isPgStewardError } from '../errors.js';
import { type PageArgs, pageRequest } from './paging.js';

/** A service batch load: the visible rows among `keys`, by key. It enforces its own scope. */
type BatchLoad<T> = (ctx: Ctx, keys: string[]) => Promise<Map<string, T>>;

/**
 * One mercurius loader over a batch load: a page of 50 backups asks for their targets in one query,
 * not 50. The batch load refuses a caller without its scope (PGS_MISSING_SCOPE); here that refusal
 * reads as a null relation, as the schema documents, rather than failing the whole page.
 */
export function batchLoader<Parent extends object, T>(
  load: BatchLoad<T>,
  keyOf: (parent: Parent) => string | null,
): Loader<Parent> {
  return async (queries, { ctx }) => {
    const keys = queries.map((q) => keyOf(q.obj));
    let found: Map<string, T>;
    try {
      found = await load(
        ctx,
        keys.filter((k) => k !== null),
      );
    } catch (err) {
      if (isPgStewardError(err) && err.code === 'PGS_MISSING_SCOPE') return queries.map(() => null);
      throw err;
    }
    return keys.map((k) => (k === null ? null : (found.get(k) ?? null)));
  };
}

/** A service load of the same page of children for many parents, by parent. It enforces its own scope. */
type PagesLoad<T> = (ctx: Ctx, parents: string[], page: PageRequest) => Promise<Map<string, Page<T>>>;

/**
 * One mercurius loader for a paged list under each parent (Target.backups): the parents that asked with
 * the same arguments (normally all of them) share one load, so a page of 50 targets lists their backups
 * in one query. Unlike batchLoader a missing scope is an error here, as it is for the top-level list.
 */
export function pagedLoader<Parent extends object, T>(
  load: PagesLoad<T>,
  keyOf: (parent: Parent) => string,
): Loader<Parent> {
  return async (queries, { ctx }) => {
    const groups = new Map<string, { args: PageArgs; parents: string[] }>();
    for (const q of queries) {
      const args = (q.params ?? {}) as PageArgs;
      const key = JSON.stringify([args.first ?? null, args.after ?? null]);
      const group = groups.get(key) ?? { args, parents: [] };
      group.parents.push(keyOf(q.obj));
      groups.set(key, group);
    }
    const loaded = new Map<string, Map<string, Page<T>>>();
    for (const [key, group] of groups) loaded.set(key, await load(ctx, group.parents, pageRequest(group.args)));
    return queries.map((q) => {
      const args = (q.params ?? {}) as PageArgs;
      const pages = loaded.get(JSON.stringify([args.first ?? null, args.after ?? null]));
      return pages?.get(keyOf(q.obj)) ?? { items: [], nextCursor: null };
    });
  };
}

/** Every relation that would otherwise query once per parent row. */
export const loaders: MercuriusLoaders = {
  Job: {
    target: batchLoader(getTargetsByIds, (j: Job) => j.targetId),
    backup: batchLoader(getBackupsByIds, (j: Job) => j.backupId),
    restore: batchLoader(getRestoresByIds, (j: Job) => j.restoreId),
  },
  Backup: {
    target: batchLoader(getTargetsByIds, (b: Backup) => b.targetId),
    job: batchLoader(getJobsByIds, (b: Backup) => b.jobId),
  },
  Restore: { job: batchLoader(getJobsByIds, (r: Restore) => r.jobId) },
  Target: {
    drillPolicy: batchLoader(getDrillPoliciesByTargets, (t: Target) => t.id),
    backupPolicy: batchLoader(getBackupPoliciesByTargets, (t: Target) => t.id),
    backups: pagedLoader(listBackupsOfTargets, (t: Target) => t.id),
    latestHealthReport: batchLoader(getLatestReportsByTargets, (t: Target) => t.id),
    healthReports: batchLoader(getRecentReportsByTargets, (t: Target) => t.id),
    roleSets: batchLoader(getRoleSetsByTargets, (t: Target) => t.id),
    maintenanceWindow: batchLoader(getMaintenanceWindowsByTargets, (t: Target) => t.id),
    users: batchLoader(
      (ctx, ids) => getLoginUsersByTargets(ctx, ids, 100),
      (t: Target) => t.id,
    ),
  },
  Tenant: { encryption: batchLoader(getTenantEncryptionsByIds, (t: { id: string }) => t.id) },
};
