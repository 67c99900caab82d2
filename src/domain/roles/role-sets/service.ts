import type pg from 'pg';
import { translatePgError } from '../../../db/pg-errors.js';
import { inTenantScope } from '../../../db/tenant-scope.js';
import { Errors } from '../../../errors.js';
import { type Ctx, ownTenant, requireScopes } from '../../context.js';
import { isUuid } from '../../ids.js';
import { type Keyset, listPage, type Page, type PageRequest } from '../../pagination.js';
import type { TargetRow } from '../../targets/service.js';
import { databaseExists } from '../../targets/tenant-server.js';
import { type AdminCaller, type AdminSession, loadTenantTarget, withAdminAccess } from '../admin-session.js';
import { asRequestFailure, RoleErrors } from '../errors.js';
import {
  assertRoleName,
  assertRoleSetName,
  ROLE_NAME_PATTERN,
  ROLE_SET_ACCESS,
  type RoleSetAccess,
  roleSetRoleName,
} from '../names.js';
import { executeStatements, inRoleTransaction } from './apply.js';
import { type CatalogSnapshot, readCatalog } from './catalog.js';
import { checkDatabaseName, checkDeclaration, type RoleSetInput } from './declaration.js';
import { blockingMembers, dropStatements, planRoleSet, type RoleSetDeclaration, type RoleSetDrift } from './plan.js';
import {
  deleteRoleSetRow,
  insertRoleSet,
  type RoleSetRow,
  selectRoleSet,
  selectRoleSetPage,
  selectRoleSetsByTargets,
  updateRoleSet,
} from './queries.js';

export type { RoleSetInput };

/** A declared role set as the API shows it, with its drift read from the server. */
export interface RoleSet {
  name: string;
  targetId: string;
  database: string;
  schemas: string[];
  roles: RoleSetAccess[];
  /** The group roles' names on the server, e.g. app_readonly. */
  roleNames: string[];
  drift: RoleSetDrift;
  createdAt: string;
  updatedAt: string;
}

/** What a PUT did, or with dryRun would do. */
export interface RoleSetApplyResult {
  name: string;
  database: string;
  schemas: string[];
  roles: RoleSetAccess[];
  roleNames: string[];
  dryRun: boolean;
  /** False when the server already matched: nothing ran (and nothing would). */
  changed: boolean;
  /** The exact statements, in order; they carry no secret. */
  statements: string[];
  /** The drift before this call, i.e. what the statements remove. */
  drift: RoleSetDrift;
}

const declarationOf = (r: RoleSetRow): RoleSetDeclaration => ({
  name: r.name,
  database: r.database,
  schemas: r.schemas,
  roles: ROLE_SET_ACCESS.filter((a) => r.roles.includes(a)),
});

const roleNamesOf = (d: Pick<RoleSetDeclaration, 'name' | 'roles'>) => d.roles.map((a) => roleSetRoleName(d.name, a));

const toDeclaredRoleSet = (r: RoleSetRow): Omit<RoleSet, 'drift'> => ({
  targetId: r.target_id,
  ...declarationOf(r),
  roleNames: roleNamesOf(declarationOf(r)),
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

const toRoleSet = (r: RoleSetRow, drift: RoleSetDrift): RoleSet => ({ ...toDeclaredRoleSet(r), drift });

const tenantOf = (ctx: Ctx) => ownTenant(ctx).tenantId;

async function findRow(ctx: AdminCaller, targetId: string, name: string): Promise<RoleSetRow | undefined> {
  const tenantId = 'scopes' in ctx ? tenantOf(ctx) : ctx.tenantId;
  return inTenantScope(ctx.pool, { tenantId }, (tx) => tx.one<RoleSetRow>(selectRoleSet(targetId, name)));
}

/**
 * An admin session on `database` (undefined: the target's own). A database other than the target's is
 * first looked up from a session on the target's, so a missing one answers 400, not a failed login.
 */
function withSetSession<T>(
  ctx: AdminCaller,
  target: TargetRow,
  database: string | undefined,
  use: (client: pg.Client, session: AdminSession, database: string) => Promise<T>,
): Promise<T> {
  return sessionOn(ctx, target, database, use).catch((err) => {
    throw asRequestFailure(err);
  });
}

async function sessionOn<T>(
  ctx: AdminCaller,
  target: TargetRow,
  database: string | undefined,
  use: (client: pg.Client, session: AdminSession, database: string) => Promise<T>,
): Promise<T> {
  const other = await withAdminAccess(ctx, target, undefined, async (client, session) => {
    const own = session.access.endpoint.database;
    if (database === undefined || database === own) return { result: await use(client, session, own) };
    if (!(await databaseExists(client, database))) throw RoleErrors.databaseNotFound(database);
    return undefined;
  });
  if (other !== undefined) return other.result;
  const name = database as string;
  return withAdminAccess(ctx, target, name, (client, session) => use(client, session, name));
}

function snapshotFor(client: pg.ClientBase, session: AdminSession, d: RoleSetDeclaration, schemas: string[]) {
  return readCatalog(client, {
    database: d.database,
    serverMajor: session.serverMajor,
    adminRole: session.adminRole,
    roleNames: ROLE_SET_ACCESS.map((a) => roleSetRoleName(d.name, a)),
    schemas,
    creator: roleSetRoleName(d.name, 'migrations'),
  });
}

function assertSchemasExist(snapshot: CatalogSnapshot, schemas: string[], database: string): void {
  const unknown = schemas.filter((s) => !snapshot.schemas.has(s));
  if (unknown.length > 0) throw RoleErrors.schemaNotFound(unknown, database);
}

/**
 * Declare role set `name` on a target (PUT): create its group roles, grant what the declaration says,
 * hand the schemas' relations to the migrations role, set the default privileges, and revoke what was
 * added by hand. One transaction on the server; a second identical call changes nothing and says so.
 * With `dryRun`, only the plan: nothing runs and nothing is recorded.
 */
export async function applyRoleSet(
  ctx: Ctx,
  targetId: string,
  name: string,
  input: RoleSetInput,
  opts: { dryRun?: boolean } = {},
): Promise<RoleSetApplyResult> {
  requireScopes(ctx, 'roles:write');
  const tenantId = tenantOf(ctx);
  assertRoleSetName(name);
  const { schemas, roles } = checkDeclaration(input);
  const requestedDb = input.database == null ? undefined : checkDatabaseName(input.database);
  const dryRun = opts.dryRun === true;
  const target = await loadTenantTarget(ctx, targetId);
  if (target.admin_secret_ref === null) throw RoleErrors.adminSecretRequired(target.name);
  const existing = await findRow(ctx, target.id, name);
  const previous = existing ? declarationOf(existing) : undefined;
  if (previous && requestedDb !== undefined && requestedDb !== previous.database) {
    throw Errors.conflict(
      `Role set '${name}' is declared on database '${previous.database}'; a set's database cannot change. Delete it and declare it again.`,
    );
  }

  // Recorded before the server changes: a crash in between leaves a declaration whose roles are missing
  // (the next PUT completes it), never roles pgsteward made but does not know.
  let inserted: RoleSetRow | undefined;
  const result = await withSetSession(ctx, target, requestedDb ?? previous?.database, async (client, session, db) => {
    assertRoleSetName(name, session.adminRole);
    const declared: RoleSetDeclaration = { name, database: db, schemas, roles };
    // The admin role may itself be called like one of the set's roles (e.g. ops_readonly).
    for (const role of roleNamesOf(declared)) assertRoleName(role, { adminRole: session.adminRole, field: 'name' });
    if (!previous && !dryRun) {
      inserted = await inTenantScope(ctx.pool, { tenantId }, (tx) =>
        tx.one<RoleSetRow>(insertRoleSet(tenantId, target.id, declared)),
      ).catch((err) => {
        throw translatePgError(err, {
          '23505': Errors.conflict(`Role set '${name}' is being declared by another request.`),
        });
      });
    }
    return inRoleTransaction(client, name, async () => {
      const snapshot = await snapshotFor(client, session, declared, [
        ...new Set([...schemas, ...(previous?.schemas ?? [])]),
      ]);
      assertSchemasExist(snapshot, schemas, db);
      const plan = planRoleSet({ declared, previous, snapshot, tenantId, targetId: target.id });
      if (!dryRun) await executeStatements(client, plan.statements);
      return { commit: !dryRun && plan.statements.length > 0, result: { declared, plan } };
    });
  }).catch(async (err) => {
    if (inserted) {
      const row = inserted;
      await inTenantScope(ctx.pool, { tenantId }, (tx) => tx.rows(deleteRoleSetRow(row.id))).catch(() => {});
    }
    throw err;
  });

  const { declared, plan } = result;
  if (existing && !dryRun) {
    const same =
      existing.schemas.join('\u0000') === declared.schemas.join('\u0000') &&
      existing.roles.join('\u0000') === declared.roles.join('\u0000');
    if (!same) await inTenantScope(ctx.pool, { tenantId }, (tx) => tx.rows(updateRoleSet(existing.id, declared)));
  }
  return {
    ...declared,
    roleNames: roleNamesOf(declared),
    dryRun,
    changed: plan.statements.length > 0,
    statements: plan.statements,
    drift: plan.drift,
  };
}

/** The drift of declared sets, reading the catalog once per set over one session per database. */
async function withDrift(
  ctx: AdminCaller,
  target: TargetRow,
  rows: RoleSetRow[],
  tenantId: string,
): Promise<RoleSet[]> {
  const byDatabase = new Map<string, RoleSetRow[]>();
  for (const r of rows) byDatabase.set(r.database, [...(byDatabase.get(r.database) ?? []), r]);
  const drifts = new Map<string, RoleSetDrift>();
  for (const [database, sets] of byDatabase) {
    await withSetSession(ctx, target, database, async (client, session) => {
      for (const r of sets) {
        const declared = declarationOf(r);
        const snapshot = await snapshotFor(client, session, declared, declared.schemas);
        const plan = planRoleSet({
          declared,
          previous: declared,
          snapshot,
          tenantId,
          targetId: target.id,
          report: true,
        });
        drifts.set(r.id, plan.drift);
      }
    });
  }
  return rows.map((r) => toRoleSet(r, drifts.get(r.id) as RoleSetDrift));
}

/** One declared set with its drift; another tenant's target or an unknown set answers 404. */
export async function getRoleSet(ctx: Ctx, targetId: string, name: string): Promise<RoleSet> {
  requireScopes(ctx, 'roles:read');
  const target = await loadTenantTarget(ctx, targetId);
  const row = ROLE_NAME_PATTERN.test(name) ? await findRow(ctx, target.id, name) : undefined;
  if (!row) throw RoleErrors.roleSetNotFound(name);
  const [set] = await withDrift(ctx, target, [row], tenantOf(ctx));
  return set as RoleSet;
}

const byName: Keyset<RoleSetRow, string> = {
  positionOf: (r) => r.name,
  parse: (p) => (ROLE_NAME_PATTERN.test(p) ? p : undefined),
};

/** A target's declared sets by name, each with its drift (one catalog read per set). */
export async function listRoleSets(ctx: Ctx, targetId: string, page: PageRequest): Promise<Page<RoleSet>> {
  requireScopes(ctx, 'roles:read');
  const target = await loadTenantTarget(ctx, targetId);
  const tenantId = tenantOf(ctx);
  const rows = await listPage(
    page,
    byName,
    (after, limit) =>
      inTenantScope(ctx.pool, { tenantId }, (tx) => tx.rows<RoleSetRow>(selectRoleSetPage(target.id, after, limit))),
    (r) => r,
  );
  return {
    items: rows.items.length > 0 ? await withDrift(ctx, target, rows.items, tenantId) : [],
    nextCursor: rows.nextCursor,
  };
}

/** Declared sets of several targets, without drift (GraphQL's Target.roleSets; drift is read per set). */
export async function getRoleSetsByTargets(
  ctx: Ctx,
  targetIds: string[],
): Promise<Map<string, Omit<RoleSet, 'drift'>[]>> {
  requireScopes(ctx, 'roles:read');
  const wanted = [...new Set(targetIds.filter(isUuid))];
  const out = new Map<string, Omit<RoleSet, 'drift'>[]>(wanted.map((id) => [id, []]));
  if (wanted.length === 0) return out;
  const rows = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
    tx.rows<RoleSetRow>(selectRoleSetsByTargets(wanted, 100)),
  );
  for (const r of rows) out.get(r.target_id)?.push(toDeclaredRoleSet(r));
  return out;
}

/**
 * Drop a set's group roles and forget it. Refused with 409 while roles other than the admin are members
 * (naming them). What the migrations role owns goes back to the admin role: no table is ever dropped.
 */
export async function deleteRoleSet(ctx: Ctx, targetId: string, name: string): Promise<void> {
  requireScopes(ctx, 'roles:write');
  const tenantId = tenantOf(ctx);
  const target = await loadTenantTarget(ctx, targetId);
  const row = ROLE_NAME_PATTERN.test(name) ? await findRow(ctx, target.id, name) : undefined;
  if (!row) throw RoleErrors.roleSetNotFound(name);
  const declared = declarationOf(row);
  await withSetSession(ctx, target, row.database, (client, session) =>
    inRoleTransaction(client, name, async () => {
      const snapshot = await snapshotFor(client, session, declared, declared.schemas);
      // Throws for a role of the set that is no longer pgsteward's (re-made by hand).
      planRoleSet({ declared, previous: declared, snapshot, tenantId, targetId: target.id });
      const names = roleNamesOf(declared);
      const blocking = blockingMembers(snapshot, names);
      if (blocking.length > 0) throw RoleErrors.roleSetHasMembers(blocking);
      const statements = dropStatements(snapshot, names);
      await executeStatements(client, statements);
      return { commit: statements.length > 0, result: undefined };
    }),
  );
  await inTenantScope(ctx.pool, { tenantId }, (tx) => tx.rows(deleteRoleSetRow(row.id)));
}
