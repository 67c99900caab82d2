import type { ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formatsModule from 'ajv-formats';
import { loadOpenApiDocument, type OpenApiDocument } from '../../src/http/contract.js';

const addFormats = (formatsModule as unknown as { default: (ajv: Ajv2020) => Ajv2020 }).default;

type Obj = Record<string, unknown>;

/**
 * Checks responses against openapi/openapi.yaml: the status must be documented (or `default`),
 * the content type must be one the operation declares, and the body must validate.
 */
export class ContractChecker {
  private readonly doc: OpenApiDocument;
  private readonly ajv: Ajv2020;
  private readonly cache = new Map<string, ValidateFunction>();
  readonly seen = new Set<string>();

  constructor(doc = loadOpenApiDocument()) {
    this.doc = doc;
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.ajv);
  }

  private resolve(node: Obj): Obj {
    const ref = node.$ref;
    if (typeof ref !== 'string') return node;
    let cur: unknown = this.doc;
    for (const part of ref.replace(/^#\//, '').split('/'))
      cur = (cur as Obj)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    return this.resolve(cur as Obj);
  }

  /** Returns a list of violations (empty when the response conforms). Routes outside the spec are skipped. */
  check(method: string, fastifyRoute: string | undefined, status: number, contentType: string, body: string): string[] {
    if (!fastifyRoute) return [];
    const specPath = fastifyRoute.replace(/:(\w+)/g, '{$1}');
    const op = this.doc.paths[specPath]?.[method.toLowerCase()] as Obj | undefined;
    if (!op) return [];
    const where = `${method} ${specPath} -> ${status}`;
    this.seen.add(`${method} ${specPath} ${status}`);
    const responses = op.responses as Obj;
    const responseNode = (responses[String(status)] ?? responses.default) as Obj | undefined;
    if (!responseNode) return [`${where}: status ${status} is not documented`];
    const response = this.resolve(responseNode);
    const content = response.content as Obj | undefined;
    if (!content) return body.length === 0 ? [] : [`${where}: a body was sent but none is documented`];
    const mediaType = contentType.split(';')[0]?.trim() ?? '';
    const media = content[mediaType] as Obj | undefined;
    if (!media) return [`${where}: content type '${mediaType}' is not one of ${Object.keys(content).join(', ')}`];
    const key = `${where} ${mediaType}`;
    let validate = this.cache.get(key);
    if (!validate) {
      // Wrap the schema with the document's components so its #/components/... refs resolve.
      validate = this.ajv.compile({ ...(media.schema as Obj), components: this.doc.components });
      this.cache.set(key, validate);
    }
    let parsed: unknown;
    // A text representation (text/plain, text/html) is validated as the string it is.
    if (!mediaType.includes('json')) return validate(body) ? [] : [`${where}: ${this.ajv.errorsText(validate.errors)}`];
    try {
      parsed = JSON.parse(body);
    } catch {
      return [`${where}: body is not JSON`];
    }
    return validate(parsed) ? [] : [`${where}: ${this.ajv.errorsText(validate.errors)} in ${body.slice(0, 300)}`];
  }
}
