import type pg from 'pg';
import { quoteIdent } from '../../sql/identifiers.js';
import { dropOwnDatabase } from '../restores/restore-into.js';
import { type TargetAccess, withTargetClient } from '../targets/session.js';
import { dropDrillRole } from './drill-role.js';

/**
 * Drop a drill's scratch database if it exists, sessions and all (nobody else has business in it), and
 * then the drill's role of the same name, if there is one (drill-role.ts). Connects to the server's own
 * database, never to the scratch one.
 */
export function dropScratchDatabase(access: TargetAccess, database: string): Promise<void> {
  return withTargetClient(access, async (client) => {
    await dropOwnDatabase(client, database);
    await dropDrillRole(client, database);
  });
}

export interface IndexCheck {
  indexesChecked: number;
  indexFailures: { index: string; message: string }[];
  amcheck: { available: boolean; reason: string | null };
}

// amcheck reports corruption as data_corrupted (XX001) or index_corrupted (XX002).
const CORRUPTION = new Set(['XX001', 'XX002']);
const AMCHECK_SCHEMA = 'pgsteward_amcheck';

/**
 * bt_index_check on every valid btree index of the restored copy (system catalogs and TOAST aside).
 * amcheck is installed into a schema of its own, so it cannot collide with anything the dump created;
 * where it cannot be installed (not shipped, or not permitted), nothing is checked and the reason is kept.
 */
export async function checkBtreeIndexes(client: pg.ClientBase, signal: AbortSignal): Promise<IndexCheck> {
  const schema = await installAmcheck(client);
  if (typeof schema !== 'string') return { indexesChecked: 0, indexFailures: [], amcheck: schema };
  const { rows } = await client.query<{ oid: number; name: string }>(
    `SELECT c.oid::int AS oid, format('%I.%I', n.nspname, c.relname) AS name
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indexrelid
       JOIN pg_am am ON am.oid = c.relam
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE am.amname = 'btree' AND i.indisvalid AND i.indisready AND c.relpersistence <> 't'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
      ORDER BY 2`,
  );
  const indexFailures: IndexCheck['indexFailures'] = [];
  let indexesChecked = 0;
  for (const index of rows) {
    signal.throwIfAborted();
    try {
      await client.query(`SELECT ${quoteIdent(schema)}.bt_index_check($1::oid::regclass)`, [index.oid]);
      indexesChecked += 1;
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (!CORRUPTION.has(code)) throw err;
      indexesChecked += 1;
      indexFailures.push({ index: index.name, message: (err as Error).message });
    }
  }
  return { indexesChecked, indexFailures, amcheck: { available: true, reason: null } };
}

/** The schema holding amcheck's functions, or why amcheck cannot be used here. */
async function installAmcheck(client: pg.ClientBase): Promise<string | IndexCheck['amcheck']> {
  const present = await client.query<{ schema: string }>(
    `SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
      WHERE e.extname = 'amcheck'`,
  );
  const existing = present.rows[0]?.schema;
  if (existing !== undefined) return existing; // the dump brought it along
  try {
    await client.query('BEGIN');
    await client.query(`CREATE SCHEMA ${quoteIdent(AMCHECK_SCHEMA)}`);
    await client.query(`CREATE EXTENSION amcheck SCHEMA ${quoteIdent(AMCHECK_SCHEMA)}`);
    await client.query('COMMIT');
    return AMCHECK_SCHEMA;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    const code = (err as { code?: string }).code ?? 'unknown';
    return {
      available: false,
      reason: `amcheck could not be installed in the scratch database (SQLSTATE ${code}): ${(err as Error).message}`,
    };
  }
}
