import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local AWS Secrets Manager speaking the real JSON 1.1 protocol (POST / with X-Amz-Target), so tests
 * reach it through the real SDK. It keeps AWS's model: versions with staging labels, AWSPREVIOUS
 * following AWSCURRENT, ClientRequestToken idempotency, deletion with a recovery window, tags, and
 * AWS's error types in AWS's JSON error shape. Written from AWS's API reference, independently of
 * src/secrets, so the providers' contract test can catch a misreading on either side. Signatures are
 * not checked; quotas are not enforced.
 */
export interface FakeSecretsManager {
  /** http://127.0.0.1:<port>, for the SDK's `endpoint` option. */
  endpoint: string;
  /** Stores a new AWSCURRENT version (creating the secret if need be); an object is stored as its JSON. */
  setSecret(id: string, value: string | object): void;
  /** Stores a SecretBinary instead of a SecretString. */
  setBinarySecret(id: string, value: Uint8Array): void;
  /** Makes every call on `id` fail with `errorType` (AccessDeniedException unless told otherwise). */
  deny(id: string, errorType?: string): void;
  /** The ARN the fake gives a secret name. */
  arnOf(name: string): string;
  /** GetSecretValue calls received so far. */
  readonly requests: number;
  /** Calls of one operation (e.g. 'CreateSecret') received so far. */
  requestsTo(operation: string): number;
  /** Every SecretString the fake holds for `name`, all versions: for tests that a value went nowhere else. */
  storedStrings(name: string): string[];
  close(): Promise<void>;
}

export const FAKE_ACCOUNT_ARN_PREFIX = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:';

interface Version {
  string?: string;
  binary?: Uint8Array;
  stages: string[];
  createdAt: number;
}

interface Secret {
  name: string;
  versions: Map<string, Version>;
  tags: Map<string, string>;
  createdAt: number;
  /** When the scheduled deletion takes effect; set while the secret is pending deletion. */
  deletionDate?: number;
}

type Input = Record<string, unknown>;

/** AWS's error answer: HTTP 400 with the exception's name in `__type`. */
class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const arnOf = (name: string) => `${FAKE_ACCOUNT_ARN_PREFIX}${name}-AbCdEf`;
const seconds = () => Date.now() / 1000;

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const text = (input: Input, field: string): string | undefined => {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length === 0)
    throw new AwsError('InvalidParameterException', `Invalid ${field}.`);
  return value;
};

function token(input: Input): string {
  const value = text(input, 'ClientRequestToken') ?? randomUUID();
  if (value.length < 32 || value.length > 64) {
    throw new AwsError('InvalidParameterException', 'ClientRequestToken must be 32-64 characters long.');
  }
  return value;
}

function secretValue(input: Input): Pick<Version, 'string' | 'binary'> | undefined {
  const string = input.SecretString;
  const binary = input.SecretBinary;
  if (string !== undefined && binary !== undefined) {
    throw new AwsError('InvalidParameterException', 'You can only provide SecretString or SecretBinary, not both.');
  }
  if (typeof string === 'string') return { string };
  if (typeof binary === 'string') return { binary: Buffer.from(binary, 'base64') };
  return undefined;
}

const sameValue = (a: Pick<Version, 'string' | 'binary'>, b: Pick<Version, 'string' | 'binary'>) =>
  a.string === b.string &&
  (a.binary === undefined) === (b.binary === undefined) &&
  (a.binary === undefined || b.binary === undefined || Buffer.from(a.binary).equals(Buffer.from(b.binary)));

function holderOf(secret: Secret, stage: string): string | undefined {
  for (const [id, version] of secret.versions) if (version.stages.includes(stage)) return id;
  return undefined;
}

function detach(secret: Secret, stage: string): void {
  for (const version of secret.versions.values()) version.stages = version.stages.filter((s) => s !== stage);
}

/** Attaches a label; moving AWSCURRENT moves AWSPREVIOUS to the version AWSCURRENT left. */
function attach(secret: Secret, versionId: string, stage: string): void {
  const previous = holderOf(secret, stage);
  if (previous === versionId) return;
  detach(secret, stage);
  secret.versions.get(versionId)?.stages.push(stage);
  if (stage === 'AWSCURRENT' && previous !== undefined) {
    detach(secret, 'AWSPREVIOUS');
    secret.versions.get(previous)?.stages.push('AWSPREVIOUS');
  }
}

function addVersion(secret: Secret, versionId: string, value: Pick<Version, 'string' | 'binary'>, stages: string[]) {
  secret.versions.set(versionId, { ...value, stages: [], createdAt: seconds() });
  const labels = holderOf(secret, 'AWSCURRENT') === undefined ? [...new Set([...stages, 'AWSCURRENT'])] : stages;
  for (const stage of labels) attach(secret, versionId, stage);
}

export async function startFakeSecretsManager(): Promise<FakeSecretsManager> {
  const secrets = new Map<string, Secret>();
  const denied = new Map<string, string>();
  const calls = new Map<string, number>();

  /** By name or by full ARN; an ARN with the wrong random suffix names nothing. */
  const nameOf = (secretId: string): string => {
    if (!secretId.startsWith(FAKE_ACCOUNT_ARN_PREFIX)) return secretId;
    const name = secretId.slice(FAKE_ACCOUNT_ARN_PREFIX.length).replace(/-[A-Za-z0-9]{6}$/, '');
    return arnOf(name) === secretId ? name : secretId;
  };

  const notFound = () => new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");

  /** The secret `input.SecretId` names, refusing one pending deletion unless `allowDeleted`. */
  const find = (operation: string, input: Input, allowDeleted = false): Secret => {
    const secretId = text(input, 'SecretId');
    if (secretId === undefined) throw new AwsError('InvalidParameterException', 'SecretId is required.');
    const name = nameOf(secretId);
    const deniedAs = denied.get(name) ?? denied.get(secretId);
    if (deniedAs !== undefined) {
      throw new AwsError(deniedAs, `User is not authorized to perform ${operation} on ${secretId}`);
    }
    const secret = secrets.get(name);
    if (secret === undefined) throw notFound();
    if (secret.deletionDate !== undefined && !allowDeleted) {
      throw new AwsError(
        'InvalidRequestException',
        `You can't perform this operation on the secret because it was marked for deletion.`,
      );
    }
    return secret;
  };

  const tagList = (input: Input): Array<[string, string]> => {
    const tags = input.Tags ?? [];
    if (!Array.isArray(tags)) throw new AwsError('InvalidParameterException', 'Tags must be a list.');
    return tags.map((tag: { Key?: unknown; Value?: unknown }) => {
      if (typeof tag?.Key !== 'string' || typeof tag.Value !== 'string') {
        throw new AwsError('InvalidParameterException', 'Each tag needs a Key and a Value.');
      }
      return [tag.Key, tag.Value];
    });
  };

  const operations: Record<string, (input: Input) => unknown> = {
    CreateSecret(input) {
      const name = text(input, 'Name');
      if (name === undefined) throw new AwsError('InvalidParameterException', 'Name is required.');
      const existing = secrets.get(name);
      if (existing?.deletionDate !== undefined) {
        throw new AwsError(
          'InvalidRequestException',
          `You can't create this secret because a secret with this name is already scheduled for deletion.`,
        );
      }
      if (existing !== undefined) {
        throw new AwsError(
          'ResourceExistsException',
          `The operation failed because the secret ${name} already exists.`,
        );
      }
      const versionId = token(input);
      const value = secretValue(input);
      const secret: Secret = { name, versions: new Map(), tags: new Map(tagList(input)), createdAt: seconds() };
      if (value !== undefined) addVersion(secret, versionId, value, ['AWSCURRENT']);
      secrets.set(name, secret);
      return { ARN: arnOf(name), Name: name, ...(value === undefined ? {} : { VersionId: versionId }) };
    },

    PutSecretValue(input) {
      const secret = find('PutSecretValue', input);
      const versionId = token(input);
      const value = secretValue(input);
      if (value === undefined)
        throw new AwsError('InvalidParameterException', 'You must provide SecretString or SecretBinary.');
      const stages = input.VersionStages ?? ['AWSCURRENT'];
      if (
        !Array.isArray(stages) ||
        stages.length === 0 ||
        !stages.every((s) => typeof s === 'string' && s.length > 0)
      ) {
        throw new AwsError('InvalidParameterException', 'VersionStages must list 1 to 20 staging labels.');
      }
      const existing = secret.versions.get(versionId);
      if (existing !== undefined) {
        if (!sameValue(existing, value)) {
          throw new AwsError(
            'ResourceExistsException',
            `A version with VersionId ${versionId} already exists with a different value; you can't modify an existing version.`,
          );
        }
      } else {
        addVersion(secret, versionId, value, stages);
      }
      const stored = secret.versions.get(versionId);
      return { ARN: arnOf(secret.name), Name: secret.name, VersionId: versionId, VersionStages: stored?.stages ?? [] };
    },

    UpdateSecretVersionStage(input) {
      const secret = find('UpdateSecretVersionStage', input);
      const stage = text(input, 'VersionStage');
      if (stage === undefined) throw new AwsError('InvalidParameterException', 'VersionStage is required.');
      const moveTo = text(input, 'MoveToVersionId');
      const removeFrom = text(input, 'RemoveFromVersionId');
      for (const versionId of [moveTo, removeFrom]) {
        if (versionId !== undefined && !secret.versions.has(versionId)) {
          throw new AwsError('InvalidParameterException', `Not a valid version: ${versionId}`);
        }
      }
      const holder = holderOf(secret, stage);
      if (removeFrom !== undefined && holder !== removeFrom) {
        throw new AwsError('InvalidParameterException', `Version stage ${stage} not found in version ${removeFrom}`);
      }
      if (moveTo !== undefined && holder !== undefined && holder !== moveTo && removeFrom !== holder) {
        throw new AwsError(
          'InvalidParameterException',
          `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder}, so you must explicitly reference that version in RemoveFromVersionId.`,
        );
      }
      if (moveTo === undefined) {
        if (removeFrom === undefined) {
          throw new AwsError('InvalidParameterException', 'Specify MoveToVersionId, RemoveFromVersionId or both.');
        }
        if (stage === 'AWSCURRENT') {
          throw new AwsError('InvalidParameterException', 'You can only move AWSCURRENT to another version.');
        }
        detach(secret, stage);
      } else {
        attach(secret, moveTo, stage);
      }
      return { ARN: arnOf(secret.name), Name: secret.name };
    },

    DescribeSecret(input) {
      const secret = find('DescribeSecret', input, true);
      // Versions without labels are deprecated: AWS leaves them out of VersionIdsToStages.
      const labelled = [...secret.versions].filter(([, version]) => version.stages.length > 0);
      return {
        ARN: arnOf(secret.name),
        Name: secret.name,
        CreatedDate: secret.createdAt,
        ...(secret.deletionDate === undefined ? {} : { DeletedDate: secret.deletionDate }),
        Tags: [...secret.tags].map(([Key, Value]) => ({ Key, Value })),
        VersionIdsToStages: Object.fromEntries(labelled.map(([id, version]) => [id, [...version.stages]])),
      };
    },

    GetSecretValue(input) {
      const secret = find('GetSecretValue', input);
      const versionId = text(input, 'VersionId');
      const stage = text(input, 'VersionStage');
      const id = versionId ?? holderOf(secret, stage ?? 'AWSCURRENT');
      const version = id === undefined ? undefined : secret.versions.get(id);
      if (id === undefined || version === undefined) {
        throw new AwsError(
          'ResourceNotFoundException',
          `Secrets Manager can't find the specified secret value for ${versionId === undefined ? 'staging label' : 'VersionId'}: ${versionId ?? stage ?? 'AWSCURRENT'}`,
        );
      }
      if (stage !== undefined && !version.stages.includes(stage)) {
        throw new AwsError(
          'InvalidRequestException',
          'You provided a VersionStage that is not associated to the provided VersionId.',
        );
      }
      return {
        ARN: arnOf(secret.name),
        Name: secret.name,
        VersionId: id,
        ...(version.string === undefined ? {} : { SecretString: version.string }),
        ...(version.binary === undefined ? {} : { SecretBinary: Buffer.from(version.binary).toString('base64') }),
        VersionStages: [...version.stages],
        CreatedDate: version.createdAt,
      };
    },

    TagResource(input) {
      const secret = find('TagResource', input);
      for (const [key, value] of tagList(input)) secret.tags.set(key, value);
      return {};
    },

    DeleteSecret(input) {
      const days = input.RecoveryWindowInDays;
      const force = input.ForceDeleteWithoutRecovery === true;
      if (days !== undefined && (typeof days !== 'number' || !Number.isInteger(days) || days < 7 || days > 30)) {
        throw new AwsError(
          'InvalidParameterException',
          'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).',
        );
      }
      if (days !== undefined && force) {
        throw new AwsError(
          'InvalidParameterException',
          "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
        );
      }
      const secret = find('DeleteSecret', input);
      const deletionDate = force ? seconds() : seconds() + (days ?? 30) * 86_400;
      if (force) secrets.delete(secret.name);
      else secret.deletionDate = deletionDate;
      return { ARN: arnOf(secret.name), Name: secret.name, DeletionDate: deletionDate };
    },
  };

  const server = createServer((req, res) => {
    readBody(req).then(
      (body) => {
        const target = String(req.headers['x-amz-target'] ?? '');
        const operation = target.startsWith('secretsmanager.') ? target.slice('secretsmanager.'.length) : '';
        const handler = Object.hasOwn(operations, operation) ? operations[operation] : undefined;
        const fail = (type: string, message: string) => reply(res, 400, { __type: type, message, Message: message });
        if (req.method !== 'POST' || req.url !== '/') return fail('UnknownOperationException', 'POST / only');
        if (handler === undefined) return fail('UnknownOperationException', `Unsupported operation ${target}`);
        calls.set(operation, (calls.get(operation) ?? 0) + 1);
        let input: unknown;
        try {
          input = JSON.parse(body);
        } catch {
          return fail('SerializationException', 'The request body is not JSON.');
        }
        try {
          return reply(res, 200, handler((input ?? {}) as Input));
        } catch (err) {
          if (err instanceof AwsError) return fail(err.type, err.message);
          return reply(res, 500, { __type: 'InternalServiceError', message: String(err) });
        }
      },
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const store = (name: string, value: Pick<Version, 'string' | 'binary'>) => {
    let secret = secrets.get(name);
    if (secret === undefined || secret.deletionDate !== undefined) {
      secret = { name, versions: new Map(), tags: new Map(), createdAt: seconds() };
      secrets.set(name, secret);
    }
    addVersion(secret, randomUUID(), value, ['AWSCURRENT']);
  };

  return {
    endpoint: `http://127.0.0.1:${port}`,
    setSecret: (id, value) => store(id, { string: typeof value === 'string' ? value : JSON.stringify(value) }),
    setBinarySecret: (id, value) => store(id, { binary: value }),
    deny: (id, errorType = 'AccessDeniedException') => {
      denied.set(id, errorType);
    },
    arnOf,
    get requests() {
      return calls.get('GetSecretValue') ?? 0;
    },
    requestsTo: (operation) => calls.get(operation) ?? 0,
    storedStrings: (name) =>
      [...(secrets.get(name)?.versions.values() ?? [])].flatMap((version) =>
        version.string === undefined ? [] : [version.string],
      ),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections(); // the SDK keeps sockets alive
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
