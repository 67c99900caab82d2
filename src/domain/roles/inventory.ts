import { inTenantScope } from '../../db/tenant-scope.js';
import { type Ctx, ownTenant, requireScopes } from '../context.js';
import { type Keyset, listPage, type Page, type PageRequest } from '../pagination.js';
import { withTargetAccess, withTargetClient } from '../targets/session.js';
import { loadTenantTarget } from './admin-session.js';
import { asRequestFailure } from './errors.js';
import { parseRoleMarker, ROLE_SET_ACCESS, roleSetRoleName } from './names.js';
import { selectRoleSetNames } from './role-sets/queries.js';
import { selectServerRolePage } from './server-queries.js';

/** A role on a tenant's server, as the inventory shows it (issue 9 §6; the health checks read it). */
export interface ServerRole {
  name: string;
  login: boolean;
  superuser: boolean;
  createRole: boolean;
  createDb: boolean;
  replication: boolean;
  bypassRls: boolean;
  inherit: boolean;
  connectionLimit: number | null;
  validUntil: string | null;
  memberOf: string[];
  /** pgsteward created it for this target: its metadata names it, and the role carries the marker. */
  managed: boolean;
  managedBy: string | null;
}

interface ServerRoleRow {
  name: string;
  login: boolean;
  superuser: boolean;
  create_role: boolean;
  create_db: boolean;
  replication: boolean;
  bypass_rls: boolean;
  inherit: boolean;
  connection_limit: number;
  valid_until: string | null;
  comment: string | null;
  member_of: string[];
}

const byRoleName: Keyset<ServerRoleRow, string> = {
  positionOf: (r) => r.name,
  parse: (p) => (p.length > 0 && Buffer.byteLength(p) <= 63 ? p : undefined),
};

function validUntil(text: string | null): string | null {
  if (text === null || text === 'infinity') return null;
  const at = new Date(text);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

/**
 * The target's roles, read with its own credential (pg_roles is readable by every role): no
 * adminSecretRef is needed to look. Managed means both: the metadata declares the role (a role set's
 * group role) and the role's comment carries this tenant's and target's marker.
 */
export async function listServerRoles(ctx: Ctx, targetId: string, page: PageRequest): Promise<Page<ServerRole>> {
  requireScopes(ctx, 'roles:read');
  const target = await loadTenantTarget(ctx, targetId);
  const sets = await inTenantScope(ctx.pool, ownTenant(ctx), (tx) =>
    tx.rows<{ name: string; roles: string[] }>(selectRoleSetNames(target.id)),
  );
  const declared = new Map<string, string>();
  for (const s of sets) {
    for (const a of ROLE_SET_ACCESS)
      if (s.roles.includes(a)) declared.set(roleSetRoleName(s.name, a), `role-set:${s.name}`);
  }
  const managedBy = (r: ServerRoleRow): string | null => {
    const marker = parseRoleMarker(r.comment);
    if (!marker || marker.tenantId !== target.tenant_id || marker.targetId !== target.id) return null;
    return declared.get(r.name) === marker.owner ? marker.owner : null;
  };
  return withTargetAccess(ctx.services, target, (access) =>
    withTargetClient(access, (client) =>
      listPage(
        page,
        byRoleName,
        async (after, limit) => {
          const sql = selectServerRolePage(after, limit);
          return (await client.query<ServerRoleRow>(sql.text, sql.values)).rows;
        },
        (r): ServerRole => {
          const owner = managedBy(r);
          return {
            name: r.name,
            login: r.login,
            superuser: r.superuser,
            createRole: r.create_role,
            createDb: r.create_db,
            replication: r.replication,
            bypassRls: r.bypass_rls,
            inherit: r.inherit,
            connectionLimit: r.connection_limit < 0 ? null : r.connection_limit,
            validUntil: validUntil(r.valid_until),
            memberOf: r.member_of,
            managed: owner !== null,
            managedBy: owner,
          };
        },
      ),
    ),
  ).catch((err) => {
    throw asRequestFailure(err);
  });
}
