import { Errors } from '../../../errors.js';

/**
 * Where writers put data before it is verified and moved to its final key. It sits under the same
 * root (same filesystem, same bucket and prefix) so that the move is a rename or a server-side copy.
 * No valid key can name it: key segments may not start with a dot.
 */
export const TEMPORARY_AREA = '.tmp';

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;
const MAX_KEY_LENGTH = 512;

/**
 * The one gate for artifact keys: relative, '/'-separated, each segment 1-200 of [A-Za-z0-9._-].
 * A segment may not start with '.', which rules out '.', '..' and the temporary area in one rule,
 * and keeps hidden files out of the store. Every storage call goes through this or assertArtifactPrefix.
 */
export function assertArtifactKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw Errors.artifactKeyInvalid('the key is empty');
  if (key.length > MAX_KEY_LENGTH)
    throw Errors.artifactKeyInvalid(`the key is longer than ${MAX_KEY_LENGTH} characters`);
  if (key.startsWith('/')) throw Errors.artifactKeyInvalid('the key must be relative (no leading "/")');
  for (const segment of key.split('/')) {
    if (!SEGMENT.test(segment)) {
      throw Errors.artifactKeyInvalid(
        `each '/'-separated segment must be 1-200 of [A-Za-z0-9._-] and must not start with '.' (got '${printable(segment)}')`,
      );
    }
  }
}

/** A prefix is '' (everything) or a valid key followed by '/' (one "directory"). */
export function assertArtifactPrefix(prefix: string): void {
  if (prefix === '') return;
  if (typeof prefix !== 'string' || !prefix.endsWith('/')) {
    throw Errors.artifactKeyInvalid('a prefix must be empty or end with "/"');
  }
  assertArtifactKey(prefix.slice(0, -1));
}

// Keys come from our own code, but an error message is no place for control characters.
const printable = (text: string) => text.replace(/[^\x20-\x7e]/g, '?').slice(0, 80);
