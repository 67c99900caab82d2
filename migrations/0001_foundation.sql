-- The application role. pgsteward connects as the DATABASE_URL user (which owns the schema and runs these
-- migrations) but every application connection switches to this role, which can neither bypass row-level
-- security nor own the tables, so a query that forgets its tenant filter still sees only one tenant.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgsteward_app') THEN
    CREATE ROLE pgsteward_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
END
$$;
GRANT pgsteward_app TO CURRENT_USER;
GRANT USAGE ON SCHEMA public TO pgsteward_app;

-- Row visibility: the transaction sets pgsteward.tenant (one tenant) or pgsteward.all_tenants = 'on'
-- (platform operators and the job engine). Unset means nothing is visible.
CREATE FUNCTION pgsteward_tenant_visible(row_tenant text) RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT row_tenant = current_setting('pgsteward.tenant', true)
            OR coalesce(current_setting('pgsteward.all_tenants', true), '') = 'on' $$;

CREATE TABLE tenants (
  id         text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{1,62}$'),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
  USING (pgsteward_tenant_visible(id)) WITH CHECK (pgsteward_tenant_visible(id));
GRANT SELECT, INSERT, UPDATE ON tenants TO pgsteward_app;

CREATE TABLE audit_events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- NULL for platform-level events that belong to no tenant; only operators see those.
  tenant_id   text, -- no foreign key: an audit trail must outlive (and never block on) what it records
  actor       text NOT NULL,
  action      text NOT NULL,
  resource    text NOT NULL,
  outcome     text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
  status_code integer NOT NULL,
  request_id  text,
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_tenant_id_id ON audit_events (tenant_id, id DESC);
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_events
  USING (pgsteward_tenant_visible(tenant_id)) WITH CHECK (pgsteward_tenant_visible(tenant_id));
-- Append-only for the application: no UPDATE or DELETE grants.
GRANT SELECT, INSERT ON audit_events TO pgsteward_app;

-- /readyz compares the applied migrations with the ones the code knows.
GRANT SELECT ON pgsteward_migrations TO pgsteward_app;
