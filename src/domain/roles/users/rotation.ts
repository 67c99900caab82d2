import { isPgStewardError } from '../../../errors.js';
import { scramVerifier } from '../../../secrets/scram.js';
import type { SecretVersionRead } from '../../../secrets/secret-writer.js';
import { AWSCURRENT, AWSPENDING } from '../../../secrets/secret-writer.js';
import type { SecretStore } from '../../../secrets/store.js';
import { RotationFailures } from '../errors.js';
import { generatePassword } from '../password.js';

/**
 * AWS Secrets Manager's four-step rotation (createSecret, setSecret, testSecret, finishSecret), run by
 * pgsteward against either secrets provider. Every step is idempotent, and a rerun of the whole sequence
 * after a crash at any point converges:
 *
 * - The job id is the new version's ClientRequestToken, so a rerun finds the version (and password) an
 *   earlier attempt wrote instead of making a second one. The password exists only in that version.
 * - setSecret sends only a SCRAM verifier; sending it again (new salt, same password) changes nothing a
 *   login can tell.
 * - AWSCURRENT moves only after a real login with the pending credentials succeeded, and a version that is
 *   already AWSCURRENT ends the rotation at once.
 *
 * `alternating`: the pending version names the role that is not current (`<name>` / `<name>_clone`), and
 * only that role's password changes, so AWSCURRENT always names a password the server accepts and the
 * previous credentials work until the next rotation. `single`: the one role's password changes at
 * setSecret, so between setSecret and finishSecret (normally milliseconds; longer only if the job is
 * interrupted there) AWSCURRENT names the old, refused password. That window is inherent in rotating
 * a single role; it is why alternating is the default.
 */

export type RotationStrategy = 'single' | 'alternating';
export type RotationStep = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';

/** The server side of a rotation, as the admin credential and as the login itself. */
export interface RotationServer {
  /** ALTER ROLE <username> PASSWORD '<verifier>' as the admin credential. */
  setVerifier(username: string, verifier: string): Promise<void>;
  /** Logs in as `username` with `password` over the target's TLS mode and runs SELECT 1; throws if refused. */
  testLogin(username: string, password: string): Promise<void>;
}

export interface RotationInput {
  secretRef: string;
  /** The job id: the new version's ClientRequestToken (32 to 64 characters). */
  token: string;
  strategy: RotationStrategy;
  /** The login user's role, and for alternating its twin `<name>_clone`. */
  username: string;
  cloneUsername: string;
}

export interface RotationResult {
  versionId: string;
  /** The role AWSCURRENT names now. */
  activeUsername: string;
  /** The steps this run did (a resumed run skips nothing but reports which were already done). */
  alreadyFinished: boolean;
}

export interface RotationHooks {
  /** Called after each step; a test throws here to stand for a worker killed between two steps. */
  afterStep?(step: RotationStep): Promise<void> | void;
  /** Whether to stop (cancel, lost lease): checked before every step. */
  signal?: AbortSignal;
}

const isVersionMissing = (err: unknown) => isPgStewardError(err) && err.code === 'PGS_SECRET_VERSION_NOT_FOUND';

async function versionOf(secrets: SecretStore, ref: string, versionId: string) {
  try {
    return await secrets.getSecretValue(ref, { versionId });
  } catch (err) {
    if (isVersionMissing(err)) return undefined;
    throw err;
  }
}

function pendingUsername(input: RotationInput, current: SecretVersionRead): string {
  const currentUser = current.value.username;
  if (currentUser !== input.username && currentUser !== input.cloneUsername) {
    throw RotationFailures.foreignCurrent(input.secretRef, String(currentUser));
  }
  if (input.strategy === 'single') return input.username;
  return currentUser === input.username ? input.cloneUsername : input.username;
}

/**
 * Step 1, createSecret: the version named by the token, staged AWSPENDING; written now with a new
 * password for the next role, or found as an earlier attempt left it.
 */
export async function createPendingVersion(secrets: SecretStore, input: RotationInput): Promise<SecretVersionRead> {
  const earlier = await versionOf(secrets, input.secretRef, input.token);
  if (earlier !== undefined) {
    if (!earlier.stages.includes(AWSCURRENT) && !earlier.stages.includes(AWSPENDING)) {
      // Still ours, but another label change took AWSPENDING away: put it back.
      const holder = Object.entries((await secrets.describeSecret(input.secretRef)).versions).find(([, s]) =>
        s.includes(AWSPENDING),
      )?.[0];
      await secrets.updateVersionStage(input.secretRef, AWSPENDING, {
        moveToVersionId: input.token,
        ...(holder === undefined ? {} : { removeFromVersionId: holder }),
      });
    }
    return earlier;
  }
  const current = await secrets.getSecretValue(input.secretRef, { stage: AWSCURRENT });
  const username = pendingUsername(input, current);
  // Every other field (host, port, dbname, engine, sslrootcert) is carried over, as AWS's functions do.
  const value = { ...current.value, username, password: generatePassword() };
  await secrets.putSecretValue(input.secretRef, value, { clientRequestToken: input.token, stages: [AWSPENDING] });
  const written = await versionOf(secrets, input.secretRef, input.token);
  if (written === undefined) throw new Error('the pending version vanished right after it was written');
  return written;
}

/** Step 2, setSecret: the pending role's password becomes the pending one, as a verifier. */
export async function setPendingPassword(server: RotationServer, pending: SecretVersionRead): Promise<void> {
  await server.setVerifier(String(pending.value.username), scramVerifier(String(pending.value.password)));
}

/** Step 3, testSecret: a real login with the pending credentials. */
export async function testPendingLogin(server: RotationServer, pending: SecretVersionRead): Promise<void> {
  const username = String(pending.value.username);
  try {
    await server.testLogin(username, String(pending.value.password));
  } catch (err) {
    const code = isPgStewardError(err) ? err.code : ((err as { code?: unknown }).code ?? 'error');
    throw RotationFailures.loginRefused(username, String(code));
  }
}

/** Step 4, finishSecret: AWSCURRENT to the pending version (the old one becomes AWSPREVIOUS); AWSPENDING off. */
export async function finishRotation(secrets: SecretStore, input: RotationInput): Promise<void> {
  const { versions } = await secrets.describeSecret(input.secretRef);
  const holderOf = (stage: string) => Object.entries(versions).find(([, stages]) => stages.includes(stage))?.[0];
  const current = holderOf(AWSCURRENT);
  if (current !== input.token) {
    await secrets.updateVersionStage(input.secretRef, AWSCURRENT, {
      moveToVersionId: input.token,
      ...(current === undefined ? {} : { removeFromVersionId: current }),
    });
  }
  if (holderOf(AWSPENDING) === input.token) {
    await secrets.updateVersionStage(input.secretRef, AWSPENDING, { removeFromVersionId: input.token });
  }
}

/** The four steps in order; safe to run again after a crash anywhere (see above). */
export async function rotateLoginUser(
  secrets: SecretStore,
  server: RotationServer,
  input: RotationInput,
  hooks: RotationHooks = {},
): Promise<RotationResult> {
  const step = async (name: RotationStep, run: () => Promise<void>) => {
    hooks.signal?.throwIfAborted();
    await run();
    await hooks.afterStep?.(name);
  };
  let pending: SecretVersionRead | undefined;
  await step('createSecret', async () => {
    pending = await createPendingVersion(secrets, input);
  });
  const version = pending as SecretVersionRead;
  const activeUsername = String(version.value.username);
  if (version.stages.includes(AWSCURRENT)) {
    // finishSecret already ran; only a leftover AWSPENDING label may remain.
    await finishRotation(secrets, input);
    return { versionId: input.token, activeUsername, alreadyFinished: true };
  }
  await step('setSecret', () => setPendingPassword(server, version));
  await step('testSecret', () => testPendingLogin(server, version));
  await step('finishSecret', () => finishRotation(secrets, input));
  return { versionId: input.token, activeUsername, alreadyFinished: false };
}
