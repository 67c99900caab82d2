import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { isScope, type Scope } from '../auth/scopes.js';
import { OPENAPI_SPEC_PATH } from '../paths.js';

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

/** The REST contract, read once: the source of truth for routes, validation and required scopes. */
export function loadOpenApiDocument(path = OPENAPI_SPEC_PATH): OpenApiDocument {
  return parse(readFileSync(path, 'utf8')) as OpenApiDocument;
}

export interface OperationInfo {
  operationId: string;
  method: string;
  path: string;
  /** Null for a public operation; otherwise the scopes the bearer token must carry (maybe none). */
  scopes: Scope[] | null;
}

export function listOperations(doc: OpenApiDocument): OperationInfo[] {
  const ops: OperationInfo[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (!op?.operationId) continue;
      const requirement = op.security?.[0];
      let scopes: Scope[] | null = null;
      if (requirement) {
        const declared = requirement.bearer ?? [];
        const unknown = declared.filter((s) => !isScope(s));
        if (unknown.length > 0) throw new Error(`${op.operationId}: unknown scopes ${unknown.join(', ')} in the spec`);
        scopes = declared as Scope[];
      }
      ops.push({ operationId: op.operationId, method: method.toUpperCase(), path, scopes });
    }
  }
  return ops;
}
