import { quoteIdent, quoteLiteral, quoteQualified } from '../../../sql/identifiers.js';
import { RoleErrors } from '../errors.js';
import {
  isMarkedAs,
  ROLE_SET_ACCESS,
  type RoleMarker,
  type RoleSetAccess,
  roleMarker,
  roleSetRoleName,
} from '../names.js';
import { type CatalogRelation, type CatalogSnapshot, type Grant, type Member, qualified } from './catalog.js';

/**
 * The role-set planner: a catalog snapshot and a declaration in, the exact ordered SQL out, plus the
 * drift between them. Pure: no I/O, every identifier through quoteIdent, so it is tested on its own and
 * the dry run answers exactly what an apply would run.
 *
 * What each role holds (issue 9 §2):
 * - readonly: CONNECT; USAGE on the schemas; SELECT on every relation; USAGE, SELECT on sequences.
 * - readwrite: the same plus INSERT, UPDATE, DELETE on relations. Never TRUNCATE, never DDL: it owns
 *   nothing and has no CREATE.
 * - migrations: CONNECT; USAGE and CREATE on the schemas; owns every relation in them; and the default
 *   privileges FOR ROLE migrations that make what it creates later readable by readonly and writable by
 *   readwrite. This is the fix for the classic trap, where ALTER DEFAULT PRIVILEGES without FOR ROLE
 *   covers only objects created by whoever ran it.
 */

export interface RoleSetDeclaration {
  name: string;
  database: string;
  schemas: string[];
  roles: RoleSetAccess[];
}

export interface PlanInput {
  declared: RoleSetDeclaration;
  /** The declaration stored before this change; undefined for a set pgsteward does not know yet. */
  previous: RoleSetDeclaration | undefined;
  snapshot: CatalogSnapshot;
  tenantId: string;
  targetId: string;
  /** Report roles that are not pgsteward's in the drift instead of refusing (reads never refuse). */
  report?: boolean;
}

/** Privileges of one grantee on one object, as the API shows them. */
export interface GrantView {
  role: string;
  on: Grant['on'];
  object: string;
  privileges: string[];
}

export interface RoleSetDrift {
  /** True when the server matches the declaration (members are no drift). */
  inSync: boolean;
  missingRoles: string[];
  /** Roles of the set's names that pgsteward does not recognise as its own: it will not touch them. */
  foreignRoles: string[];
  /** Attributes a managed role must not have (LOGIN, CREATEDB, ...), per role. */
  roleAttributes: { role: string; attributes: string[] }[];
  missingGrants: GrantView[];
  /** Granted by hand: privileges a role of the set holds beyond its declaration. */
  extraGrants: GrantView[];
  missingDefaultPrivileges: GrantView[];
  extraDefaultPrivileges: GrantView[];
  /** Relations in the schemas the migrations role does not own. */
  notOwned: { kind: CatalogRelation['kind']; object: string; owner: string }[];
  members: Member[];
}

export interface RoleSetPlan {
  statements: string[];
  drift: RoleSetDrift;
}

const RELATION_PRIVILEGES: Record<Exclude<RoleSetAccess, 'migrations'>, string[]> = {
  readonly: ['SELECT'],
  readwrite: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
};
const SEQUENCE_PRIVILEGES = ['USAGE', 'SELECT'];
// The order statements name privileges in, so a plan reads the same every time.
const PRIVILEGE_ORDER = [
  'CONNECT',
  'CREATE',
  'TEMPORARY',
  'USAGE',
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'TRUNCATE',
  'REFERENCES',
  'TRIGGER',
  'MAINTAIN',
];
const byPrivilege = (a: string, b: string) => PRIVILEGE_ORDER.indexOf(a) - PRIVILEGE_ORDER.indexOf(b);

const ALTER_KIND: Record<CatalogRelation['kind'], string> = {
  table: 'TABLE',
  view: 'VIEW',
  'materialized-view': 'MATERIALIZED VIEW',
  'foreign-table': 'FOREIGN TABLE',
  sequence: 'SEQUENCE',
};

const POWER_ATTRIBUTES = [
  ['login', 'LOGIN'],
  ['superuser', 'SUPERUSER'],
  ['createDb', 'CREATEDB'],
  ['createRole', 'CREATEROLE'],
  ['replication', 'REPLICATION'],
  ['bypassRls', 'BYPASSRLS'],
] as const;

const factKey = (g: Grant) => `${g.on}\u0000${g.object}\u0000${g.grantee}\u0000${g.privilege}`;

/** The grants the declaration calls for, given the relations that exist. */
function desiredGrants(d: RoleSetDeclaration, snapshot: CatalogSnapshot): Grant[] {
  const out: Grant[] = [];
  const role = (a: RoleSetAccess) => roleSetRoleName(d.name, a);
  const declared = new Set(d.roles);
  const schemas = new Set(d.schemas);
  for (const access of d.roles) {
    const grantee = role(access);
    out.push({ on: 'database', object: d.database, grantee, privilege: 'CONNECT' });
    for (const schema of d.schemas) {
      out.push({ on: 'schema', object: schema, grantee, privilege: 'USAGE' });
      if (access === 'migrations') out.push({ on: 'schema', object: schema, grantee, privilege: 'CREATE' });
    }
    if (access === 'migrations') continue; // it owns the relations
    for (const r of snapshot.relations) {
      if (!schemas.has(r.schema)) continue;
      const relation = { schema: r.schema, name: r.name };
      const object = qualified(r.schema, r.name);
      const sequence = r.kind === 'sequence';
      for (const privilege of sequence ? SEQUENCE_PRIVILEGES : RELATION_PRIVILEGES[access]) {
        out.push({ on: sequence ? 'sequence' : 'table', object, relation, grantee, privilege });
      }
    }
  }
  if (declared.has('migrations')) {
    for (const schema of d.schemas) {
      for (const access of ['readonly', 'readwrite'] as const) {
        if (!declared.has(access)) continue;
        const grantee = role(access);
        for (const privilege of RELATION_PRIVILEGES[access]) {
          out.push({ on: 'default-tables', object: schema, grantee, privilege });
        }
        for (const privilege of SEQUENCE_PRIVILEGES) {
          out.push({ on: 'default-sequences', object: schema, grantee, privilege });
        }
      }
    }
  }
  return out;
}

/** Group facts into one entry per grantee and object, privileges in a fixed order. */
function grouped(facts: Grant[]): (GrantView & { relation?: Grant['relation'] })[] {
  const groups = new Map<string, GrantView & { relation?: Grant['relation'] }>();
  for (const g of facts) {
    const key = `${g.grantee}\u0000${g.on}\u0000${g.object}`;
    let entry = groups.get(key);
    if (!entry) {
      entry = {
        role: g.grantee,
        on: g.on,
        object: g.object,
        privileges: [],
        ...(g.relation ? { relation: g.relation } : {}),
      };
      groups.set(key, entry);
    }
    if (!entry.privileges.includes(g.privilege)) entry.privileges.push(g.privilege);
  }
  for (const e of groups.values()) e.privileges.sort(byPrivilege);
  return [...groups.values()];
}

const view = ({ relation: _relation, ...g }: GrantView & { relation?: Grant['relation'] }): GrantView => g;

/** The object clause of a GRANT/REVOKE for one grouped entry (default privileges are separate). */
function objectClause(g: GrantView & { relation?: Grant['relation'] }): string {
  switch (g.on) {
    case 'database':
      return `DATABASE ${quoteIdent(g.object)}`;
    case 'schema':
      return `SCHEMA ${quoteIdent(g.object)}`;
    case 'table':
    case 'sequence': {
      const r = g.relation as { schema: string; name: string };
      return `${g.on === 'table' ? 'TABLE' : 'SEQUENCE'} ${quoteQualified(r.schema, r.name)}`;
    }
    default:
      throw new Error(`not an object grant: ${g.on}`);
  }
}

function grantStatement(g: GrantView & { relation?: Grant['relation'] }, revoke: boolean, creator: string): string {
  const privileges = g.privileges.join(', ');
  const to = quoteIdent(g.role);
  if (g.on === 'default-tables' || g.on === 'default-sequences') {
    const what = g.on === 'default-tables' ? 'TABLES' : 'SEQUENCES';
    const head = `ALTER DEFAULT PRIVILEGES FOR ROLE ${quoteIdent(creator)} IN SCHEMA ${quoteIdent(g.object)}`;
    return revoke
      ? `${head} REVOKE ${privileges} ON ${what} FROM ${to}`
      : `${head} GRANT ${privileges} ON ${what} TO ${to}`;
  }
  return revoke
    ? `REVOKE ${privileges} ON ${objectClause(g)} FROM ${to}`
    : `GRANT ${privileges} ON ${objectClause(g)} TO ${to}`;
}

/** Let the admin role act as `role` (as owner) and become it (ALTER ... OWNER TO it). */
function adminMembership(role: string, adminRole: string, serverMajor: number): string {
  // Before 16, membership is one thing; from 16 on, INHERIT and SET are options of the grant.
  const options = serverMajor >= 16 ? ' WITH INHERIT TRUE, SET TRUE' : '';
  return `GRANT ${quoteIdent(role)} TO ${quoteIdent(adminRole)}${options}`;
}

const isDefault = (on: Grant['on']) => on === 'default-tables' || on === 'default-sequences';

/**
 * Why a role the set declares (or declared) is not pgsteward's to touch, or undefined when it is: it
 * must be known from the metadata (a declaration existed before this call) and carry this set's marker.
 */
function foreignReason(input: PlanInput, role: string): string | undefined {
  const found = input.snapshot.roles.get(role);
  if (!found) return undefined;
  if (input.previous === undefined) return 'already exists and pgsteward did not create it for this role set';
  const marker: RoleMarker = {
    tenantId: input.tenantId,
    targetId: input.targetId,
    owner: `role-set:${input.declared.name}`,
  };
  if (!isMarkedAs(found.comment, marker)) {
    return "does not carry this role set's pgsteward marker (it was re-made or changed by hand)";
  }
  return undefined;
}

/** Members that block dropping `roles`: anyone but the admin role itself. */
export function blockingMembers(snapshot: CatalogSnapshot, roles: string[]): Member[] {
  const dropping = new Set(roles);
  return snapshot.members.filter(
    (m) => dropping.has(m.role) && m.member !== snapshot.adminRole && !dropping.has(m.member),
  );
}

/**
 * Statements that drop roles of a set: ownership goes back to the admin role (no data is ever dropped),
 * then DROP OWNED removes what was granted to them and their default privileges, then the roles.
 * The migrations role goes first: its default privileges name the others.
 */
export function dropStatements(snapshot: CatalogSnapshot, roles: string[]): string[] {
  const order = [...roles].sort((a, b) => Number(b.endsWith('_migrations')) - Number(a.endsWith('_migrations')));
  const out: string[] = [];
  const admin = quoteIdent(snapshot.adminRole);
  for (const role of order) {
    const found = snapshot.roles.get(role);
    if (!found) continue;
    if (!found.adminUsage || !found.adminSet) out.push(adminMembership(role, snapshot.adminRole, snapshot.serverMajor));
    out.push(`REASSIGN OWNED BY ${quoteIdent(role)} TO ${admin}`);
    out.push(`DROP OWNED BY ${quoteIdent(role)}`);
  }
  for (const role of order) if (snapshot.roles.has(role)) out.push(`DROP ROLE ${quoteIdent(role)}`);
  return out;
}

const emptyDrift = (): RoleSetDrift => ({
  inSync: true,
  missingRoles: [],
  foreignRoles: [],
  roleAttributes: [],
  missingGrants: [],
  extraGrants: [],
  missingDefaultPrivileges: [],
  extraDefaultPrivileges: [],
  notOwned: [],
  members: [],
});

/** The drift between the server and a declaration, and the statements that remove it. */
export function planRoleSet(input: PlanInput): RoleSetPlan {
  const { declared, previous, snapshot } = input;
  const role = (a: RoleSetAccess) => roleSetRoleName(declared.name, a);
  const declaredRoles = ROLE_SET_ACCESS.filter((a) => declared.roles.includes(a)).map(role);
  const removedRoles = (previous?.roles ?? []).filter((a) => !declared.roles.includes(a)).map(role);
  const foreignRoles: string[] = [];
  for (const r of [...declaredRoles, ...removedRoles]) {
    const why = foreignReason(input, r);
    if (why === undefined) continue;
    if (!input.report) throw RoleErrors.roleNotManaged(r, why);
    foreignRoles.push(r);
  }
  if (foreignRoles.length > 0) {
    // Nothing is planned for a set that is not wholly pgsteward's; the report says why.
    return { statements: [], drift: { ...emptyDrift(), inSync: false, foreignRoles } };
  }
  const migrations = role('migrations');
  const hasMigrations = declared.roles.includes('migrations');
  const statements: string[] = [];

  // Roles: create the missing, strip power attributes from the present.
  const missingRoles = declaredRoles.filter((r) => !snapshot.roles.has(r));
  if (missingRoles.length > 0 && snapshot.serverMajor >= 16) {
    // From 16 on, the creator is granted each new role WITH ADMIN OPTION; these make it INHERIT and SET
    // too, which owner changes and grants on the migrations role's objects need.
    statements.push(`SET LOCAL createrole_self_grant = 'set, inherit'`);
  }
  const marker = quoteLiteral(
    roleMarker({ tenantId: input.tenantId, targetId: input.targetId, owner: `role-set:${declared.name}` }),
  );
  for (const r of missingRoles) {
    statements.push(
      `CREATE ROLE ${quoteIdent(r)} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`,
    );
    statements.push(`COMMENT ON ROLE ${quoteIdent(r)} IS ${marker}`);
  }
  const roleAttributes: RoleSetDrift['roleAttributes'] = [];
  for (const r of declaredRoles) {
    const found = snapshot.roles.get(r);
    if (!found) continue;
    const set = POWER_ATTRIBUTES.filter(([field]) => found[field]).map(([, attribute]) => attribute);
    if (set.length > 0) {
      roleAttributes.push({ role: r, attributes: set });
      statements.push(`ALTER ROLE ${quoteIdent(r)} ${set.map((a) => `NO${a}`).join(' ')}`);
    }
  }
  if (hasMigrations) {
    const found = snapshot.roles.get(migrations);
    const selfGranted = found === undefined && snapshot.serverMajor >= 16;
    if (!selfGranted && !(found?.adminUsage && found.adminSet)) {
      statements.push(adminMembership(migrations, snapshot.adminRole, snapshot.serverMajor));
    }
  }

  // Grants: what is missing is granted, what a role of the set holds beyond it is revoked. The
  // migrations role's privileges on relations are an owner's and not compared; roles being dropped
  // lose everything with DROP OWNED.
  const schemas = new Set(declared.schemas);
  const desired = desiredGrants(declared, snapshot);
  const desiredKeys = new Set(desired.map(factKey));
  const actual = snapshot.grants.filter((g) => declaredRoles.includes(g.grantee));
  const actualKeys = new Set(actual.map(factKey));
  const missing = desired.filter((g) => !actualKeys.has(factKey(g)));
  const extra = actual.filter(
    (g) => !desiredKeys.has(factKey(g)) && !(g.grantee === migrations && (g.on === 'table' || g.on === 'sequence')),
  );
  const missingGroups = grouped(missing);
  const extraGroups = grouped(extra);
  const onContainer = (g: GrantView) => g.on === 'database' || g.on === 'schema';
  for (const g of missingGroups.filter(onContainer)) statements.push(grantStatement(g, false, migrations));
  // Ownership: every relation in the schemas goes to the migrations role, after its CREATE on the
  // schema (a new owner needs it). A column's sequence follows its table and cannot be given away alone.
  const notOwned = hasMigrations
    ? snapshot.relations.filter((r) => schemas.has(r.schema) && r.owner !== migrations && !r.linked)
    : [];
  for (const r of notOwned) {
    statements.push(
      `ALTER ${ALTER_KIND[r.kind]} ${quoteQualified(r.schema, r.name)} OWNER TO ${quoteIdent(migrations)}`,
    );
  }
  for (const g of missingGroups.filter((g) => !isDefault(g.on) && !onContainer(g))) {
    statements.push(grantStatement(g, false, migrations));
  }
  for (const g of missingGroups.filter((g) => isDefault(g.on))) statements.push(grantStatement(g, false, migrations));
  for (const g of extraGroups) statements.push(grantStatement(g, true, migrations));

  // Roles no longer declared are dropped, as a delete drops them.
  const members = snapshot.members.filter((m) => declaredRoles.includes(m.role) || removedRoles.includes(m.role));
  if (removedRoles.some((r) => snapshot.roles.has(r))) {
    const blocking = blockingMembers(snapshot, removedRoles);
    if (blocking.length > 0) throw RoleErrors.roleSetHasMembers(blocking);
    statements.push(...dropStatements(snapshot, removedRoles));
  }

  const drift: RoleSetDrift = {
    inSync: false,
    missingRoles,
    foreignRoles,
    roleAttributes,
    missingGrants: missingGroups.filter((g) => !isDefault(g.on)).map(view),
    extraGrants: extraGroups.filter((g) => !isDefault(g.on)).map(view),
    missingDefaultPrivileges: missingGroups.filter((g) => isDefault(g.on)).map(view),
    extraDefaultPrivileges: extraGroups.filter((g) => isDefault(g.on)).map(view),
    notOwned: notOwned.map((r) => ({ kind: r.kind, object: qualified(r.schema, r.name), owner: r.owner })),
    members: members.filter((m) => m.member !== snapshot.adminRole),
  };
  drift.inSync =
    drift.missingRoles.length +
      drift.roleAttributes.length +
      drift.missingGrants.length +
      drift.extraGrants.length +
      drift.missingDefaultPrivileges.length +
      drift.extraDefaultPrivileges.length +
      drift.notOwned.length ===
    0;
  return { statements, drift };
}
