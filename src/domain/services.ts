import type { Config } from '../config.js';
import { discoverPgInstallations, type PgInstallation } from '../pgtools/installations.js';
import { AwsSecretsManagerProvider } from '../secrets/aws-secrets-manager.js';
import { FileSecretProvider } from '../secrets/file.js';
import { SecretStore } from '../secrets/store.js';
import type { ArtifactStorage } from './backups/storage/artifact-storage.js';
import { createArtifactStorage } from './backups/storage/create-storage.js';
import { parseTargetAllowlist, type TargetNetworkPolicy } from './targets/network-guard.js';

/** The long-lived collaborators every capability shares, built once at start-up from the config. */
export interface Services {
  secrets: SecretStore;
  storage: ArtifactStorage;
  network: TargetNetworkPolicy;
  /** Installed PostgreSQL versions (discovered once, then cached). */
  installations(): Promise<PgInstallation[]>;
}

export function createServices(config: Config, overrides: Partial<Services> = {}): Services {
  // Refuse a bad allowlist at start-up rather than on the first backup.
  parseTargetAllowlist(config.targets.allowlist);
  let installations: Promise<PgInstallation[]> | undefined;
  return {
    secrets: new SecretStore({
      providers: {
        file: new FileSecretProvider({ path: config.secrets.file }),
        'aws-sm': new AwsSecretsManagerProvider({
          region: config.secrets.awsRegion,
          endpoint: config.secrets.awsEndpoint,
        }),
      },
    }),
    storage: createArtifactStorage({
      url: config.storage.url,
      s3: {
        endpoint: config.storage.s3.endpoint,
        region: config.storage.s3.region,
        forcePathStyle: config.storage.s3.forcePathStyle,
        checksumMode: config.storage.s3.checksumMode,
      },
    }),
    network: config.targets,
    installations: () => {
      installations ??= discoverPgInstallations({ bindir: config.pgBindir }).catch((err) => {
        installations = undefined; // do not cache a failure
        throw err;
      });
      return installations;
    },
    ...overrides,
  };
}
