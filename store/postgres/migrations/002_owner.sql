-- The owning vpt process, identified across PID namespaces and reboots
-- (store.Process), for runs and campaigns; campaigns get a heartbeat too,
-- so that one whose process died can be recovered like a run; an attempt
-- whose device failed and went to another device is marked requeued.
ALTER TABLE script_results ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE campaign_executions ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE campaign_executions ADD COLUMN heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now();
ALTER TABLE campaign_script_results ADD COLUMN requeued BOOLEAN NOT NULL DEFAULT false;
