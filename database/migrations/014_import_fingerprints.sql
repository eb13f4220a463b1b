-- 014 — what each run sent, so a plan can recognise a row it left untouched.
--
-- A plan compares every tenant's proposed configuration with its row. Done in
-- full, that is the whole document sent and parsed, and the stored one read back,
-- for every tenant, every time. With these two columns the database can say
-- "unchanged" from two small facts instead: the row's `xmin` is still the
-- transaction of the run that last wrote it (nothing changed the row since), and
-- the SHA-256 of what the client proposes now equals the one that run recorded
-- for what it sent. Only the other rows are compared in full.
--
-- Both columns are filled by the tool; existing history rows keep NULL, which
-- simply means "compare in full". Adding them rewrites nothing (no volatile
-- default on existing rows).
--
-- Idempotent: runs unchanged in the Supabase SQL Editor and with
-- `psql -v ON_ERROR_STOP=1 -f`, any number of times.

-- The 64-bit id of the transaction that wrote the run (epoch included, so the
-- tool can tell when 2^31 transactions have passed and a 32-bit `xmin` could be
-- equal again by wrap-around; it then compares in full), and the cluster it ran
-- on: a database restored from a dump into another cluster numbers its
-- transactions afresh, so there a recorded id means nothing (compare in full).
ALTER TABLE tenant_migrator.import_runs ADD COLUMN IF NOT EXISTS xact_id BIGINT;
ALTER TABLE tenant_migrator.import_runs
    ALTER COLUMN xact_id SET DEFAULT (pg_current_xact_id()::text::bigint);
ALTER TABLE tenant_migrator.import_runs ADD COLUMN IF NOT EXISTS cluster_id BIGINT;
ALTER TABLE tenant_migrator.import_runs
    ALTER COLUMN cluster_id SET DEFAULT ((pg_control_system()).system_identifier);

-- SHA-256 (hex) of the payload the run sent for this tenant: its owned columns
-- and tenant_config as the tool serialized them. NULL for a rollback's rows.
ALTER TABLE tenant_migrator.import_run_tenants ADD COLUMN IF NOT EXISTS sent_sha256 TEXT;

COMMENT ON COLUMN tenant_migrator.import_runs.xact_id IS
    'tenant-migrator: pg_current_xact_id() of the run''s transaction, for the untouched-row check';
COMMENT ON COLUMN tenant_migrator.import_runs.cluster_id IS
    'tenant-migrator: the system identifier of the cluster the run ran on';
COMMENT ON COLUMN tenant_migrator.import_run_tenants.sent_sha256 IS
    'tenant-migrator: sha256 of the payload the run sent for this tenant (NULL: compare in full)';
