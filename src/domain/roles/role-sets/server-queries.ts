import type { Sql } from '../../../db/tenant-scope.js';

// The catalog reads behind a role set's plan and drift report, run on the tenant's server in the
// database the set is declared on. Every name travels as a parameter. Privileges are read from the ACLs
// themselves (aclexplode), never through has_*_privilege: drift is about what was granted to a role,
// not what it can reach through PUBLIC or another membership.

// Tables, views, materialized views, foreign tables, partitioned tables and sequences: what GRANT ... ON
// ALL TABLES / SEQUENCES IN SCHEMA covers. Objects that belong to an extension are the extension's.
const RELKINDS = `('r', 'p', 'v', 'm', 'f', 'S')`;
const NOT_EXTENSION_MEMBER = `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass
                                          AND e.objid = c.oid AND e.deptype = 'e')`;

/** Serialises applies of one set across every pgsteward process: role names are cluster-wide. */
export const lockRoleSet = (name: string): Sql => ({
  text: `SELECT pg_advisory_xact_lock(hashtextextended('pgsteward:role-set:' || $1, 0))`,
  values: [name],
});

/**
 * The roles named, their attributes and comment, and what the admin role may do with each: act with
 * its privileges (USAGE: GRANT/REVOKE as the owner) and become it (SET: ALTER ... OWNER TO, from 16 on
 * a separate right; before 16, membership is enough).
 */
export const selectRoles = (names: string[], adminRole: string, major: number): Sql => ({
  text: `SELECT r.rolname AS name, r.rolcanlogin AS login, r.rolsuper AS superuser, r.rolcreaterole AS create_role,
                r.rolcreatedb AS create_db, r.rolreplication AS replication, r.rolbypassrls AS bypass_rls,
                shobj_description(r.oid, 'pg_authid') AS comment,
                pg_has_role($2, r.oid, 'USAGE') AS admin_usage,
                pg_has_role($2, r.oid, ${major >= 16 ? `'SET'` : `'MEMBER'`}) AS admin_set
           FROM pg_roles r WHERE r.rolname = ANY($1::text[])`,
  values: [names, adminRole],
});

/** Who is a member of the roles named (once per pair, whoever granted it). */
export const selectMembers = (names: string[]): Sql => ({
  text: `SELECT DISTINCT g.rolname AS role, m.rolname AS member, m.rolcanlogin AS login
           FROM pg_auth_members am
           JOIN pg_roles g ON g.oid = am.roleid
           JOIN pg_roles m ON m.oid = am.member
          WHERE g.rolname = ANY($1::text[])
          ORDER BY 1, 2`,
  values: [names],
});

export const selectDatabaseGrants = (grantees: string[]): Sql => ({
  text: `SELECT g.rolname AS grantee, a.privilege_type AS privilege
           FROM pg_database d CROSS JOIN LATERAL aclexplode(d.datacl) a
           JOIN pg_roles g ON g.oid = a.grantee
          WHERE d.datname = current_database() AND g.rolname = ANY($1::text[])`,
  values: [grantees],
});

export const selectSchemas = (schemas: string[]): Sql => ({
  text: `SELECT n.nspname AS name FROM pg_namespace n WHERE n.nspname = ANY($1::text[])`,
  values: [schemas],
});

export const selectSchemaGrants = (schemas: string[], grantees: string[]): Sql => ({
  text: `SELECT n.nspname AS object, g.rolname AS grantee, a.privilege_type AS privilege
           FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a
           JOIN pg_roles g ON g.oid = a.grantee
          WHERE n.nspname = ANY($1::text[]) AND g.rolname = ANY($2::text[])`,
  values: [schemas, grantees],
});

/**
 * The relations in the schemas, with owner and, for a sequence, whether a column owns it (serial,
 * identity): such a sequence changes owner with its table and cannot be given away on its own.
 */
export const selectRelations = (schemas: string[]): Sql => ({
  text: `SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind, pg_get_userbyid(c.relowner) AS owner,
                (c.relkind = 'S' AND EXISTS (
                  SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                     AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))) AS linked
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ${RELKINDS} AND ${NOT_EXTENSION_MEMBER}
          ORDER BY 1, 2`,
  values: [schemas],
});

export const selectRelationGrants = (schemas: string[], grantees: string[]): Sql => ({
  text: `SELECT n.nspname AS schema, c.relname AS name, g.rolname AS grantee, a.privilege_type AS privilege
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           CROSS JOIN LATERAL aclexplode(c.relacl) a
           JOIN pg_roles g ON g.oid = a.grantee
          WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ${RELKINDS} AND ${NOT_EXTENSION_MEMBER}
            AND g.rolname = ANY($2::text[])`,
  values: [schemas, grantees],
});

/** Default privileges that `creator` gives `grantees` in the schemas ('r': tables, 'S': sequences). */
export const selectDefaultGrants = (creator: string, schemas: string[], grantees: string[]): Sql => ({
  text: `SELECT n.nspname AS schema, d.defaclobjtype AS objtype, g.rolname AS grantee, a.privilege_type AS privilege
           FROM pg_default_acl d
           JOIN pg_roles c ON c.oid = d.defaclrole
           JOIN pg_namespace n ON n.oid = d.defaclnamespace
           CROSS JOIN LATERAL aclexplode(d.defaclacl) a
           JOIN pg_roles g ON g.oid = a.grantee
          WHERE c.rolname = $1 AND n.nspname = ANY($2::text[]) AND g.rolname = ANY($3::text[])
            AND d.defaclobjtype IN ('r', 'S')`,
  values: [creator, schemas, grantees],
});
