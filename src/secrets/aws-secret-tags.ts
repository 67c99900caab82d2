import { Errors } from '../errors.js';
import { AwsSecretsManagerClients, type AwsSecretsManagerOptions } from './aws-clients.js';
import { awsFailureReason } from './aws-failure.js';

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

/** DescribeSecret through the real SDK client, with the provider's region and endpoint rules. */
export class AwsSecretDescriber implements SecretDescriber {
  readonly #clients: AwsSecretsManagerClients;

  constructor(options: AwsSecretsManagerOptions = {}) {
    this.#clients = new AwsSecretsManagerClients(options);
  }

  async describe(id: string, ref: string): Promise<DescribeOutcome> {
    const { sdk, client } = await this.#clients.sdkFor(id);
    try {
      const out = await client.send(new sdk.DescribeSecretCommand({ SecretId: id }));
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
    this.#clients.close();
  }
}
