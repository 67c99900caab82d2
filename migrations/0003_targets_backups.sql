-- Targets: a tenant's databases. Credentials are never stored here, only a reference to a secret.
CREATE TABLE targets (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id  text NOT NULL REFERENCES tenants (id),
  name       text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
  host       text CHECK (host IS NULL OR length(host) BETWEEN 1 AND 253),
  port       integer CHECK (port IS NULL OR port BETWEEN 1 AND 65535),
  database   text CHECK (database IS NULL OR (length(database) BETWEEN 1 AND 63 AND database !~ '=' AND database !~ '^-')),
  ssl_mode   text NOT NULL DEFAULT 'require'
               CHECK (ssl_mode IN ('disable', 'prefer', 'require', 'verify-ca', 'verify-full')),
  secret_ref text NOT NULL CHECK (length(secret_ref) BETWEEN 1 AND 2048),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);
CREATE INDEX targets_tenant_created ON targets (tenant_id, created_at, id);
ALTER TABLE targets ENABLE ROW LEVEL SECURITY;
ALTER TABLE targets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON targets
  USING (pgsteward_tenant_visible(tenant_id)) WITH CHECK (pgsteward_tenant_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON targets TO pgsteward_app;

-- A job's history outlives its target (a target can only be deleted once it has no backups).
ALTER TABLE jobs ADD CONSTRAINT jobs_target_id_fkey
  FOREIGN KEY (target_id) REFERENCES targets (id) ON DELETE SET NULL;

CREATE TABLE backups (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id      text NOT NULL REFERENCES tenants (id),
  -- Nulled only when the target is deleted, which is refused while it has backups that are not deleted.
  target_id      uuid REFERENCES targets (id) ON DELETE SET NULL,
  -- Set in the same transaction that creates the job; no foreign key because jobs point back here.
  job_id         uuid,
  status         text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'running', 'available', 'failed', 'deleted')),
  format         text NOT NULL CHECK (format IN ('custom', 'plain', 'directory', 'tar')),
  options        jsonb NOT NULL CHECK (jsonb_typeof(options) = 'object'),
  -- Where the artifact lives, relative to the storage root: <tenant>/<target>/<backup id>/...
  artifact_key   text,
  size_bytes     bigint CHECK (size_bytes IS NULL OR size_bytes >= 0),
  sha256         text CHECK (sha256 IS NULL OR sha256 ~ '^[0-9a-f]{64}$'),
  server_version text,
  tool_version   text,
  tables         jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(tables) = 'array'),
  globals        jsonb,
  error          jsonb,
  created_at     timestamptz NOT NULL DEFAULT now(),
  completed_at   timestamptz,
  deleted_at     timestamptz,
  -- "available" is a claim that the artifact was verified: it cannot exist without its proof.
  CONSTRAINT backups_live_have_target CHECK (status = 'deleted' OR target_id IS NOT NULL),
  CONSTRAINT backups_available_is_verified CHECK (
    status <> 'available' OR (artifact_key IS NOT NULL AND size_bytes IS NOT NULL AND sha256 IS NOT NULL)
  )
);
CREATE INDEX backups_tenant_created ON backups (tenant_id, created_at DESC, id DESC);
CREATE INDEX backups_target_created ON backups (target_id, created_at DESC, id DESC);
ALTER TABLE backups ENABLE ROW LEVEL SECURITY;
ALTER TABLE backups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON backups
  USING (pgsteward_tenant_visible(tenant_id)) WITH CHECK (pgsteward_tenant_visible(tenant_id));
-- No DELETE: a deleted backup keeps its record (status 'deleted') after its artifact is gone.
GRANT SELECT, INSERT, UPDATE ON backups TO pgsteward_app;

ALTER TABLE jobs ADD COLUMN backup_id uuid REFERENCES backups (id);

-- Idempotency-Key: the first request with a key creates the job; a retry with the same key and body
-- gets that job back, and one with a different body is refused. Written in the job's own transaction.
CREATE TABLE idempotency_keys (
  tenant_id    text NOT NULL REFERENCES tenants (id),
  operation    text NOT NULL,
  key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
  request_hash text NOT NULL,
  job_id       uuid NOT NULL REFERENCES jobs (id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, operation, key)
);
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idempotency_keys
  USING (pgsteward_tenant_visible(tenant_id)) WITH CHECK (pgsteward_tenant_visible(tenant_id));
GRANT SELECT, INSERT ON idempotency_keys TO pgsteward_app;
