import type pg from 'pg';
import { boundText, MAX_STORED_VERSION } from '../stored-text.js';
import {
  countTableRows,
  dropDatabase,
  selectDatabaseExists,
  selectServerVersion,
  selectUserTables,
  terminateConnections,
} from './server-queries.js';

// The reads and the one drop every capability makes on a tenant's server, over a session it holds.

export interface ServerVersion {
  /**
   * 15 for 15.x. Before 10 a major had two parts: 9.6 is 9.06 here, so that no 9.x tool (whose major
   * pgtools reads as 9) passes for new enough; an older tool than the server is never picked.
   */
  major: number;
  /** As the server states it, e.g. "15.18 (Debian 15.18-0+deb12u1)". */
  version: string;
}

export async function serverVersion(client: pg.ClientBase): Promise<ServerVersion> {
  const { rows } = await client.query<{ num: string; version: string }>(selectServerVersion());
  const num = Number(rows[0]?.num ?? 0);
  return {
    major: num >= 100000 ? Math.floor(num / 10000) : Math.floor(num / 100) / 100,
    version: boundText(rows[0]?.version ?? '', MAX_STORED_VERSION),
  };
}

export async function databaseExists(client: pg.ClientBase, database: string): Promise<boolean> {
  return (await client.query(selectDatabaseExists(database))).rows.length > 0;
}

export interface TableName {
  schema: string;
  name: string;
}

export async function listUserTables(client: pg.ClientBase): Promise<TableName[]> {
  return (await client.query<TableName>(selectUserTables())).rows;
}

/** Exact row counts, one table after another, in the session's snapshot (the caller's transaction). */
export async function countRows<T extends TableName>(
  client: pg.ClientBase,
  tables: T[],
): Promise<(T & { rows: number })[]> {
  const counted: (T & { rows: number })[] = [];
  for (const t of tables) {
    const { rows } = await client.query<{ n: string }>(countTableRows(t.schema, t.name));
    counted.push({ ...t, rows: Number(rows[0]?.n ?? 0) });
  }
  return counted;
}

/** Drop a database pgsteward made (a restore's, a drill's), even while a killed tool's sessions linger. */
export async function dropOwnDatabase(client: pg.ClientBase, database: string): Promise<void> {
  if ((await serverVersion(client)).major >= 13) {
    await client.query(dropDatabase(database, true));
    return;
  }
  await client.query(terminateConnections(database));
  await client.query(dropDatabase(database));
}
