import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * SCRAM-SHA-256 verifiers (RFC 5802, RFC 7677) in PostgreSQL's own text form:
 *
 *   SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
 *
 * Given such a string, CREATE/ALTER ROLE ... PASSWORD stores it unchanged (PostgreSQL recognises the
 * form), so the plaintext never reaches the server: not the statement text, not `log_statement = all`,
 * not pg_stat_activity. The server can check a login against it but cannot recover the password.
 *
 * SASLprep: PostgreSQL normalises a password with SASLprep (RFC 4013) before hashing, except that a pure
 * ASCII password is used as it is. Every password pgsteward generates is printable ASCII
 * (see password.ts), and this module refuses anything else rather than implementing SASLprep.
 */

/** PostgreSQL's default (scram_iterations, 16+; fixed in 15): what a client expects a server to ask. */
export const SCRAM_ITERATIONS = 4096;
const SALT_BYTES = 16;

const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

export interface ScramVerifier {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

function keysOf(password: string, salt: Buffer, iterations: number) {
  if (!PRINTABLE_ASCII.test(password)) {
    // Not the password in the message: this error may be logged.
    throw new Error(
      'a SCRAM verifier is only computed for printable ASCII passwords (SASLprep leaves those unchanged)',
    );
  }
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error('SCRAM iterations must be a positive integer');
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  return {
    storedKey: createHash('sha256').update(clientKey).digest(),
    serverKey: createHmac('sha256', salted).update('Server Key').digest(),
  };
}

/** The verifier for `password`, with a fresh 16-byte random salt unless one is given (tests). */
export function scramVerifier(password: string, salt: Buffer = randomBytes(SALT_BYTES), iterations = SCRAM_ITERATIONS) {
  const { storedKey, serverKey } = keysOf(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

const B64 = '[A-Za-z0-9+/]+={0,2}';
const VERIFIER = new RegExp(`^SCRAM-SHA-256\\$([0-9]{1,9}):(${B64})\\$(${B64}):(${B64})$`);

/** Splits a verifier in PostgreSQL's form; undefined for anything else (an MD5 hash, a plaintext). */
export function parseScramVerifier(text: string): ScramVerifier | undefined {
  const match = VERIFIER.exec(text);
  if (match === null) return undefined;
  const [, iterations, salt, storedKey, serverKey] = match as unknown as [string, string, string, string, string];
  const parsed = {
    iterations: Number(iterations),
    salt: Buffer.from(salt, 'base64'),
    storedKey: Buffer.from(storedKey, 'base64'),
    serverKey: Buffer.from(serverKey, 'base64'),
  };
  if (parsed.storedKey.length !== 32 || parsed.serverKey.length !== 32 || parsed.iterations < 1) return undefined;
  return parsed;
}

/** Whether `password` is the one `verifier` was made from (constant time over the keys). */
export function verifierMatches(verifier: string, password: string): boolean {
  const parsed = parseScramVerifier(verifier);
  if (parsed === undefined || !PRINTABLE_ASCII.test(password)) return false;
  const { storedKey, serverKey } = keysOf(password, parsed.salt, parsed.iterations);
  return timingSafeEqual(storedKey, parsed.storedKey) && timingSafeEqual(serverKey, parsed.serverKey);
}
