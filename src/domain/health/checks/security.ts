import { evidenceOf, sqlIdent, withRows } from './evidence.js';
import { type CheckContext, type CheckOutcome, type HealthCheck, pass, unknown } from './types.js';

type Row = Record<string, unknown>;
const HBA_DOCS = 'https://www.postgresql.org/docs/current/auth-pg-hba-conf.html';
const SSL_DOCS = 'https://www.postgresql.org/docs/current/ssl-tcp.html';

/** A setting's value, or undefined when the role cannot see it (GUC_SUPERUSER_ONLY ones). */
const setting = (ctx: CheckContext, name: string) => ctx.snapshot.settings.get(name);
const SETTINGS_HIDDEN = 'grant pg_read_all_settings (part of pg_monitor) to read this setting';

export const ssl: HealthCheck = {
  id: 'security.ssl',
  category: 'security',
  defaults: {},
  docsUrl: SSL_DOCS,
  run: (ctx) => {
    const on = setting(ctx, 'ssl');
    const min = setting(ctx, 'ssl_min_protocol_version');
    const evidence = [{ ssl: on ?? null, ssl_min_protocol_version: min ?? null }];
    if (on === undefined) return unknown(SETTINGS_HIDDEN);
    if (on !== 'on') {
      return {
        status: 'fail',
        summary: 'ssl is off: every connection, password exchange included, crosses the network in the clear.',
        evidence,
        remediation: 'ssl = on (with ssl_cert_file and ssl_key_file) in postgresql.conf, then SELECT pg_reload_conf();',
      };
    }
    // Unset (empty) means the server's default, TLSv1.2 from PostgreSQL 14 on; TLSv1 and TLSv1.1 are weak.
    if (min === 'TLSv1' || min === 'TLSv1.1') {
      return {
        status: 'warn',
        summary: `ssl_min_protocol_version is ${min}; TLS below 1.2 is deprecated (RFC 8996).`,
        evidence,
        remediation: "ssl_min_protocol_version = 'TLSv1.2'",
      };
    }
    return pass(`ssl is on, minimum protocol ${min || 'the server default'}.`, evidence);
  },
};

export const sslConnections: HealthCheck = {
  id: 'security.ssl_connections',
  category: 'security',
  defaults: { ratio: 0 },
  docsUrl: SSL_DOCS,
  run: (ctx, th) =>
    withRows(ctx.snapshot.activity, (rows) => {
      const remote = rows.filter((r) => !r.hidden && r.remote && r.backend_type === 'client backend');
      // Another role's session is all NULLs (address included) without pg_read_all_stats.
      const hidden = rows.filter((r) => r.hidden && (r.backend_type === 'client backend' || r.backend_type == null));
      const plain = remote.filter((r) => r.ssl !== true);
      const share = remote.length === 0 ? 0 : plain.length / remote.length;
      const evidence = [{ remoteConnections: remote.length, withoutTls: plain.length, hidden: hidden.length }];
      if (plain.length > 0 && share > (th.ratio ?? 0)) {
        return {
          status: 'warn',
          summary: `${plain.length} of ${remote.length} network connection(s) do not use TLS.`,
          evidence: [
            ...evidence,
            ...plain.slice(0, 9).map((r) => ({ pid: r.pid, role: r.role, database: r.database })),
          ],
          remediation: 'Use hostssl (not host) lines in pg_hba.conf, and sslmode=verify-full in clients.',
        };
      }
      if (hidden.length > 0) {
        return unknown("grant pg_monitor (pg_read_all_stats) to see other roles' sessions' TLS state");
      }
      return pass(`Every network connection (${remote.length}) uses TLS.`, evidence);
    }),
};

export const passwordEncryption: HealthCheck = {
  id: 'security.password_encryption',
  category: 'security',
  defaults: {},
  docsUrl: 'https://www.postgresql.org/docs/current/runtime-config-connection.html#GUC-PASSWORD-ENCRYPTION',
  run: (ctx) => {
    const value = setting(ctx, 'password_encryption');
    if (value === undefined) return unknown(SETTINGS_HIDDEN);
    return value === 'scram-sha-256'
      ? pass('password_encryption is scram-sha-256.')
      : {
          status: 'fail',
          summary: `password_encryption is ${value}: new passwords are stored as MD5 hashes, which log in as well as the password does.`,
          evidence: [{ password_encryption: value }],
          remediation: "password_encryption = 'scram-sha-256', then set every password again.",
        };
  },
};

export const md5Passwords: HealthCheck = {
  id: 'security.md5_passwords',
  category: 'security',
  defaults: {},
  docsUrl: 'https://www.postgresql.org/docs/current/auth-password.html',
  run: (ctx) =>
    withRows(ctx.snapshot.md5Roles, (rows) =>
      rows.length === 0
        ? pass('No role has an MD5 password hash.')
        : {
            status: 'warn',
            summary: `${rows.length} role(s) have an MD5 password hash.`,
            evidence: evidenceOf(rows),
            remediation: "SET password_encryption = 'scram-sha-256'; then ALTER ROLE <role> PASSWORD '<new>' for each.",
          },
    ),
};

// pg_hba lines, as pg_hba_file_rules gives them. Only lines that can let someone in matter.
const admits = (r: Row) => r.auth_method !== 'reject' && r.error === null;
const isLocal = (r: Row) => r.type === 'local';
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
const isLoopback = (r: Row) => typeof r.address === 'string' && LOOPBACK.test(r.address);
const isOpen = (r: Row) =>
  r.address === 'all' ||
  (r.address === '0.0.0.0' && r.netmask === '0.0.0.0') ||
  (r.address === '::' && (r.netmask === '::' || r.netmask === '0:0:0:0:0:0:0:0'));
const list = (v: unknown) => (Array.isArray(v) ? v.join(',') : String(v ?? ''));
const lineOf = (r: Row) =>
  `line ${r.line_number}: ${r.type} ${list(r.database)} ${list(r.user_name)}${r.address ? ` ${r.address}${r.netmask ? `/${r.netmask}` : ''}` : ''} ${r.auth_method}`;
const hbaEvidence = (rows: Row[]) => rows.slice(0, 10).map((r) => ({ line: r.line_number, rule: lineOf(r) }));

function hbaCheck(
  id: string,
  pick: (r: Row) => boolean,
  judge: (hits: Row[]) => CheckOutcome,
  none: string,
): HealthCheck {
  return {
    id,
    category: 'security',
    defaults: {},
    docsUrl: HBA_DOCS,
    run: (ctx) =>
      withRows(ctx.snapshot.hbaRules, (rows) => {
        const hits = rows.filter((r) => admits(r) && pick(r));
        return hits.length === 0 ? pass(none) : judge(hits);
      }),
  };
}

export const hbaAuthMethods = hbaCheck(
  'security.hba_auth_methods',
  (r) => ['trust', 'password', 'md5'].includes(String(r.auth_method)),
  (hits) => ({
    status: hits.some((r) => r.auth_method === 'trust') ? 'fail' : 'warn',
    summary: `${hits.length} pg_hba line(s) use trust, password or md5: ${lineOf(hits[0] as Row)}.`,
    evidence: hbaEvidence(hits),
    remediation: 'Use scram-sha-256 (or cert) on these lines, then SELECT pg_reload_conf();',
  }),
  'No pg_hba line uses trust, password or md5.',
);

export const hbaOpenRanges = hbaCheck(
  'security.hba_open_ranges',
  (r) => !isLocal(r) && isOpen(r),
  (hits) => ({
    status: 'warn',
    summary: `${hits.length} pg_hba line(s) admit any address: ${lineOf(hits[0] as Row)}.`,
    evidence: hbaEvidence(hits),
    remediation: 'Restrict these lines to the application networks (e.g. 10.0.0.0/8), then SELECT pg_reload_conf();',
  }),
  'No pg_hba line admits 0.0.0.0/0, ::/0 or all addresses.',
);

export const hbaHostssl = hbaCheck(
  'security.hba_hostssl',
  (r) => r.type === 'host' && !isLoopback(r),
  (hits) => ({
    status: 'warn',
    summary: `${hits.length} pg_hba line(s) of type host also admit connections without TLS: ${lineOf(hits[0] as Row)}.`,
    evidence: hbaEvidence(hits),
    remediation: 'Change host to hostssl on these lines, then SELECT pg_reload_conf();',
  }),
  'Every network line that admits connections is hostssl (or loopback only).',
);

export const hbaAllAll = hbaCheck(
  'security.hba_all_all',
  (r) => !isLocal(r) && !isLoopback(r) && list(r.database) === 'all' && list(r.user_name) === 'all',
  (hits) => ({
    status: 'warn',
    summary: `${hits.length} network pg_hba line(s) admit every role to every database: ${lineOf(hits[0] as Row)}.`,
    evidence: hbaEvidence(hits),
    remediation: 'Name the databases and roles each network needs instead of all all.',
  }),
  'No network pg_hba line admits all roles to all databases.',
);

export const superuserLogins: HealthCheck = {
  id: 'security.superuser_logins',
  category: 'security',
  defaults: {},
  docsUrl: 'https://www.postgresql.org/docs/current/role-attributes.html',
  run: (ctx) =>
    withRows(ctx.snapshot.loginRoles, (rows) => {
      const extra = rows.filter((r) => r.superuser && !r.bootstrap);
      return extra.length === 0
        ? pass('Only the bootstrap superuser can log in as a superuser.')
        : {
            status: 'warn',
            summary: `${extra.length} role(s) besides the bootstrap superuser can log in as superusers.`,
            evidence: extra.slice(0, 10).map((r) => ({ role: r.name })),
            remediation: extra
              .slice(0, 3)
              .map((r) => `ALTER ROLE ${sqlIdent(r.name)} NOSUPERUSER; -- or NOLOGIN`)
              .join('\n'),
          };
    }),
};

export const targetRoleSuperuser: HealthCheck = {
  id: 'security.target_role_superuser',
  category: 'security',
  defaults: {},
  docsUrl: 'https://www.postgresql.org/docs/current/predefined-roles.html',
  run: (ctx) =>
    ctx.snapshot.info.superuser
      ? {
          status: 'fail',
          summary: `The role pgsteward connects as (${ctx.snapshot.info.role}), the target's backup or application role, is a superuser.`,
          evidence: [{ role: ctx.snapshot.info.role }],
          remediation: `ALTER ROLE ${sqlIdent(ctx.snapshot.info.role)} NOSUPERUSER; GRANT pg_monitor and what the application needs instead.`,
        }
      : pass(`The role pgsteward connects as (${ctx.snapshot.info.role}) is not a superuser.`),
};

/** Informational: a login without VALID UNTIL never expires, which is normal for service accounts. */
export const loginsWithoutExpiry: HealthCheck = {
  id: 'security.logins_without_valid_until',
  category: 'security',
  defaults: {},
  docsUrl: 'https://www.postgresql.org/docs/current/sql-createrole.html',
  run: (ctx) =>
    withRows(ctx.snapshot.loginRoles, (rows) => {
      const never = rows.filter((r) => r.valid_until === null);
      return pass(
        `${never.length} login role(s) have no VALID UNTIL (information only).`,
        never.slice(0, 10).map((r) => ({ role: r.name })),
      );
    }),
};

export const publicSchemaCreate: HealthCheck = {
  id: 'security.public_schema_create',
  category: 'security',
  defaults: {},
  docsUrl: 'https://www.postgresql.org/docs/current/ddl-schemas.html#DDL-SCHEMAS-PATTERNS',
  run: (ctx) =>
    withRows(ctx.snapshot.publicCreate, (rows) =>
      rows.length === 0
        ? pass('PUBLIC cannot CREATE in any schema.')
        : {
            status: 'fail',
            summary: `Every role may CREATE in ${rows.map((r) => r.schema).join(', ')}: anyone can plant functions or operators others will call.`,
            evidence: evidenceOf(rows),
            remediation: rows.map((r) => `REVOKE CREATE ON SCHEMA ${sqlIdent(r.schema)} FROM PUBLIC;`).join('\n'),
          },
    ),
};

export const auditing: HealthCheck = {
  id: 'security.auditing',
  category: 'security',
  defaults: {},
  docsUrl: 'https://github.com/pgaudit/pgaudit',
  run: (ctx) => {
    const preload = setting(ctx, 'shared_preload_libraries');
    const pgaudit = setting(ctx, 'pgaudit.log');
    const logStatement = setting(ctx, 'log_statement');
    const evidence = [
      {
        shared_preload_libraries: preload ?? null,
        'pgaudit.log': pgaudit ?? null,
        log_statement: logStatement ?? null,
      },
    ];
    if (preload?.split(',').some((l) => l.trim() === 'pgaudit') && pgaudit && pgaudit !== 'none') {
      return pass(`pgaudit is loaded and logs ${pgaudit}.`, evidence);
    }
    if (logStatement === undefined) return unknown(SETTINGS_HIDDEN);
    if (['ddl', 'mod', 'all'].includes(logStatement)) return pass(`log_statement is ${logStatement}.`, evidence);
    return {
      status: 'warn',
      summary: `Neither pgaudit nor log_statement records DDL (log_statement = ${logStatement}).`,
      evidence,
      remediation: "log_statement = 'ddl' (or load pgaudit and set pgaudit.log = 'ddl, role').",
    };
  },
};

export const connectionLogging: HealthCheck = {
  id: 'security.connection_logging',
  category: 'security',
  defaults: {},
  docsUrl: 'https://www.postgresql.org/docs/current/runtime-config-logging.html#GUC-LOG-CONNECTIONS',
  run: (ctx) => {
    const conn = setting(ctx, 'log_connections');
    const disc = setting(ctx, 'log_disconnections');
    if (conn === undefined || disc === undefined) return unknown(SETTINGS_HIDDEN);
    // From PostgreSQL 18 log_connections is a list of aspects, empty when off.
    const off = [
      conn === 'off' || conn === '' ? 'log_connections' : null,
      disc === 'on' ? null : 'log_disconnections',
    ].filter((x): x is string => x !== null);
    return off.length === 0
      ? pass('Connections and disconnections are logged.')
      : {
          status: 'warn',
          summary: `${off.join(' and ')} ${off.length > 1 ? 'are' : 'is'} off: who connected, and when, is not on record.`,
          evidence: [{ log_connections: conn, log_disconnections: disc }],
          remediation: off.map((s) => `${s} = on`).join('\n'),
        };
  },
};

export const securityChecks = [
  ssl,
  sslConnections,
  passwordEncryption,
  md5Passwords,
  hbaAuthMethods,
  hbaOpenRanges,
  hbaHostssl,
  hbaAllAll,
  superuserLogins,
  targetRoleSuperuser,
  loginsWithoutExpiry,
  publicSchemaCreate,
  auditing,
  connectionLogging,
];
