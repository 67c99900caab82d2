import type pg from 'pg';
import {
  selectDatabaseGrants,
  selectDefaultGrants,
  selectMembers,
  selectRelationGrants,
  selectRelations,
  selectRoles,
  selectSchemaGrants,
  selectSchemas,
} from './server-queries.js';

/** What the server says about a role the set declares. */
export interface CatalogRole {
  name: string;
  login: boolean;
  superuser: boolean;
  createRole: boolean;
  createDb: boolean;
  replication: boolean;
  bypassRls: boolean;
  comment: string | null;
  /** The admin role has this role's privileges (GRANT/REVOKE as its objects' owner). */
  adminUsage: boolean;
  /** The admin role may become this role (ALTER ... OWNER TO it; from 16 on the SET option). */
  adminSet: boolean;
}

export type RelationKind = 'table' | 'view' | 'materialized-view' | 'foreign-table' | 'sequence';

export interface CatalogRelation {
  schema: string;
  name: string;
  kind: RelationKind;
  owner: string;
  /** A sequence owned by a column (serial, identity): it follows its table's owner. */
  linked: boolean;
}

/** One privilege granted to one role on one object, as an ACL records it. */
export interface Grant {
  on: 'database' | 'schema' | 'table' | 'sequence' | 'default-tables' | 'default-sequences';
  /** The database, the schema, `schema.name` for a relation, or the schema of a default privilege. */
  object: string;
  /** The relation's schema and name, for on = table | sequence. */
  relation?: { schema: string; name: string };
  grantee: string;
  privilege: string;
}

export interface Member {
  role: string;
  member: string;
  login: boolean;
}

/** A read of everything a role set's plan and drift depend on, in one database of the server. */
export interface CatalogSnapshot {
  database: string;
  serverMajor: number;
  adminRole: string;
  roles: Map<string, CatalogRole>;
  /** The schemas asked about that exist. */
  schemas: Set<string>;
  relations: CatalogRelation[];
  grants: Grant[];
  members: Member[];
}

const KINDS: Record<string, RelationKind> = {
  r: 'table',
  p: 'table',
  v: 'view',
  m: 'materialized-view',
  f: 'foreign-table',
  S: 'sequence',
};

export const qualified = (schema: string, name: string): string => `${schema}.${name}`;

/**
 * Read the catalog for roles `roleNames` (the set's, which may not exist yet) over `schemas`, with
 * `creator` as the role whose default privileges count (the set's migrations role).
 */
export async function readCatalog(
  client: pg.ClientBase,
  opts: {
    database: string;
    serverMajor: number;
    adminRole: string;
    roleNames: string[];
    schemas: string[];
    creator: string;
  },
): Promise<CatalogSnapshot> {
  const { roleNames, schemas } = opts;
  const q = async <R extends pg.QueryResultRow>(sql: { text: string; values: unknown[] }) =>
    (await client.query<R>(sql.text, sql.values)).rows;
  const roles = await q<{
    name: string;
    login: boolean;
    superuser: boolean;
    create_role: boolean;
    create_db: boolean;
    replication: boolean;
    bypass_rls: boolean;
    comment: string | null;
    admin_usage: boolean;
    admin_set: boolean;
  }>(selectRoles(roleNames, opts.adminRole, opts.serverMajor));
  const present = roles.map((r) => r.name);
  const schemaRows = await q<{ name: string }>(selectSchemas(schemas));
  const relations = await q<{ schema: string; name: string; kind: string; owner: string; linked: boolean }>(
    selectRelations(schemas),
  );
  const grants: Grant[] = [];
  if (present.length > 0) {
    for (const g of await q<{ grantee: string; privilege: string }>(selectDatabaseGrants(present))) {
      grants.push({ on: 'database', object: opts.database, grantee: g.grantee, privilege: g.privilege });
    }
    for (const g of await q<{ object: string; grantee: string; privilege: string }>(
      selectSchemaGrants(schemas, present),
    )) {
      grants.push({ on: 'schema', object: g.object, grantee: g.grantee, privilege: g.privilege });
    }
    const kindOf = new Map(relations.map((r) => [qualified(r.schema, r.name), r.kind]));
    for (const g of await q<{ schema: string; name: string; grantee: string; privilege: string }>(
      selectRelationGrants(schemas, present),
    )) {
      const object = qualified(g.schema, g.name);
      grants.push({
        on: kindOf.get(object) === 'S' ? 'sequence' : 'table',
        object,
        relation: { schema: g.schema, name: g.name },
        grantee: g.grantee,
        privilege: g.privilege,
      });
    }
    for (const g of await q<{ schema: string; objtype: string; grantee: string; privilege: string }>(
      selectDefaultGrants(opts.creator, schemas, present),
    )) {
      grants.push({
        on: g.objtype === 'S' ? 'default-sequences' : 'default-tables',
        object: g.schema,
        grantee: g.grantee,
        privilege: g.privilege,
      });
    }
  }
  const members = present.length > 0 ? await q<Member>(selectMembers(present)) : [];
  return {
    database: opts.database,
    serverMajor: opts.serverMajor,
    adminRole: opts.adminRole,
    roles: new Map(
      roles.map((r) => [
        r.name,
        {
          name: r.name,
          login: r.login,
          superuser: r.superuser,
          createRole: r.create_role,
          createDb: r.create_db,
          replication: r.replication,
          bypassRls: r.bypass_rls,
          comment: r.comment,
          adminUsage: r.admin_usage,
          adminSet: r.admin_set,
        },
      ]),
    ),
    schemas: new Set(schemaRows.map((s) => s.name)),
    relations: relations.map((r) => ({
      schema: r.schema,
      name: r.name,
      kind: KINDS[r.kind] ?? 'table',
      owner: r.owner,
      linked: r.linked,
    })),
    grants,
    members,
  };
}
