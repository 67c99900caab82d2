import type pg from 'pg';
import { Errors } from '../../errors.js';
import { parseQualifiedName, parseSchemaName, type QualifiedName } from '../backups/options.js';
import { MaintenanceErrors } from './errors.js';
import { MAX_TABLES_PER_JOB } from './plan.js';
import type { TableStats } from './queries.js';
import {
  clearStatsSnapshot,
  selectNamedSchemas,
  selectNamedTables,
  selectTablesByOid,
  selectTablesIn,
  type TableFactsRow,
} from './server-queries.js';

export interface TableFacts {
  schema: string;
  name: string;
  oid: string;
  owner: string;
  stats: TableStats;
}

export interface Selection {
  tables: string[];
  schemas: string[];
}

const key = (t: QualifiedName) => `${t.schema}\u0000${t.name}`;

const toFacts = (r: TableFactsRow): TableFacts => ({
  schema: r.schema,
  name: r.name,
  oid: r.oid,
  owner: r.owner,
  stats: {
    totalBytes: Number(r.total_bytes),
    deadTuples: r.dead_tuples === null ? null : Number(r.dead_tuples),
    liveTuples: r.live_tuples === null ? null : Number(r.live_tuples),
  },
});

/** Parse the request's names (400 for a malformed one) before anything reaches a server. */
export function parseSelection(s: Selection): { tables: QualifiedName[]; schemas: string[] } {
  if (s.tables.length > 0 && s.schemas.length > 0) throw Errors.validation('give tables or schemas, not both');
  const tables = s.tables.map((t) => parseQualifiedName(t));
  const seen = new Set<string>();
  return {
    tables: tables.filter((t) => !seen.has(key(t)) && seen.add(key(t))),
    schemas: [...new Set(s.schemas.map(parseSchemaName))],
  };
}

/**
 * The tables a job works on, in schema and name order, with their size and dead tuples now: the named
 * ones (every one must exist: 422 PGS_UNKNOWN_RELATION names the missing), every table of the named
 * schemas, or, naming neither, every table of the database. At most MAX_TABLES_PER_JOB.
 */
export async function resolveTables(client: pg.ClientBase, selection: Selection): Promise<TableFacts[]> {
  const { tables, schemas } = parseSelection(selection);
  await client.query(clearStatsSnapshot());
  let rows: TableFactsRow[];
  if (tables.length > 0) {
    rows = (await client.query<TableFactsRow>(selectNamedTables(tables))).rows;
    const found = new Set(rows.map(key));
    const missing = tables.filter((t) => !found.has(key(t)));
    if (missing.length > 0) {
      throw Errors.unknownRelations(
        'table',
        missing.map((t) => `${t.schema}.${t.name}`),
      );
    }
  } else {
    if (schemas.length > 0) {
      const { rows: found } = await client.query<{ nspname: string }>(selectNamedSchemas(schemas));
      const have = new Set(found.map((r) => r.nspname));
      const missing = schemas.filter((s) => !have.has(s));
      if (missing.length > 0) throw Errors.unknownRelations('schema', missing);
    }
    rows = (await client.query<TableFactsRow>(selectTablesIn(schemas.length > 0 ? schemas : null, MAX_TABLES_PER_JOB)))
      .rows;
  }
  if (rows.length > MAX_TABLES_PER_JOB) throw MaintenanceErrors.tooManyTables(MAX_TABLES_PER_JOB);
  return rows.map(toFacts);
}

/** The tables' size and dead tuples now, by oid; a table dropped meanwhile is absent. */
export async function readTableStats(client: pg.ClientBase, oids: string[]): Promise<Map<string, TableStats>> {
  await client.query(clearStatsSnapshot());
  const { rows } = await client.query<TableFactsRow>(selectTablesByOid(oids));
  return new Map(rows.map((r) => [r.oid, toFacts(r).stats]));
}
