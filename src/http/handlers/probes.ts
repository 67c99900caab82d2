import { checkReadiness } from '../../observability/readiness.js';
import type { OperationHandler } from '../operation-types.js';

export const getLivenessHandler: OperationHandler<'getLiveness'> = async () => ({ status: 'ok' as const });

export function readinessHandler(knownMigrations: number): OperationHandler<'getReadiness'> {
  return async (request, reply) => {
    const readiness = await checkReadiness(request.server.pool, knownMigrations);
    if (readiness.status !== 'ready') reply.code(503);
    return readiness;
  };
}
