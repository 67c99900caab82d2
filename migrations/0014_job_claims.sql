-- The job engine's claim and completion, each one round trip (issue 12 §2). Before, a claim was a
-- transaction of five round trips that took one job (BEGIN, the scope, a per-tenant lock chosen by an
-- aggregate over every queued job, the claim, COMMIT) and a completion one of four; at concurrency 10 the
-- worker spent its time waiting on them (~55 trivial jobs/s at a load average of 16, graphile-worker ~1,000
-- beside it; B6 in docs/BENCHMARKS.md has the figures after).

-- Where the claims' round-robin between tenants stands: the tenant served last. Engine state, one row;
-- written only under the claim lock.
CREATE TABLE job_claim_cursor (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  tenant_id text
);
INSERT INTO job_claim_cursor DEFAULT VALUES;
GRANT SELECT, UPDATE ON job_claim_cursor TO pgsteward_app;

-- Claim up to p_limit jobs across tenants, each tenant within its cap, in round-robin order. A VOLATILE
-- plpgsql function runs each statement with a new snapshot (READ COMMITTED), so everything after the lock
-- sees every claim committed before the lock was granted: the running counts are exact, and each tenant's
-- cap holds however many workers claim at once. The lock is transaction-scoped: called in autocommit, the
-- statement is the transaction, and the lock is released by the commit that publishes the claims.
--
-- Round-robin: the walk starts at the first tenant with queued jobs after the one served last
-- (job_claim_cursor), takes from each tenant up to its free share (cap - running, and what the batch
-- still needs), oldest run_at first, and wraps around once; the cursor then moves to the last tenant
-- served. So a tenant with a deep queue cannot starve another's single job: each claim serves the
-- tenants after the previous one's. A round that starts on an empty queue starts in tenant id order. Kinds the worker has no task for are skipped (a worker of another
-- version may run them). SKIP LOCKED steps over a row a concurrent cancel holds.
--
-- Cost: one index descent of jobs_queued per tenant visited (the next tenant with queued jobs), a count
-- of its running jobs from jobs_running, and its next jobs from jobs_queued; a claim of k jobs visits
-- about k / (cap - running) tenants, never every tenant, and reads no finished job. Measured on the
-- 2-core machine at a load average of ~19, 100 tenants with 2,000 queued jobs, cap 2, a claim of 10: the
-- single-statement form that ranked every tenant's jobs (a skip scan of all tenants, each tenant's last
-- start) took 14 ms, 25 ms as pgsteward_app under row-level security; this walk a fraction of that (B6 in
-- docs/BENCHMARKS.md). JIT is off for the transaction: compiling a claim's expressions took 1-3 s here
-- whenever an estimate crossed jit_above_cost.
CREATE FUNCTION pgsteward_claim_jobs(p_limit integer, p_cap integer, p_worker text, p_lease_ms integer, p_kinds text[])
  RETURNS SETOF jobs
  LANGUAGE plpgsql VOLATILE
  AS $fn$
DECLARE
  v_after text;
  v_tenant text;
  v_next text;
  v_last text;
  v_wrapped boolean := false;
  v_left integer := p_limit;
  v_take integer;
  v_taken integer;
BEGIN
  -- The engine serves every tenant; transaction-local, like inTenantScope's.
  PERFORM set_config('pgsteward.all_tenants', 'on', true);
  PERFORM set_config('jit', 'off', true);
  PERFORM pg_advisory_xact_lock(7164022, 0);
  SELECT coalesce(c.tenant_id, '') INTO v_after FROM job_claim_cursor c;
  v_tenant := coalesce(v_after, '');
  WHILE v_left > 0 LOOP
    SELECT j.tenant_id INTO v_next FROM jobs j
     WHERE j.status = 'queued' AND j.tenant_id > v_tenant ORDER BY j.tenant_id LIMIT 1;
    IF v_next IS NULL THEN
      EXIT WHEN v_wrapped;
      v_wrapped := true;
      v_tenant := '';
      CONTINUE;
    END IF;
    EXIT WHEN v_wrapped AND v_next > v_after; -- around once
    v_tenant := v_next;
    SELECT least(v_left, p_cap - count(*))::integer INTO v_take FROM jobs r
     WHERE r.tenant_id = v_tenant AND r.status = 'running';
    CONTINUE WHEN v_take <= 0;
    RETURN QUERY
      WITH next AS (
        SELECT q.id FROM jobs q
         WHERE q.tenant_id = v_tenant AND q.status = 'queued' AND q.run_at <= now()
           AND (p_kinds IS NULL OR q.kind = ANY (p_kinds))
         ORDER BY q.run_at, q.id
         LIMIT v_take
         FOR UPDATE SKIP LOCKED
      )
      UPDATE jobs j
         SET status = 'running', attempts = j.attempts + 1, attempt_id = gen_random_uuid(),
             locked_by = p_worker, locked_until = now() + p_lease_ms * interval '1 millisecond',
             heartbeat_at = now(), started_at = now(), finished_at = NULL
        FROM next
       WHERE j.id = next.id
      RETURNING j.*;
    GET DIAGNOSTICS v_taken = ROW_COUNT;
    IF v_taken > 0 THEN
      v_left := v_left - v_taken;
      v_last := v_tenant;
    END IF;
  END LOOP;
  IF v_last IS NOT NULL THEN
    UPDATE job_claim_cursor SET tenant_id = v_last;
  ELSIF v_after <> '' AND NOT EXISTS (SELECT 1 FROM jobs WHERE status = 'queued') THEN
    UPDATE job_claim_cursor SET tenant_id = NULL; -- the queue drained: the next round starts afresh
  END IF;
END
$fn$;

-- Successes of several attempts at once (the worker's completion batch), each row fenced by its own
-- attempt id and locked in id order, so two batch writers (completions, lease renewals) cannot deadlock.
-- Answers the ids written; an attempt missing from the answer had lost its job.
CREATE FUNCTION pgsteward_complete_jobs(p_ids uuid[], p_attempt_ids uuid[], p_results jsonb[])
  RETURNS SETOF uuid
  LANGUAGE plpgsql VOLATILE
  AS $fn$
BEGIN
  PERFORM set_config('pgsteward.all_tenants', 'on', true);
  RETURN QUERY
    WITH owned AS (
      SELECT j.id FROM jobs j JOIN unnest(p_ids, p_attempt_ids) AS a(id, attempt_id)
          ON j.id = a.id AND j.attempt_id = a.attempt_id
       WHERE j.status = 'running'
       ORDER BY j.id
       FOR UPDATE OF j
    )
    UPDATE jobs j
       SET status = 'succeeded', result = r.result, error = NULL, finished_at = now(),
           locked_by = NULL, locked_until = NULL
      FROM owned JOIN unnest(p_ids, p_results) AS r(id, result) ON r.id = owned.id
     WHERE j.id = owned.id
    RETURNING j.id;
END
$fn$;

GRANT EXECUTE ON FUNCTION pgsteward_claim_jobs(integer, integer, text, integer, text[]) TO pgsteward_app;
GRANT EXECUTE ON FUNCTION pgsteward_complete_jobs(uuid[], uuid[], jsonb[]) TO pgsteward_app;
