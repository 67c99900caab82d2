import { randomInt } from 'node:crypto';

/**
 * The alphabet of generated passwords: printable ASCII without the characters AWS's GetRandomPassword
 * excludes by default for database secrets, and without the ones that need escaping in a URL
 * (postgresql://user:pw@host/db?x), a shell word, a libpq conninfo or passfile, or SQL:
 * no quotes (' " `), backslash, '/', '@', ':', '?', '#', '%', '&', space, and also none of
 * '$' ';' '|' '<' '>' '(' ')' '{' '}' '[' ']' '*' '!' '~' '^' '='. What is left is 67 characters.
 * Printable ASCII also means SASLprep leaves the password unchanged (see scram.ts).
 */
export const PASSWORD_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.,+';

/** 40 characters of a 67-letter alphabet: about 242 bits. */
export const PASSWORD_LENGTH = 40;

const CLASSES = [/[A-Z]/, /[a-z]/, /[0-9]/, /[-_.,+]/];

/**
 * A new password from the CSPRNG (crypto.randomInt, unbiased), at least 32 characters, holding each
 * character class at least once as AWS's RequireEachIncludedType does (some password policies ask).
 * Drawn again in the rare case a class is missing, so every character stays uniformly random.
 */
export function generatePassword(length = PASSWORD_LENGTH): string {
  if (!Number.isInteger(length) || length < 32 || length > 4096)
    throw new RangeError('password length must be 32 to 4096');
  for (;;) {
    let password = '';
    for (let i = 0; i < length; i++) password += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
    if (CLASSES.every((c) => c.test(password))) return password;
  }
}
