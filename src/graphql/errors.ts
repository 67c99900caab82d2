import type { FastifyBaseLogger } from 'fastify';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { classifyError } from '../api/error-classification.js';
import { isPgStewardError } from '../errors.js';

type WithOriginal = GraphQLError & { originalError?: (Error & { errors?: unknown[]; code?: string }) | null };

/** Mercurius wraps validation failures in one error holding the list; unwrap it. */
function flatten(errors: readonly GraphQLError[]): WithOriginal[] {
  return errors.flatMap((e) => {
    const inner = (e as WithOriginal).originalError?.errors;
    return Array.isArray(inner) ? (inner as WithOriginal[]) : [e as WithOriginal];
  });
}

/** The same codes as REST, in extensions.code; internals of unexpected errors stay in the log. */
export function formatGraphqlErrors(
  errors: readonly GraphQLError[],
  log: FastifyBaseLogger,
): { formatted: GraphQLFormattedError[]; allClientErrors: boolean; status: number | undefined } {
  let allClientErrors = true;
  let status: number | undefined;
  const formatted = flatten(errors).map((error): GraphQLFormattedError => {
    const base = {
      ...(error.locations ? { locations: error.locations } : {}),
      ...(error.path ? { path: error.path } : {}),
    };
    const original = error.originalError;
    // Depth errors arrive either wrapped (originalError) or, once unwrapped, as the error itself.
    const depthError = [error as { code?: string; message: string }, original].find(
      (e) => e?.code === 'MER_ERR_GQL_QUERY_DEPTH',
    );
    if (depthError) {
      return { ...base, message: depthError.message, extensions: { code: 'PGS_GRAPHQL_QUERY_TOO_DEEP' } };
    }
    // The request-body check for text PostgreSQL cannot store (api/unstorable-text.ts) speaks for itself.
    const validation = (error as { validation?: { keyword?: string }[] }).validation;
    if (validation?.some((v) => v.keyword === 'unstorableText')) {
      return { ...base, message: error.message, extensions: { code: 'PGS_VALIDATION' } };
    }
    // Parse and validation errors from graphql-js describe the query, never our internals; so do
    // variables that do not coerce, which carry graphql-js's own error as originalError.
    if (!original || original instanceof GraphQLError) {
      return { ...base, message: error.message, extensions: { code: 'PGS_GRAPHQL_VALIDATION' } };
    }
    const coded = isPgStewardError(original) ? original : classifyError(original);
    if (coded.statusCode >= 500) {
      allClientErrors = false;
      log.error({ err: original }, 'graphql resolver failed');
    }
    status ??= coded.statusCode;
    return {
      ...base,
      message: coded.message,
      extensions: { code: coded.code, status: coded.statusCode, ...coded.extra },
    };
  });
  return { formatted, allClientErrors, status };
}
