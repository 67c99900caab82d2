-- What a job works on, as one generic map from subject kind to id: a backup job {"backup": <id>}, a
-- restore job {"backup": <id>, "restore": <id>} (it reads one and performs the other), a verify job
-- {"backup": <id>}. It replaces a column per capability (backup_id, restore_id), so the job engine names
-- no capability and a new one (role rotation, health reports, ...) adds no column here. The capability
-- tables keep their own job_id, which names only the job that produces the row.
--
-- The foreign keys go with the columns: backups and restores are never deleted (a deleted backup is a
-- status), so what they guarded cannot happen, and a generic map cannot carry one anyway.
--
-- No index on subjects yet: nothing asks "which jobs work on X" today. Retention will ("is a running job
-- reading backup X?"); it should add an expression index then, e.g.
--   CREATE INDEX jobs_running_backup ON jobs ((subjects ->> 'backup')) WHERE status IN ('queued', 'running');
ALTER TABLE jobs ADD COLUMN subjects jsonb NOT NULL DEFAULT '{}'
  CONSTRAINT jobs_subjects_map CHECK (
    jsonb_typeof(subjects) = 'object' AND NOT jsonb_path_exists(subjects, '$.* ? (@.type() != "string")')
  );

-- Row-level security is forced on jobs even for its owner: see every tenant's rows for the copy.
SELECT set_config('pgsteward.all_tenants', 'on', true);
UPDATE jobs
   SET subjects = jsonb_strip_nulls(jsonb_build_object('backup', backup_id::text, 'restore', restore_id::text))
 WHERE backup_id IS NOT NULL OR restore_id IS NOT NULL;
SELECT set_config('pgsteward.all_tenants', '', true);

ALTER TABLE jobs DROP COLUMN backup_id, DROP COLUMN restore_id;
