import { ctxOf } from '../../api/request-context.js';
import { cancelJob, getJob, listJobs } from '../../domain/jobs/service.js';
import type { OperationHandler } from '../operation-types.js';

export const getJobHandler: OperationHandler<'getJob'> = async (request) =>
  getJob(ctxOf(request), request.params.jobId);

export const listJobsHandler: OperationHandler<'listJobs'> = async (request) => listJobs(ctxOf(request), request.query);

export const cancelJobHandler: OperationHandler<'cancelJob'> = async (request, reply) => {
  request.auditResource = `jobs/${request.params.jobId}`;
  const job = await cancelJob(ctxOf(request), request.params.jobId);
  reply.code(202);
  return job;
};
