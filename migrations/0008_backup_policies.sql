-- Backup policies (issue 11): one per target, a schedule that takes backups and a retention rule that
-- expires them. The policy's id is stable across PUTs (the upsert keeps the row), so the backups a
-- policy made stay its own when its schedule or retention changes.
CREATE TABLE backup_policies (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  target_id     uuid NOT NULL UNIQUE REFERENCES targets (id) ON DELETE CASCADE,
  tenant_id     text NOT NULL REFERENCES tenants (id),
  schedule      text NOT NULL CHECK (length(schedule) BETWEEN 1 AND 200),
  timezone      text NOT NULL DEFAULT 'UTC' CHECK (length(timezone) BETWEEN 1 AND 100),
  -- The BackupOptions every scheduled backup runs with, defaults filled in (as on a backup record).
  options       jsonb NOT NULL CHECK (jsonb_typeof(options) = 'object'),
  -- {keepLast, keepDaily, keepWeekly, keepMonthly, keepYearly, maxAgeDays}; absent keys keep nothing by that rule.
  retention     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(retention) = 'object'),
  -- Start a restore drill after every Nth scheduled backup that succeeds; NULL: never.
  verify_every  integer CHECK (verify_every IS NULL OR verify_every BETWEEN 1 AND 1000),
  -- Scheduled backups of this policy seen to succeed, counted once each (verify_every counts these).
  succeeded     bigint NOT NULL DEFAULT 0,
  enabled       boolean NOT NULL DEFAULT true,
  -- The last tick the scheduler acted on; the next is computed from here.
  last_tick     timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX backup_policies_tenant ON backup_policies (tenant_id);
ALTER TABLE backup_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE backup_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON backup_policies
  USING (pgsteward_tenant_visible(tenant_id)) WITH CHECK (pgsteward_tenant_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON backup_policies TO pgsteward_app;

-- One row per tick a policy acted on: the primary key makes a second backup for the same tick impossible,
-- whichever replica schedules it. A skipped tick is recorded with its reason.
CREATE TABLE backup_policy_runs (
  policy_id   uuid NOT NULL REFERENCES backup_policies (id) ON DELETE CASCADE,
  tick        timestamptz NOT NULL,
  tenant_id   text NOT NULL REFERENCES tenants (id),
  target_id   uuid NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
  outcome     text NOT NULL CHECK (outcome IN ('enqueued', 'skipped')),
  reason      text CHECK (reason IS NULL OR length(reason) <= 500),
  backup_id   uuid REFERENCES backups (id),
  -- When the scheduler saw the backup finish (succeeded or failed); counted once for verifyEvery and metrics.
  settled_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (policy_id, tick),
  CONSTRAINT backup_policy_runs_enqueued_has_backup CHECK ((outcome = 'enqueued') = (backup_id IS NOT NULL))
);
CREATE INDEX backup_policy_runs_unsettled ON backup_policy_runs (policy_id) WHERE backup_id IS NOT NULL AND settled_at IS NULL;
ALTER TABLE backup_policy_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE backup_policy_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON backup_policy_runs
  USING (pgsteward_tenant_visible(tenant_id)) WITH CHECK (pgsteward_tenant_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE ON backup_policy_runs TO pgsteward_app;

-- A backup made by a schedule names its policy and tick (the policy may be deleted later; the tick stays,
-- so the backup is still known as a scheduled one). pinned keeps it whatever retention says.
ALTER TABLE backups
  ADD COLUMN policy_id    uuid REFERENCES backup_policies (id) ON DELETE SET NULL,
  ADD COLUMN tick         timestamptz,
  ADD COLUMN pinned       boolean NOT NULL DEFAULT false,
  -- Retention's decision: the rule that expired the backup, recorded before its objects are deleted (so
  -- a sweep interrupted by a crash finishes the same decision), and when the objects were gone.
  ADD COLUMN expired_rule text CHECK (expired_rule IS NULL OR length(expired_rule) <= 100),
  ADD COLUMN expired_at   timestamptz;

-- 'expired': removed by retention, artifacts gone, the record kept as history (like 'deleted').
ALTER TABLE backups DROP CONSTRAINT backups_status_check;
ALTER TABLE backups ADD CONSTRAINT backups_status_check
  CHECK (status IN ('pending', 'running', 'available', 'failed', 'deleted', 'expired'));
ALTER TABLE backups DROP CONSTRAINT backups_live_have_target;
ALTER TABLE backups ADD CONSTRAINT backups_live_have_target
  CHECK (status IN ('deleted', 'expired') OR target_id IS NOT NULL);
-- One backup per policy and tick, whatever else goes wrong (backup_policy_runs' key says the same).
CREATE UNIQUE INDEX backups_policy_tick ON backups (policy_id, tick) WHERE policy_id IS NOT NULL;

-- Retention's question for every candidate: "is a queued or running job reading (or writing) backup X?"
-- (restores and drills name it in subjects, as the backup job itself does). See 0006.
CREATE INDEX IF NOT EXISTS jobs_running_backup ON jobs ((subjects ->> 'backup')) WHERE status IN ('queued', 'running');
