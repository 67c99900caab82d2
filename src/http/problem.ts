import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { classifyError } from '../api/error-classification.js';
import { Errors, type PgStewardError } from '../errors.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  [extra: string]: unknown;
}

export function toProblem(err: PgStewardError): Problem {
  return {
    type: `https://pgsteward.dev/problems/${err.code.toLowerCase().replaceAll('_', '-')}`,
    title: err.title,
    status: err.statusCode,
    detail: err.message,
    code: err.code,
    ...err.extra,
  };
}

export function sendProblem(reply: FastifyReply, err: PgStewardError): FastifyReply {
  // A refusal that passes with time (a full queue) says when to come back, as RFC 9110 has it.
  const retryAfter = err.extra?.retryAfterSeconds;
  if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
  return reply.code(err.statusCode).type(PROBLEM_CONTENT_TYPE).send(toProblem(err));
}

/** Every error leaves as problem+json; 5xx details go to the log, never to the caller. */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const problem = classifyError(err);
    if (problem.statusCode >= 500) request.log.error({ err }, 'request failed');
    else request.log.info({ code: problem.code, detail: problem.message }, 'request rejected');
    return sendProblem(reply, problem);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, Errors.routeNotFound(request.method, (request.url.split('?')[0] ?? '').slice(0, 200))),
  );
}
