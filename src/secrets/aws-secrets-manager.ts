import type { GetSecretValueCommandOutput, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Errors } from '../errors.js';
import { type DbSecret, parseDbSecret, type SecretProvider } from './db-secret.js';
import { redactedSecretFields, type SecretFields, sameSecretText, secretTextToWrite } from './secret-fields.js';
import { formatSecretRef } from './secret-ref.js';
import {
  AWSCURRENT,
  type CreateSecretOptions,
  checkRecoveryWindow,
  checkSelector,
  checkStage,
  checkStages,
  checkTags,
  checkVersionId,
  type DeleteSecretOptions,
  type PutSecretValueOptions,
  type SecretDescription,
  type SecretTags,
  type SecretVersionRead,
  type SecretVersionSelector,
  type SecretVersionWritten,
  type SecretWriter,
  type UpdateVersionStageOptions,
} from './secret-writer.js';

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

const errorName = (err: unknown) => (err as { name?: unknown } | null)?.name;
const refOf = (id: string) => formatSecretRef({ scheme: 'aws-sm', id });
const tagList = (tags: SecretTags) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

/**
 * Reads database secrets from AWS Secrets Manager (the AWSCURRENT version), and writes them with AWS's
 * versions and staging labels (SecretWriter). Errors name the AWS exception type, never AWS's message.
 */
export class AwsSecretsManagerProvider implements SecretProvider, SecretWriter {
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

  /** The SDK (loaded on first use) and the client for the secret `id`'s region. */
  async #sdkFor(id: string): Promise<{ sdk: SecretsManagerSdk; client: SecretsManagerClient }> {
    const sdk = await loadSdk();
    return { sdk, client: this.#client(sdk, id) };
  }

  /** For writes: what a failure means for the caller, as a coded error without AWS's message. */
  #writeFailure(err: unknown, ref: string): Error {
    const name = errorName(err);
    if (name === 'ResourceNotFoundException') return Errors.secretNotFound(ref);
    if (name === 'InvalidRequestException') {
      return Errors.secretConflict(
        ref,
        "AWS refused it in the secret's current state (InvalidRequestException; it may be scheduled for deletion)",
      );
    }
    return Errors.secretWriteUnavailable(ref, awsFailureReason(err));
  }

  #readFailure(err: unknown, ref: string): Error {
    if (errorName(err) === 'ResourceNotFoundException') return Errors.secretNotFound(ref);
    return Errors.secretUnavailable(ref, awsFailureReason(err));
  }

  async createSecret(
    id: string,
    value: SecretFields,
    options: CreateSecretOptions = {},
  ): Promise<SecretVersionWritten> {
    const ref = refOf(id);
    const text = secretTextToWrite(ref, value);
    const tags = checkTags(options.tags ?? {});
    const token =
      options.clientRequestToken === undefined
        ? undefined
        : checkVersionId(options.clientRequestToken, 'clientRequestToken');
    const { sdk, client } = await this.#sdkFor(id);
    try {
      const output = await client.send(
        new sdk.CreateSecretCommand({
          Name: id,
          SecretString: text,
          ...(token === undefined ? {} : { ClientRequestToken: token }),
          ...(Object.keys(tags).length === 0 ? {} : { Tags: tagList(tags) }),
        }),
      );
      return { versionId: output.VersionId ?? token ?? '', stages: [AWSCURRENT] };
    } catch (err) {
      if (errorName(err) !== 'ResourceExistsException') throw this.#writeFailure(err, ref);
      // A retry of a create that went through: the version named by our token holds our value.
      const earlier = token === undefined ? undefined : await this.#versionIfSame(id, token, text);
      if (earlier === undefined) throw Errors.secretExists(ref);
      return earlier;
    }
  }

  async #versionIfSame(id: string, versionId: string, text: string): Promise<SecretVersionWritten | undefined> {
    const { sdk, client } = await this.#sdkFor(id);
    try {
      const output = await client.send(new sdk.GetSecretValueCommand({ SecretId: id, VersionId: versionId }));
      const same = typeof output.SecretString === 'string' && sameSecretText(output.SecretString, text);
      return same ? { versionId, stages: output.VersionStages ?? [] } : undefined;
    } catch {
      return undefined;
    }
  }

  async putSecretValue(id: string, value: SecretFields, options: PutSecretValueOptions): Promise<SecretVersionWritten> {
    const ref = refOf(id);
    const text = secretTextToWrite(ref, value);
    const token = checkVersionId(options.clientRequestToken, 'clientRequestToken');
    const stages = checkStages(options.stages ?? [AWSCURRENT]);
    const { sdk, client } = await this.#sdkFor(id);
    try {
      const output = await client.send(
        new sdk.PutSecretValueCommand({
          SecretId: id,
          SecretString: text,
          ClientRequestToken: token,
          VersionStages: stages,
        }),
      );
      return { versionId: output.VersionId ?? token, stages: output.VersionStages ?? stages };
    } catch (err) {
      if (errorName(err) === 'ResourceExistsException') {
        throw Errors.secretConflict(ref, `version ${token} already exists with a different value`);
      }
      throw this.#writeFailure(err, ref);
    }
  }

  async updateVersionStage(id: string, stage: string, options: UpdateVersionStageOptions): Promise<void> {
    const ref = refOf(id);
    checkStage(stage);
    const { moveToVersionId: moveTo, removeFromVersionId: removeFrom } = options;
    if (moveTo !== undefined) checkVersionId(moveTo, 'moveToVersionId');
    if (removeFrom !== undefined) checkVersionId(removeFrom, 'removeFromVersionId');
    if (moveTo === undefined && removeFrom === undefined) {
      throw Errors.validation('updateVersionStage needs moveToVersionId, removeFromVersionId or both.');
    }
    const { sdk, client } = await this.#sdkFor(id);
    try {
      await client.send(
        new sdk.UpdateSecretVersionStageCommand({
          SecretId: id,
          VersionStage: stage,
          ...(moveTo === undefined ? {} : { MoveToVersionId: moveTo }),
          ...(removeFrom === undefined ? {} : { RemoveFromVersionId: removeFrom }),
        }),
      );
    } catch (err) {
      if (errorName(err) !== 'InvalidParameterException') throw this.#writeFailure(err, ref);
      throw await this.#explainStageRefusal(id, ref, stage, options);
    }
  }

  /**
   * AWS answers both an unknown version and a label held elsewhere with InvalidParameterException, told
   * apart only by its message; the labels as they are now tell them apart without reading the message.
   */
  async #explainStageRefusal(
    id: string,
    ref: string,
    stage: string,
    options: UpdateVersionStageOptions,
  ): Promise<Error> {
    const { moveToVersionId: moveTo, removeFromVersionId: removeFrom } = options;
    const { versions } = await this.describeSecret(id);
    for (const versionId of [moveTo, removeFrom]) {
      // Deprecated versions are not described, but still exist: ask for one by id before calling it unknown.
      if (
        versionId !== undefined &&
        !Object.hasOwn(versions, versionId) &&
        !(await this.#versionExists(id, versionId))
      ) {
        return Errors.secretVersionNotFound(ref, `with id ${versionId}`);
      }
    }
    const holder = Object.entries(versions).find(([, stages]) => stages.includes(stage))?.[0];
    if (removeFrom !== undefined && holder !== removeFrom) {
      return Errors.secretConflict(ref, `the stage ${stage} is not attached to version ${removeFrom}`);
    }
    if (moveTo !== undefined && holder !== undefined && holder !== moveTo && holder !== removeFrom) {
      return Errors.secretConflict(
        ref,
        `the stage ${stage} is attached to version ${holder}; name it in removeFromVersionId`,
      );
    }
    if (moveTo === undefined && stage === AWSCURRENT) {
      return Errors.secretConflict(ref, 'AWSCURRENT can only be moved to another version, not removed');
    }
    return Errors.secretConflict(ref, 'AWS refused the label change (InvalidParameterException)');
  }

  async #versionExists(id: string, versionId: string): Promise<boolean> {
    const { sdk, client } = await this.#sdkFor(id);
    try {
      await client.send(new sdk.GetSecretValueCommand({ SecretId: id, VersionId: versionId }));
      return true;
    } catch {
      return false;
    }
  }

  async describeSecret(id: string): Promise<SecretDescription> {
    const ref = refOf(id);
    let output: {
      VersionIdsToStages?: Record<string, string[]>;
      Tags?: Array<{ Key?: string; Value?: string }>;
      DeletedDate?: Date;
    };
    const { sdk, client } = await this.#sdkFor(id);
    try {
      output = await client.send(new sdk.DescribeSecretCommand({ SecretId: id }));
    } catch (err) {
      throw this.#readFailure(err, ref);
    }
    const tags: SecretTags = {};
    for (const tag of output.Tags ?? []) if (tag.Key !== undefined) tags[tag.Key] = tag.Value ?? '';
    return {
      versions: Object.fromEntries(
        Object.entries(output.VersionIdsToStages ?? {}).map(([v, stages]) => [v, [...stages]]),
      ),
      tags,
      ...(output.DeletedDate === undefined ? {} : { deletedAt: output.DeletedDate }),
    };
  }

  async getSecretValue(id: string, selector: SecretVersionSelector = {}): Promise<SecretVersionRead> {
    const ref = refOf(id);
    const { stage, versionId } = checkSelector(selector);
    let output: GetSecretValueCommandOutput;
    const { sdk, client } = await this.#sdkFor(id);
    try {
      output = await client.send(
        new sdk.GetSecretValueCommand({
          SecretId: id,
          ...(versionId === undefined ? { VersionStage: stage ?? AWSCURRENT } : { VersionId: versionId }),
          ...(versionId !== undefined && stage !== undefined ? { VersionStage: stage } : {}),
        }),
      );
    } catch (err) {
      const name = errorName(err);
      // Not found (or a stage that is not on the version) may mean the secret or only the version: ask.
      const stageMismatch = name === 'InvalidRequestException' && versionId !== undefined && stage !== undefined;
      if (name === 'ResourceNotFoundException' || stageMismatch) {
        const described = await this.describeSecret(id); // PGS_SECRET_NOT_FOUND for a missing secret
        if (described.deletedAt === undefined) {
          const byStage = `with stage ${stage ?? AWSCURRENT}`;
          const which =
            versionId === undefined
              ? byStage
              : `with id ${versionId}${stage === undefined ? '' : ` and stage ${stage}`}`;
          throw Errors.secretVersionNotFound(ref, which);
        }
      }
      throw this.#readFailure(err, ref);
    }
    if (typeof output.SecretString !== 'string') throw Errors.secretMalformed(ref, 'binary secrets are not supported');
    let value: unknown;
    try {
      value = JSON.parse(output.SecretString);
    } catch {
      throw Errors.secretMalformed(ref, 'not JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw Errors.secretMalformed(ref, 'not a JSON object');
    return {
      versionId: output.VersionId ?? versionId ?? '',
      stages: output.VersionStages ?? [],
      value: redactedSecretFields(value as Record<string, unknown>),
    };
  }

  async tagSecret(id: string, tags: SecretTags): Promise<void> {
    const ref = refOf(id);
    const checked = checkTags(tags);
    const { sdk, client } = await this.#sdkFor(id);
    try {
      await client.send(new sdk.TagResourceCommand({ SecretId: id, Tags: tagList(checked) }));
    } catch (err) {
      throw this.#writeFailure(err, ref);
    }
  }

  async deleteSecret(id: string, options: DeleteSecretOptions = {}): Promise<void> {
    const ref = refOf(id);
    checkRecoveryWindow(options);
    const { sdk, client } = await this.#sdkFor(id);
    try {
      await client.send(
        new sdk.DeleteSecretCommand({
          SecretId: id,
          ...(options.recoveryWindowDays === undefined ? {} : { RecoveryWindowInDays: options.recoveryWindowDays }),
          ...(options.forceWithoutRecovery === true ? { ForceDeleteWithoutRecovery: true } : {}),
        }),
      );
    } catch (err) {
      throw this.#writeFailure(err, ref);
    }
  }

  /** Closes the SDK's keep-alive sockets. */
  close(): void {
    for (const client of this.#clients.values()) client.destroy();
    this.#clients.clear();
  }
}
