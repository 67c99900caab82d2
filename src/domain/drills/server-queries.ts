import type { Sql } from '../../db/tenant-scope.js';
import { quoteIdent } from '../../sql/identifiers.js';

// SQL a drill runs in its scratch database (shared statements: targets/server-queries.ts).

/** Where amcheck is installed, if it is (a dump may bring it along). */
export const selectAmcheckSchema = (): Sql => ({
  text: `SELECT n.nspname AS schema FROM pg_catalog.pg_extension e
           JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
          WHERE e.extname = 'amcheck'`,
  values: [],
});

export const createSchema = (schema: string): Sql => ({ text: `CREATE SCHEMA ${quoteIdent(schema)}`, values: [] });

export const createAmcheckIn = (schema: string): Sql => ({
  text: `CREATE EXTENSION amcheck SCHEMA ${quoteIdent(schema)}`,
  values: [],
});

/** Every valid btree index outside the system schemas and TOAST, temporary ones aside. */
export const selectBtreeIndexes = (): Sql => ({
  text: `SELECT c.oid::int AS oid, format('%I.%I', n.nspname, c.relname) AS name
           FROM pg_catalog.pg_index i
           JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
           JOIN pg_catalog.pg_am am ON am.oid = c.relam
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE am.amname = 'btree' AND i.indisvalid AND i.indisready AND c.relpersistence <> 't'
            AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
          ORDER BY 2`,
  values: [],
});

export const checkBtreeIndex = (amcheckSchema: string, indexOid: number): Sql => ({
  text: `SELECT ${quoteIdent(amcheckSchema)}.bt_index_check($1::oid::regclass)`,
  values: [indexOid],
});
