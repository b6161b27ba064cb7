-- The lab: agents (`vpt agent`, one per host) and their devices, and the
-- attempts they run for distributed campaigns. River's own tables (its
-- job queue) are migrated beside these by package agent.
CREATE TABLE vpt_agents (
    name            TEXT PRIMARY KEY,
    host_name       TEXT NOT NULL,
    owner           TEXT NOT NULL,              -- store.Process of the agent
    river_client_id TEXT NOT NULL DEFAULT '',
    version         TEXT NOT NULL DEFAULT '',
    schema_version  INTEGER NOT NULL,
    protocol        INTEGER NOT NULL,
    results_dir     TEXT NOT NULL DEFAULT '',
    queues          JSONB NOT NULL DEFAULT '[]', -- the River queues it works
    state           TEXT NOT NULL,              -- running, draining, stopped, dead
    reason          TEXT NOT NULL DEFAULT '',
    started_at      TIMESTAMPTZ NOT NULL,
    heartbeat_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE vpt_agent_devices (
    agent         TEXT NOT NULL REFERENCES vpt_agents (name) ON DELETE CASCADE,
    device_id     TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    model         TEXT NOT NULL,
    userinterface TEXT NOT NULL DEFAULT '',
    capabilities  JSONB NOT NULL DEFAULT '[]',
    tags          JSONB NOT NULL DEFAULT '[]',
    state         TEXT NOT NULL,                -- idle, busy, down
    reason        TEXT NOT NULL DEFAULT '',
    result_id     TEXT NOT NULL DEFAULT '',     -- the run it is busy with
    script_name   TEXT NOT NULL DEFAULT '',
    updated_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (agent, device_id)
);

-- One row per attempt of a distributed campaign entry that an agent took:
-- written when it starts, finished in the same transaction that notifies
-- the coordinator. The primary key makes an attempt run at most once.
CREATE TABLE vpt_attempts (
    execution_id TEXT NOT NULL,
    entry_index  INTEGER NOT NULL,
    attempt      INTEGER NOT NULL,
    job_id       BIGINT NOT NULL,
    agent        TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    state        TEXT NOT NULL,                 -- running, done
    result_id    TEXT NOT NULL DEFAULT '',
    run_dir      TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT '',      -- when done: the run's status, or not_run
    error        TEXT NOT NULL DEFAULT '',
    infra        BOOLEAN NOT NULL DEFAULT false, -- not the script's fault: the entry goes elsewhere
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    PRIMARY KEY (execution_id, entry_index, attempt)
);
CREATE INDEX vpt_attempts_running ON vpt_attempts (agent) WHERE state = 'running';
CREATE INDEX vpt_attempts_job ON vpt_attempts (job_id);
