import { Errors } from '../errors.js';

/**
 * Where a target's database credentials live. pgsteward stores only this reference, never the
 * credentials: `aws-sm:<secret id or ARN>` or `file:<key in the secrets file>`.
 */
export type SecretScheme = 'aws-sm' | 'file';

export interface SecretRef {
  scheme: SecretScheme;
  /** The secret id (name or ARN) for aws-sm, the key for file. */
  id: string;
}

export const SECRET_SCHEMES: readonly SecretScheme[] = ['aws-sm', 'file'];

/** Longest ref accepted; an AWS ARN is at most 2048 characters, so this is generous, not tight. */
export const MAX_SECRET_REF_LENGTH = 2048;

const FILE_KEY = /^[A-Za-z0-9._/-]{1,200}$/;
// C0 controls, DEL and C1 controls: none has a place in an identifier, and all can forge log lines.
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}
// AWS names and ARNs never contain whitespace; a space here is a copy-paste accident.
const WHITESPACE = /\s/;

/**
 * What an error message may show of a refused ref. A string without a known prefix is often a
 * password pasted into the wrong field, so it is never echoed; a prefixed one is shown with control
 * characters escaped and cut short.
 */
export function displaySecretRef(ref: unknown): string {
  if (typeof ref !== 'string') return `(a ${ref === null ? 'null' : typeof ref}, not a string)`;
  if (!SECRET_SCHEMES.some((scheme) => ref.startsWith(`${scheme}:`))) {
    return `(${ref.length} characters without a known prefix, not shown)`;
  }
  const shown = ref.length > 120 ? `${ref.slice(0, 120)}…` : ref;
  return JSON.stringify(shown).slice(1, -1);
}

/**
 * Validates a secretRef and splits it into scheme and id. Pure; throws `Errors.secretRefInvalid`
 * (PGS_SECRET_REF_INVALID, 400) for anything that is not a well-formed reference.
 */
export function parseSecretRef(ref: unknown): SecretRef {
  const invalid = () => Errors.secretRefInvalid(displaySecretRef(ref));
  if (typeof ref !== 'string' || ref.length > MAX_SECRET_REF_LENGTH) throw invalid();
  if (hasControlCharacter(ref) || WHITESPACE.test(ref)) throw invalid();
  const colon = ref.indexOf(':');
  if (colon < 0) throw invalid();
  const scheme = ref.slice(0, colon);
  const id = ref.slice(colon + 1);
  if (scheme === 'aws-sm') {
    if (id.length === 0) throw invalid();
    return { scheme, id };
  }
  if (scheme === 'file') {
    if (!FILE_KEY.test(id)) throw invalid();
    return { scheme, id };
  }
  throw invalid();
}

/** The inverse of parseSecretRef: `formatSecretRef(parseSecretRef(ref)) === ref`. */
export function formatSecretRef(ref: SecretRef): string {
  return `${ref.scheme}:${ref.id}`;
}
