-- Health reports (issue 10): one row per report of a target, written by the health.report job. `checks`
-- holds the report's check results as the API shows them (each with bounded evidence), `server` what the
-- target said about itself. `status` is the report's overall status once it finished: the worst of its
-- checks (fail, warn, unknown, pass), or `error` when the report could not run at all.
CREATE TABLE health_reports (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   text NOT NULL REFERENCES tenants (id),
  target_id   uuid NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
  job_id      uuid REFERENCES jobs (id),
  status      text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'pass', 'warn', 'unknown', 'fail', 'error')),
  started_at  timestamptz,
  finished_at timestamptz,
  server      jsonb,
  checks      jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(checks) = 'array'),
  error       jsonb,
  -- Millisecond precision: list cursors carry a JavaScript Date, which would truncate microseconds.
  created_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now())
);
-- The history of a target, newest first (GET .../health-reports, latest, the fleet view, pruning).
CREATE INDEX health_reports_target ON health_reports (target_id, created_at DESC, id DESC);
CREATE INDEX health_reports_tenant ON health_reports (tenant_id);
ALTER TABLE health_reports ENABLE ROW LEVEL SECURITY;
ALTER TABLE health_reports FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON health_reports
  USING (pgsteward_tenant_visible(tenant_id)) WITH CHECK (pgsteward_tenant_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON health_reports TO pgsteward_app;

-- A target's thresholds (per check id, over PgHero's defaults), optional report schedule, and how long
-- its history is kept.
CREATE TABLE health_policies (
  target_id   uuid PRIMARY KEY REFERENCES targets (id) ON DELETE CASCADE,
  tenant_id   text NOT NULL REFERENCES tenants (id),
  thresholds  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(thresholds) = 'object'),
  schedule    text CHECK (length(schedule) BETWEEN 1 AND 200),
  timezone    text NOT NULL DEFAULT 'UTC' CHECK (length(timezone) BETWEEN 1 AND 100),
  keep_days   integer NOT NULL DEFAULT 30 CHECK (keep_days BETWEEN 1 AND 3650),
  -- The last schedule tick acted on; the next is computed from here.
  last_tick   timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX health_policies_tenant ON health_policies (tenant_id);
ALTER TABLE health_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE health_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON health_policies
  USING (pgsteward_tenant_visible(tenant_id)) WITH CHECK (pgsteward_tenant_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON health_policies TO pgsteward_app;
