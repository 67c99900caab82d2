import type { Sql } from '../../db/tenant-scope.js';

// SQL role work runs on a tenant's own server. Every name travels as a parameter here; the statements
// that cannot take parameters (CREATE ROLE, GRANT, ...) are built by the role-set planner with quoteIdent.

export const selectSessionUser = (): Sql => ({ text: 'SELECT session_user AS role', values: [] });

/**
 * One page of the server's roles by name (inventory), without PostgreSQL's predefined pg_* roles, each
 * with the roles it is a member of. rolname is of type name (C collation), so the keyset is byte order.
 */
export const selectServerRolePage = (after: string | undefined, limit: number): Sql => ({
  text: `SELECT r.rolname AS name, r.rolcanlogin AS login, r.rolsuper AS superuser, r.rolcreaterole AS create_role,
                r.rolcreatedb AS create_db, r.rolreplication AS replication, r.rolbypassrls AS bypass_rls,
                r.rolinherit AS inherit, r.rolconnlimit AS connection_limit, r.rolvaliduntil::text AS valid_until,
                shobj_description(r.oid, 'pg_authid') AS comment,
                coalesce((SELECT array_agg(DISTINCT g.rolname::text ORDER BY g.rolname::text)
                            FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                           WHERE m.member = r.oid), '{}') AS member_of
           FROM pg_roles r
          WHERE r.rolname !~ '^pg_' AND ($1::text IS NULL OR r.rolname > $1::name)
          ORDER BY r.rolname
          LIMIT $2`,
  values: [after ?? null, limit + 1],
});
