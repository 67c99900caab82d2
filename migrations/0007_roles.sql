-- Roles (issue 9). Role work needs a role that may create roles, which backups must never need: a target
-- gains a second, optional secret reference for it. Like secret_ref, only the reference is stored, and it
-- is bound to the tenant at every use (src/secrets/tenant-binding.ts).
ALTER TABLE targets ADD COLUMN admin_secret_ref text
  CHECK (admin_secret_ref IS NULL OR length(admin_secret_ref) BETWEEN 1 AND 2048);

-- A declared role set: the NOLOGIN group roles <name>_readonly, <name>_readwrite and <name>_migrations on
-- one database of a target. What pgsteward knows it created; the server's catalog is read for the rest
-- (drift). Deleting a target forgets its role sets (the roles stay on the server, marked by a comment).
CREATE TABLE role_sets (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id  text NOT NULL REFERENCES tenants (id),
  target_id  uuid NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
  -- Lower-case ASCII so that <name>_migrations (the longest) still fits in 63 bytes: see roles/names.ts.
  name       text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,51}$'),
  database   text NOT NULL CHECK (length(database) BETWEEN 1 AND 63),
  schemas    text[] NOT NULL CHECK (cardinality(schemas) BETWEEN 1 AND 100),
  roles      text[] NOT NULL CHECK (
               cardinality(roles) BETWEEN 1 AND 3 AND roles <@ ARRAY['readonly', 'readwrite', 'migrations']::text[]
             ),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, target_id, name)
);
CREATE INDEX role_sets_target_name ON role_sets (target_id, name);
ALTER TABLE role_sets ENABLE ROW LEVEL SECURITY;
ALTER TABLE role_sets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON role_sets
  USING (pgsteward_tenant_visible(tenant_id)) WITH CHECK (pgsteward_tenant_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON role_sets TO pgsteward_app;
