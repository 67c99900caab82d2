import type { GraphQLFieldResolver } from 'graphql';
import type { IResolvers, MercuriusContext } from 'mercurius';
import { auditAction } from '../api/audit-trail.js';
import { Errors } from '../errors.js';

type FieldResolver = GraphQLFieldResolver<unknown, MercuriusContext>;

/**
 * Wraps every Mutation resolver so that each mutation field that runs records `graphql:<field>`:
 * no resolver can forget it, and a document with two mutations is audited twice. The events are
 * written by the audit trail before the response is sent, with the request's outcome.
 */
export function auditMutations(resolvers: IResolvers): IResolvers {
  const mutations = resolvers.Mutation as Record<string, FieldResolver> | undefined;
  if (!mutations) return resolvers;
  const audited = Object.entries(mutations).map(([field, resolve]): [string, FieldResolver] => [
    field,
    (root, args, context, info) => {
      // Mutations arrive over HTTP only (mercurius's fullWsTransport is off); were that to change,
      // refusing beats running a mutation the audit log cannot see.
      if (!context.reply) throw Errors.internal();
      auditAction(context.reply.request, `graphql:${info.fieldName}`);
      return resolve(root, args, context, info);
    },
  ]);
  return { ...resolvers, Mutation: Object.fromEntries(audited) };
}
