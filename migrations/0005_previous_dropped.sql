-- replace restores: when the database renamed aside (previous_database) was dropped, by the expiry sweep
-- after keep_until or when asked. NULL while it is kept.
ALTER TABLE restores ADD COLUMN previous_dropped_at timestamptz;
-- The sweep's question each pass: kept databases whose time is up. Partial, so it stays the size of what
-- is still kept, not of the restore history.
CREATE INDEX restores_previous_kept ON restores (keep_until)
  WHERE previous_database IS NOT NULL AND previous_dropped_at IS NULL;
