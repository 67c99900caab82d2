import type pg from 'pg';
import { Errors } from '../../errors.js';
import { quoteQualified } from '../../sql/identifiers.js';
import { type BackupOptions, parseQualifiedName, parseSchemaName, type QualifiedName } from './options.js';
import type { ResolvedSelection } from './pg-dump-args.js';

const USER_TABLES = `
  SELECT n.nspname AS schema, c.relname AS name
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p')
     AND n.nspname NOT IN ('pg_catalog', 'information_schema')
     AND n.nspname !~ '^pg_(toast|temp_)'
     -- Tables that belong to an extension are recreated by CREATE EXTENSION, not dumped.
     AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`;

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
    const { rows } = await client.query<QualifiedName>(
      `SELECT n.nspname AS schema, c.relname AS name
         FROM unnest($1::text[], $2::text[]) AS w(schema, name)
         JOIN pg_namespace n ON n.nspname = w.schema
         JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.name
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')`,
      [wantedTables.map((t) => t.schema), wantedTables.map((t) => t.name)],
    );
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
    const { rows } = await client.query<{ nspname: string }>(
      'SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[])',
      [wantedSchemas],
    );
    const found = new Set(rows.map((r) => r.nspname));
    const missing = wantedSchemas.filter((s) => !found.has(s));
    if (missing.length > 0) throw Errors.unknownRelations('schema', missing);
  }
  return { tables, excludeTables, schemas, excludeSchemas };
}

/** The tables whose data the dump will hold: what pg_dump selects with the same options. */
export async function listDumpedTables(client: pg.ClientBase, selection: ResolvedSelection): Promise<QualifiedName[]> {
  const { rows } = await client.query<QualifiedName>(`${USER_TABLES} ORDER BY 1, 2`);
  const included = new Set(selection.tables.map(key));
  const excluded = new Set(selection.excludeTables.map(key));
  return rows.filter((t) => {
    if (included.size > 0 && !included.has(key(t))) return false;
    if (selection.schemas.length > 0 && included.size === 0 && !selection.schemas.includes(t.schema)) return false;
    if (selection.excludeSchemas.includes(t.schema)) return false;
    return !excluded.has(key(t));
  });
}

/**
 * Exact row counts, on the connection that exported the dump's snapshot, so they describe precisely
 * the data in the dump; a restore can later be checked against them.
 */
export async function countRows(
  client: pg.ClientBase,
  tables: QualifiedName[],
): Promise<{ schema: string; name: string; rows: number }[]> {
  const counted: { schema: string; name: string; rows: number }[] = [];
  for (const t of tables) {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteQualified(t.schema, t.name)}`);
    counted.push({ ...t, rows: Number(rows[0]?.n ?? 0) });
  }
  return counted;
}
