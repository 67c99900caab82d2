import { randomUUID } from 'node:crypto';
import { Errors } from '../errors.js';
import { MAX_SECRET_LENGTH } from './db-secret.js';
import { sameSecretText } from './secret-fields.js';
import {
  AWSCURRENT,
  AWSPREVIOUS,
  type SecretDescription,
  type SecretTags,
  type SecretVersionSelector,
  type SecretVersionWritten,
  type UpdateVersionStageOptions,
} from './secret-writer.js';

/**
 * The secrets file's versioned entry, AWS Secrets Manager's model in JSON:
 *
 *   "<key>": { "tags": {...}, "versions": { "<versionId>": { "value": {...}, "stages": ["AWSCURRENT"], "createdAt": "<ISO>" } } }
 *
 * A plain entry (`{"username": ..., "password": ...}` or that object as a JSON string, as operators write
 * it) reads as one AWSCURRENT version with a fixed id; the first write to its key converts it. A versioned
 * entry is recognised by its `versions` object and the absence of a top-level `password`, which every
 * plain entry has, so the two shapes cannot be confused.
 */
export interface StoredVersion {
  value: Record<string, unknown>;
  stages: string[];
  createdAt: string;
}

export interface VersionedEntry {
  tags: SecretTags;
  versions: Record<string, StoredVersion>;
}

/** The id a plain entry's single version answers to (32 characters, the shortest AWS allows). */
export const PLAIN_ENTRY_VERSION_ID = 'plain-entry-current-version-0000';

/**
 * Versions without labels that are kept, newest first. AWS keeps about 100 for a day; here every old
 * version is an old password in a plain file, and rotation only ever needs the labelled ones.
 */
const DEPRECATED_VERSIONS_KEPT = 5;

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

class EntryShapeError extends Error {}

function versionedEntry(raw: Json): VersionedEntry {
  const tags = raw.tags ?? {};
  if (!isObject(tags) || !Object.values(tags).every((v) => typeof v === 'string')) {
    throw new EntryShapeError('its tags must map keys to strings');
  }
  if (!isObject(raw.versions)) throw new EntryShapeError('versions must be an object');
  const versions: Record<string, StoredVersion> = {};
  const seen = new Set<string>();
  for (const [versionId, version] of Object.entries(raw.versions)) {
    if (!isObject(version) || !isObject(version.value)) throw new EntryShapeError('each version needs a value object');
    const stages = version.stages ?? [];
    if (!Array.isArray(stages) || !stages.every((s) => typeof s === 'string')) {
      throw new EntryShapeError('each version needs a list of stages');
    }
    for (const stage of stages) {
      if (seen.has(stage)) throw new EntryShapeError(`the stage ${stage} is on more than one version`);
      seen.add(stage);
    }
    versions[versionId] = {
      value: version.value,
      stages: [...stages],
      createdAt: typeof version.createdAt === 'string' ? version.createdAt : '',
    };
  }
  return { tags: { ...(tags as SecretTags) }, versions };
}

/** Reads a file entry in either shape. Throws PGS_SECRET_MALFORMED, never quoting the entry. */
export function readEntry(ref: string, path: string, raw: unknown): VersionedEntry {
  let entry = raw;
  if (typeof entry === 'string') {
    if (entry.length > MAX_SECRET_LENGTH)
      throw Errors.secretMalformed(ref, `longer than ${MAX_SECRET_LENGTH} characters`);
    try {
      entry = JSON.parse(entry);
    } catch {
      // V8's SyntaxError quotes the text around the fault, which could be the password.
      throw Errors.secretMalformed(ref, 'not JSON');
    }
    if (!isObject(entry)) throw Errors.secretMalformed(ref, 'not a JSON object');
  }
  if (!isObject(entry)) throw Errors.secretMalformed(ref, `the entry in ${path} must be an object or a JSON string`);
  if (isObject(entry.versions) && !Object.hasOwn(entry, 'password')) {
    try {
      return versionedEntry(entry);
    } catch (err) {
      if (err instanceof EntryShapeError)
        throw Errors.secretMalformed(ref, `its versioned entry is malformed: ${err.message}`);
      throw err;
    }
  }
  return { tags: {}, versions: { [PLAIN_ENTRY_VERSION_ID]: { value: entry, stages: [AWSCURRENT], createdAt: '' } } };
}

/** The version a selector names; AWSCURRENT by default. Throws PGS_SECRET_VERSION_NOT_FOUND. */
export function selectVersion(
  ref: string,
  entry: VersionedEntry,
  selector: SecretVersionSelector = {},
): [string, StoredVersion] {
  const { versionId, stage } = selector;
  if (versionId !== undefined) {
    const version = entry.versions[versionId];
    if (version === undefined || !Object.hasOwn(entry.versions, versionId)) {
      throw Errors.secretVersionNotFound(ref, `with id ${versionId}`);
    }
    if (stage !== undefined && !version.stages.includes(stage)) {
      throw Errors.secretVersionNotFound(ref, `with id ${versionId} and stage ${stage}`);
    }
    return [versionId, version];
  }
  const wanted = stage ?? AWSCURRENT;
  const found = Object.entries(entry.versions).find(([, version]) => version.stages.includes(wanted));
  if (found === undefined) throw Errors.secretVersionNotFound(ref, `with stage ${wanted}`);
  return found;
}

const holderOf = (entry: VersionedEntry, stage: string) =>
  Object.entries(entry.versions).find(([, version]) => version.stages.includes(stage))?.[0];

function detach(entry: VersionedEntry, stage: string): void {
  for (const version of Object.values(entry.versions)) {
    const at = version.stages.indexOf(stage);
    if (at >= 0) version.stages.splice(at, 1);
  }
}

/** Attaches `stage` to `versionId`, taking it off any other version; AWSCURRENT drags AWSPREVIOUS along, as in AWS. */
function attach(entry: VersionedEntry, versionId: string, stage: string): void {
  const previousHolder = holderOf(entry, stage);
  if (previousHolder === versionId) return;
  detach(entry, stage);
  entry.versions[versionId]?.stages.push(stage);
  if (stage === AWSCURRENT && previousHolder !== undefined) {
    detach(entry, AWSPREVIOUS);
    entry.versions[previousHolder]?.stages.push(AWSPREVIOUS);
  }
}

function pruneDeprecated(entry: VersionedEntry): void {
  const unlabelled = Object.entries(entry.versions)
    .filter(([, version]) => version.stages.length === 0)
    .map(([versionId]) => versionId);
  // Versions are appended, so object order is creation order: drop the oldest.
  for (const versionId of unlabelled.slice(0, Math.max(0, unlabelled.length - DEPRECATED_VERSIONS_KEPT))) {
    delete entry.versions[versionId];
  }
}

/**
 * A new entry for createSecret; its first version is AWSCURRENT. `value` is already validated.
 */
export function newEntry(value: Json, tags: SecretTags, versionId: string, now: Date): VersionedEntry {
  return {
    tags: { ...tags },
    versions: { [versionId]: { value, stages: [AWSCURRENT], createdAt: now.toISOString() } },
  };
}

/** Whether `entry` already holds version `versionId` with the value `text` (an idempotent repeat). */
export function holdsVersion(entry: VersionedEntry, versionId: string, text: string): boolean {
  const version = Object.hasOwn(entry.versions, versionId) ? entry.versions[versionId] : undefined;
  return version !== undefined && sameSecretText(JSON.stringify(version.value), text);
}

/**
 * PutSecretValue on an entry, in place. Same token and value again: nothing changes. Same token with
 * another value: PGS_SECRET_CONFLICT (a version is never modified, only added).
 */
export function putVersion(
  ref: string,
  entry: VersionedEntry,
  value: Json,
  text: string,
  options: { versionId: string; stages: readonly string[]; now: Date },
): SecretVersionWritten {
  const { versionId } = options;
  if (Object.hasOwn(entry.versions, versionId)) {
    if (!holdsVersion(entry, versionId, text)) {
      throw Errors.secretConflict(ref, `version ${versionId} already exists with a different value`);
    }
    return { versionId, stages: [...(entry.versions[versionId]?.stages ?? [])] };
  }
  entry.versions[versionId] = { value, stages: [], createdAt: options.now.toISOString() };
  // The first version of a secret is always current, whatever labels it was given.
  const stages =
    holderOf(entry, AWSCURRENT) === undefined ? [...new Set([...options.stages, AWSCURRENT])] : options.stages;
  for (const stage of stages) attach(entry, versionId, stage);
  pruneDeprecated(entry);
  return { versionId, stages: [...(entry.versions[versionId]?.stages ?? [])] };
}

/** UpdateSecretVersionStage on an entry, in place, with AWS's rules for when RemoveFromVersionId is needed. */
export function moveStage(ref: string, entry: VersionedEntry, stage: string, options: UpdateVersionStageOptions): void {
  const { moveToVersionId: to, removeFromVersionId: from } = options;
  if (to === undefined && from === undefined) {
    throw Errors.validation('updateVersionStage needs moveToVersionId, removeFromVersionId or both.');
  }
  for (const versionId of [to, from]) {
    if (versionId !== undefined && !Object.hasOwn(entry.versions, versionId)) {
      throw Errors.secretVersionNotFound(ref, `with id ${versionId}`);
    }
  }
  const holder = holderOf(entry, stage);
  if (from !== undefined && holder !== from) {
    throw Errors.secretConflict(ref, `the stage ${stage} is not attached to version ${from}`);
  }
  if (to !== undefined && holder !== undefined && holder !== to && from !== holder) {
    throw Errors.secretConflict(
      ref,
      `the stage ${stage} is attached to version ${holder}; name it in removeFromVersionId`,
    );
  }
  if (to === undefined) {
    if (stage === AWSCURRENT)
      throw Errors.secretConflict(ref, 'AWSCURRENT can only be moved to another version, not removed');
    detach(entry, stage);
  } else {
    attach(entry, to, stage);
  }
  pruneDeprecated(entry);
}

/** Labelled versions and tags; like AWS's DescribeSecret, deprecated (unlabelled) versions are left out. */
export function describeEntry(entry: VersionedEntry): SecretDescription {
  const labelled = Object.entries(entry.versions).filter(([, version]) => version.stages.length > 0);
  return {
    versions: Object.fromEntries(labelled.map(([id, version]) => [id, [...version.stages]])),
    tags: { ...entry.tags },
  };
}

export const newVersionId = (token: string | undefined): string => token ?? randomUUID();
