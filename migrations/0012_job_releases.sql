-- A shutdown (or a worker that gave up its lease in time) hands a running job back: the interrupted
-- attempt still counts in `attempts` ("attempts started so far, including the current one"), and is
-- counted here too, so that a series of deploys cannot use up max_attempts: only attempts that ended
-- some other way (attempts - releases) count toward the limit and the backoff.
ALTER TABLE jobs ADD COLUMN releases integer NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD CONSTRAINT jobs_releases_within_attempts CHECK (releases >= 0 AND releases <= attempts);
