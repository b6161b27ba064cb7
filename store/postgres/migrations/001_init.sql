-- Results of script runs: upstream's script_results columns, plus status,
-- exit code, run folder, device model and the owning vpt process. Ids are
-- UUIDs kept as text, so that ids can be looked up by prefix.
CREATE TABLE script_results (
    id                  TEXT PRIMARY KEY,
    team_id             TEXT NOT NULL,
    script_name         TEXT NOT NULL,
    script_type         TEXT NOT NULL,
    script_path         TEXT NOT NULL DEFAULT '',
    parameters          JSONB NOT NULL DEFAULT '[]',
    userinterface_name  TEXT NOT NULL DEFAULT '',
    host_name           TEXT NOT NULL,
    device_id           TEXT NOT NULL DEFAULT '',
    device_name         TEXT NOT NULL,
    device_model        TEXT NOT NULL DEFAULT '',
    status              TEXT NOT NULL,
    success             BOOLEAN NOT NULL DEFAULT false,
    exit_code           INTEGER,
    error_msg           TEXT NOT NULL DEFAULT '',
    started_at          TIMESTAMPTZ NOT NULL,
    completed_at        TIMESTAMPTZ,
    execution_time_ms   BIGINT NOT NULL DEFAULT 0,
    run_dir             TEXT NOT NULL DEFAULT '',
    html_report_r2_path TEXT NOT NULL DEFAULT '',
    html_report_r2_url  TEXT NOT NULL DEFAULT '',
    logs_r2_path        TEXT NOT NULL DEFAULT '',
    logs_r2_url         TEXT NOT NULL DEFAULT '',
    upload_status       TEXT NOT NULL DEFAULT '',
    discard             BOOLEAN NOT NULL DEFAULT false,
    checked             BOOLEAN NOT NULL DEFAULT false,
    check_type          TEXT NOT NULL DEFAULT '',
    discard_comment     TEXT NOT NULL DEFAULT '',
    metadata            JSONB NOT NULL DEFAULT '{}',
    pid                 INTEGER NOT NULL DEFAULT 0,
    pid_start           BIGINT NOT NULL DEFAULT 0,
    heartbeat_at        TIMESTAMPTZ NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    details             JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX script_results_started ON script_results (started_at);
CREATE INDEX script_results_script ON script_results (script_name, started_at);
CREATE INDEX script_results_status ON script_results (status);
CREATE INDEX script_results_team ON script_results (team_id);
CREATE INDEX script_results_host ON script_results (host_name);
CREATE INDEX script_results_device ON script_results (device_id);

CREATE TABLE campaign_executions (
    id                    TEXT PRIMARY KEY,
    campaign_execution_id TEXT NOT NULL UNIQUE,
    team_id               TEXT NOT NULL,
    campaign_name         TEXT NOT NULL,
    campaign_description  TEXT NOT NULL DEFAULT '',
    campaign_id           TEXT NOT NULL DEFAULT '',
    userinterface_name    TEXT NOT NULL DEFAULT '',
    host_name             TEXT NOT NULL,
    device_name           TEXT NOT NULL,
    status                TEXT NOT NULL DEFAULT 'pending',
    started_at            TIMESTAMPTZ NOT NULL,
    completed_at          TIMESTAMPTZ,
    execution_time_ms     BIGINT NOT NULL DEFAULT 0,
    success               BOOLEAN NOT NULL DEFAULT false,
    error_message         TEXT NOT NULL DEFAULT '',
    script_configurations JSONB NOT NULL DEFAULT '[]',
    execution_config      JSONB NOT NULL DEFAULT '{}',
    stats                 JSONB NOT NULL DEFAULT '{}',
    shard_total           INTEGER NOT NULL DEFAULT 1,
    html_report_r2_path   TEXT NOT NULL DEFAULT '',
    html_report_r2_url    TEXT NOT NULL DEFAULT '',
    report_dir            TEXT NOT NULL DEFAULT '',
    extra                 JSONB NOT NULL DEFAULT '{}',
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX campaign_executions_started ON campaign_executions (started_at);
CREATE INDEX campaign_executions_name ON campaign_executions (campaign_name);
CREATE INDEX campaign_executions_status ON campaign_executions (status);

CREATE TABLE campaign_script_results (
    campaign_id      TEXT NOT NULL REFERENCES campaign_executions (id) ON DELETE CASCADE,
    entry_index      INTEGER NOT NULL,
    attempt          INTEGER NOT NULL,
    shard            INTEGER NOT NULL DEFAULT 0,
    script_name      TEXT NOT NULL,
    device_id        TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,
    script_result_id TEXT REFERENCES script_results (id) ON DELETE SET NULL,
    started_at       TIMESTAMPTZ NOT NULL,
    duration_ms      BIGINT NOT NULL DEFAULT 0,
    run_dir          TEXT NOT NULL DEFAULT '',
    error            TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (campaign_id, entry_index, attempt)
);
CREATE INDEX campaign_script_results_result ON campaign_script_results (script_result_id);

CREATE TABLE campaign_shards (
    campaign_id  TEXT NOT NULL REFERENCES campaign_executions (id) ON DELETE CASCADE,
    shard        INTEGER NOT NULL,
    status       TEXT NOT NULL,
    host_name    TEXT NOT NULL DEFAULT '',
    completed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (campaign_id, shard)
);
