import type { Sql } from '../../db/tenant-scope.js';
import { quoteIdent } from '../../sql/identifiers.js';

// SQL a restore runs on the tenant's server (shared statements: targets/server-queries.ts).

/** Owned by `owner`, or else by the session's user (the one whose credentials the restore tools use). */
export const createDatabase = (database: string, owner?: string): Sql => ({
  text: `CREATE DATABASE ${quoteIdent(database)}${owner === undefined ? '' : ` OWNER ${quoteIdent(owner)}`}`,
  values: [],
});

/** Only the owner (and those it grants) may connect: used when a drill restores as its own role. */
export const revokeDatabaseFromPublic = (database: string): Sql => ({
  text: `REVOKE ALL ON DATABASE ${quoteIdent(database)} FROM PUBLIC`,
  values: [],
});

export const renameDatabase = (from: string, to: string): Sql => ({
  text: `ALTER DATABASE ${quoteIdent(from)} RENAME TO ${quoteIdent(to)}`,
  values: [],
});

export const selectExistingRoles = (names: string[]): Sql => ({
  text: 'SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY($1::text[])',
  values: [names],
});

/** `attributes` come from a fixed list of safe keywords (roles.ts), never from the dump's text. */
export const createRole = (name: string, attributes: string[]): Sql => ({
  text: `CREATE ROLE ${quoteIdent(name)}${attributes.length > 0 ? ` WITH ${attributes.join(' ')}` : ''}`,
  values: [],
});

export const dropRole = (name: string): Sql => ({ text: `DROP ROLE IF EXISTS ${quoteIdent(name)}`, values: [] });
