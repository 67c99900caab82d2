-- Maintenance windows: when a target accepts work that takes ACCESS EXCLUSIVE locks (VACUUM FULL,
-- REINDEX without CONCURRENTLY). One per target: the cron of the window's start, read in a time zone,
-- and how long it stays open.
CREATE TABLE maintenance_windows (
  target_id        uuid PRIMARY KEY REFERENCES targets (id) ON DELETE CASCADE,
  tenant_id        text NOT NULL REFERENCES tenants (id),
  schedule         text NOT NULL CHECK (length(schedule) BETWEEN 1 AND 200),
  duration_minutes integer NOT NULL CHECK (duration_minutes BETWEEN 1 AND 1440),
  timezone         text NOT NULL DEFAULT 'UTC' CHECK (length(timezone) BETWEEN 1 AND 100),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX maintenance_windows_tenant ON maintenance_windows (tenant_id);
ALTER TABLE maintenance_windows ENABLE ROW LEVEL SECURITY;
ALTER TABLE maintenance_windows FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON maintenance_windows
  USING (pgsteward_tenant_visible(tenant_id)) WITH CHECK (pgsteward_tenant_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON maintenance_windows TO pgsteward_app;

-- One maintenance job's record. Its id is its job's id: the 202 answer (a Job) names it without a field
-- of its own, and GET /v1/maintenance/{id} reads it.
CREATE TABLE maintenance_runs (
  id           uuid PRIMARY KEY,
  tenant_id    text NOT NULL REFERENCES tenants (id),
  -- Nulled if the target is deleted later; the record stays.
  target_id    uuid REFERENCES targets (id) ON DELETE SET NULL,
  action       text NOT NULL CHECK (action IN ('vacuum', 'vacuum_analyze', 'analyze', 'vacuum_full', 'reindex')),
  -- What was asked for: {tables: [...], schemas: [...]} as given (empty: every table of the database).
  selection    jsonb NOT NULL CHECK (jsonb_typeof(selection) = 'object'),
  -- {verbose, concurrently, outsideWindow}, defaults filled in.
  options      jsonb NOT NULL CHECK (jsonb_typeof(options) = 'object'),
  -- Inside a window: when it closes and what the size estimate said when the job was accepted.
  window_end   timestamptz,
  estimate     jsonb CHECK (estimate IS NULL OR jsonb_typeof(estimate) = 'object'),
  -- Which of the target's credentials ran it: secret (secretRef) or admin (adminSecretRef, for tables
  -- only their owner may maintain).
  credential   text CHECK (credential IN ('secret', 'admin')),
  status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
  -- [{schema, name, before: {totalBytes, deadTuples, liveTuples}, after: {...} | null, durationMs}]
  tables       jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(tables) = 'array'),
  error        jsonb CHECK (error IS NULL OR jsonb_typeof(error) = 'object'),
  created_at   timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz,
  completed_at timestamptz
);
CREATE INDEX maintenance_runs_tenant_created ON maintenance_runs (tenant_id, created_at DESC, id DESC);
CREATE INDEX maintenance_runs_target_created ON maintenance_runs (target_id, created_at DESC, id DESC);
ALTER TABLE maintenance_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE maintenance_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON maintenance_runs
  USING (pgsteward_tenant_visible(tenant_id)) WITH CHECK (pgsteward_tenant_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE ON maintenance_runs TO pgsteward_app;
