import { parseScramVerifier } from '../../../secrets/scram.js';
import { quoteIdent, quoteLiteral } from '../../../sql/identifiers.js';

/**
 * SQL run on the tenant's server for login users. A password only ever travels as a SCRAM verifier
 * (PASSWORD cannot take a parameter, so it is a literal); the checks below refuse anything else, so a
 * plaintext can never be passed here by mistake.
 */
function verifierLiteral(verifier: string): string {
  if (parseScramVerifier(verifier) === undefined)
    throw new Error('only a SCRAM-SHA-256 verifier is sent as a password');
  return quoteLiteral(verifier);
}

/** Sets a role's password to a verifier. */
export const alterRolePassword = (role: string, verifier: string) => ({
  text: `ALTER ROLE ${quoteIdent(role)} PASSWORD ${verifierLiteral(verifier)}`,
  values: [] as unknown[],
});

export interface LoginRoleSpec {
  name: string;
  /** The role set's group role the user joins (`<set>_<access>`). */
  group: string;
  /** null: PASSWORD NULL (an alternating user's twin, until its first rotation gives it one). */
  verifier: string | null;
  connectionLimit: number | null;
  validUntil: Date | null;
}

/**
 * CREATE ROLE for a login user: LOGIN and nothing else. Every power attribute is spelled out as off, so a
 * server whose defaults differ still grants none (issue 9 §5). The group membership is part of the same
 * statement, so there is never a moment with the role outside its group.
 */
export function createLoginRole(spec: LoginRoleSpec) {
  const limit = spec.connectionLimit ?? -1;
  if (!Number.isInteger(limit) || limit < -1) throw new Error('connection limit must be an integer >= -1');
  const validUntil = spec.validUntil === null ? '' : ` VALID UNTIL ${quoteLiteral(spec.validUntil.toISOString())}`;
  const password = spec.verifier === null ? 'PASSWORD NULL' : `PASSWORD ${verifierLiteral(spec.verifier)}`;
  return {
    text:
      `CREATE ROLE ${quoteIdent(spec.name)} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS ` +
      `INHERIT CONNECTION LIMIT ${limit}${validUntil} ${password} IN ROLE ${quoteIdent(spec.group)}`,
    values: [] as unknown[],
  };
}

export const commentOnRole = (role: string, comment: string) => ({
  text: `COMMENT ON ROLE ${quoteIdent(role)} IS ${quoteLiteral(comment)}`,
  values: [] as unknown[],
});

export interface ServerRole {
  name: string;
  comment: string | null;
  /** Any power attribute: such a role is never one pgsteward made, whatever its comment says. */
  powerful: boolean;
}

/** The named roles that exist, with their comment (the pgsteward marker, if ours). */
export const selectRoles = (names: string[]) => ({
  text: `SELECT rolname AS name, shobj_description(oid, 'pg_authid') AS comment,
                (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls) AS powerful
           FROM pg_catalog.pg_roles WHERE rolname = ANY($1::text[])`,
  values: [names],
});

/** What the roles own in the session's database, and which databases they own; at most 101 (100 shown + "more"). */
export const selectOwnedObjects = (names: string[]) => ({
  text: `WITH owners AS (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = ANY($1::text[]))
         SELECT object FROM (
           SELECT 'relation ' || c.oid::regclass::text AS object FROM pg_catalog.pg_class c
             WHERE c.relowner IN (SELECT oid FROM owners) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
           UNION ALL
           SELECT 'schema ' || quote_ident(n.nspname) FROM pg_catalog.pg_namespace n
             WHERE n.nspowner IN (SELECT oid FROM owners)
           UNION ALL
           SELECT 'function ' || p.oid::regprocedure::text FROM pg_catalog.pg_proc p
             WHERE p.proowner IN (SELECT oid FROM owners)
           UNION ALL
           SELECT 'type ' || t.oid::regtype::text FROM pg_catalog.pg_type t
             WHERE t.typowner IN (SELECT oid FROM owners) AND t.typtype IN ('c', 'd', 'e', 'r') AND t.typrelid = 0
           UNION ALL
           SELECT 'database ' || quote_ident(d.datname) FROM pg_catalog.pg_database d
             WHERE d.datdba IN (SELECT oid FROM owners)
         ) owned ORDER BY object LIMIT 101`,
  values: [names],
});

/** Ends the roles' sessions (needs pg_signal_backend or the roles' privileges); answers how many. */
export const terminateRoleSessions = (names: string[]) => ({
  text: `SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid))::int AS terminated
           FROM pg_catalog.pg_stat_activity WHERE usename = ANY($1::text[]) AND pid <> pg_catalog.pg_backend_pid()`,
  values: [names],
});

/** Lets the admin act as the role (REASSIGN OWNED needs its privileges; on 16+ CREATEROLE alone gives none). */
export const grantRoleToAdmin = (role: string) => ({
  text: `GRANT ${quoteIdent(role)} TO CURRENT_USER`,
  values: [] as unknown[],
});

export const reassignOwned = (roles: string[], to: string) => ({
  text: `REASSIGN OWNED BY ${roles.map(quoteIdent).join(', ')} TO ${quoteIdent(to)}`,
  values: [] as unknown[],
});

export const dropRole = (role: string) => ({
  text: `DROP ROLE IF EXISTS ${quoteIdent(role)}`,
  values: [] as unknown[],
});
