-- 011 — the tenant registry, as the platform already has it.
--
-- Production databases created this table by hand in the Supabase SQL Editor, so
-- every statement here is idempotent: on such a database it changes nothing, and
-- `tenant-migrator migrate` records it as applied. Runs unchanged in the SQL
-- Editor and with `psql -v ON_ERROR_STOP=1 -f`, any number of times.
--
-- Needs the Supabase roles (anon, authenticated, service_role) and auth.role();
-- on plain PostgreSQL the tool creates them first (tenant_migrator/sql/).

CREATE TABLE IF NOT EXISTS tenants (
    id VARCHAR(50) PRIMARY KEY,  -- e.g. tn_xxx_yyy, or a legacy name like 'africastay'
    name VARCHAR(255) NOT NULL,
    short_name VARCHAR(50),

    status VARCHAR(20) DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'deleted')),
    plan VARCHAR(50) DEFAULT 'lite' CHECK (plan IN ('lite', 'pro', 'enterprise')),

    created_at TIMESTAMPTZ DEFAULT NOW(),
    created_by UUID,  -- an organization user; not a foreign key, so tenants can be moved first
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    deleted_at TIMESTAMPTZ,

    admin_email VARCHAR(255),
    support_email VARCHAR(255),

    max_users INT DEFAULT 5,
    max_monthly_quotes INT DEFAULT 100,
    max_storage_gb INT DEFAULT 1,

    features_enabled JSONB
        DEFAULT '{"ai_helpdesk": true, "email_quotes": true, "voice_calls": false}'::jsonb
);

CREATE INDEX IF NOT EXISTS idx_tenants_status ON tenants (status);
CREATE INDEX IF NOT EXISTS idx_tenants_plan ON tenants (plan);
CREATE INDEX IF NOT EXISTS idx_tenants_created_at ON tenants (created_at);
CREATE INDEX IF NOT EXISTS idx_tenants_admin_email ON tenants (admin_email);

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;

-- The policy names are the ones production already has: re-creating them under
-- these names replaces them instead of adding duplicates.
DROP POLICY IF EXISTS "Service role has full access to tenants" ON tenants;
CREATE POLICY "Service role has full access to tenants" ON tenants
    FOR ALL
    USING (auth.role() = 'service_role');

-- A session sees its own tenant: the backend sets app.tenant_id per request.
DROP POLICY IF EXISTS "Users can view own tenant" ON tenants;
CREATE POLICY "Users can view own tenant" ON tenants
    FOR SELECT
    USING (id = current_setting('app.tenant_id', true));

GRANT ALL ON tenants TO authenticated;
GRANT ALL ON tenants TO service_role;

CREATE OR REPLACE FUNCTION update_tenants_updated_at()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = NOW();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS trigger_tenants_updated_at ON tenants;
CREATE TRIGGER trigger_tenants_updated_at
    BEFORE UPDATE ON tenants
    FOR EACH ROW
    EXECUTE FUNCTION update_tenants_updated_at();

COMMENT ON TABLE tenants IS 'Central registry of all tenants in the multi-tenant platform';
COMMENT ON COLUMN tenants.id IS 'Unique tenant identifier (e.g., tn_xxx_yyy)';
COMMENT ON COLUMN tenants.status IS 'Tenant status: active, suspended, or deleted';
COMMENT ON COLUMN tenants.plan IS 'Subscription plan: lite, pro, or enterprise';
