import type { GetSecretValueCommandOutput, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Errors } from '../errors.js';
import { type DbSecret, parseDbSecret, type SecretProvider } from './db-secret.js';

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

/** What the operator can do about the common failures; our own words, so safe to show. */
const HINTS: Record<string, string> = {
  AccessDeniedException: 'the AWS identity may not read this secret',
  DecryptionFailure: 'KMS could not decrypt it',
  InvalidRequestException: 'the secret may be scheduled for deletion',
  CredentialsProviderError: 'no AWS credentials were found',
  TimeoutError: 'AWS Secrets Manager did not answer in time',
};

/**
 * The short, safe reason for a failed call: the error's type name (an AWS exception name or a
 * Node network code), never its message, which for some services echoes request content.
 */
export function awsFailureReason(err: unknown): string {
  const e = (err ?? {}) as { name?: unknown; code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' && /^E[A-Z0-9_]{2,40}$/.test(e.code) ? e.code : undefined;
  const name = typeof e.name === 'string' && /^[A-Za-z][A-Za-z0-9_.]{0,63}$/.test(e.name) ? e.name : undefined;
  // The SDK raises a plain Error for a missing region; recognisable only by its fixed message.
  if (name === 'Error' && e.message === 'Region is missing') return 'no AWS region is configured (set AWS_REGION)';
  const type = code ?? (name === undefined || name === 'Error' ? 'network error' : name);
  const hint = HINTS[type];
  return hint === undefined ? type : `${type}: ${hint}`;
}

type SecretsManagerSdk = typeof import('@aws-sdk/client-secrets-manager');

/**
 * The SDK is loaded on the first fetch, not at start-up: importing it adds 14 MiB of RSS to a bare node 20
 * process, which a server whose secrets all live in a file would carry for nothing.
 */
const loadSdk = (): Promise<SecretsManagerSdk> => import('@aws-sdk/client-secrets-manager');

/** Reads database secrets from AWS Secrets Manager (the AWSCURRENT version). */
export class AwsSecretsManagerProvider implements SecretProvider {
  readonly #options: AwsSecretsManagerOptions;
  // One client per region: a secret given by ARN is read in the ARN's region.
  readonly #clients = new Map<string, SecretsManagerClient>();

  constructor(options: AwsSecretsManagerOptions = {}) {
    this.#options = options;
  }

  #client(sdk: SecretsManagerSdk, secretId: string): SecretsManagerClient {
    const arnRegion = ARN_REGION.exec(secretId)?.[1];
    // A custom endpoint serves one region; otherwise the ARN's region wins over the default.
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

  async fetch(id: string, ref: string): Promise<DbSecret> {
    const sdk = await loadSdk();
    let output: GetSecretValueCommandOutput;
    try {
      const command = new sdk.GetSecretValueCommand({ SecretId: id, VersionStage: 'AWSCURRENT' });
      output = await this.#client(sdk, id).send(command);
    } catch (err) {
      if ((err as { name?: unknown } | null)?.name === 'ResourceNotFoundException') throw Errors.secretNotFound(ref);
      throw Errors.secretUnavailable(ref, awsFailureReason(err));
    }
    if (typeof output.SecretString === 'string') return parseDbSecret(ref, output.SecretString);
    if (output.SecretBinary !== undefined) throw Errors.secretMalformed(ref, 'binary secrets are not supported');
    throw Errors.secretMalformed(ref, 'the secret has no value');
  }

  /** Closes the SDK's keep-alive sockets. */
  close(): void {
    for (const client of this.#clients.values()) client.destroy();
    this.#clients.clear();
  }
}
