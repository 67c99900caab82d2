import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Validator } from '@seriousme/openapi-schema-validator';
import t from 'tap';
import { SCOPES } from '../../src/auth/scopes.js';
import { listOperations, loadOpenApiDocument } from '../../src/http/contract.js';
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

t.test('every /v1 operation requires a bearer token and names only known scopes', async (t) => {
  const ops = listOperations(loadOpenApiDocument());
  for (const op of ops.filter((o) => o.path.startsWith('/v1'))) {
    t.not(op.scopes, null, `${op.operationId} requires authentication`);
    for (const s of op.scopes ?? []) t.ok((SCOPES as readonly string[]).includes(s), `${op.operationId}: ${s}`);
  }
  t.ok(
    ops.filter((o) => !o.path.startsWith('/v1')).every((o) => o.scopes === null),
    'operational endpoints are public',
  );
});
