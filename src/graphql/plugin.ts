import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { NoSchemaIntrospectionCustomRule } from 'graphql';
import mercurius, { type IResolvers } from 'mercurius';
import { ctxOf } from '../api/request-context.js';
import type { ConnectionSettings } from '../db/pool.js';
import { Errors } from '../errors.js';
import { GRAPHQL_SCHEMA_DIR } from '../paths.js';
import { enforceQueryCost } from './cost.js';
import { formatGraphqlErrors } from './errors.js';
import { rejectOversizedLists, rejectUnstorableInput } from './input-guard.js';
import { closeAtTokenExpiry, forwardJobEvents, jobUpdateResolvers } from './job-updates.js';
import { loaders } from './loaders.js';
import { auditMutations } from './mutation-audit.js';
import { backupPolicyResolvers } from './resolvers/backup-policies.js';
import { backupResolvers } from './resolvers/backups.js';
import { drillResolvers } from './resolvers/drills.js';
import { encryptionResolvers } from './resolvers/encryption.js';
import { healthResolvers } from './resolvers/health.js';
import { jobResolvers } from './resolvers/jobs.js';
import { maintenanceResolvers } from './resolvers/maintenance.js';
import { restoreResolvers } from './resolvers/restores.js';
import { roleUserResolvers } from './resolvers/role-users.js';
import { roleResolvers } from './resolvers/roles.js';
import { targetResolvers } from './resolvers/targets.js';
import { tenantResolvers } from './resolvers/tenants.js';

export interface GraphqlOptions {
  graphiql: boolean;
  maxDepth: number;
  maxBatch: number;
  /** The most objects one operation may ask for (cost.ts). */
  maxCost: number;
  /** Where to LISTEN for job events (jobUpdated); without it the subscription never fires. */
  listen?: ConnectionSettings;
}

const resolvers = auditMutations(
  mergeResolvers(
    tenantResolvers,
    targetResolvers,
    jobResolvers,
    backupResolvers,
    restoreResolvers,
    drillResolvers,
    backupPolicyResolvers,
    healthResolvers,
    roleResolvers,
    maintenanceResolvers,
    encryptionResolvers,
    roleUserResolvers,
    jobUpdateResolvers,
  ),
);

function mergeResolvers(...parts: IResolvers[]): IResolvers {
  const merged: Record<string, Record<string, unknown>> = {};
  for (const part of parts) {
    for (const [type, fields] of Object.entries(part)) merged[type] = { ...merged[type], ...(fields as object) };
  }
  return merged as IResolvers;
}

/** The SDL is one file per domain in schema/; base.graphql first because it declares the roots. */
export function loadSchema(dir = GRAPHQL_SCHEMA_DIR): string {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort((a, b) => (a === 'base.graphql' ? -1 : b === 'base.graphql' ? 1 : a.localeCompare(b)));
  return files.map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
}

export async function registerGraphql(app: FastifyInstance, opts: GraphqlOptions): Promise<void> {
  // Batching is allowed (dashboards use it) but capped, so one request cannot fan out without bound.
  app.addHook('preHandler', async (request) => {
    if (request.routeOptions.url !== '/graphql' || !Array.isArray(request.body)) return;
    if (request.body.length > opts.maxBatch) throw Errors.graphqlBatchTooLarge(opts.maxBatch);
  });
  await app.register(mercurius, {
    schema: loadSchema(),
    resolvers,
    loaders,
    path: '/graphql',
    subscription: {
      // The upgrade request went through the same bearer-token authentication as every /graphql request,
      // and what it authorised ends with the token: the socket closes at its exp.
      context: (socket, request) => {
        const ctx = ctxOf(request);
        closeAtTokenExpiry(socket, request.tokenExpiresAt);
        return { ctx };
      },
    },
    graphiql: opts.graphiql,
    queryDepth: opts.maxDepth,
    allowBatchedQueries: true,
    // Introspection goes with GraphiQL: both are developer conveniences, off unless asked for.
    validationRules: opts.graphiql ? [] : [NoSchemaIntrospectionCustomRule],
    context: (request) => ({ ctx: ctxOf(request) }),
    errorFormatter: (execution, context) => {
      const log = context.reply?.log ?? app.log;
      const { formatted, allClientErrors, status } = formatGraphqlErrors(execution.errors, log);
      // With data, errors are per-field and the request itself succeeded; without, the first error's
      // status (a refused request) or 400 for a query that did not validate.
      const statusCode = execution.data ? 200 : (status ?? (allClientErrors ? 400 : 500));
      return { statusCode, response: { data: execution.data ?? null, errors: formatted } };
    },
  });
  app.graphql.addHook('preExecution', async (schema, document, _context, variables) => {
    rejectUnstorableInput(document, variables);
    rejectOversizedLists(document, variables);
    enforceQueryCost(schema, document, variables, opts.maxCost);
  });
  if (opts.listen) await forwardJobEvents(app, opts.listen);
}
