-- The event log (store.Event): what runs, campaigns, devices and agents
-- did, in the order it was committed. AUTOINCREMENT: a sequence number is
-- never reused, even after pruning, since readers resume after the last
-- one they saw.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    type        TEXT NOT NULL,
    at          TEXT NOT NULL,
    run_id      TEXT NOT NULL DEFAULT '',
    campaign_id TEXT NOT NULL DEFAULT '',
    host_name   TEXT NOT NULL DEFAULT '',
    device_id   TEXT NOT NULL DEFAULT '',
    agent       TEXT NOT NULL DEFAULT '',
    data        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_campaign ON events (campaign_id, seq);
CREATE INDEX events_run ON events (run_id, seq);

-- The runs page pages through results by (started_at, id), newest first.
CREATE INDEX script_results_started_id ON script_results (started_at, id);
