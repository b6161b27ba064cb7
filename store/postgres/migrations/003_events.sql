-- The event log (store.Event): what runs, campaigns, devices and agents
-- did. Writers take an advisory lock before inserting (sqlstore's
-- EventLock), so sequence numbers are taken in commit order and a reader
-- resuming after the last one it saw misses nothing; NOTIFY vpt_events
-- wakes listeners at commit.
CREATE TABLE events (
    seq         BIGSERIAL PRIMARY KEY,
    type        TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    run_id      TEXT NOT NULL DEFAULT '',
    campaign_id TEXT NOT NULL DEFAULT '',
    host_name   TEXT NOT NULL DEFAULT '',
    device_id   TEXT NOT NULL DEFAULT '',
    agent       TEXT NOT NULL DEFAULT '',
    data        JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX events_campaign ON events (campaign_id, seq);
CREATE INDEX events_run ON events (run_id, seq);

-- The runs page pages through results by (started_at, id), newest first.
CREATE INDEX script_results_started_id ON script_results (started_at, id);
