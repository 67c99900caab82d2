import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';

/**
 * The one place that reads the environment. Everything else receives this object.
 * Secrets may come from `X` or from a file named by `X_FILE` (never both).
 */
export type Config = ReturnType<typeof loadConfig>;

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const SECRET_VARS = ['DATABASE_URL', 'PGSTEWARD_JWT_SECRET', 'PGSTEWARD_JWT_PUBLIC_KEY'] as const;

const booleanString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const optionalText = z
  .string()
  .transform((v) => v.trim())
  .pipe(z.string().min(1, 'must not be empty'))
  .optional();

const positiveInt = (min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);

const envSchema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: positiveInt(0, 65535).default(8080),
  DATABASE_URL: z
    .string()
    .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// or postgresql:// URL')
    .optional(),
  PGSTEWARD_DATA_DIR: z.string().min(1).default('./.pgsteward'),
  PGSTEWARD_JWT_SECRET: z.string().min(32, 'must be at least 32 characters (HS256 needs a strong key)').optional(),
  PGSTEWARD_JWT_PUBLIC_KEY: z
    .string()
    .refine((v) => v.includes('-----BEGIN'), 'must be a PEM public key (RS256 or ES256)')
    .optional(),
  PGSTEWARD_JWT_ISSUER: optionalText,
  PGSTEWARD_JWT_AUDIENCE: optionalText,
  // 0 turns the cap off (for an identity provider whose tokens carry no iat); a year is the most.
  PGSTEWARD_JWT_MAX_TTL_SECONDS: positiveInt(0, 366 * 86400).default(86400),
  PGSTEWARD_PG_BINDIR: optionalText,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PGSTEWARD_GRAPHIQL: booleanString.optional(),
  PGSTEWARD_GRAPHQL_MAX_DEPTH: positiveInt(2, 50).default(10),
  PGSTEWARD_GRAPHQL_MAX_BATCH: positiveInt(1, 100).default(10),
  PGSTEWARD_GRAPHQL_MAX_COST: positiveInt(100, 10_000_000).default(10_000),
  PGSTEWARD_DB_POOL_SIZE: positiveInt(2, 200).default(10),
  PGSTEWARD_JOB_POOL_SIZE: positiveInt(2, 50).default(4),
  PGSTEWARD_SECRETS_FILE: optionalText,
  AWS_REGION: optionalText,
  PGSTEWARD_AWS_ENDPOINT: z.url({ error: 'must be a URL' }).optional(),
  PGSTEWARD_KMS_ENDPOINT: z.url({ error: 'must be a URL' }).optional(),
  PGSTEWARD_SECRET_FILE_TENANTS: z.string().optional(),
  PGSTEWARD_AWS_TENANT_TAG: z
    .string()
    .regex(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u, 'must be an AWS tag key (1 to 128 characters)')
    .default('pgsteward:tenant'),
  PGSTEWARD_AWS_SECRET_NAME_PATTERN: z.string().default('pgsteward/{tenant}/*'),
  PGSTEWARD_TARGET_ALLOWLIST: z.string().optional(),
  PGSTEWARD_STORAGE_URL: z
    .string()
    .refine((v) => /^(file:\/\/\/|s3:\/\/)/.test(v), 'must be file:///absolute/path or s3://bucket/prefix')
    .optional(),
  PGSTEWARD_S3_ENDPOINT: z.url({ error: 'must be a URL' }).optional(),
  PGSTEWARD_S3_REGION: optionalText,
  PGSTEWARD_S3_FORCE_PATH_STYLE: booleanString.optional(),
  PGSTEWARD_S3_CHECKSUM_MODE: z.enum(['when_supported', 'when_required']).default('when_required'),
  PGSTEWARD_WORKERS: positiveInt(0, 64).default(2),
  PGSTEWARD_TENANT_MAX_RUNNING: positiveInt(1, 64).default(2),
  PGSTEWARD_TENANT_MAX_QUEUED: positiveInt(1, 100_000).default(100),
  PGSTEWARD_JOB_LEASE_SECONDS: positiveInt(5, 3600).default(30),
  PGSTEWARD_REPLACE_KEEP_HOURS: positiveInt(0, 8760).default(24),
  // 0: always hash while pg_restore runs; 1048576 (1 TiB): always hash before it reads a byte.
  PGSTEWARD_RESTORE_VERIFY_FIRST_MB: positiveInt(0, 1_048_576).default(64),
  PGSTEWARD_DRILL_TARGET: z
    .string()
    .refine((v) => /^(file|aws-sm):.+/.test(v), 'must be a secret reference: file:<key> or aws-sm:<secret id or ARN>')
    .optional(),
  PGSTEWARD_DRILL_SSL_MODE: z.enum(['disable', 'prefer', 'require', 'verify-ca', 'verify-full']).default('require'),
  PGSTEWARD_LEADER_INTERVAL_SECONDS: positiveInt(1, 3600).optional(),
  // The leader's interval under its first name, from when it only scheduled drills.
  PGSTEWARD_DRILL_INTERVAL_SECONDS: positiveInt(1, 3600).optional(),
});

// The same rule as tenant ids (src/domain/tenants/service.ts); repeated so config imports no domain code.
const TENANT_ID = /^[a-z][a-z0-9-]{1,62}$/;
const FILE_KEY = /^[A-Za-z0-9._/-]{1,200}$/;

/**
 * PGSTEWARD_SECRET_FILE_TENANTS: `key=tenant,key=tenant`. The operator's way to give a tenant a secrets
 * file key outside its `<tenant>/` namespace; a tenant cannot write it.
 */
function parseFileTenants(text: string | undefined, problems: string[]): Record<string, string> {
  const map: Record<string, string> = Object.create(null);
  for (const raw of (text ?? '').split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const [key = '', tenant = '', extra] = entry.split('=').map((x) => x.trim());
    if (extra !== undefined || !FILE_KEY.test(key) || !TENANT_ID.test(tenant)) {
      problems.push(`PGSTEWARD_SECRET_FILE_TENANTS: '${entry}' is not <secrets file key>=<tenant id>`);
    } else if (key in map && map[key] !== tenant) {
      problems.push(`PGSTEWARD_SECRET_FILE_TENANTS: '${key}' is given to two tenants`);
    } else {
      map[key] = tenant;
    }
  }
  return map;
}

/**
 * A name pattern must pin the tenant between separators a tenant id cannot contain: with `{tenant}-*`,
 * tenant `acme` would match `acme-corp-db`, which belongs to tenant `acme-corp`.
 */
function secretNamePatternProblem(pattern: string | undefined): string | undefined {
  if (pattern === undefined || pattern === 'none') return undefined;
  const parts = pattern.split('{tenant}');
  if (parts.length !== 2) return 'must contain {tenant} exactly once (or be none)';
  const before = parts[0]?.at(-1);
  const after = parts[1]?.at(0);
  const separates = (c: string | undefined) => c === undefined || !/[a-z0-9*?-]/i.test(c);
  if (!separates(before) || !separates(after)) {
    return 'must have {tenant} between separators such as /, not letters, digits, - or *';
  }
  return undefined;
}

/** Resolve `X` / `X_FILE` pairs into plain values, collecting problems. */
function resolveFileVariants(env: NodeJS.ProcessEnv, problems: string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env };
  for (const name of SECRET_VARS) {
    const fileVar = `${name}_FILE`;
    const direct = env[name];
    const file = env[fileVar];
    if (direct !== undefined && file !== undefined) {
      problems.push(`${name} and ${fileVar}: set one or the other, not both`);
      continue;
    }
    if (file !== undefined) {
      try {
        out[name] = readFileSync(file, 'utf8').trim();
      } catch (err) {
        problems.push(`${fileVar}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
  }
  return out;
}

/**
 * Build the validated configuration from an environment (process.env by default).
 * Throws ConfigError naming every bad variable and what was wrong with it.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env) {
  const problems: string[] = [];
  const raw = resolveFileVariants(env, problems);
  // An empty variable means "unset": shells and compose files often export VAR= .
  for (const key of Object.keys(raw)) if (raw[key] === '') delete raw[key];
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
  }
  if (raw.PGSTEWARD_JWT_SECRET !== undefined && raw.PGSTEWARD_JWT_PUBLIC_KEY !== undefined) {
    problems.push('PGSTEWARD_JWT_SECRET and PGSTEWARD_JWT_PUBLIC_KEY: set one or the other, not both');
  }
  const fileTenants = parseFileTenants(raw.PGSTEWARD_SECRET_FILE_TENANTS, problems);
  const namePatternProblem = secretNamePatternProblem(raw.PGSTEWARD_AWS_SECRET_NAME_PATTERN);
  if (namePatternProblem) problems.push(`PGSTEWARD_AWS_SECRET_NAME_PATTERN: ${namePatternProblem}`);
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const e = parsed.data;
  const embedded = e.DATABASE_URL === undefined;
  const dataDir = resolve(e.PGSTEWARD_DATA_DIR);
  return {
    host: e.HOST,
    port: e.PORT,
    /** Undefined means embedded mode: pgsteward runs its own metadata PostgreSQL. */
    databaseUrl: e.DATABASE_URL,
    embedded,
    dataDir,
    jwt: {
      secret: e.PGSTEWARD_JWT_SECRET,
      publicKey: e.PGSTEWARD_JWT_PUBLIC_KEY,
      issuer: e.PGSTEWARD_JWT_ISSUER,
      audience: e.PGSTEWARD_JWT_AUDIENCE,
      /** The longest lifetime (exp - iat) a token may have, in seconds; undefined means no cap. */
      maxTtlSeconds: e.PGSTEWARD_JWT_MAX_TTL_SECONDS === 0 ? undefined : e.PGSTEWARD_JWT_MAX_TTL_SECONDS,
    },
    pgBindir: e.PGSTEWARD_PG_BINDIR,
    logLevel: e.LOG_LEVEL,
    graphql: {
      // GraphiQL and introspection help a developer on their own machine; elsewhere they are opt-in.
      graphiql: e.PGSTEWARD_GRAPHIQL ?? embedded,
      maxDepth: e.PGSTEWARD_GRAPHQL_MAX_DEPTH,
      maxBatch: e.PGSTEWARD_GRAPHQL_MAX_BATCH,
      /** The most objects one operation may ask for, counted before it runs (src/graphql/cost.ts). */
      maxCost: e.PGSTEWARD_GRAPHQL_MAX_COST,
    },
    dbPoolSize: e.PGSTEWARD_DB_POOL_SIZE,
    secrets: {
      file: e.PGSTEWARD_SECRETS_FILE ? resolve(e.PGSTEWARD_SECRETS_FILE) : join(dataDir, 'secrets.json'),
      awsRegion: e.AWS_REGION,
      awsEndpoint: e.PGSTEWARD_AWS_ENDPOINT,
      /** Which tenant may use which secret; see src/secrets/tenant-binding.ts. */
      binding: {
        fileTenants,
        awsTagKey: e.PGSTEWARD_AWS_TENANT_TAG,
        awsNamePattern:
          e.PGSTEWARD_AWS_SECRET_NAME_PATTERN === 'none' ? undefined : e.PGSTEWARD_AWS_SECRET_NAME_PATTERN,
      },
    },
    /** AWS KMS, for tenants whose key-encryption key is `kms:<key id>` (src/domain/encryption). */
    kms: { region: e.AWS_REGION, endpoint: e.PGSTEWARD_KMS_ENDPOINT },
    targets: {
      allowlist: (e.PGSTEWARD_TARGET_ALLOWLIST ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
      // A laptop's databases live on localhost; a shared deployment's must not be reachable that way.
      allowLoopback: embedded,
    },
    storage: {
      url: e.PGSTEWARD_STORAGE_URL ?? pathToFileURL(join(dataDir, 'artifacts')).href,
      s3: {
        endpoint: e.PGSTEWARD_S3_ENDPOINT,
        region: e.PGSTEWARD_S3_REGION ?? e.AWS_REGION,
        forcePathStyle: e.PGSTEWARD_S3_FORCE_PATH_STYLE,
        checksumMode: e.PGSTEWARD_S3_CHECKSUM_MODE,
      },
    },
    jobs: {
      workers: e.PGSTEWARD_WORKERS,
      tenantMaxRunning: e.PGSTEWARD_TENANT_MAX_RUNNING,
      /** Queued jobs a tenant may have before a new one answers 429 (src/jobs/queue-cap.ts). */
      tenantMaxQueued: e.PGSTEWARD_TENANT_MAX_QUEUED,
      leaseMs: e.PGSTEWARD_JOB_LEASE_SECONDS * 1000,
      /** The job engine's own connections (claims, heartbeats, progress), apart from the API's pool. */
      poolSize: e.PGSTEWARD_JOB_POOL_SIZE,
    },
    restores: {
      /** How long a replace keeps the old database under its aside name (restores.keep_until). */
      replaceKeepHours: e.PGSTEWARD_REPLACE_KEEP_HOURS,
      /**
       * A file-storage custom/tar artifact up to this size is hashed before pg_restore reads it; a
       * larger one while pg_restore runs into the work database (see restores/verify-in-place.ts).
       */
      verifyFirstBytes: e.PGSTEWARD_RESTORE_VERIFY_FIRST_MB * 1024 * 1024,
    },
    drills: {
      /** Where drills restore: a secret naming a separate server, or (undefined) each backup's own target. */
      server: e.PGSTEWARD_DRILL_TARGET
        ? { secretRef: e.PGSTEWARD_DRILL_TARGET, sslMode: e.PGSTEWARD_DRILL_SSL_MODE }
        : undefined,
    },
    leader: {
      /** How often the leader runs its periodic passes (drills, kept-database expiry, ...). */
      intervalMs: (e.PGSTEWARD_LEADER_INTERVAL_SECONDS ?? e.PGSTEWARD_DRILL_INTERVAL_SECONDS ?? 15) * 1000,
    },
  };
}
