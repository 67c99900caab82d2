// CI guard: src/generated/ must be exactly what openapi-typescript makes from openapi/openapi.yaml,
// and the spec itself must be a valid OpenAPI 3.1 document.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';

const spec = 'openapi/openapi.yaml';
const result = await new Validator().validate(spec);
if (!result.valid) {
  console.error(`${spec} is not a valid OpenAPI document:`, JSON.stringify(result.errors, null, 2));
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'pgsteward-gen-'));
try {
  const fresh = join(dir, 'openapi.ts');
  execFileSync(process.execPath, ['node_modules/openapi-typescript/bin/cli.js', spec, '-o', fresh], {
    stdio: 'ignore',
  });
  if (readFileSync(fresh, 'utf8') !== readFileSync('src/generated/openapi.ts', 'utf8')) {
    console.error('src/generated/openapi.ts is stale: run `npm run generate` and commit the result.');
    process.exit(1);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${spec} is valid OpenAPI; src/generated/ is fresh.`);
