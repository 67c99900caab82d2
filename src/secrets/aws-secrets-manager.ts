import type { GetSecretValueCommandOutput } from '@aws-sdk/client-secrets-manager';
import { Errors } from '../errors.js';
import { AwsSecretsManagerClients, type AwsSecretsManagerOptions } from './aws-clients.js';
import { awsFailureReason } from './aws-failure.js';
import { AwsSecretWriter } from './aws-secret-writer.js';
import { type DbSecret, parseDbSecret, type SecretProvider } from './db-secret.js';
import type { SecretWriter } from './secret-writer.js';

export type { AwsSecretsManagerOptions } from './aws-clients.js';

// Re-exported: callers and tests have always found it here.
export { awsFailureReason } from './aws-failure.js';

/**
 * Reads database secrets from AWS Secrets Manager (the AWSCURRENT version), and writes them with AWS's
 * versions and staging labels through AwsSecretWriter, sharing its clients.
 */
export class AwsSecretsManagerProvider implements SecretProvider, SecretWriter {
  readonly #clients: AwsSecretsManagerClients;
  readonly #writer: AwsSecretWriter;

  constructor(options: AwsSecretsManagerOptions = {}) {
    this.#clients = new AwsSecretsManagerClients(options);
    this.#writer = new AwsSecretWriter((id) => this.#clients.sdkFor(id));
  }

  async fetch(id: string, ref: string): Promise<DbSecret> {
    const { sdk, client } = await this.#clients.sdkFor(id);
    let output: GetSecretValueCommandOutput;
    try {
      const command = new sdk.GetSecretValueCommand({ SecretId: id, VersionStage: 'AWSCURRENT' });
      output = await client.send(command);
    } catch (err) {
      if ((err as { name?: unknown } | null)?.name === 'ResourceNotFoundException') throw Errors.secretNotFound(ref);
      throw Errors.secretUnavailable(ref, awsFailureReason(err));
    }
    if (typeof output.SecretString === 'string') return parseDbSecret(ref, output.SecretString);
    if (output.SecretBinary !== undefined) throw Errors.secretMalformed(ref, 'binary secrets are not supported');
    throw Errors.secretMalformed(ref, 'the secret has no value');
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
    this.#clients.close();
  }
}
