import type { GraphQLSchema } from 'graphql';
import { type DocumentNode, getNamedType, isLeafType, Kind } from 'graphql';
import { type ComplexityEstimator, getComplexity } from 'graphql-query-complexity';
import { defineError } from '../errors.js';

/** The longest list one GraphQL field may ask for (`first`); REST's limit is wider, GraphQL's multiplies. */
export const GRAPHQL_MAX_PAGE = 100;

export const queryTooCostly = defineError(
  'PGS_GRAPHQL_QUERY_TOO_COSTLY',
  400,
  'Bad Request',
  (cost: number, max: number) =>
    `This query may load up to ${cost} objects; the limit is ${max} (PGSTEWARD_GRAPHQL_MAX_COST). Ask for smaller pages (first) or fewer nested lists.`,
  (cost: number, max: number) => ({ cost, maxCost: max }),
);

export const listTooLong = defineError(
  'PGS_GRAPHQL_LIST_TOO_LONG',
  400,
  'Bad Request',
  (field: string, first: unknown) =>
    `${field}(first: ${String(first)}): first must be a whole number from 1 to ${GRAPHQL_MAX_PAGE}.`,
  () => ({ maxFirst: GRAPHQL_MAX_PAGE }),
);

/**
 * The cost of a field is the most objects it can resolve: a leaf costs nothing, an object 1 plus its
 * children, and a paged list (a field with `first`, defaulted from the schema as graphql-js would)
 * 1 plus `first` times what each item costs. Nesting therefore multiplies, which is what turns
 * `backups(first:100){items{target{backups(first:100){...}}}}` into a million row loads.
 */
/**
 * Lists loaded per parent without a `first` argument, at the most rows their resolver returns: counted
 * as if asked for that many, or `Target.healthReports` under `targets(first:100)` would cost 101.
 */
const UNPAGED_LISTS: Readonly<Record<string, number>> = {
  'Target.healthReports': GRAPHQL_MAX_PAGE,
  'Target.roleSets': GRAPHQL_MAX_PAGE,
  'Target.users': GRAPHQL_MAX_PAGE,
};

/**
 * Fields that open a session on the tenant's own server and read its catalog, weighed as that many
 * row loads: a role set's drift under every target must not fan out to hundreds of servers unnoticed.
 */
const SERVER_READS: Readonly<Record<string, number>> = {
  'RoleSet.drift': 20,
};

function objectsLoaded(tooLong: { field: string; first: unknown }[]): ComplexityEstimator {
  return ({ field, args, childComplexity, type }) => {
    const name = `${type.name}.${field.name}`;
    const serverRead = SERVER_READS[name] ?? 0;
    if (isLeafType(getNamedType(field.type))) return serverRead;
    const unpaged = UNPAGED_LISTS[name];
    if (unpaged !== undefined) return serverRead + 1 + unpaged * (1 + childComplexity);
    if (!('first' in args)) return serverRead + 1 + childComplexity;
    const first = args.first as unknown;
    const valid = typeof first === 'number' && Number.isInteger(first) && first >= 1 && first <= GRAPHQL_MAX_PAGE;
    if (!valid) tooLong.push({ field: name, first });
    // A refused page size still counts at its asked-for size, so the cost error names the real figure.
    const size = typeof first === 'number' && first > 0 ? first : 1;
    return 1 + size * childComplexity;
  };
}

/**
 * Refuses, before any resolver runs, an operation whose cost exceeds `maxCost` (PGS_GRAPHQL_QUERY_TOO_COSTLY)
 * or a list asked for with `first` outside 1 to 100 (PGS_GRAPHQL_LIST_TOO_LONG). Every operation in the
 * document is costed, so the one that would run is among them whatever operationName says.
 *
 * graphql-query-complexity walks fragments, inline fragments, @skip/@include and variables the way
 * execution will; the estimator is ours.
 */
export function enforceQueryCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  maxCost: number,
): number {
  let highest = 0;
  const tooLong: { field: string; first: unknown }[] = [];
  for (const def of document.definitions) {
    if (def.kind !== Kind.OPERATION_DEFINITION) continue;
    const cost = getComplexity({
      schema,
      query: document,
      variables: variables ?? {},
      ...(def.name ? { operationName: def.name.value } : {}),
      estimators: [objectsLoaded(tooLong)],
    });
    highest = Math.max(highest, cost);
  }
  if (highest > maxCost) throw queryTooCostly(highest, maxCost);
  const first = tooLong[0];
  if (first !== undefined) throw listTooLong(first.field, first.first);
  return highest;
}
