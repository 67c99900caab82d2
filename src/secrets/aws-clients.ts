import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export type SecretsManagerSdk = typeof import('@aws-sdk/client-secrets-manager');

export interface AwsSecretsManagerOptions {
  /** AWS_REGION. Without it, a secret given by ARN uses the ARN's region. */
  region?: string;
  /** PGSTEWARD_AWS_ENDPOINT: a VPC endpoint, LocalStack, or the test suite's fake server. */
  endpoint?: string;
  /** Tests only. Production leaves this unset and uses the SDK's default credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Per-request timeout; a hung endpoint must not hang the job waiting on it. Default 10 s. */
  requestTimeoutMs?: number;
}

// arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 random characters>
const ARN_REGION = /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):/;

/**
 * The SDK is loaded on first use, not at start-up: importing it adds 14 MiB of RSS to a bare node 20
 * process, which a server whose secrets all live in a file would carry for nothing.
 */
const loadSdk = (): Promise<SecretsManagerSdk> => import('@aws-sdk/client-secrets-manager');

/**
 * Secrets Manager clients, one per region: a secret given by ARN is used in the ARN's region, except
 * behind a custom endpoint, which serves one region. Shared by the provider (reads and writes) and the
 * tenant binding's DescribeSecret.
 */
export class AwsSecretsManagerClients {
  readonly #options: AwsSecretsManagerOptions;
  readonly #clients = new Map<string, SecretsManagerClient>();

  constructor(options: AwsSecretsManagerOptions = {}) {
    this.#options = options;
  }

  /** The SDK (loaded on first use) and the client for the secret `id`'s region. */
  async sdkFor(secretId: string): Promise<{ sdk: SecretsManagerSdk; client: SecretsManagerClient }> {
    const sdk = await loadSdk();
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
    return { sdk, client };
  }

  /** Closes the SDK's keep-alive sockets. */
  close(): void {
    for (const client of this.#clients.values()) client.destroy();
    this.#clients.clear();
  }
}
