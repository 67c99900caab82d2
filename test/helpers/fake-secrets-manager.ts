import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local AWS Secrets Manager speaking the real JSON 1.1 protocol (POST / with X-Amz-Target), so
 * tests reach it through the real SDK. Only GetSecretValue is implemented; signatures are not checked.
 */
export interface FakeSecretsManager {
  /** http://127.0.0.1:<port>, for the SDK's `endpoint` option. */
  endpoint: string;
  /** Stores (or replaces, with a new VersionId) a SecretString; an object is stored as its JSON. */
  setSecret(id: string, value: string | object): void;
  /** Stores a SecretBinary instead of a SecretString. */
  setBinarySecret(id: string, value: Uint8Array): void;
  /** Makes reads of `id` fail with `errorType` (AccessDeniedException unless told otherwise). */
  deny(id: string, errorType?: string): void;
  /** The ARN the fake gives a secret name. */
  arnOf(name: string): string;
  /** GetSecretValue calls received so far. */
  readonly requests: number;
  close(): Promise<void>;
}

export const FAKE_ACCOUNT_ARN_PREFIX = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:';

interface StoredSecret {
  string?: string;
  binary?: Uint8Array;
  versionId: string;
  createdAt: number;
}

const arnOf = (name: string) => `${FAKE_ACCOUNT_ARN_PREFIX}${name}-AbCdEf`;

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}

const failure = (res: ServerResponse, type: string, message: string) =>
  reply(res, 400, { __type: type, message, Message: message });

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFakeSecretsManager(): Promise<FakeSecretsManager> {
  const secrets = new Map<string, StoredSecret>();
  const denied = new Map<string, string>();
  let requests = 0;

  /** By name, or by full ARN. */
  const lookUp = (secretId: string): [string, StoredSecret] | undefined => {
    const name = secretId.startsWith(FAKE_ACCOUNT_ARN_PREFIX)
      ? secretId.slice(FAKE_ACCOUNT_ARN_PREFIX.length).replace(/-[A-Za-z0-9]{6}$/, '')
      : secretId;
    if (name !== secretId && arnOf(name) !== secretId) return undefined; // an ARN with the wrong suffix
    const stored = secrets.get(name);
    return stored === undefined ? undefined : [name, stored];
  };

  const getSecretValue = (res: ServerResponse, input: { SecretId?: unknown; VersionStage?: unknown }) => {
    requests++;
    if (typeof input.SecretId !== 'string' || input.SecretId.length === 0) {
      return failure(res, 'InvalidParameterException', 'SecretId is required.');
    }
    const found = lookUp(input.SecretId);
    const name = found?.[0] ?? input.SecretId;
    const deniedAs = denied.get(name) ?? denied.get(input.SecretId);
    if (deniedAs !== undefined) {
      return failure(res, deniedAs, `User is not authorized to perform GetSecretValue on ${input.SecretId}`);
    }
    if (found === undefined || (input.VersionStage !== undefined && input.VersionStage !== 'AWSCURRENT')) {
      return failure(res, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    }
    const [, stored] = found;
    return reply(res, 200, {
      ARN: arnOf(name),
      Name: name,
      VersionId: stored.versionId,
      ...(stored.string === undefined ? {} : { SecretString: stored.string }),
      ...(stored.binary === undefined ? {} : { SecretBinary: Buffer.from(stored.binary).toString('base64') }),
      VersionStages: ['AWSCURRENT'],
      CreatedDate: stored.createdAt,
    });
  };

  const server = createServer((req, res) => {
    readBody(req).then(
      (body) => {
        const target = req.headers['x-amz-target'];
        if (req.method !== 'POST' || req.url !== '/') return failure(res, 'UnknownOperationException', 'POST / only');
        if (target !== 'secretsmanager.GetSecretValue') {
          return failure(res, 'UnknownOperationException', `Unsupported operation ${String(target)}`);
        }
        let input: unknown;
        try {
          input = JSON.parse(body);
        } catch {
          return failure(res, 'SerializationException', 'The request body is not JSON.');
        }
        return getSecretValue(res, (input ?? {}) as { SecretId?: unknown; VersionStage?: unknown });
      },
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const store = (id: string, value: Omit<StoredSecret, 'versionId' | 'createdAt'>) => {
    secrets.set(id, { ...value, versionId: randomUUID(), createdAt: Math.floor(Date.now() / 1000) });
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
      return requests;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections(); // the SDK keeps sockets alive
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
