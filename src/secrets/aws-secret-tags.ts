import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Errors } from '../errors.js';
import type { AwsSecretsManagerOptions } from './aws-secrets-manager.js';
import { awsFailureReason } from './aws-secrets-manager.js';

/** What DescribeSecret says about a secret: enough to decide which tenant it belongs to. Never its value. */
export interface SecretDescription {
  arn: string;
  name: string;
  tags: ReadonlyMap<string, string>;
}

/**
 * `denied` is kept apart from `not-found` only for the operator's log: a tenant is given one answer for
 * both, and an IAM policy that limits DescribeSecret by tag makes "denied" mean "not this tenant's".
 */
export type DescribeOutcome =
  | { kind: 'found'; description: SecretDescription }
  | { kind: 'not-found' }
  | { kind: 'denied' };

/** Reads a secret's metadata. Throws Errors.secretUnavailable when the answer is neither yes nor no. */
export interface SecretDescriber {
  describe(id: string, ref: string): Promise<DescribeOutcome>;
}

const ARN_REGION = /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):/;

type SecretsManagerSdk = typeof import('@aws-sdk/client-secrets-manager');
// Loaded on first use, as the provider does: file-only deployments never load the SDK.
const loadSdk = (): Promise<SecretsManagerSdk> => import('@aws-sdk/client-secrets-manager');

/** DescribeSecret through the real SDK client, with the provider's region and endpoint rules. */
export class AwsSecretDescriber implements SecretDescriber {
  readonly #options: AwsSecretsManagerOptions;
  readonly #clients = new Map<string, SecretsManagerClient>();

  constructor(options: AwsSecretsManagerOptions = {}) {
    this.#options = options;
  }

  #client(sdk: SecretsManagerSdk, secretId: string): SecretsManagerClient {
    const arnRegion = ARN_REGION.exec(secretId)?.[1];
    const region = this.#options.endpoint ? (this.#options.region ?? arnRegion) : (arnRegion ?? this.#options.region);
    const key = region ?? '';
    let client = this.#clients.get(key);
    if (client === undefined) {
      const timeout = this.#options.requestTimeoutMs ?? 10_000;
      client = new sdk.SecretsManagerClient({
        ...(region === undefined ? {} : { region }),
        ...(this.#options.endpoint === undefined ? {} : { endpoint: this.#options.endpoint }),
        ...(this.#options.credentials === undefined ? {} : { credentials: this.#options.credentials }),
        requestHandler: { connectionTimeout: Math.min(timeout, 3000), requestTimeout: timeout },
      });
      this.#clients.set(key, client);
    }
    return client;
  }

  async describe(id: string, ref: string): Promise<DescribeOutcome> {
    const sdk = await loadSdk();
    try {
      const out = await this.#client(sdk, id).send(new sdk.DescribeSecretCommand({ SecretId: id }));
      // A secret scheduled for deletion cannot be read; treat it as gone rather than as someone's.
      if (out.DeletedDate !== undefined) return { kind: 'not-found' };
      const tags = new Map<string, string>();
      for (const tag of out.Tags ?? []) if (tag.Key !== undefined) tags.set(tag.Key, tag.Value ?? '');
      return { kind: 'found', description: { arn: out.ARN ?? '', name: out.Name ?? '', tags } };
    } catch (err) {
      const name = (err as { name?: unknown } | null)?.name;
      if (name === 'ResourceNotFoundException') return { kind: 'not-found' };
      if (name === 'AccessDeniedException') return { kind: 'denied' };
      throw Errors.secretUnavailable(ref, awsFailureReason(err));
    }
  }

  close(): void {
    for (const client of this.#clients.values()) client.destroy();
    this.#clients.clear();
  }
}
