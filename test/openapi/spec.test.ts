import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Validator } from '@seriousme/openapi-schema-validator';
import t from 'tap';
import { SCOPES } from '../../src/auth/scopes.js';
import { HTTP_METHODS, listOperations, loadOpenApiDocument } from '../../src/http/contract.js';
import { OPENAPI_SPEC_PATH, PROJECT_ROOT } from '../../src/paths.js';

t.test('openapi/openapi.yaml is a valid OpenAPI 3.1 document', async (t) => {
  const result = await new Validator().validate(OPENAPI_SPEC_PATH);
  t.same(result.errors ?? [], []);
  t.ok(result.valid);
});

t.test('src/generated/ matches the spec (the same check CI runs)', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, ['scripts/check-generated.mjs'], {
    cwd: PROJECT_ROOT,
  });
  t.match(stdout, /is fresh/);
});

/** The operations that are public on purpose; any other operation must name a bearer scope. */
const PUBLIC_OPERATIONS = ['getLiveness', 'getReadiness'];

t.test('every operation names a bearer scope, except the listed public ones', async (t) => {
  const doc = loadOpenApiDocument();
  const known = new Set<string>(SCOPES);
  const seen: string[] = [];
  for (const item of Object.values(doc.paths)) {
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (!op) continue;
      const name = op.operationId ?? `${method} (no operationId)`;
      seen.push(name);
      if (PUBLIC_OPERATIONS.includes(name)) {
        t.same(op.security, [], `${name} is public, and says so with security: []`);
        continue;
      }
      t.ok(Array.isArray(op.security) && op.security.length > 0, `${name} has a security requirement`);
      for (const requirement of op.security ?? []) {
        t.same(Object.keys(requirement), ['bearer'], `${name}: a bearer requirement`);
        const scopes = requirement.bearer ?? [];
        t.ok(scopes.length > 0, `${name}: names at least one scope`);
        for (const s of scopes) t.ok(known.has(s), `${name}: ${s} is a known scope`);
      }
    }
  }
  t.ok(
    PUBLIC_OPERATIONS.every((p) => seen.includes(p)),
    'the public list names operations that exist',
  );
});

t.test('an operation without a security entry stops start-up rather than going public', async (t) => {
  const doc = loadOpenApiDocument();
  const copy = structuredClone(doc);
  const op = copy.paths['/v1/targets']?.get;
  t.ok(op);
  if (op) delete op.security;
  t.throws(() => listOperations(copy), /listTargets: no security in the spec/);
  t.same(listOperations(doc).find((o) => o.operationId === 'getLiveness')?.scopes, null, 'security: [] is public');
});

t.test('GET /v1/audit needs audit:read, or tenants:admin as before', async (t) => {
  const audit = listOperations(loadOpenApiDocument()).find((o) => o.operationId === 'listAuditEvents');
  t.same(audit?.scopes, [['audit:read'], ['tenants:admin']]);
});
