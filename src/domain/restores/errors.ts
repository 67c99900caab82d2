import { defineTaskFailure } from '../../task-failures.js';

/** A restore whose archive lists more than the bound (restore-tools.ts): crafted or absurd, never retried. */
export const tocTooLarge = defineTaskFailure(
  'PGS_RESTORE_TOC_TOO_LARGE',
  (maxBytes: number) =>
    `The backup's table of contents (pg_restore --list) is larger than ${Math.round(maxBytes / 1024 / 1024)} MiB; pgsteward does not restore it.`,
  { retryable: false },
);
