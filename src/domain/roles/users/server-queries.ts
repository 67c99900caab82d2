import { quoteIdent, quoteLiteral } from '../../../sql/identifiers.js';
import { parseScramVerifier } from '../scram.js';

/**
 * SQL run on the tenant's server for login users. A password only ever travels as a SCRAM verifier
 * (PASSWORD cannot take a parameter, so it is a literal); the checks below refuse anything else, so a
 * plaintext can never be passed here by mistake.
 */
function verifierLiteral(verifier: string): string {
  if (parseScramVerifier(verifier) === undefined)
    throw new Error('only a SCRAM-SHA-256 verifier is sent as a password');
  return quoteLiteral(verifier);
}

/** Sets a role's password to a verifier. */
export const alterRolePassword = (role: string, verifier: string) => ({
  text: `ALTER ROLE ${quoteIdent(role)} PASSWORD ${verifierLiteral(verifier)}`,
  values: [] as unknown[],
});
