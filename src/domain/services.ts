import type { Config } from '../config.js';
import { setTenantMaxQueued } from '../jobs/queue-cap.js';
import { discoverPgInstallations, type PgInstallation } from '../pgtools/installations.js';
import { AwsSecretDescriber } from '../secrets/aws-secret-tags.js';
import { AwsSecretsManagerProvider } from '../secrets/aws-secrets-manager.js';
import { FileSecretProvider } from '../secrets/file.js';
import { SecretStore } from '../secrets/store.js';
import { TenantSecretBinding } from '../secrets/tenant-binding.js';
import type { ArtifactStorage } from './backups/storage/artifact-storage.js';
import { createArtifactStorage } from './backups/storage/create-storage.js';
import { TenantKeys } from './encryption/key-encryption.js';
import { parseTargetAllowlist, type TargetNetworkPolicy } from './targets/network-guard.js';
import { metadataStoreEndpoints, type ReservedEndpoint } from './targets/reserved-endpoints.js';

/** The long-lived collaborators every capability shares, built once at start-up from the config. */
export interface Services {
  secrets: SecretStore;
  /** Whose secret is whose: checked before any tenant's secret is fetched (src/secrets/tenant-binding.ts). */
  secretBinding: TenantSecretBinding;
  /** pgsteward's own servers, which no target may point at (the drill server's is read from its secret). */
  reservedEndpoints(): Promise<ReservedEndpoint[]>;
  storage: ArtifactStorage;
  /** Tenants' key-encryption keys: wrapping and unwrapping backups' data keys (src/domain/encryption). */
  keys: TenantKeys;
  network: TargetNetworkPolicy;
  /** Installed PostgreSQL versions (discovered once, then cached). */
  installations(): Promise<PgInstallation[]>;
}

export interface ServicesOptions {
  /** The operator log (why a tenant was refused a secret). */
  log?: (fields: Record<string, unknown>, message: string) => void;
}

export function createServices(
  config: Config,
  overrides: Partial<Services> = {},
  options: ServicesOptions = {},
): Services {
  // Refuse a bad allowlist at start-up rather than on the first backup.
  parseTargetAllowlist(config.targets.allowlist);
  // Process-wide, like the config it comes from: every enqueue, whichever capability, is capped.
  setTenantMaxQueued(config.jobs.tenantMaxQueued);
  let installations: Promise<PgInstallation[]> | undefined;
  const drillRef = config.drills.server?.secretRef;
  const metadataStore = metadataStoreEndpoints(config.databaseUrl);
  const services: Services = {
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
    secretBinding: new TenantSecretBinding({
      ...config.secrets.binding,
      operatorRefs: drillRef === undefined ? [] : [drillRef],
      describer: new AwsSecretDescriber({ region: config.secrets.awsRegion, endpoint: config.secrets.awsEndpoint }),
      ...(options.log ? { log: options.log } : {}),
    }),
    reservedEndpoints: async () => {
      if (drillRef === undefined) return metadataStore;
      let host: string | undefined;
      let port: number | undefined;
      try {
        ({ host, port } = await services.secrets.get(drillRef));
      } catch (err) {
        // Fail closed, and without the operator's ref or its error in anything a tenant sees.
        throw new Error(`PGSTEWARD_DRILL_TARGET could not be read to keep targets off the drill server`, {
          cause: err,
        });
      }
      if (host === undefined) return metadataStore;
      return [...metadataStore, { host, port: port ?? 5432, what: 'drill server' }];
    },
    // Built below from the (possibly overridden) secrets and binding.
    keys: undefined as unknown as TenantKeys,
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
  services.keys ??= new TenantKeys({ secrets: services.secrets, binding: services.secretBinding, kms: config.kms });
  return services;
}
