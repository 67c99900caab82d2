import type { GetSecretValueCommandOutput, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Errors } from '../errors.js';
import type { SecretsManagerSdk } from './aws-clients.js';
import { awsFailureReason } from './aws-failure.js';
import { redactedSecretFields, type SecretFields, sameSecretText, secretTextToWrite } from './secret-fields.js';
import { formatSecretRef } from './secret-ref.js';
import {
  AWSCURRENT,
  type CreateSecretOptions,
  checkCreate,
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

/** The SDK (loaded on first use) and the client for a secret id's region, from AwsSecretsManagerProvider. */
export type SdkFor = (id: string) => Promise<{ sdk: SecretsManagerSdk; client: SecretsManagerClient }>;

const errorName = (err: unknown) => (err as { name?: unknown } | null)?.name;
const refOf = (id: string) => formatSecretRef({ scheme: 'aws-sm', id });
const tagList = (tags: SecretTags) => Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));

/**
 * The write side of AwsSecretsManagerProvider: AWS's own calls (CreateSecret, PutSecretValue,
 * UpdateSecretVersionStage, DescribeSecret, GetSecretValue, TagResource, DeleteSecret) through the real
 * SDK. Errors name the AWS exception type, never AWS's message.
 */
export class AwsSecretWriter implements SecretWriter {
  readonly #sdkFor: SdkFor;

  constructor(sdkFor: SdkFor) {
    this.#sdkFor = sdkFor;
  }

  /** For writes: what a failure means for the caller, as a coded error without AWS's message. */
  #writeFailure(err: unknown, ref: string): Error {
    const name = errorName(err);
    if (name === 'ResourceNotFoundException') return Errors.secretNotFound(ref);
    if (name === 'AccessDeniedException') {
      return Errors.secretWriteUnavailable(ref, 'AccessDeniedException: the AWS identity may not change this secret');
    }
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
    const { text, tags, token } = checkCreate(ref, value, options);
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
}
