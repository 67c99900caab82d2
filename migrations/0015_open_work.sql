-- The leader's abandoned-work passes (src/domain/abandoned-work.ts) look every 10 s for records still
-- open (pending or running) whose job has ended. Open records are few at any moment while the tables grow
-- without bound (a health report every 15 minutes per database is ~67 million rows at 100,000 databases
-- and 7 days' history), so each pass reads only these partial indexes, never the tables.
CREATE INDEX backups_open ON backups (job_id) WHERE status IN ('pending', 'running');
CREATE INDEX restores_open ON restores (job_id) WHERE status IN ('pending', 'running');
CREATE INDEX health_reports_open ON health_reports (job_id) WHERE status = 'pending';
CREATE INDEX maintenance_runs_open ON maintenance_runs (id) WHERE status IN ('pending', 'running');
