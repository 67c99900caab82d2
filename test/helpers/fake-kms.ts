import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local AWS KMS speaking the real JSON 1.1 protocol (POST / with `X-Amz-Target: TrentService.<op>`,
 * blobs as base64 in JSON, errors as `{__type, message}` with HTTP 400), so tests reach it through the
 * real @aws-sdk/client-kms. It implements Encrypt and Decrypt of symmetric keys as AWS documents them:
 * keys by id, ARN or alias; the encryption context is bound to the ciphertext (a different context is
 * InvalidCiphertextException); a KeyId on Decrypt that is not the blob's key is IncorrectKeyException;
 * disabled keys are DisabledException. The ciphertext blob is the fake's own format (like AWS's, opaque:
 * it names its key). Written from AWS's API reference, independently of src/. Signatures are not checked.
 */
export interface FakeKms {
  /** http://127.0.0.1:<port>, for the SDK's `endpoint` option. */
  endpoint: string;
  /** Creates a symmetric key; answers its key id. `alias` (without "alias/") names it too. */
  createKey(alias?: string): string;
  arnOf(keyId: string): string;
  /** Disables (or re-enables) a key: every use answers DisabledException. */
  setEnabled(keyId: string, enabled: boolean): void;
  /** Makes every call on the key answer AccessDeniedException. */
  deny(keyId: string): void;
  /** Calls of one operation (e.g. 'Decrypt') received so far. */
  requestsTo(operation: string): number;
  close(): Promise<void>;
}

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const arnOf = (keyId: string) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}`;

interface Key {
  id: string;
  material: Buffer;
  enabled: boolean;
  denied: boolean;
}

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

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

/** AWS binds the context as a set of pairs: the order of keys does not matter. */
function contextAad(input: Record<string, unknown>): Buffer {
  const context = (input.EncryptionContext ?? {}) as Record<string, string>;
  if (typeof context !== 'object' || context === null) throw new AwsError('ValidationException', 'bad context');
  const sorted = Object.keys(context)
    .sort()
    .map((k) => [k, context[k]]);
  return Buffer.from(JSON.stringify(sorted));
}

function blob(input: Record<string, unknown>, field: string): Buffer {
  const value = input[field];
  if (typeof value !== 'string' || value.length === 0)
    throw new AwsError('ValidationException', `${field} is required`);
  return Buffer.from(value, 'base64');
}

export async function startFakeKms(): Promise<FakeKms> {
  const keys = new Map<string, Key>();
  const aliases = new Map<string, string>();
  const calls = new Map<string, number>();

  const resolveKey = (keyId: unknown): Key => {
    if (typeof keyId !== 'string' || keyId.length === 0) throw new AwsError('ValidationException', 'KeyId is required');
    let id = keyId;
    if (id.startsWith('alias/')) id = aliases.get(id.slice(6)) ?? '';
    else if (id.startsWith(`arn:aws:kms:${REGION}:${ACCOUNT}:alias/`))
      id = aliases.get(id.split(':alias/')[1] ?? '') ?? '';
    else if (id.startsWith(`arn:aws:kms:${REGION}:${ACCOUNT}:key/`)) id = id.split(':key/')[1] ?? '';
    const key = keys.get(id);
    if (key === undefined) throw new AwsError('NotFoundException', `Key '${keyId}' does not exist`);
    if (key.denied) throw new AwsError('AccessDeniedException', 'User is not authorized to perform kms:* on this key');
    if (!key.enabled) throw new AwsError('DisabledException', `${arnOf(key.id)} is disabled.`);
    return key;
  };

  const operations: Record<string, (input: Record<string, unknown>) => unknown> = {
    Encrypt(input) {
      const key = resolveKey(input.KeyId);
      const plaintext = blob(input, 'Plaintext');
      if (plaintext.length > 4096) throw new AwsError('ValidationException', 'Plaintext is longer than 4096 bytes');
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key.material, nonce);
      cipher.setAAD(contextAad(input));
      const id = Buffer.from(key.id, 'utf8');
      const sealed = Buffer.concat([
        Buffer.from([id.length]),
        id,
        nonce,
        cipher.update(plaintext),
        cipher.final(),
        cipher.getAuthTag(),
      ]);
      return {
        CiphertextBlob: sealed.toString('base64'),
        KeyId: arnOf(key.id),
        EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      };
    },
    Decrypt(input) {
      const sealed = blob(input, 'CiphertextBlob');
      const idLength = sealed[0] ?? 0;
      const blobKeyId = sealed.subarray(1, 1 + idLength).toString('utf8');
      const blobKey = keys.get(blobKeyId);
      if (blobKey === undefined || sealed.length < 1 + idLength + 12 + 16) {
        throw new AwsError('InvalidCiphertextException', 'The ciphertext is invalid.');
      }
      if (input.KeyId !== undefined && resolveKey(input.KeyId).id !== blobKeyId) {
        throw new AwsError(
          'IncorrectKeyException',
          'The key ID in the request does not identify the key that encrypted it.',
        );
      }
      const key = resolveKey(blobKeyId);
      const body = sealed.subarray(1 + idLength);
      const decipher = createDecipheriv('aes-256-gcm', key.material, body.subarray(0, 12));
      decipher.setAAD(contextAad(input));
      decipher.setAuthTag(body.subarray(body.length - 16));
      let plaintext: Buffer;
      try {
        plaintext = Buffer.concat([decipher.update(body.subarray(12, body.length - 16)), decipher.final()]);
      } catch {
        throw new AwsError('InvalidCiphertextException', 'The ciphertext is invalid.');
      }
      return {
        Plaintext: plaintext.toString('base64'),
        KeyId: arnOf(key.id),
        EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      };
    },
  };

  const server = createServer((req, res) => {
    readBody(req).then(
      (body) => {
        const target = String(req.headers['x-amz-target'] ?? '');
        const operation = target.startsWith('TrentService.') ? target.slice('TrentService.'.length) : '';
        const handler = Object.hasOwn(operations, operation) ? operations[operation] : undefined;
        const fail = (type: string, message: string) => reply(res, 400, { __type: type, message });
        if (req.method !== 'POST' || req.url !== '/') return fail('UnknownOperationException', 'POST / only');
        if (handler === undefined) return fail('UnknownOperationException', `Unsupported operation ${target}`);
        calls.set(operation, (calls.get(operation) ?? 0) + 1);
        try {
          reply(res, 200, handler(JSON.parse(body) as Record<string, unknown>));
        } catch (err) {
          if (err instanceof AwsError) return fail(err.type, err.message);
          if (err instanceof SyntaxError) return fail('SerializationException', 'not JSON');
          reply(res, 500, { __type: 'KMSInternalException', message: String(err) });
        }
      },
      () => reply(res, 400, { __type: 'SerializationException', message: 'unreadable body' }),
    );
  });
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    createKey(alias) {
      const id = randomUUID();
      keys.set(id, { id, material: randomBytes(32), enabled: true, denied: false });
      if (alias !== undefined) aliases.set(alias, id);
      return id;
    },
    arnOf,
    setEnabled(keyId, enabled) {
      const key = keys.get(keyId);
      if (key) key.enabled = enabled;
    },
    deny(keyId) {
      const key = keys.get(keyId);
      if (key) key.denied = true;
    },
    requestsTo: (operation) => calls.get(operation) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
