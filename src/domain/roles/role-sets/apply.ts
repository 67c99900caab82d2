import type pg from 'pg';
import { sqlStateOf } from '../../../db/pg-errors.js';
import { isPgStewardError } from '../../../errors.js';
import { RoleErrors } from '../errors.js';
import { lockRoleSet } from './server-queries.js';

/** How long a role change waits for a lock on a catalog row or table it alters, and runs at most. */
export const ROLE_LOCK_TIMEOUT = '5s';
export const ROLE_STATEMENT_TIMEOUT = '60s';

// PostgreSQL answers a GRANT/REVOKE it cannot perform with a WARNING, not an error ("no privileges were
// granted"); a role change that silently did less than its plan says is refused instead.
const NOT_DONE = new Set(['01007', '01006']); // privilege_not_granted, privilege_not_revoked

/**
 * Run `work` in one transaction on the admin session, with lock_timeout and statement_timeout, holding
 * the set's advisory lock so that two applies of one set never interleave. `work` reads the catalog
 * inside the transaction and answers whether to commit; either all of it applies or none of it.
 */
export async function inRoleTransaction<T>(
  client: pg.ClientBase,
  setName: string,
  work: () => Promise<{ commit: boolean; result: T }>,
): Promise<T> {
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL lock_timeout = '${ROLE_LOCK_TIMEOUT}'`);
    await client.query(`SET LOCAL statement_timeout = '${ROLE_STATEMENT_TIMEOUT}'`);
    const lock = lockRoleSet(setName);
    await client.query(lock.text, lock.values);
    const { commit, result } = await work();
    await client.query(commit ? 'COMMIT' : 'ROLLBACK');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw translateRoleError(err);
  }
}

/** Run the plan's statements in order; a warning that a privilege was not granted or revoked fails it. */
export async function executeStatements(client: pg.ClientBase, statements: string[]): Promise<void> {
  const refused: string[] = [];
  const onNotice = (notice: { code?: string; message?: string }) => {
    if (notice.code && NOT_DONE.has(notice.code)) refused.push(notice.message ?? notice.code);
  };
  client.on('notice', onNotice);
  try {
    for (const statement of statements) {
      await client.query(statement);
      if (refused.length > 0) {
        throw RoleErrors.roleChangeRefused(
          `${refused.join('; ')} (at: ${statement}). Does the admin role own the objects?`,
        );
      }
    }
  } finally {
    client.off('notice', onNotice);
  }
}

/** A server error during role work as the API answers it, by SQLSTATE. */
export function translateRoleError(err: unknown): unknown {
  if (isPgStewardError(err)) return err;
  const state = sqlStateOf(err);
  if (state === undefined) return err;
  if (state === '55P03' || state === '57014') return RoleErrors.roleSetBusy();
  // Privilege (42501), dependent objects (2BP01), grant/role specification (0LP01, 0P000), object state
  // (55xxx), a name the server does not know (42704), a duplicate made meanwhile (42710).
  if (/^(42|2B|0L|0P|55)/.test(state)) return RoleErrors.roleChangeRefused((err as Error).message);
  return err;
}
