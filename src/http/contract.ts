import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { isScope, type Scope } from '../auth/scopes.js';
import { OPENAPI_SPEC_PATH, PROJECT_ROOT } from '../paths.js';

export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, OperationObject>>;
  [key: string]: unknown;
}

export interface OperationObject {
  operationId?: string;
  security?: Record<string, string[]>[];
  [key: string]: unknown;
}

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

/** Where the build leaves the contract already parsed (scripts/build-if-stale.mjs). */
const PARSED_CONTRACT_PATH = join(PROJECT_ROOT, 'dist', 'openapi.json');

/**
 * The REST contract, read once: the source of truth for routes, validation and required scopes. The
 * YAML is always what counts: the build's parsed copy is used only while it was made from these very
 * bytes (parsing the YAML took ~0.5 s of CPU at start-up; reading the copy and hashing ~10 ms).
 */
export function loadOpenApiDocument(
  path = OPENAPI_SPEC_PATH,
  parsedPath: string | null = path === OPENAPI_SPEC_PATH ? PARSED_CONTRACT_PATH : null,
): OpenApiDocument {
  const text = readFileSync(path);
  if (parsedPath) {
    const parsed = readParsedContract(parsedPath);
    if (parsed && parsed.sourceSha256 === createHash('sha256').update(text).digest('hex')) return parsed.document;
  }
  return parse(text.toString('utf8')) as OpenApiDocument;
}

function readParsedContract(path: string): { sourceSha256: string; document: OpenApiDocument } | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

export interface OperationInfo {
  operationId: string;
  method: string;
  path: string;
  /**
   * Null for a public operation (`security: []` in the spec). Otherwise the alternatives OpenAPI's
   * `security` lists: the caller needs every scope of at least one of them.
   */
  scopes: Scope[][] | null;
  /** The request body the operation takes, or null when it takes none. */
  body: { required: boolean; mediaTypes: string[] } | null;
}

/**
 * Each operation of the contract with what it requires. An operation with no `security` at all is
 * refused: public must be said out loud (`security: []`), so a new route is never public by accident.
 */
export function listOperations(doc: OpenApiDocument): OperationInfo[] {
  const ops: OperationInfo[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (!op?.operationId) continue;
      if (!Array.isArray(op.security)) {
        throw new Error(`${op.operationId}: no security in the spec; name its scopes, or security: [] if public`);
      }
      const scopes = op.security.length === 0 ? null : op.security.map((req) => knownScopes(op.operationId, req));
      const requestBody = op.requestBody as { required?: boolean; content?: Record<string, unknown> } | undefined;
      const body = requestBody
        ? { required: requestBody.required === true, mediaTypes: Object.keys(requestBody.content ?? {}) }
        : null;
      ops.push({ operationId: op.operationId, method: method.toUpperCase(), path, scopes, body });
    }
  }
  return ops;
}

function knownScopes(operationId: string | undefined, requirement: Record<string, string[]>): Scope[] {
  const declared = requirement.bearer ?? [];
  const unknown = declared.filter((s) => !isScope(s));
  if (unknown.length > 0) throw new Error(`${operationId}: unknown scopes ${unknown.join(', ')} in the spec`);
  return declared as Scope[];
}
