-- Restores: a backup restored into a database of one of the tenant's targets.
CREATE TABLE restores (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id         text NOT NULL REFERENCES tenants (id),
  backup_id         uuid NOT NULL REFERENCES backups (id),
  -- The target restored onto (the backup's own by default). Nulled if that target is deleted later.
  target_id         uuid REFERENCES targets (id) ON DELETE SET NULL,
  -- Set in the same transaction that creates the job; no foreign key because jobs point back here.
  job_id            uuid,
  database          text NOT NULL CHECK (length(database) BETWEEN 1 AND 63),
  mode              text NOT NULL CHECK (mode IN ('create', 'replace')),
  -- The RestoreOptions as requested, defaults filled in.
  options           jsonb NOT NULL CHECK (jsonb_typeof(options) = 'object'),
  status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
  -- The database the restore writes into: `database` itself (create) or a temporary name (replace).
  -- Recorded before it is created, so a retry after a crash knows which leftover is its own to drop.
  work_database     text CHECK (work_database IS NULL OR length(work_database) BETWEEN 1 AND 63),
  -- replace: where the old database was renamed aside, and until when it is kept.
  previous_database text CHECK (previous_database IS NULL OR length(previous_database) BETWEEN 1 AND 63),
  keep_until        timestamptz,
  -- [{schema, name, rows}], rows counted after the restore.
  tables            jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(tables) = 'array'),
  -- Roles the dump refers to that the target lacks (without includeGlobals), or that were created.
  roles             jsonb,
  error             jsonb,
  created_at        timestamptz NOT NULL DEFAULT now(),
  completed_at      timestamptz
);
CREATE INDEX restores_tenant_created ON restores (tenant_id, created_at DESC, id DESC);
CREATE INDEX restores_backup ON restores (backup_id);
CREATE INDEX restores_target ON restores (target_id);
ALTER TABLE restores ENABLE ROW LEVEL SECURITY;
ALTER TABLE restores FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON restores
  USING (pgsteward_tenant_visible(tenant_id)) WITH CHECK (pgsteward_tenant_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE ON restores TO pgsteward_app;

ALTER TABLE jobs ADD COLUMN restore_id uuid REFERENCES restores (id);

-- Restore drills: the newest verification of a backup.
ALTER TABLE backups ADD COLUMN last_verified_at timestamptz;
ALTER TABLE backups ADD COLUMN last_verification jsonb
  CHECK (last_verification IS NULL OR jsonb_typeof(last_verification) = 'object');

-- One drill policy per target: a cron schedule in a time zone.
CREATE TABLE drill_policies (
  target_id   uuid PRIMARY KEY REFERENCES targets (id) ON DELETE CASCADE,
  tenant_id   text NOT NULL REFERENCES tenants (id),
  schedule    text NOT NULL CHECK (length(schedule) BETWEEN 1 AND 200),
  timezone    text NOT NULL DEFAULT 'UTC' CHECK (length(timezone) BETWEEN 1 AND 100),
  -- The last tick the scheduler acted on; the next is computed from here.
  last_tick   timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX drill_policies_tenant ON drill_policies (tenant_id);
ALTER TABLE drill_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE drill_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON drill_policies
  USING (pgsteward_tenant_visible(tenant_id)) WITH CHECK (pgsteward_tenant_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON drill_policies TO pgsteward_app;

-- A drill enqueued for one tick of one target's schedule: the primary key makes a duplicate impossible,
-- even if two schedulers ever acted on the same tick.
CREATE TABLE drill_ticks (
  target_id  uuid NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
  tick       timestamptz NOT NULL,
  tenant_id  text NOT NULL REFERENCES tenants (id),
  job_id     uuid REFERENCES jobs (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (target_id, tick)
);
ALTER TABLE drill_ticks ENABLE ROW LEVEL SECURITY;
ALTER TABLE drill_ticks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON drill_ticks
  USING (pgsteward_tenant_visible(tenant_id)) WITH CHECK (pgsteward_tenant_visible(tenant_id));
GRANT SELECT, INSERT ON drill_ticks TO pgsteward_app;
