import type { GetSecretValueCommandOutput, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Errors } from '../errors.js';
import { awsFailureReason } from './aws-failure.js';
import { AwsSecretWriter, type SecretsManagerSdk } from './aws-secret-writer.js';
import { type DbSecret, parseDbSecret, type SecretProvider } from './db-secret.js';
import type { SecretWriter } from './secret-writer.js';

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

// Re-exported: callers and tests have always found it here.
export { awsFailureReason } from './aws-failure.js';

/**
 * The SDK is loaded on the first fetch, not at start-up: importing it adds 14 MiB of RSS to a bare node 20
 * process, which a server whose secrets all live in a file would carry for nothing.
 */
const loadSdk = (): Promise<SecretsManagerSdk> => import('@aws-sdk/client-secrets-manager');

/**
 * Reads database secrets from AWS Secrets Manager (the AWSCURRENT version), and writes them with AWS's
 * versions and staging labels through AwsSecretWriter, sharing its clients.
 */
export class AwsSecretsManagerProvider implements SecretProvider, SecretWriter {
  readonly #options: AwsSecretsManagerOptions;
  // One client per region: a secret given by ARN is read in the ARN's region.
  readonly #clients = new Map<string, SecretsManagerClient>();
  readonly #writer = new AwsSecretWriter((id) => this.#sdkFor(id));

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

  /** The SDK (loaded on first use) and the client for the secret `id`'s region. */
  async #sdkFor(id: string): Promise<{ sdk: SecretsManagerSdk; client: SecretsManagerClient }> {
    const sdk = await loadSdk();
    return { sdk, client: this.#client(sdk, id) };
  }

  // The write side (SecretWriter), in aws-secret-writer.ts.
  createSecret(...args: Parameters<SecretWriter['createSecret']>) {
    return this.#writer.createSecret(...args);
  }

  putSecretValue(...args: Parameters<SecretWriter['putSecretValue']>) {
    return this.#writer.putSecretValue(...args);
  }

  updateVersionStage(...args: Parameters<SecretWriter['updateVersionStage']>) {
    return this.#writer.updateVersionStage(...args);
  }

  describeSecret(...args: Parameters<SecretWriter['describeSecret']>) {
    return this.#writer.describeSecret(...args);
  }

  getSecretValue(...args: Parameters<SecretWriter['getSecretValue']>) {
    return this.#writer.getSecretValue(...args);
  }

  tagSecret(...args: Parameters<SecretWriter['tagSecret']>) {
    return this.#writer.tagSecret(...args);
  }

  deleteSecret(...args: Parameters<SecretWriter['deleteSecret']>) {
    return this.#writer.deleteSecret(...args);
  }

  /** Closes the SDK's keep-alive sockets. */
  close(): void {
    for (const client of this.#clients.values()) client.destroy();
    this.#clients.clear();
  }
}
