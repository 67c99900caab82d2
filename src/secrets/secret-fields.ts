import { inspect } from 'node:util';
import { Errors } from '../errors.js';
import { MAX_SECRET_LENGTH, parseDbSecretObject } from './db-secret.js';

/** A secret's value as stored: a JSON object in the RDS shape (username, password, host, ...), extra fields kept. */
export type SecretFields = Readonly<Record<string, unknown>>;

const REDACTED = '[redacted]';

/**
 * A stored value handed back to a caller. Like DbSecret, `password` is non-enumerable and redacted from
 * JSON.stringify and util.inspect: a value that reaches a log line or a response by accident leaks nothing.
 */
class RedactedSecretFields {
  [field: string]: unknown;

  constructor(fields: Record<string, unknown>) {
    for (const [name, value] of Object.entries(fields)) {
      if (name === 'password') Object.defineProperty(this, name, { value, enumerable: false });
      else this[name] = value;
    }
    Object.freeze(this);
  }

  toJSON(): Record<string, unknown> {
    return Object.hasOwn(this, 'password') ? { ...this, password: REDACTED } : { ...this };
  }

  [inspect.custom](depth: number, options: object): string {
    const shown = Object.hasOwn(this, 'password') ? { ...this, password: REDACTED } : { ...this };
    return `SecretFields ${inspect(shown, { ...options, depth })}`;
  }
}

/** Wraps a parsed value so it is safe to pass around. */
export function redactedSecretFields(fields: Record<string, unknown>): SecretFields {
  return new RedactedSecretFields(fields);
}

/** Own string-keyed fields, the non-enumerable `password` of a redacted value included. */
function allFields(value: object): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const name of Object.getOwnPropertyNames(value)) fields[name] = (value as Record<string, unknown>)[name];
  return fields;
}

/** A copy with object keys sorted at every depth: equal values give equal text, whatever order they were built in. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (typeof value === 'object' && value !== null) {
    const source = allFields(value);
    return Object.fromEntries(
      Object.keys(source)
        .sort()
        .map((name) => [name, sortedKeys(source[name])]),
    );
  }
  return value;
}

/**
 * The text a value is stored as: canonical JSON (keys sorted), so a retry that rebuilds the same value
 * in another order still matches the stored version, which is what ClientRequestToken idempotency compares.
 */
export function canonicalSecretText(value: unknown): string {
  return JSON.stringify(sortedKeys(value));
}

/**
 * Checks a value about to be written: a plain JSON object, readable afterwards as a DbSecret, at most
 * 64 KiB as text. Returns its canonical text. Throws PGS_SECRET_MALFORMED naming the rule, never a value.
 */
export function secretTextToWrite(ref: string, value: unknown): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw Errors.secretMalformed(ref, 'not a JSON object');
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null && proto !== RedactedSecretFields.prototype) {
    throw Errors.secretMalformed(ref, 'not a plain JSON object');
  }
  let text: string;
  try {
    text = canonicalSecretText(value);
  } catch {
    // A BigInt or a cycle; the TypeError's message could name a field's content, so it is dropped.
    throw Errors.secretMalformed(ref, 'not representable as JSON');
  }
  if (text.length > MAX_SECRET_LENGTH) throw Errors.secretMalformed(ref, `longer than ${MAX_SECRET_LENGTH} characters`);
  parseDbSecretObject(ref, JSON.parse(text));
  return text;
}

/** Whether stored text holds the same value as `text` (canonical), however the stored copy was formatted. */
export function sameSecretText(stored: string, text: string): boolean {
  if (stored === text) return true;
  try {
    return canonicalSecretText(JSON.parse(stored)) === text;
  } catch {
    return false;
  }
}
