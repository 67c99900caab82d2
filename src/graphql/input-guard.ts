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

const unstorable = (where: string) =>
  Errors.validation(
    `${[...where].map((c) => (isUnstorableText(c) ? '\uFFFD' : c)).join('')} contains a character that cannot be stored (U+0000 or an unpaired surrogate).`,
  );
