-- The vpt version that applied each migration: a vpt that finds a
-- migration newer than its own can say which vpt to upgrade to.
ALTER TABLE schema_migrations ADD COLUMN vpt_version TEXT NOT NULL DEFAULT '';
