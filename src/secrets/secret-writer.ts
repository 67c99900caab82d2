import { Errors } from '../errors.js';
import { type SecretFields, secretTextToWrite } from './secret-fields.js';

/** The staging labels of AWS's rotation protocol; other labels are allowed and kept as given. */
export const AWSCURRENT = 'AWSCURRENT';
export const AWSPENDING = 'AWSPENDING';
export const AWSPREVIOUS = 'AWSPREVIOUS';

/** Tags as a map: AWS keeps tag keys unique, so a map loses nothing and reads better than Key/Value pairs. */
export type SecretTags = Record<string, string>;

export interface CreateSecretOptions {
  tags?: SecretTags;
  /** Becomes the first version's id; a retry with the same token and value succeeds without a change. */
  clientRequestToken?: string;
}

export interface PutSecretValueOptions {
  /** Becomes the version id. Same token + same value: success, nothing changes. Different value: PGS_SECRET_CONFLICT. */
  clientRequestToken: string;
  /** Labels moved to the new version; AWSCURRENT when omitted. Moving AWSCURRENT moves AWSPREVIOUS to the old current. */
  stages?: readonly string[];
}

export interface UpdateVersionStageOptions {
  /** The version to attach the label to. */
  moveToVersionId?: string;
  /** The version that holds the label now; required when it is attached to another version than moveToVersionId. */
  removeFromVersionId?: string;
}

/** Which version to read: by label (AWSCURRENT when neither is given), by id, or both (they must agree). */
export interface SecretVersionSelector {
  stage?: string;
  versionId?: string;
}

export interface DeleteSecretOptions {
  /** AWS only: days (7 to 30, AWS's default 30) before the secret is gone for good. The file provider removes at once. */
  recoveryWindowDays?: number;
  /** AWS only: delete at once, without a recovery window. */
  forceWithoutRecovery?: boolean;
}

export interface SecretVersionWritten {
  versionId: string;
  stages: string[];
}

export interface SecretVersionRead {
  versionId: string;
  stages: string[];
  /** The stored object; `password` is readable but hidden from JSON.stringify, util.inspect and spreading. */
  value: SecretFields;
}

export interface SecretDescription {
  /** Each version that carries a label, with its labels; deprecated (unlabelled) versions are left out, as AWS does. */
  versions: Record<string, string[]>;
  tags: SecretTags;
  /** AWS only: set while the secret is scheduled for deletion. */
  deletedAt?: Date;
}

/**
 * The write side of a secrets provider, modelled on AWS Secrets Manager's versions and staging labels,
 * so role provisioning can run AWS's four-step rotation against either provider.
 *
 * A separate interface from SecretProvider on purpose: every job needs `fetch`, few need writes, and a
 * read-only provider (or a test stub) stays a valid SecretProvider. `id` is the part of the ref after
 * the scheme, as for `fetch`. Values are JSON objects that must be readable as a DbSecret; they are
 * never logged, echoed in errors or returned anywhere but from getSecretValue.
 */
export interface SecretWriter {
  createSecret(id: string, value: SecretFields, options?: CreateSecretOptions): Promise<SecretVersionWritten>;
  putSecretValue(id: string, value: SecretFields, options: PutSecretValueOptions): Promise<SecretVersionWritten>;
  updateVersionStage(id: string, stage: string, options: UpdateVersionStageOptions): Promise<void>;
  describeSecret(id: string): Promise<SecretDescription>;
  getSecretValue(id: string, selector?: SecretVersionSelector): Promise<SecretVersionRead>;
  /** Adds or replaces the given tags; others stay. */
  tagSecret(id: string, tags: SecretTags): Promise<void>;
  deleteSecret(id: string, options?: DeleteSecretOptions): Promise<void>;
}

export const isSecretWriter = (provider: unknown): provider is SecretWriter =>
  typeof (provider as Partial<SecretWriter> | null)?.putSecretValue === 'function';

// AWS's limits: VersionId/ClientRequestToken 32-64 characters, labels 1-256, tag keys 1-128 and values
// up to 256, at most 50 tags, no `aws:` keys. Checked here so both providers refuse the same inputs.
const VERSION_ID = /^[\x21-\x7e]{32,64}$/;
const STAGE = /^[A-Za-z0-9_.:/+=@-]{1,256}$/;
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+@-]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+@-]{0,256}$/u;
const MAX_TAGS = 50;

/** An input, quoted and cut short, for a validation message; these inputs are labels and ids, never values. */
const shown = (text: unknown) =>
  typeof text === 'string' ? JSON.stringify(text.length > 70 ? `${text.slice(0, 70)}…` : text) : typeof text;

export function checkVersionId(versionId: unknown, what = 'versionId'): string {
  if (typeof versionId !== 'string' || !VERSION_ID.test(versionId)) {
    throw Errors.validation(
      `${what} must be 32 to 64 printable ASCII characters without spaces, not ${shown(versionId)}.`,
    );
  }
  return versionId;
}

export function checkStage(stage: unknown): string {
  if (typeof stage !== 'string' || !STAGE.test(stage)) {
    throw Errors.validation(`A staging label must be 1 to 256 of A-Z a-z 0-9 _ . : / + = @ -, not ${shown(stage)}.`);
  }
  return stage;
}

export function checkStages(stages: readonly unknown[]): string[] {
  if (stages.length === 0) throw Errors.validation('stages, when given, must name at least one staging label.');
  const checked = stages.map(checkStage);
  if (new Set(checked).size !== checked.length) throw Errors.validation('stages must not repeat a label.');
  return checked;
}

export function checkTags(tags: unknown): SecretTags {
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) {
    throw Errors.validation('tags must be an object mapping tag keys to string values.');
  }
  const entries = Object.entries(tags);
  if (entries.length > MAX_TAGS) throw Errors.validation(`A secret carries at most ${MAX_TAGS} tags.`);
  for (const [key, value] of entries) {
    if (!TAG_KEY.test(key) || key.toLowerCase().startsWith('aws:')) {
      throw Errors.validation(
        `Tag key ${shown(key)} must be 1 to 128 letters, digits, spaces or _.:/=+@- and not start with aws:.`,
      );
    }
    if (typeof value !== 'string' || !TAG_VALUE.test(value)) {
      throw Errors.validation(
        `The value of tag ${shown(key)} must be a string of up to 256 letters, digits, spaces or _.:/=+@-.`,
      );
    }
  }
  return Object.fromEntries(entries) as SecretTags;
}

export function checkRecoveryWindow(options: DeleteSecretOptions): void {
  const days = options.recoveryWindowDays;
  if (days !== undefined && (!Number.isInteger(days) || days < 7 || days > 30)) {
    throw Errors.validation('recoveryWindowDays must be an integer from 7 to 30.');
  }
  if (days !== undefined && options.forceWithoutRecovery === true) {
    throw Errors.validation('recoveryWindowDays and forceWithoutRecovery exclude each other.');
  }
}

export function checkSelector(selector: SecretVersionSelector): SecretVersionSelector {
  return {
    ...(selector.stage === undefined ? {} : { stage: checkStage(selector.stage) }),
    ...(selector.versionId === undefined ? {} : { versionId: checkVersionId(selector.versionId) }),
  };
}

/** A createSecret call's input, checked the same way by every provider before anything is written. */
export function checkCreate(
  ref: string,
  value: SecretFields,
  options: CreateSecretOptions,
): { text: string; tags: SecretTags; token: string | undefined } {
  const text = secretTextToWrite(ref, value);
  const tags = checkTags(options.tags ?? {});
  const token =
    options.clientRequestToken === undefined
      ? undefined
      : checkVersionId(options.clientRequestToken, 'clientRequestToken');
  return { text, tags, token };
}
