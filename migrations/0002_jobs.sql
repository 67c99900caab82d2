-- The job engine's queue. One row per job; each claim is an "attempt" fenced by attempt_id, so a worker
-- that lost its lease cannot complete, fail or report progress for an attempt that is no longer its own.
CREATE TABLE jobs (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id           text NOT NULL REFERENCES tenants (id),
  kind                text NOT NULL CHECK (length(kind) BETWEEN 1 AND 100),
  -- No foreign key yet: the targets table arrives in a later migration, which adds it.
  target_id           uuid,
  status              text NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  payload             jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
  progress            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(progress) = 'object'),
  result              jsonb CHECK (result IS NULL OR jsonb_typeof(result) = 'object'),
  -- The last attempt's error, shown to API callers: {code, message}.
  error               jsonb CHECK (error IS NULL OR (jsonb_typeof(error -> 'code') = 'string'
                                                     AND jsonb_typeof(error -> 'message') = 'string')),
  attempts            integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  -- Bounded so the exponential backoff (base * 2^(attempts-1)) cannot overflow.
  max_attempts        integer NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 100),
  run_at              timestamptz NOT NULL DEFAULT now(),
  locked_by           text,
  locked_until        timestamptz,
  heartbeat_at        timestamptz,
  attempt_id          uuid,
  cancel_requested_at timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  started_at          timestamptz,
  finished_at         timestamptz,
  -- A running job always holds a lease; nothing else does.
  CONSTRAINT jobs_running_has_lease CHECK (
    (status = 'running') = (locked_by IS NOT NULL AND locked_until IS NOT NULL AND attempt_id IS NOT NULL)
  )
);

-- Claiming: the queued jobs of one tenant, oldest run_at first. Partial, so it holds only the (few)
-- available jobs, never the long tail of finished ones.
CREATE INDEX jobs_queued ON jobs (tenant_id, run_at, id) WHERE status = 'queued';
-- The per-tenant running count that caps claims, and the reaper's scan for expired leases.
CREATE INDEX jobs_running ON jobs (tenant_id, locked_until) WHERE status = 'running';
-- When each tenant was last served, for round-robin fairness between tenants when claiming.
CREATE INDEX jobs_tenant_started ON jobs (tenant_id, started_at) WHERE started_at IS NOT NULL;
-- Listing a tenant's jobs newest first, keyset-paginated on (created_at, id); id DESC so that the
-- ORDER BY created_at DESC, id DESC of the listing reads the index in order.
CREATE INDEX jobs_tenant_created ON jobs (tenant_id, created_at DESC, id DESC);

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON jobs
  USING (pgsteward_tenant_visible(tenant_id)) WITH CHECK (pgsteward_tenant_visible(tenant_id));
-- No DELETE: jobs are the history of what was done.
GRANT SELECT, INSERT, UPDATE ON jobs TO pgsteward_app;

-- Live updates (GraphQL jobUpdated): every status or progress change is published, whichever code path
-- made it, as {id, tenantId, status}. A trigger rather than a notify in each query, so none is missed.
-- NOTIFY is transactional: listeners hear of a change only once it has committed.
CREATE FUNCTION pgsteward_publish_job_event() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status OR OLD.progress IS DISTINCT FROM NEW.progress THEN
    PERFORM pg_notify('pgsteward_job_events',
      json_build_object('id', NEW.id, 'tenantId', NEW.tenant_id, 'status', NEW.status)::text);
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER jobs_publish_event AFTER INSERT OR UPDATE ON jobs
  FOR EACH ROW EXECUTE FUNCTION pgsteward_publish_job_event();
