import { Ajv, type Options } from 'ajv';
import formatsModule from 'ajv-formats';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';

/**
 * Request validation against the contract. Two differences from fastify's default Ajv:
 * unknown body fields are rejected (the default strips them silently), and bodies are not
 * type-coerced ("5" is not a port); path and query strings are, since they only arrive as text.
 */
// ajv-formats is CommonJS with a default export; under NodeNext the function sits on `.default`.
const addFormats = (formatsModule as unknown as { default: (ajv: Ajv) => Ajv }).default;

const common: Options = {
  allErrors: true,
  removeAdditional: false,
  useDefaults: true,
  // OpenAPI keywords that are not JSON Schema validation keywords.
  keywords: ['example', 'discriminator', 'xml', 'externalDocs'],
  strict: 'log',
};

function makeAjv(coerceTypes: Options['coerceTypes']): Ajv {
  const ajv = new Ajv({ ...common, coerceTypes });
  addFormats(ajv);
  return ajv;
}

export function contractValidatorCompiler(): FastifySchemaCompiler<FastifySchema> {
  const forBody = makeAjv(false);
  const forText = makeAjv('array');
  return ({ schema, httpPart }) =>
    (httpPart === 'body' ? forBody : forText).compile(httpPart === 'headers' ? lowercaseHeaderNames(schema) : schema);
}

/** Node lowercases incoming header names; the contract spells them as people write them (Idempotency-Key). */
function lowercaseHeaderNames(schema: FastifySchema): object {
  const s = schema as { properties?: Record<string, unknown>; required?: string[] };
  return {
    ...s,
    ...(s.properties
      ? { properties: Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k.toLowerCase(), v])) }
      : {}),
    ...(s.required ? { required: s.required.map((k) => k.toLowerCase()) } : {}),
  };
}
