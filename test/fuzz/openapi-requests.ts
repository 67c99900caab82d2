import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { HTTP_METHODS, type OpenApiDocument } from '../../src/http/contract.js';
import { malformedPathSegment, malformedValue, oddString, wrongType } from './malformed-values.js';

type Schema = Record<string, unknown>;

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema: Schema;
}

export interface FuzzOperation {
  operationId: string;
  method: string;
  path: string;
  parameters: Parameter[];
  body: Schema | null;
}

/** A generated request, with a short description for the failure report. */
export interface FuzzRequest {
  operationId: string;
  inject: InjectOptions;
  describe: string;
}

/** Every operation of the contract with its parameters and body schema, $refs resolved. */
export function fuzzOperations(doc: OpenApiDocument): FuzzOperation[] {
  const resolve = (node: unknown): Schema => {
    let cur = node as Schema;
    while (typeof cur?.$ref === 'string') {
      let target: unknown = doc;
      for (const part of (cur.$ref as string).replace(/^#\//, '').split('/')) target = (target as Schema)[part];
      cur = target as Schema;
    }
    return cur;
  };
  const deref = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(deref);
    if (node === null || typeof node !== 'object') return node;
    const resolved = resolve(node);
    return Object.fromEntries(Object.entries(resolved).map(([k, v]) => [k, deref(v)]));
  };
  const ops: FuzzOperation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (!op?.operationId) continue;
      const parameters = ((op.parameters as unknown[]) ?? []).map((p) => deref(p) as Parameter);
      const content = (resolve(op.requestBody ?? {}).content ?? {}) as Record<string, { schema?: unknown }>;
      const bodySchema = content['application/json']?.schema;
      ops.push({
        operationId: op.operationId,
        method: method.toUpperCase(),
        path,
        parameters,
        body: bodySchema ? (deref(bodySchema) as Schema) : null,
      });
    }
  }
  return ops;
}

/** A value the schema accepts (roughly: enough to get past validation and into the handler). */
export function validValue(schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  if (Array.isArray(schema.allOf) && schema.allOf.length > 0) return validValue(schema.allOf[0] as Schema, depth);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  const type = Array.isArray(schema.type) ? (schema.type as string[]).find((x) => x !== 'null') : schema.type;
  switch (type) {
    case 'string': {
      if (schema.format === 'uuid') return fc.uuid();
      if (schema.format === 'date-time') return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
      if (typeof schema.pattern === 'string') return fc.stringMatching(new RegExp(schema.pattern));
      const min = (schema.minLength as number | undefined) ?? 0;
      return fc.string({ minLength: min, maxLength: Math.max(min, Math.min((schema.maxLength as number) ?? 20, 20)) });
    }
    case 'integer':
      return fc.integer({ min: (schema.minimum as number) ?? -1000, max: (schema.maximum as number) ?? 1000 });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return depth > 3
        ? fc.constant([])
        : fc.array(validValue((schema.items as Schema) ?? {}, depth + 1), {
            maxLength: Math.min((schema.maxItems as number) ?? 3, 3),
          });
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      if (depth > 3 || Object.keys(props).length === 0) return fc.constant({});
      const record = Object.fromEntries(Object.entries(props).map(([k, s]) => [k, validValue(s, depth + 1)]));
      return fc.record(record, { requiredKeys: (schema.required as string[]) ?? [] });
    }
    default:
      return fc.jsonValue({ maxDepth: 1 });
  }
}

/** Every path inside a JSON value (["a", 0, "b"]), the root included. */
function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out = [prefix];
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) out.push(...pathsOf(v, [...prefix, i]));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  }
  return out;
}

function replaceAt(value: unknown, path: (string | number)[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<string | number, unknown>;
  copy[head] = replaceAt(copy[head], rest, replacement);
  return copy;
}

/** A body the schema accepts, then (usually) broken: one field replaced, removed or added, or all of it. */
function malformedBody(schema: Schema | null): fc.Arbitrary<unknown> {
  const valid = schema ? validValue(schema) : fc.constant({});
  return fc.oneof(
    { weight: 2, arbitrary: valid },
    {
      weight: 5,
      arbitrary: fc.tuple(valid, fc.nat(), malformedValue).map(([v, n, bad]) => {
        const paths = pathsOf(v).slice(1);
        return paths.length === 0 ? bad : replaceAt(v, paths[n % paths.length] as (string | number)[], bad);
      }),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(valid, fc.nat()).map(([v, n]) => {
        const paths = pathsOf(v).slice(1);
        return paths.length === 0 ? v : replaceAt(v, paths[n % paths.length] as (string | number)[], undefined);
      }),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(valid, fc.oneof(oddString, fc.constantFrom('extra', '__proto__', 'constructor')), malformedValue)
        .map(([v, key, bad]) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? { ...v, [key]: bad } : v)),
    },
    { weight: 2, arbitrary: wrongType },
  );
}

/** How the body travels: JSON as it should, or broken JSON, another content type, or none at all. */
const transport = fc.oneof(
  { weight: 6, arbitrary: fc.constant('json' as const) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'none',
      'empty-json',
      'broken-json',
      'text/plain',
      'application/xml',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/merge-patch+json',
      'no-content-type',
      'application/octet-stream',
    ),
  },
);

/** Header text that can travel over HTTP (latin-1, no control characters). */
const headerText = fc.oneof(
  fc.string({ minLength: 1, maxLength: 40 }),
  fc.string({
    unit: fc
      .integer({ min: 0x20, max: 0xff })
      .filter((c) => c !== 0x7f)
      .map((c) => String.fromCharCode(c)),
    maxLength: 40,
  }),
  fc.constantFrom('', ' ', 'x'.repeat(201), 'x'.repeat(10_000)),
);

/** Query text, raw: valid values, odd Unicode (percent-encoded), bytes that are not UTF-8, NUL. */
function queryValue(schema: Schema): fc.Arbitrary<string> {
  return fc.oneof(
    validValue(schema).map((v) => encodeURIComponent(String(v))),
    malformedValue.map((v) =>
      encodeURIComponent(String(typeof v === 'object' ? JSON.stringify(v) : v).replace(/[\uD800-\uDFFF]/g, '\uFFFD')),
    ),
    fc.constantFrom('%00', '%ED%A0%80', '%FF', '%', '%zz', '', 'a&b', 'x'.repeat(5_000)),
  );
}

/** Requests for one operation: its path, query, headers and body, each likely broken. */
export function requestFor(
  op: FuzzOperation,
  token: string,
  pathPools: Record<string, fc.Arbitrary<string>>,
): fc.Arbitrary<FuzzRequest> {
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const queryParams = op.parameters.filter((p) => p.in === 'query');
  const headerParams = op.parameters.filter((p) => p.in === 'header');
  const pathArb = fc.tuple(
    ...pathParams.map((p) =>
      fc.oneof(
        { weight: 3, arbitrary: pathPools[p.name] ?? validValue(p.schema).map((v) => encodeURIComponent(String(v))) },
        { weight: 2, arbitrary: malformedPathSegment },
      ),
    ),
  );
  const queryArb = fc.tuple(
    ...queryParams.map((p) => fc.option(queryValue(p.schema), { nil: undefined }).map((v) => [p.name, v] as const)),
    fc.option(fc.tuple(fc.constantFrom('extra', 'limit', 'cursor', '__proto__'), queryValue({ type: 'string' })), {
      nil: undefined,
    }),
  );
  const headerArb = fc.tuple(
    ...headerParams.map((p) => fc.option(headerText, { nil: undefined }).map((v) => [p.name, v] as const)),
  );
  const bodyArb = fc.tuple(malformedBody(op.body), transport, fc.nat(200));
  return fc.tuple(pathArb, queryArb, headerArb, bodyArb).map(([segments, query, headers, [body, how, cut]]) => {
    let url = op.path;
    pathParams.forEach((p, i) => {
      url = url.replace(`{${p.name}}`, segments[i] as string);
    });
    const pairs = (query as unknown[]).filter(Boolean) as (readonly [string, string | undefined])[];
    const qs = pairs.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
    if (qs.length > 0) url += `?${qs.join('&')}`;
    const hdrs: Record<string, string> = { authorization: `Bearer ${token}` };
    for (const [name, value] of headers) if (value !== undefined) hdrs[name.toLowerCase()] = value;
    const json = JSON.stringify(body) ?? '';
    let payload: string | undefined;
    switch (how) {
      case 'none':
        break;
      case 'empty-json':
        hdrs['content-type'] = 'application/json';
        payload = '';
        break;
      case 'broken-json':
        hdrs['content-type'] = 'application/json';
        payload = `${json.slice(0, cut % Math.max(json.length, 1))}{,`;
        break;
      case 'no-content-type':
        payload = json;
        break;
      case 'json':
        hdrs['content-type'] = 'application/json';
        payload = json;
        break;
      default:
        hdrs['content-type'] = how;
        payload = json;
    }
    const inject: InjectOptions = {
      method: op.method as InjectOptions['method'],
      url,
      headers: hdrs,
      ...(payload !== undefined ? { payload } : {}),
    };
    const shown =
      payload === undefined ? '(no body)' : `${hdrs['content-type'] ?? '(no type)'} ${payload.slice(0, 200)}`;
    return { operationId: op.operationId, inject, describe: `${op.method} ${url.slice(0, 200)} ${shown}` };
  });
}
