import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify';
import openapiGlue from 'fastify-openapi-glue';
import type { Scope } from '../auth/scopes.js';
import { requireScopes } from '../domain/context.js';
import { Errors } from '../errors.js';
import { listOperations, type OpenApiDocument, type OperationInfo } from './contract.js';
import { listAuditEventsHandler } from './handlers/audit.js';
import {
  deleteBackupPolicyHandler,
  getBackupPolicyHandler,
  getRetentionPlanHandler,
  setBackupPolicyHandler,
  updateBackupHandler,
} from './handlers/backup-policies.js';
import { deleteBackupHandler, getBackupHandler, listBackupsHandler, startBackupHandler } from './handlers/backups.js';
import {
  deleteDrillPolicyHandler,
  getDrillPolicyHandler,
  setDrillPolicyHandler,
  verifyBackupHandler,
} from './handlers/drills.js';
import {
  getTenantEncryptionHandler,
  rewrapTenantKeysHandler,
  setTenantEncryptionHandler,
} from './handlers/encryption.js';
import {
  deleteHealthPolicyHandler,
  getFleetHealthHandler,
  getHealthPolicyHandler,
  getHealthReportHandler,
  getLatestHealthReportHandler,
  listHealthReportsHandler,
  setHealthPolicyHandler,
  startHealthReportHandler,
} from './handlers/health.js';
import { cancelJobHandler, getJobHandler, listJobsHandler } from './handlers/jobs.js';
import {
  deleteMaintenanceWindowHandler,
  getMaintenanceRunHandler,
  getMaintenanceWindowHandler,
  listMaintenanceRunsHandler,
  setMaintenanceWindowHandler,
  startMaintenanceHandler,
} from './handlers/maintenance.js';
import { getLivenessHandler, readinessHandler } from './handlers/probes.js';
import {
  dropKeptDatabaseHandler,
  getRestoreHandler,
  listRestoresHandler,
  startRestoreHandler,
} from './handlers/restores.js';
import {
  createLoginUserHandler,
  deleteLoginUserHandler,
  getLoginUserHandler,
  listLoginUsersHandler,
  rotateLoginUserHandler,
} from './handlers/role-users.js';
import {
  applyRoleSetHandler,
  deleteRoleSetHandler,
  getRoleSetHandler,
  listRoleSetsHandler,
  listServerRolesHandler,
} from './handlers/roles.js';
import {
  checkTargetHandler,
  createTargetHandler,
  deleteTargetHandler,
  getTargetHandler,
  listTargetsHandler,
  updateTargetHandler,
} from './handlers/targets.js';
import { createTenantHandler, getTenantHandler, listTenantsHandler } from './handlers/tenants.js';
import type { OperationHandlers } from './operation-types.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    operationId?: string;
  }
}

/** The contract's required scopes (any one alternative suffices), checked before the body is even read. */
const requireOperationScopes =
  (alternatives: Scope[][]): onRequestHookHandler =>
  async (request) => {
    const caller = request.caller;
    if (!caller) throw Errors.unauthorized('Send Authorization: Bearer <token>.');
    if (alternatives.some((scopes) => scopes.every((s) => caller.scopes.has(s)))) return;
    // Name what the first (the spec lists the tenant's own scope first) alternative lacks.
    requireScopes(caller, ...(alternatives[0] ?? []));
  };

const hasBody = (request: FastifyRequest): boolean =>
  request.headers['transfer-encoding'] !== undefined ||
  (request.headers['content-length'] !== undefined && request.headers['content-length'] !== '0');

const mediaTypeOf = (request: FastifyRequest): string =>
  (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';

/**
 * Bodies are validated per media type, so a body of any other type (fastify parses text/plain
 * itself) would skip validation: only the types the operation declares are let in, and an operation
 * without a body takes JSON or nothing. A required body that is missing is refused before the handler.
 */
function bodyHooks(body: OperationInfo['body']): Pick<RouteOptions, 'preParsing' | 'preValidation'> {
  const accepted = body?.mediaTypes ?? ['application/json'];
  return {
    preParsing: async (request, _reply, payload) => {
      if (hasBody(request) && !accepted.includes(mediaTypeOf(request))) {
        throw Errors.unsupportedMediaType(`Send the request body as ${accepted.join(' or ')}.`);
      }
      return payload;
    },
    ...(body?.required
      ? {
          preValidation: async (request: FastifyRequest) => {
            if (request.body === undefined) throw Errors.validation('A JSON body is required.');
          },
        }
      : {}),
  };
}

/** REST routes wired from openapi/openapi.yaml: operationId -> handler. */
export async function registerRest(app: FastifyInstance, document: OpenApiDocument, knownMigrations: number) {
  const handlers: OperationHandlers = {
    getLiveness: getLivenessHandler,
    getReadiness: readinessHandler(knownMigrations),
    createTenant: createTenantHandler,
    listTenants: listTenantsHandler,
    getTenant: getTenantHandler,
    listAuditEvents: listAuditEventsHandler,
    createTarget: createTargetHandler,
    listTargets: listTargetsHandler,
    getTarget: getTargetHandler,
    updateTarget: updateTargetHandler,
    deleteTarget: deleteTargetHandler,
    checkTarget: checkTargetHandler,
    getJob: getJobHandler,
    listJobs: listJobsHandler,
    cancelJob: cancelJobHandler,
    startBackup: startBackupHandler,
    listBackups: listBackupsHandler,
    getBackup: getBackupHandler,
    deleteBackup: deleteBackupHandler,
    startRestore: startRestoreHandler,
    listRestores: listRestoresHandler,
    getRestore: getRestoreHandler,
    dropKeptDatabase: dropKeptDatabaseHandler,
    verifyBackup: verifyBackupHandler,
    getDrillPolicy: getDrillPolicyHandler,
    setDrillPolicy: setDrillPolicyHandler,
    deleteDrillPolicy: deleteDrillPolicyHandler,
    getBackupPolicy: getBackupPolicyHandler,
    setBackupPolicy: setBackupPolicyHandler,
    deleteBackupPolicy: deleteBackupPolicyHandler,
    getRetentionPlan: getRetentionPlanHandler,
    updateBackup: updateBackupHandler,
    startHealthReport: startHealthReportHandler,
    listHealthReports: listHealthReportsHandler,
    getLatestHealthReport: getLatestHealthReportHandler,
    getHealthReport: getHealthReportHandler,
    getFleetHealth: getFleetHealthHandler,
    getHealthPolicy: getHealthPolicyHandler,
    setHealthPolicy: setHealthPolicyHandler,
    deleteHealthPolicy: deleteHealthPolicyHandler,
    listRoleSets: listRoleSetsHandler,
    getRoleSet: getRoleSetHandler,
    applyRoleSet: applyRoleSetHandler,
    deleteRoleSet: deleteRoleSetHandler,
    listServerRoles: listServerRolesHandler,
    getMaintenanceWindow: getMaintenanceWindowHandler,
    setMaintenanceWindow: setMaintenanceWindowHandler,
    deleteMaintenanceWindow: deleteMaintenanceWindowHandler,
    startMaintenance: startMaintenanceHandler,
    listMaintenanceRuns: listMaintenanceRunsHandler,
    getMaintenanceRun: getMaintenanceRunHandler,
    getTenantEncryption: getTenantEncryptionHandler,
    setTenantEncryption: setTenantEncryptionHandler,
    rewrapTenantKeys: rewrapTenantKeysHandler,
    createLoginUser: createLoginUserHandler,
    listLoginUsers: listLoginUsersHandler,
    getLoginUser: getLoginUserHandler,
    deleteLoginUser: deleteLoginUserHandler,
    rotateLoginUser: rotateLoginUserHandler,
  };
  const operations = new Map(listOperations(document).map((op) => [op.operationId, op]));

  await app.register(openapiGlue, {
    // The glue rewrites the document while parsing; give it its own copy.
    specification: structuredClone(document),
    operationResolver: (operationId: string) => {
      const op = operations.get(operationId);
      const handler = handlers[operationId as keyof OperationHandlers];
      if (!op || !handler) throw new Error(`no handler for operation ${operationId}`);
      // The glue fills in method, url and schema; its typings insist on the full RouteOptions.
      return {
        config: { operationId },
        ...(op.scopes ? { onRequest: requireOperationScopes(op.scopes) } : {}),
        // fastify reads no body for GET (the only other method in the contract).
        ...(op.method === 'GET' ? {} : bodyHooks(op.body)),
        handler,
      } as unknown as RouteOptions;
    },
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => document);
  // Swagger UI reads the same document; @fastify/swagger's typings predate OpenAPI 3.1.
  const staticSpec = { document } as unknown as { document: import('openapi-types').OpenAPIV3.Document };
  await app.register(fastifySwagger, { mode: 'static', specification: staticSpec });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
}
