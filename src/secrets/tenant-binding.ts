import { Errors } from '../errors.js';
import type { DescribeOutcome, SecretDescriber, SecretDescription } from './aws-secret-tags.js';
import { parseSecretRef, type SecretRef } from './secret-ref.js';

/**
 * Which tenant may use which secret. A secretRef is only a name, and any tenant can type any name, so
 * pgsteward itself must know whose a secret is before it sends the credentials anywhere:
 *
 * - `file:<tenant>/<key>` belongs to `<tenant>` (tenant ids cannot contain `/`). A key outside every
 *   namespace belongs to a tenant only when the operator says so in PGSTEWARD_SECRET_FILE_TENANTS, which
 *   also overrides the namespace.
 * - `aws-sm:` secrets belong to the tenant named by their tag (PGSTEWARD_AWS_TENANT_TAG), or, untagged,
 *   to the tenant whose name pattern (PGSTEWARD_AWS_SECRET_NAME_PATTERN) matches the secret's name as
 *   DescribeSecret reports it (never as the ref spells it: an ARN can be partial).
 * - Operators' secrets (the drill server's) belong to no tenant, whatever their key, tag or name.
 *
 * Every refusal answers PGS_SECRET_NOT_FOUND naming only the ref, exactly as a missing secret does, so a
 * tenant cannot probe for other tenants' secrets; the reason goes to the operator log.
 */
export interface TenantBindingOptions {
  /** PGSTEWARD_SECRET_FILE_TENANTS: secrets file key -> tenant id. */
  fileTenants: Readonly<Record<string, string>>;
  /** PGSTEWARD_AWS_TENANT_TAG, default `pgsteward:tenant`. */
  awsTagKey: string;
  /** PGSTEWARD_AWS_SECRET_NAME_PATTERN, default `pgsteward/{tenant}/*`; undefined: tags only. */
  awsNamePattern?: string | undefined;
  /** Refs no tenant may use (PGSTEWARD_DRILL_TARGET). */
  operatorRefs: readonly string[];
  /** DescribeSecret; without it no aws-sm: ref is anyone's. */
  describer?: SecretDescriber | undefined;
  /** How long a DescribeSecret answer is reused; a changed tag takes effect after at most this. Default 60 s. */
  ttlMs?: number;
  now?: () => number;
  /** The operator log; a refusal's reason goes here and nowhere else. */
  log?: (fields: Record<string, unknown>, message: string) => void;
}

interface CacheEntry {
  promise: Promise<DescribeOutcome>;
  expiresAt: number;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `pgsteward/{tenant}/*` for tenant acme: `^pgsteward/acme/.*$`. `*` matches anything, `/` included. */
export function secretNameMatcher(pattern: string, tenantId: string): RegExp {
  const [before = '', after = ''] = pattern.split('{tenant}');
  const glob = (part: string) => part.split('*').map(escapeRegExp).join('.*');
  return new RegExp(`^${glob(before)}${escapeRegExp(tenantId)}${glob(after)}$`, 's');
}

/** The tenant a secrets file key belongs to, or undefined for a key in no namespace. */
export function fileKeyOwner(key: string, fileTenants: Readonly<Record<string, string>>): string | undefined {
  if (Object.hasOwn(fileTenants, key)) return fileTenants[key];
  const slash = key.indexOf('/');
  return slash > 0 ? key.slice(0, slash) : undefined;
}

class Refusal extends Error {}

export class TenantSecretBinding {
  readonly #options: TenantBindingOptions;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #described = new Map<string, CacheEntry>();
  readonly #operatorRefs: SecretRef[];

  constructor(options: TenantBindingOptions) {
    this.#options = options;
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    this.#operatorRefs = options.operatorRefs.map((ref) => parseSecretRef(ref));
  }

  /** The tag a secret pgsteward creates for a tenant carries (PGSTEWARD_AWS_TENANT_TAG), so it is bound to it. */
  get awsTagKey(): string {
    return this.#options.awsTagKey;
  }

  /**
   * Resolves when `tenantId` may use `ref`; otherwise throws PGS_SECRET_NOT_FOUND (or
   * PGS_SECRET_UNAVAILABLE when AWS could not say, PGS_SECRET_REF_INVALID for a malformed ref).
   * Every use of a tenant's secret goes through here first: target create and update, and every
   * connection (check, backup, restore, drill), because a tag can change in between.
   */
  async assertBound(tenantId: string, ref: string): Promise<void> {
    const parsed = parseSecretRef(ref);
    try {
      if (parsed.scheme === 'file') this.#checkFileKey(tenantId, parsed.id);
      else await this.#checkAwsSecret(tenantId, parsed.id, ref);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      this.#options.log?.({ tenantId, secretRef: ref, reason: err.message }, 'secret refused for tenant');
      throw Errors.secretNotFound(ref);
    }
  }

  #checkFileKey(tenantId: string, key: string): void {
    if (this.#operatorRefs.some((r) => r.scheme === 'file' && r.id === key)) {
      throw new Refusal("it is the operator's secret (PGSTEWARD_DRILL_TARGET)");
    }
    const owner = fileKeyOwner(key, this.#options.fileTenants);
    if (owner === undefined) {
      throw new Refusal(
        `the key is in no tenant's namespace (file:${tenantId}/...) nor in PGSTEWARD_SECRET_FILE_TENANTS`,
      );
    }
    if (owner !== tenantId) throw new Refusal(`the key belongs to tenant '${owner}'`);
  }

  async #checkAwsSecret(tenantId: string, id: string, ref: string): Promise<void> {
    const outcome = await this.#describe(id, ref);
    if (outcome.kind === 'not-found') throw new Refusal('DescribeSecret: no such secret');
    if (outcome.kind === 'denied') throw new Refusal('DescribeSecret: access denied');
    const secret = outcome.description;
    if (await this.#isOperatorSecret(secret)) throw new Refusal("it is the operator's secret (PGSTEWARD_DRILL_TARGET)");
    const tagged = secret.tags.get(this.#options.awsTagKey);
    if (tagged !== undefined) {
      if (tagged === tenantId) return;
      throw new Refusal(`its tag ${this.#options.awsTagKey} names tenant '${tagged}'`);
    }
    const pattern = this.#options.awsNamePattern;
    if (pattern !== undefined && secretNameMatcher(pattern, tenantId).test(secret.name)) return;
    throw new Refusal(
      `it has no ${this.#options.awsTagKey} tag and its name '${secret.name}' does not match ${pattern ?? '(no pattern)'}`,
    );
  }

  async #isOperatorSecret(secret: SecretDescription): Promise<boolean> {
    for (const operator of this.#operatorRefs) {
      if (operator.scheme !== 'aws-sm') continue;
      if (operator.id === secret.arn || operator.id === secret.name) return true;
      // By ARN, so a name, a full ARN and a partial ARN of the same secret all count as one.
      const described = await this.#describe(operator.id, `aws-sm:${operator.id}`);
      if (described.kind === 'found' && described.description.arn === secret.arn) return true;
    }
    return false;
  }

  #describe(id: string, ref: string): Promise<DescribeOutcome> {
    const describer = this.#options.describer;
    if (describer === undefined) {
      return Promise.reject(Errors.secretUnavailable(ref, 'AWS Secrets Manager is not configured on this server'));
    }
    const cached = this.#described.get(id);
    if (cached !== undefined && cached.expiresAt > this.#now()) return cached.promise;
    if (this.#described.size >= 256) {
      for (const [key, entry] of this.#described) if (entry.expiresAt <= this.#now()) this.#described.delete(key);
    }
    const entry: CacheEntry = {
      promise: new Promise<DescribeOutcome>((resolve) => resolve(describer.describe(id, ref))),
      expiresAt: Number.POSITIVE_INFINITY,
    };
    this.#described.set(id, entry);
    entry.promise.then(
      () => {
        entry.expiresAt = this.#now() + this.#ttlMs;
      },
      () => {
        // Failures are not cached: AWS being unreachable says nothing about whose the secret is.
        if (this.#described.get(id) === entry) this.#described.delete(id);
      },
    );
    return entry.promise;
  }
}
