import { inspect } from 'node:util';
import { Errors } from '../errors.js';

/**
 * Database credentials as AWS stores them for RDS, plus an optional CA certificate (PEM).
 *
 * Objects returned by this module keep `password` non-enumerable and redact it from `JSON.stringify`
 * and `util.inspect`, so a secret that reaches a log line by accident does not leak. Read
 * `secret.password` explicitly: spreading (`{ ...secret }`) drops it, which fails closed.
 */
export interface DbSecret {
  username: string;
  password: string;
  host?: string;
  port?: number;
  dbname?: string;
  engine?: string;
  sslrootcert?: string;
}

/** One place credentials are fetched from. `id` is the part of the ref after the scheme; `ref` names it in errors. */
export interface SecretProvider {
  fetch(id: string, ref: string): Promise<DbSecret>;
}

/** AWS Secrets Manager caps a secret at 64 KiB; anything larger is not a database secret. */
export const MAX_SECRET_LENGTH = 65_536;

const REDACTED = '[redacted]';

class RedactedDbSecret implements DbSecret {
  // `declare`: no class-field initialisers, so absent fields stay absent rather than `undefined`.
  declare readonly password: string;
  declare readonly username: string;
  declare readonly host?: string;
  declare readonly port?: number;
  declare readonly dbname?: string;
  declare readonly engine?: string;
  declare readonly sslrootcert?: string;

  constructor(fields: DbSecret) {
    Object.defineProperty(this, 'password', { value: fields.password, enumerable: false });
    this.username = fields.username;
    if (fields.host !== undefined) this.host = fields.host;
    if (fields.port !== undefined) this.port = fields.port;
    if (fields.dbname !== undefined) this.dbname = fields.dbname;
    if (fields.engine !== undefined) this.engine = fields.engine;
    if (fields.sslrootcert !== undefined) this.sslrootcert = fields.sslrootcert;
    Object.freeze(this);
  }

  toJSON(): Record<string, unknown> {
    return { ...(this as object), password: REDACTED };
  }

  [inspect.custom](depth: number, options: object): string {
    const shown = { ...this, password: REDACTED };
    return `DbSecret ${inspect(shown, { ...options, depth })}`;
  }
}

/** Wraps validated fields into a log-safe DbSecret. */
export function createDbSecret(fields: DbSecret): DbSecret {
  return new RedactedDbSecret(fields);
}

type Fields = Record<string, unknown>;

/** Reasons name the field and the rule, never the value: they end up in API responses and logs. */
function requiredText(fields: Fields, name: string): string {
  const value = fields[name];
  if (value === undefined || value === null) throw new SecretShapeError(`${name} is missing`);
  if (typeof value !== 'string') throw new SecretShapeError(`${name} must be a string`);
  if (value.length === 0) throw new SecretShapeError(`${name} is empty`);
  // PostgreSQL's wire protocol ends strings at NUL: the rest would be silently dropped.
  if (value.includes('\0')) throw new SecretShapeError(`${name} contains a NUL character`);
  return value;
}

function optionalText(fields: Fields, name: string): string | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  return requiredText(fields, name);
}

function optionalPort(fields: Fields): number | undefined {
  const value = fields.port;
  if (value === undefined || value === null) return undefined;
  const port = typeof value === 'string' && /^[0-9]{1,5}$/.test(value) ? Number(value) : value;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new SecretShapeError('port must be an integer from 1 to 65535');
  }
  return port;
}

function optionalCertificate(fields: Fields): string | undefined {
  const pem = optionalText(fields, 'sslrootcert');
  if (pem !== undefined && !pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new SecretShapeError('sslrootcert must be a PEM certificate');
  }
  return pem;
}

class SecretShapeError extends Error {}

/**
 * Validates an already-parsed secret value (the object AWS stores for RDS). Unknown fields are
 * ignored; `null` counts as absent for optional fields. Throws `Errors.secretMalformed(ref, why)`.
 */
export function parseDbSecretObject(ref: string, value: unknown): DbSecret {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw Errors.secretMalformed(ref, 'not a JSON object');
  }
  const fields = value as Fields;
  try {
    const secret: DbSecret = {
      username: requiredText(fields, 'username'),
      password: requiredText(fields, 'password'),
    };
    const host = optionalText(fields, 'host');
    const port = optionalPort(fields);
    const dbname = optionalText(fields, 'dbname');
    const engine = optionalText(fields, 'engine');
    const sslrootcert = optionalCertificate(fields);
    if (host !== undefined) secret.host = host;
    if (port !== undefined) secret.port = port;
    if (dbname !== undefined) secret.dbname = dbname;
    if (engine !== undefined) secret.engine = engine;
    if (sslrootcert !== undefined) secret.sslrootcert = sslrootcert;
    return createDbSecret(secret);
  } catch (err) {
    if (err instanceof SecretShapeError) throw Errors.secretMalformed(ref, err.message);
    throw err;
  }
}

/** Parses a secret string (JSON text). Throws `Errors.secretMalformed(ref, why)`. */
export function parseDbSecret(ref: string, text: string): DbSecret {
  if (text.length > MAX_SECRET_LENGTH) {
    throw Errors.secretMalformed(ref, `longer than ${MAX_SECRET_LENGTH} characters`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // V8's SyntaxError quotes the text around the fault, which could be the password: drop it.
    throw Errors.secretMalformed(ref, 'not JSON');
  }
  return parseDbSecretObject(ref, value);
}
