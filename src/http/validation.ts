import { Ajv, type Options, type ValidateFunction } from 'ajv';
import formatsModule from 'ajv-formats';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';
import { findUnstorableText, isUnstorableText } from '../api/unstorable-text.js';

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
    rejectingUnstorableText(
      (httpPart === 'body' ? forBody : forText).compile(httpPart === 'headers' ? lowercaseHeaderNames(schema) : schema),
    );
}

/** Runs before the contract's schema: every part of every request is checked, whatever its schema says. */
function rejectingUnstorableText(validate: ValidateFunction): ValidateFunction {
  const wrapped = ((data: unknown, ctx?: Parameters<ValidateFunction>[1]) => {
    const at = findUnstorableText(data);
    if (at !== null) {
      wrapped.errors = [
        {
          // The path may itself hold the character (an object key); it goes into the answer replaced.
          instancePath: [...at].map((c) => (isUnstorableText(c) ? '\uFFFD' : c)).join(''),
          schemaPath: '#',
          keyword: 'unstorableText',
          params: {},
          message: 'contains a character that cannot be stored (U+0000 or an unpaired surrogate)',
        },
      ];
      return false;
    }
    const ok = validate(data, ctx);
    wrapped.errors = validate.errors;
    return ok;
  }) as ValidateFunction;
  // fastify passes the parent object (so Ajv can apply root defaults) only to functions carrying schemaEnv.
  Object.assign(wrapped, { schemaEnv: validate.schemaEnv, schema: validate.schema });
  return wrapped;
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
