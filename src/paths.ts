import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The directory holding package.json, migrations/, openapi/ and schema/. Found by walking up from
 * this module, because it runs both from src/ (tests) and from dist/src/ (the built service).
 */
function findProjectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'migrations'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the pgsteward project root (package.json beside migrations/)');
    dir = parent;
  }
}

export const PROJECT_ROOT = findProjectRoot();
export const MIGRATIONS_DIR = join(PROJECT_ROOT, 'migrations');
export const OPENAPI_SPEC_PATH = join(PROJECT_ROOT, 'openapi', 'openapi.yaml');
export const GRAPHQL_SCHEMA_DIR = join(PROJECT_ROOT, 'schema');
