import type { FastifyRequest } from 'fastify';
import { ctxOf } from '../../api/request-context.js';
import { deleteHealthPolicy, getHealthPolicy, setHealthPolicy } from '../../domain/health/policy.js';
import {
  getFleetHealth,
  getHealthReport,
  getLatestHealthReport,
  listHealthReports,
  renderHealthReport,
  startHealthReport,
} from '../../domain/health/service.js';
import type { OperationHandler } from '../operation-types.js';

export const startHealthReportHandler: OperationHandler<'startHealthReport'> = async (request, reply) => {
  const { job, report } = await startHealthReport(ctxOf(request), request.params.targetId, {
    waitSeconds: request.query.wait,
  });
  request.auditResource = `targets/${request.params.targetId}/health-reports`;
  if (report) {
    reply.code(201).header('location', `/v1/health-reports/${report.id}`);
    return report;
  }
  reply.code(202).header('location', `/v1/jobs/${job.id}`);
  return job;
};

export const listHealthReportsHandler: OperationHandler<'listHealthReports'> = async (request) =>
  listHealthReports(ctxOf(request), request.params.targetId, request.query);

export const getLatestHealthReportHandler: OperationHandler<'getLatestHealthReport'> = async (request) =>
  getLatestHealthReport(ctxOf(request), request.params.targetId);

/** The representation the Accept header prefers among JSON, text and HTML (JSON when it names none). */
export function preferredRepresentation(request: FastifyRequest): 'json' | 'text' | 'html' {
  const offers = { 'application/json': 'json', 'text/plain': 'text', 'text/html': 'html' } as const;
  const ranked = (request.headers.accept ?? '')
    .split(',')
    .map((part, i) => {
      const [type = '', ...params] = part.trim().toLowerCase().split(';');
      const q = Number(
        params
          .map((p) => p.trim())
          .find((p) => p.startsWith('q='))
          ?.slice(2) ?? '1',
      );
      return { type: type.trim(), q: Number.isFinite(q) ? q : 0, i };
    })
    .filter((m) => m.q > 0 && m.type in offers)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  const best = ranked[0]?.type as keyof typeof offers | undefined;
  return best ? offers[best] : 'json';
}

export const getHealthReportHandler: OperationHandler<'getHealthReport'> = async (request, reply) => {
  const format = preferredRepresentation(request);
  reply.header('vary', 'Accept');
  if (format === 'json') return getHealthReport(ctxOf(request), request.params.reportId);
  const body = await renderHealthReport(ctxOf(request), request.params.reportId, format);
  if (format === 'html') {
    // Nothing from elsewhere: no scripts at all, styles only inline.
    reply.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
  }
  reply.type(format === 'html' ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8');
  return body as never;
};

export const getFleetHealthHandler: OperationHandler<'getFleetHealth'> = async (request) =>
  getFleetHealth(ctxOf(request), request.query);

export const getHealthPolicyHandler: OperationHandler<'getHealthPolicy'> = async (request) =>
  getHealthPolicy(ctxOf(request), request.params.targetId);

export const setHealthPolicyHandler: OperationHandler<'setHealthPolicy'> = async (request) => {
  request.auditResource = `targets/${request.params.targetId}/health-policy`;
  return setHealthPolicy(ctxOf(request), request.params.targetId, request.body);
};

export const deleteHealthPolicyHandler: OperationHandler<'deleteHealthPolicy'> = async (request, reply) => {
  request.auditResource = `targets/${request.params.targetId}/health-policy`;
  await deleteHealthPolicy(ctxOf(request), request.params.targetId);
  reply.code(204);
  return undefined as never;
};
