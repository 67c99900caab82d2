-- Login users (issue 9 §3-4): pgsteward's record of each LOGIN role it made for a role set. The password is
-- never here, only where it lives (secret_ref); the server holds a SCRAM verifier of it.
CREATE TABLE role_users (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id           text NOT NULL REFERENCES tenants (id),
  target_id           uuid NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
  name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 63),
  role_set            text NOT NULL CHECK (length(role_set) BETWEEN 1 AND 63),
  access              text NOT NULL CHECK (access IN ('readonly', 'readwrite', 'migrations')),
  secret_ref          text NOT NULL CHECK (length(secret_ref) BETWEEN 1 AND 2048),
  strategy            text NOT NULL CHECK (strategy IN ('single', 'alternating')),
  -- creating: the row is written first (step 1 of the create order, see users/create.ts), so a retry or a
  -- delete after a crash knows what may exist; active once the role and the secret both do.
  state               text NOT NULL DEFAULT 'creating' CHECK (state IN ('creating', 'active')),
  -- The ClientRequestToken of the secret's first version: it tells our secret from anyone else's.
  creation_token      uuid NOT NULL DEFAULT gen_random_uuid(),
  -- The role AWSCURRENT names (`name`, or `name_clone` for alternating), as of the last finished rotation.
  active_username     text NOT NULL CHECK (length(active_username) BETWEEN 1 AND 63),
  connection_limit    integer CHECK (connection_limit IS NULL OR connection_limit >= -1),
  valid_until         timestamptz,
  rotation_every_days integer CHECK (rotation_every_days IS NULL OR rotation_every_days BETWEEN 1 AND 365),
  last_rotated_at     timestamptz,
  next_rotation_at    timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (target_id, name)
);
CREATE INDEX role_users_tenant_target ON role_users (tenant_id, target_id, name);
-- The rotation pass asks only for due users.
CREATE INDEX role_users_due ON role_users (next_rotation_at) WHERE state = 'active' AND next_rotation_at IS NOT NULL;
ALTER TABLE role_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE role_users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON role_users
  USING (pgsteward_tenant_visible(tenant_id)) WITH CHECK (pgsteward_tenant_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE, DELETE ON role_users TO pgsteward_app;

-- Never two rotations of one login user at once, whoever enqueues them (the API, the leader's pass): a
-- second queued or running `role.rotate` job for the same user fails this index and is refused with 409.
CREATE UNIQUE INDEX jobs_one_rotation_per_user ON jobs ((subjects ->> 'loginUser'))
  WHERE kind = 'role.rotate' AND status IN ('queued', 'running');
