import type { DocumentNode } from 'graphql';
import { visit } from 'graphql';
import { findUnstorableText, isUnstorableText } from '../api/unstorable-text.js';
import { Errors } from '../errors.js';

/**
 * The GraphQL side of the REST validation layer's text check: a string argument, inline or in the
 * variables, holding U+0000 or an unpaired surrogate is refused (PGS_VALIDATION) before any resolver
 * runs, rather than reaching PostgreSQL (SQLSTATE 22021) and surfacing as an internal error.
 */
export function rejectUnstorableInput(document: DocumentNode, variables: Record<string, unknown> | undefined): void {
  const inVariables = findUnstorableText(variables ?? {});
  if (inVariables !== null) throw unstorable(`variables${inVariables.replaceAll('/', '.')}`);
  visit(document, {
    StringValue(node) {
      if (isUnstorableText(node.value)) throw unstorable('an argument');
    },
  });
}

/** The longest list a GraphQL argument may hold, as REST's maxItems (RelationNames). */
export const MAX_INPUT_LIST = 1000;

/**
 * The GraphQL side of REST's maxItems: a list argument, inline or in the variables, longer than 1000
 * items is refused (PGS_VALIDATION) before any resolver runs, whatever field it is for, so no service
 * has to remember it and no list of a million names reaches a query or pg_dump's argv.
 */
export function rejectOversizedLists(document: DocumentNode, variables: Record<string, unknown> | undefined): void {
  const inVariables = findLongList(variables ?? {}, 'variables');
  if (inVariables !== null) throw tooLong(inVariables);
  visit(document, {
    ListValue(node) {
      if (node.values.length > MAX_INPUT_LIST) throw tooLong('an argument');
    },
  });
}

function findLongList(value: unknown, path: string): string | null {
  if (value === null || typeof value !== 'object') return null;
  if (Array.isArray(value) && value.length > MAX_INPUT_LIST) return path;
  for (const [key, v] of Object.entries(value)) {
    const found = findLongList(v, `${path}.${key.slice(0, 100)}`);
    if (found !== null) return found;
  }
  return null;
}

const tooLong = (where: string) =>
  Errors.validation(
    `${where.replaceAll(/[^\w.]/g, '?')} holds more than ${MAX_INPUT_LIST} items; a list may hold at most ${MAX_INPUT_LIST}.`,
  );

const unstorable = (where: string) =>
  Errors.validation(
    `${[...where].map((c) => (isUnstorableText(c) ? '\uFFFD' : c)).join('')} contains a character that cannot be stored (U+0000 or an unpaired surrogate).`,
  );
