import type pg from 'pg';
import { Errors } from '../../errors.js';
import { listUserTables } from '../targets/tenant-server.js';
import { type BackupOptions, parseQualifiedName, parseSchemaName, type QualifiedName } from './options.js';
import type { ResolvedSelection } from './pg-dump-args.js';
import { selectNamedRelations, selectNamedSchemas } from './server-queries.js';

const key = (t: QualifiedName) => `${t.schema}\u0000${t.name}`;

/**
 * Check every named table and schema against the target's catalog, exactly (no patterns, no case
 * folding). Unknown names answer 422 PGS_UNKNOWN_RELATION naming all of them, before anything runs.
 */
export async function resolveSelection(client: pg.ClientBase, options: BackupOptions): Promise<ResolvedSelection> {
  const tables = options.tables.map((t) => parseQualifiedName(t));
  const excludeTables = options.excludeTables.map((t) => parseQualifiedName(t));
  const schemas = options.schemas.map(parseSchemaName);
  const excludeSchemas = options.excludeSchemas.map(parseSchemaName);
  const wantedTables = [...tables, ...excludeTables];
  if (wantedTables.length > 0) {
    const { rows } = await client.query<QualifiedName>(selectNamedRelations(wantedTables));
    const found = new Set(rows.map(key));
    const missing = wantedTables.filter((t) => !found.has(key(t)));
    if (missing.length > 0)
      throw Errors.unknownRelations(
        'table',
        missing.map((t) => `${t.schema}.${t.name}`),
      );
  }
  const wantedSchemas = [...schemas, ...excludeSchemas];
  if (wantedSchemas.length > 0) {
    const { rows } = await client.query<{ nspname: string }>(selectNamedSchemas(wantedSchemas));
    const found = new Set(rows.map((r) => r.nspname));
    const missing = wantedSchemas.filter((s) => !found.has(s));
    if (missing.length > 0) throw Errors.unknownRelations('schema', missing);
  }
  return { tables, excludeTables, schemas, excludeSchemas };
}

/** The tables whose data the dump will hold: what pg_dump selects with the same options. */
export async function listDumpedTables(client: pg.ClientBase, selection: ResolvedSelection): Promise<QualifiedName[]> {
  const rows = await listUserTables(client);
  const included = new Set(selection.tables.map(key));
  const excluded = new Set(selection.excludeTables.map(key));
  return rows.filter((t) => {
    if (included.size > 0 && !included.has(key(t))) return false;
    if (selection.schemas.length > 0 && included.size === 0 && !selection.schemas.includes(t.schema)) return false;
    if (selection.excludeSchemas.includes(t.schema)) return false;
    return !excluded.has(key(t));
  });
}
