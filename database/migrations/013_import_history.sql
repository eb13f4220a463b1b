-- 013 — tenant-migrator's own run history: who imported what, and what it replaced.
--
-- `import`, `sync` and `rollback` record every run here, in the same transaction
-- as the rows they write. For each tenant written, `previous` holds the whole row
-- as it was (NULL when the run created it) and `written` what the run left in the
-- columns the tool owns; `rollback RUN_ID` restores from `previous`, and `plan`
-- detects rows edited in the database since our last write by comparing their
-- current hash with `baseline_hash`.
--
-- These tables hold banking details and every previous version of every tenant:
-- RLS is enabled with no policy for anon/authenticated and no grants to them; only
-- service_role (and the owner, who runs the tool) can read them. They live in the
-- tool's own schema, which Supabase's Data API does not expose.
--
-- Idempotent: runs unchanged in the Supabase SQL Editor and with
-- `psql -v ON_ERROR_STOP=1 -f`, any number of times.

CREATE SCHEMA IF NOT EXISTS tenant_migrator;

CREATE TABLE IF NOT EXISTS tenant_migrator.import_runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    command TEXT NOT NULL CHECK (command IN ('import', 'sync', 'rollback')),
    started_at TIMESTAMPTZ NOT NULL,
    -- Set when the run's transaction is about to commit; a run that did not
    -- commit left no row at all.
    finished_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    db_user TEXT NOT NULL DEFAULT current_user,
    os_user TEXT,
    hostname TEXT,
    forced BOOLEAN NOT NULL DEFAULT false,
    rollback_of BIGINT REFERENCES tenant_migrator.import_runs (id),
    -- Counts per action, tenants skipped as invalid, tool version, selection.
    summary JSONB NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE IF NOT EXISTS tenant_migrator.import_run_tenants (
    run_id BIGINT NOT NULL REFERENCES tenant_migrator.import_runs (id) ON DELETE CASCADE,
    tenant_id VARCHAR(50) NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete')),
    -- to_jsonb() of the whole row before the run; NULL when the run created it.
    previous JSONB,
    -- The owned columns, config_source and tenant_config after the run, as
    -- stored (NULL when the run deleted the row); new_hash = md5(written::text).
    written JSONB,
    new_hash TEXT,
    -- The drift baseline after this run: the hash of the row as our last import
    -- left it, and the run whose `written` that is. For an import or sync it is
    -- the run itself; a rollback puts back the baseline from before the run it
    -- undoes, so a row that was blocked before is blocked again.
    baseline_run BIGINT,
    baseline_hash TEXT,
    PRIMARY KEY (run_id, tenant_id)
);

-- The latest run that touched a tenant (plan reads it for every tenant).
CREATE INDEX IF NOT EXISTS idx_import_run_tenants_tenant
    ON tenant_migrator.import_run_tenants (tenant_id, run_id DESC);

ALTER TABLE tenant_migrator.import_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_migrator.import_run_tenants ENABLE ROW LEVEL SECURITY;

-- Supabase grants new tables to anon and authenticated through default
-- privileges in some setups; take everything back explicitly.
REVOKE ALL ON tenant_migrator.import_runs FROM PUBLIC, anon, authenticated;
REVOKE ALL ON tenant_migrator.import_run_tenants FROM PUBLIC, anon, authenticated;

GRANT USAGE ON SCHEMA tenant_migrator TO service_role;
GRANT ALL ON tenant_migrator.import_runs TO service_role;
GRANT ALL ON tenant_migrator.import_run_tenants TO service_role;
GRANT USAGE, SELECT ON SEQUENCE tenant_migrator.import_runs_id_seq TO service_role;

DROP POLICY IF EXISTS "Service role has full access to import runs"
    ON tenant_migrator.import_runs;
CREATE POLICY "Service role has full access to import runs"
    ON tenant_migrator.import_runs
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);

DROP POLICY IF EXISTS "Service role has full access to import run tenants"
    ON tenant_migrator.import_run_tenants;
CREATE POLICY "Service role has full access to import run tenants"
    ON tenant_migrator.import_run_tenants
    FOR ALL TO service_role
    USING (true) WITH CHECK (true);

COMMENT ON TABLE tenant_migrator.import_runs IS
    'tenant-migrator: one row per import/sync/rollback run that wrote something';
COMMENT ON TABLE tenant_migrator.import_run_tenants IS
    'tenant-migrator: per tenant written by a run, the row before (previous) and after (written); holds banking details, no grants to anon/authenticated';
