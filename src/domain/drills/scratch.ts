import type pg from 'pg';
import { sqlStateOf } from '../../db/pg-errors.js';
import { type TargetAccess, withTargetClient } from '../targets/session.js';
import { dropOwnDatabase } from '../targets/tenant-server.js';
import { dropDrillRole } from './drill-role.js';
import {
  checkBtreeIndex,
  createAmcheckIn,
  createSchema,
  selectAmcheckSchema,
  selectBtreeIndexes,
} from './server-queries.js';

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
  const { rows } = await client.query<{ oid: number; name: string }>(selectBtreeIndexes());
  const indexFailures: IndexCheck['indexFailures'] = [];
  let indexesChecked = 0;
  for (const index of rows) {
    signal.throwIfAborted();
    try {
      await client.query(checkBtreeIndex(schema, index.oid));
      indexesChecked += 1;
    } catch (err) {
      if (!CORRUPTION.has(sqlStateOf(err) ?? '')) throw err;
      indexesChecked += 1;
      indexFailures.push({ index: index.name, message: (err as Error).message });
    }
  }
  return { indexesChecked, indexFailures, amcheck: { available: true, reason: null } };
}

/** The schema holding amcheck's functions, or why amcheck cannot be used here. */
async function installAmcheck(client: pg.ClientBase): Promise<string | IndexCheck['amcheck']> {
  const present = await client.query<{ schema: string }>(selectAmcheckSchema());
  const existing = present.rows[0]?.schema;
  if (existing !== undefined) return existing; // the dump brought it along
  try {
    await client.query('BEGIN');
    await client.query(createSchema(AMCHECK_SCHEMA));
    await client.query(createAmcheckIn(AMCHECK_SCHEMA));
    await client.query('COMMIT');
    return AMCHECK_SCHEMA;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    const code = sqlStateOf(err) ?? 'unknown';
    return {
      available: false,
      reason: `amcheck could not be installed in the scratch database (SQLSTATE ${code}): ${(err as Error).message}`,
    };
  }
}
