import { RoleErrors } from './errors.js';

/**
 * The names pgsteward gives roles, and how it marks the roles it creates.
 *
 * A managed role's name is lower-case ASCII: a letter, then letters, digits and underscores. That is a
 * deliberately small set. It contains no quote, semicolon, space or backslash, nothing that Unicode
 * folds or confuses with another character (Cyrillic "а" is refused, not normalised), and it is exactly
 * the set PostgreSQL leaves unchanged when a name is written unquoted, so `SET ROLE app_migrations` typed
 * by a person names the same role pgsteward created. pgsteward still quotes every name it writes.
 */
export const ROLE_NAME_PATTERN = /^[a-z][a-z0-9_]*$/;

/** NAMEDATALEN - 1: PostgreSQL silently truncates a longer name, which would make two names one. */
export const MAX_ROLE_NAME_BYTES = 63;

/** The group roles of a role set, in the order they are created (readwrite's grants name readonly's). */
export const ROLE_SET_ACCESS = ['readonly', 'readwrite', 'migrations'] as const;
export type RoleSetAccess = (typeof ROLE_SET_ACCESS)[number];

/** The longest suffix a role set appends (`_migrations`): a set's name leaves room for it. */
const LONGEST_SUFFIX = Math.max(...ROLE_SET_ACCESS.map((a) => a.length + 1));
export const MAX_ROLE_SET_NAME_BYTES = MAX_ROLE_NAME_BYTES - LONGEST_SUFFIX;

// Names PostgreSQL reserves or treats specially in GRANT/ALTER ROLE (public, none, current_user...).
const RESERVED = new Set(['public', 'none', 'current_user', 'session_user', 'current_role', 'postgres']);

export interface RoleNameRules {
  /** The admin credential's role: never created, altered or dropped by pgsteward. */
  adminRole?: string | undefined;
  /** Bytes kept free for a suffix pgsteward appends (e.g. `_clone` for alternating users). */
  reserveBytes?: number;
  /** How the name is called in the error (`name`, `roleSet`, ...). */
  field?: string;
}

/**
 * Why `name` cannot be a managed role's name, or undefined when it can. The rules (issue 9 §5): an
 * identifier of at most 63 bytes in the set above; no `pg_` prefix (PostgreSQL's own roles); not
 * `postgres`, not any `rds*` role (RDS's own: rdsadmin, rds_superuser, ...), not the admin role, and not
 * a name PostgreSQL reserves.
 */
export function roleNameProblem(name: unknown, rules: RoleNameRules = {}): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'it must be a non-empty string';
  const max = MAX_ROLE_NAME_BYTES - (rules.reserveBytes ?? 0);
  if (Buffer.byteLength(name, 'utf8') > max) return `it must be at most ${max} bytes`;
  if (!ROLE_NAME_PATTERN.test(name)) {
    return 'it must start with a lower-case ASCII letter and hold only lower-case ASCII letters, digits and underscores';
  }
  if (name.startsWith('pg_')) return 'the pg_ prefix is reserved for PostgreSQL';
  if (name.startsWith('rds')) return 'names starting with rds are reserved for Amazon RDS';
  if (RESERVED.has(name)) return `'${name}' is reserved`;
  if (rules.adminRole !== undefined && name.toLowerCase() === rules.adminRole.toLowerCase()) {
    return 'it is the admin role';
  }
  return undefined;
}

/** Throws 400 PGS_ROLE_NAME_INVALID unless `name` may be a managed role's name; answers it typed. */
export function assertRoleName(name: unknown, rules: RoleNameRules = {}): string {
  const problem = roleNameProblem(name, rules);
  if (problem !== undefined) throw RoleErrors.roleNameInvalid(rules.field ?? 'name', problem);
  return name as string;
}

/** A role set's name: a role name with room for its longest suffix. */
export function assertRoleSetName(name: unknown, adminRole?: string): string {
  return assertRoleName(name, { adminRole, reserveBytes: LONGEST_SUFFIX, field: 'name' });
}

/** `<set>_<access>`: the group role of one access level of a role set. */
export const roleSetRoleName = (set: string, access: RoleSetAccess): string => `${set}_${access}`;

/**
 * The COMMENT ON ROLE text on every role pgsteward creates. pgsteward knows its roles by its metadata;
 * the marker is a cross-check read from the server, so a role of the same name that someone else made
 * (or re-made) is never mistaken for one of ours. A marker alone proves nothing (whoever can comment
 * on a role can forge it), so nothing is ever touched on the strength of the marker alone.
 */
export const ROLE_MARKER_PREFIX = 'pgsteward:managed';

export interface RoleMarker {
  tenantId: string;
  targetId: string;
  /** What the role is: `role-set:<name>` or `user:<name>`. */
  owner: string;
}

export const roleMarker = (m: RoleMarker): string =>
  `${ROLE_MARKER_PREFIX} tenant=${m.tenantId} target=${m.targetId} owner=${m.owner}`;

const MARKER = /^pgsteward:managed tenant=(\S+) target=(\S+) owner=(\S+)$/;

/** The marker in a role's comment, or undefined when the comment is not one. */
export function parseRoleMarker(comment: string | null | undefined): RoleMarker | undefined {
  const m = comment ? MARKER.exec(comment) : null;
  if (!m) return undefined;
  return { tenantId: m[1] as string, targetId: m[2] as string, owner: m[3] as string };
}

/** Whether a role's comment is this tenant's target's marker for `owner`. */
export const isMarkedAs = (comment: string | null | undefined, expected: RoleMarker): boolean => {
  const m = parseRoleMarker(comment);
  return (
    m !== undefined &&
    m.tenantId === expected.tenantId &&
    m.targetId === expected.targetId &&
    m.owner === expected.owner
  );
};
