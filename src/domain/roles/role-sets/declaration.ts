import { Errors } from '../../../errors.js';
import { ROLE_SET_ACCESS, type RoleSetAccess } from '../names.js';

/** What a PUT may say about a role set; every field optional (issue 9 §2 defaults). */
export interface RoleSetInput {
  database?: string | null | undefined;
  schemas?: string[] | null | undefined;
  roles?: string[] | null | undefined;
}

export const MAX_SCHEMAS = 100;

/**
 * Checks the shape of schemas (1 to 100 distinct names of 1 to 63 bytes, none of PostgreSQL's own) and
 * roles (distinct, among readonly/readwrite/migrations); answers them with defaults applied. Whether
 * the schemas exist is the catalog's to say (PGS_SCHEMA_NOT_FOUND).
 */
export function checkDeclaration(input: RoleSetInput): { schemas: string[]; roles: RoleSetAccess[] } {
  const schemas = input.schemas ?? ['public'];
  if (!Array.isArray(schemas) || schemas.length === 0) throw Errors.validation('schemas must name at least one schema');
  if (schemas.length > MAX_SCHEMAS) throw Errors.validation(`schemas may name at most ${MAX_SCHEMAS} schemas`);
  for (const s of schemas) {
    if (typeof s !== 'string' || s.length === 0 || Buffer.byteLength(s) > 63 || s.includes('\0')) {
      throw Errors.validation('each schema must be a name of 1 to 63 bytes');
    }
    if (s.startsWith('pg_') || s === 'information_schema') {
      throw Errors.validation(`schema '${s}' belongs to PostgreSQL itself`);
    }
  }
  if (new Set(schemas).size !== schemas.length) throw Errors.validation('schemas must not repeat a schema');
  const roles = input.roles ?? [...ROLE_SET_ACCESS];
  if (!Array.isArray(roles) || roles.length === 0) throw Errors.validation('roles must name at least one role');
  for (const r of roles) {
    if (!(ROLE_SET_ACCESS as readonly unknown[]).includes(r)) {
      throw Errors.validation(`roles may only hold ${ROLE_SET_ACCESS.join(', ')}`);
    }
  }
  if (new Set(roles).size !== roles.length) throw Errors.validation('roles must not repeat a role');
  return { schemas, roles: ROLE_SET_ACCESS.filter((a) => roles.includes(a)) };
}

/** A database name as a set may give it (the connection itself is the final word). */
export function checkDatabaseName(database: unknown): string {
  if (typeof database !== 'string' || database.length === 0 || Buffer.byteLength(database) > 63) {
    throw Errors.validation('database must be a name of 1 to 63 bytes');
  }
  if (database.includes('\0') || database.includes('=') || database.startsWith('-')) {
    throw Errors.validation(`database '${database}' is not a name pgsteward connects to`);
  }
  return database;
}
