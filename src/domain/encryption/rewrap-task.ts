import type pg from 'pg';
import { z } from 'zod';
import { inTenantScope } from '../../db/tenant-scope.js';
import { isPgStewardError } from '../../errors.js';
import { DEFAULT_MAX_ATTEMPTS } from '../../jobs/queue.js';
import { defineTask, payloadParser, type TaskRun } from '../../jobs/task.js';
import { TaskFailure } from '../../task-failures.js';
import { toJobFailure } from '../job-failures.js';
import type { Services } from '../services.js';
import { tenantKeyRef } from './backup-encryption.js';
import { EncryptionFailures } from './errors.js';
import { type EncryptedBackupRow, replaceWrappedKey, selectEncryptedBackups } from './queries.js';

const PAGE = 100;
/** How many failed backups are kept to name in the failure (the count is always whole). */
const NAMED_FAILURES = 5;

/**
 * `encryption-rewrap` jobs: re-wrap every stored data key of the tenant with its current key-encryption
 * key. Artifacts are not touched: only backups.encryption's wrapped key (and its ref and version) change.
 *
 * Resumable by construction: a key already under the current KEK is skipped without a KEK call, and
 * each re-wrapped key is committed on its own, so a retry after a crash (or a second rewrap) continues
 * where the first stopped. A backup whose key cannot be unwrapped (its old KEK is gone) is counted and
 * named in the failure, the others are still re-wrapped, and the job then fails with PGS_REWRAP_INCOMPLETE.
 */
export const rewrapTask = defineTask({
  kind: 'encryption-rewrap',
  maxAttempts: DEFAULT_MAX_ATTEMPTS,
  parsePayload: payloadParser('encryption-rewrap', z.object({})),
  handler: rewrapJob,
});

function rewrapJob(deps: { pool: pg.Pool; services: Services }): TaskRun<Record<string, never>> {
  return async (task) => {
    const tenantId = task.job.tenantId;
    const scope = { tenantId };
    const keys = deps.services.keys;
    const keyRef = await inTenantScope(deps.pool, scope, (tx) => tenantKeyRef(tx, tenantId));
    if (keyRef === undefined) {
      throw toJobFailure(EncryptionFailures.keyUnavailable('(none)', 'the tenant has no key-encryption key any more'));
    }
    let after: string | null = null;
    let seen = 0;
    let rewrapped = 0;
    let current = 0;
    const failed: { backupId: string; code: string }[] = [];
    let failedCount = 0;
    for (;;) {
      if (task.signal.aborted) throw task.signal.reason;
      const page: EncryptedBackupRow[] = await inTenantScope(deps.pool, scope, (tx) =>
        tx.rows<EncryptedBackupRow>(selectEncryptedBackups(after, PAGE)),
      );
      for (const row of page) {
        seen += 1;
        try {
          if (await keys.isCurrent(tenantId, row.encryption, keyRef)) {
            current += 1;
            continue;
          }
          const dataKey = await keys.unwrap(tenantId, row.id, row.encryption);
          const wrapped = await keys.wrap(tenantId, row.id, dataKey, keyRef);
          dataKey.fill(0);
          const done = await inTenantScope(deps.pool, scope, (tx) =>
            tx.rows(replaceWrappedKey(row.id, row.encryption.wrappedKey, wrapped)),
          );
          // Not replaced: someone else re-wrapped it meanwhile, which is as good.
          if (done.length > 0) rewrapped += 1;
          else current += 1;
        } catch (err) {
          if (!(err instanceof TaskFailure || isPgStewardError(err))) throw err;
          failedCount += 1;
          if (failed.length < NAMED_FAILURES) failed.push({ backupId: row.id, code: err.code });
        }
      }
      await task.reportProgress({ phase: 'rewrap', seen, rewrapped, alreadyCurrent: current, failed: failedCount });
      if (page.length < PAGE) break;
      after = page[page.length - 1]?.id ?? null;
    }
    if (failedCount > 0) throw toJobFailure(EncryptionFailures.rewrapIncomplete(failed, failedCount, seen));
    return { keyRef, backups: seen, rewrapped, alreadyCurrent: current };
  };
}
