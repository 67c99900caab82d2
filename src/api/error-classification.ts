import type { FastifyError } from 'fastify';
import { translatePgError } from '../db/pg-errors.js';
import { Errors, isPgStewardError, PgStewardError } from '../errors.js';

interface AjvLikeError {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

/** One line per failing field, e.g. `body.extra: unknown field`. */
function describeValidation(context: string, errors: AjvLikeError[]): { path: string; message: string }[] {
  return errors.map((e) => {
    const base = `${context}${(e.instancePath ?? '').replaceAll('/', '.')}`;
    if (e.keyword === 'additionalProperties') {
      return { path: `${base}.${String(e.params?.additionalProperty)}`, message: 'unknown field' };
    }
    if (e.keyword === 'required') {
      return { path: `${base}.${String(e.params?.missingProperty)}`, message: 'is required' };
    }
    return { path: base, message: e.message ?? 'is invalid' };
  });
}

/**
 * Map whatever was thrown to one of our coded errors; unknown errors become a bare 500. REST renders
 * the result as problem+json, GraphQL as extensions.code, so both answer a mistake with the same code.
 */
export function classifyError(err: unknown): PgStewardError {
  const translated = translatePgError(err);
  if (isPgStewardError(translated)) return translated;
  const fe = err as FastifyError & { validation?: AjvLikeError[]; validationContext?: string };
  if (Array.isArray(fe.validation)) {
    const errors = describeValidation(fe.validationContext ?? 'request', fe.validation);
    const detail = errors.map((e) => `${e.path} ${e.message}`).join('; ');
    return new PgStewardError('PGS_VALIDATION', 400, 'Bad Request', detail, { errors });
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return Errors.unsupportedMediaType('Send the request body as application/json.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return Errors.payloadTooLarge('The request body is too large.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return Errors.validation('The request body is empty; send a JSON object.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return Errors.validation('The request body is not valid JSON.');
  }
  if (err instanceof SyntaxError && fe.statusCode === 400)
    return Errors.validation('The request body is not valid JSON.');
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new PgStewardError('PGS_BAD_REQUEST', fe.statusCode, 'Bad Request', fe.message);
  }
  return Errors.internal();
}
