import type pg from 'pg';
import { sqlStateOf } from '../../db/pg-errors.js';
import { inTenantScope } from '../../db/tenant-scope.js';
import type { Services } from '../services.js';
import { countConnections, dropDatabase } from '../targets/server-queries.js';
import { findTargetRow } from '../targets/service.js';
import { onDatabase, withTargetAccess, withTargetClient } from '../targets/session.js';
import { databaseExists } from '../targets/tenant-server.js';
import { markPreviousDropped, type RestoreRow, selectExpiredPrevious } from './queries.js';

export interface ExpiryLog {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
}

/** dropped: by us now; gone: it no longer existed (recorded as dropped); in-use: skipped, tried again. */
export type PreviousDropOutcome =
  | { outcome: 'dropped' | 'gone'; restore: RestoreRow }
  | { outcome: 'in-use'; connections: number }
  | { outcome: 'no-target' };

/**
 * Drop the database a replace restore renamed aside, on the restore's target, through its secret and
 * the network guard like every other session. Only a database nobody is connected to is dropped:
 * ending someone's live sessions is not our call, so one with connections is left for the next try.
 * The row is marked in the tenant's own scope, once (a concurrent drop marks nothing twice).
 */
export async function dropPreviousDatabase(
  deps: { pool: pg.Pool; services: Services },
  restore: RestoreRow,
): Promise<PreviousDropOutcome> {
  const previous = restore.previous_database;
  if (previous === null) throw new Error(`restore ${restore.id} kept no database`);
  const scope = { tenantId: restore.tenant_id };
  const target = restore.target_id
    ? await inTenantScope(deps.pool, scope, (tx) => findTargetRow(tx, restore.target_id as string))
    : undefined;
  if (!target) return { outcome: 'no-target' };
  const result = await withTargetAccess(deps.services, target, (access) =>
    withTargetClient(
      access.endpoint.database === previous ? onDatabase(access, 'postgres') : access,
      async (client): Promise<{ outcome: 'dropped' | 'gone' } | { outcome: 'in-use'; connections: number }> => {
        if (!(await databaseExists(client, previous))) return { outcome: 'gone' };
        const { rows } = await client.query<{ n: number }>(countConnections(previous));
        const connections = rows[0]?.n ?? 0;
        if (connections > 0) return { outcome: 'in-use', connections };
        try {
          await client.query(dropDatabase(previous));
        } catch (err) {
          // 55006 (object_in_use): someone connected between the count and the drop.
          if (sqlStateOf(err) === '55006') return { outcome: 'in-use', connections: 1 };
          throw err;
        }
        return { outcome: 'dropped' };
      },
    ),
  );
  if (result.outcome === 'in-use') return result;
  const marked = await inTenantScope(deps.pool, scope, (tx) => tx.one<RestoreRow>(markPreviousDropped(restore.id)));
  return { outcome: result.outcome, restore: marked ?? restore };
}

/**
 * One expiry pass over every tenant: each succeeded replace whose keep_until has passed and whose old
 * database is not yet dropped gets dropPreviousDatabase. A failure (target unreachable, secret gone) is
 * logged and the restore is tried again next pass, like one whose database is in use.
 */
export async function expirePreviousDatabases(
  deps: { pool: pg.Pool; services: Services },
  now: Date = new Date(),
  log?: ExpiryLog,
): Promise<{ restoreId: string; database: string; outcome: PreviousDropOutcome['outcome'] | 'failed' }[]> {
  const due = await inTenantScope(deps.pool, { allTenants: true }, (tx) =>
    tx.rows<RestoreRow>(selectExpiredPrevious(now)),
  );
  const done: { restoreId: string; database: string; outcome: PreviousDropOutcome['outcome'] | 'failed' }[] = [];
  for (const restore of due) {
    const at = { restore: restore.id, tenant: restore.tenant_id, database: restore.previous_database };
    try {
      const r = await dropPreviousDatabase(deps, restore);
      if (r.outcome === 'in-use') {
        log?.warn({ ...at, connections: r.connections }, 'kept database is past keepUntil but in use; not dropped');
      } else if (r.outcome === 'no-target') {
        log?.warn(at, 'kept database is past keepUntil but its target was deleted; not dropped');
      } else {
        log?.info({ ...at, outcome: r.outcome }, 'kept database past keepUntil dropped');
      }
      done.push({ restoreId: restore.id, database: restore.previous_database as string, outcome: r.outcome });
    } catch (err) {
      log?.warn({ ...at, err }, 'dropping a kept database failed; tried again next pass');
      done.push({ restoreId: restore.id, database: restore.previous_database as string, outcome: 'failed' });
    }
  }
  return done;
}
