import { createPublicKey, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.js';

export type Algorithm = 'HS256' | 'RS256' | 'ES256';

export interface VerificationKey {
  key: string;
  algorithms: Algorithm[];
  /** Set when pgsteward generated the secret itself (embedded mode) and can therefore mint tokens. */
  generatedSecretPath?: string;
}

export const embeddedSecretPath = (dataDir: string) => join(dataDir, 'jwt-secret');

/**
 * The key that verifies tokens, with its algorithms pinned (fast-jwt would accept any by default).
 * With no JWT setting at all, a random HS256 secret is generated once and kept in the data
 * directory with mode 0600, so tokens survive restarts.
 */
export async function resolveVerificationKey(config: Config): Promise<VerificationKey> {
  if (config.jwt.secret) return { key: config.jwt.secret, algorithms: ['HS256'] };
  if (config.jwt.publicKey) {
    const type = createPublicKey(config.jwt.publicKey).asymmetricKeyType;
    if (type === 'rsa') return { key: config.jwt.publicKey, algorithms: ['RS256'] };
    if (type === 'ec') return { key: config.jwt.publicKey, algorithms: ['ES256'] };
    throw new Error(`PGSTEWARD_JWT_PUBLIC_KEY: unsupported key type '${type}' (use RSA or EC P-256)`);
  }
  const path = embeddedSecretPath(config.dataDir);
  return { key: await readOrCreateSecret(path), algorithms: ['HS256'], generatedSecretPath: path };
}

/** The HS256 secret that mints tokens: the configured one, else the embedded one if it exists. */
export async function resolveSigningSecret(config: Config): Promise<string> {
  if (config.jwt.secret) return config.jwt.secret;
  if (config.jwt.publicKey) {
    throw new Error('tokens are verified with PGSTEWARD_JWT_PUBLIC_KEY; mint them with your identity provider');
  }
  return readOrCreateSecret(embeddedSecretPath(config.dataDir));
}

async function readOrCreateSecret(path: string): Promise<string> {
  try {
    const info = await stat(path);
    if ((info.mode & 0o077) !== 0) {
      throw new Error(`${path} is readable by others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`);
    }
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
  const secret = randomBytes(48).toString('base64url');
  try {
    await writeFile(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return (await readFile(path, 'utf8')).trim();
    throw err;
  }
  await chmod(path, 0o600);
  return secret;
}
