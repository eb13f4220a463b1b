-- 012 — tenant configuration in the database (dual-mode: YAML or database).
--
-- Extends the tenants table from 011 (no new table). Idempotent: runs unchanged in
-- the Supabase SQL Editor (one batch) and with `psql -v ON_ERROR_STOP=1 -f`, any
-- number of times, and a second run changes nothing (not a default, not a row).

-- 1. Everything in client.yaml beyond the core columns. References only for
--    infrastructure and email credentials, never secret values (see the end).
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS tenant_config JSONB DEFAULT '{}'::jsonb;

-- 2. Denormalized copies of the fields the platform filters and joins on.
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS timezone VARCHAR(50) DEFAULT 'Africa/Johannesburg';
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS currency VARCHAR(10) DEFAULT 'ZAR';
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS primary_email VARCHAR(255);
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS gcp_project_id VARCHAR(100);
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS gcp_dataset VARCHAR(100);

-- 3. Where a tenant's configuration lives. Rows that exist when this migration
--    first runs are still read from client.yaml, so they must become 'yaml'; rows
--    created afterwards default to 'database'. Adding the column with DEFAULT 'yaml'
--    fills every existing row with 'yaml' (no table rewrite); the default is then
--    switched to 'database'. Guarded so that a second run, when the column exists,
--    never touches a row's value.
DO $migration_012$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_attribute
        WHERE attrelid = 'tenants'::regclass AND attname = 'config_source' AND NOT attisdropped
    ) THEN
        ALTER TABLE tenants ADD COLUMN config_source VARCHAR(20) DEFAULT 'yaml';
    END IF;

    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint
        WHERE conrelid = 'tenants'::regclass AND conname = 'tenants_config_source_check'
    ) THEN
        ALTER TABLE tenants ADD CONSTRAINT tenants_config_source_check
            CHECK (config_source IN ('yaml', 'database'));
    END IF;
END
$migration_012$;

ALTER TABLE tenants ALTER COLUMN config_source SET DEFAULT 'database';

-- 4. Suspension details (status 'suspended' says that, these say when and why).
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS suspended_at TIMESTAMPTZ;
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS suspended_reason TEXT;

-- 5. Containment queries on the configuration (tenant_config @> '{...}').
--    Not CONCURRENTLY: that cannot run inside a transaction or the SQL Editor batch.
CREATE INDEX IF NOT EXISTS idx_tenants_tenant_config ON tenants USING GIN (tenant_config);

-- 6. Documentation in the catalog.
COMMENT ON COLUMN tenants.tenant_config IS
    'Tenant configuration from client.yaml (branding, destinations, infrastructure, email, banking, consultants, agents). Secrets are ${ENV_VAR} references, never values.';
COMMENT ON COLUMN tenants.timezone IS
    'IANA time zone of the tenant (client.timezone), e.g. Africa/Johannesburg';
COMMENT ON COLUMN tenants.currency IS
    'ISO 4217 currency code of the tenant (client.currency), e.g. ZAR';
COMMENT ON COLUMN tenants.primary_email IS
    'Main sender address of the tenant (email.primary)';
COMMENT ON COLUMN tenants.gcp_project_id IS
    'Google Cloud project of the tenant (infrastructure.gcp.project_id)';
COMMENT ON COLUMN tenants.gcp_dataset IS
    'BigQuery dataset of the tenant (infrastructure.gcp.dataset)';
COMMENT ON COLUMN tenants.config_source IS
    'Where the runtime reads this tenant''s configuration: yaml (clients/<id>/client.yaml) or database (tenant_config)';
COMMENT ON COLUMN tenants.suspended_at IS
    'When the tenant was suspended (NULL unless status is suspended)';
COMMENT ON COLUMN tenants.suspended_reason IS
    'Why the tenant was suspended';

-- 7. Structure of tenant_config (JSONB). Keys mirror client.yaml minus `client`,
--    whose fields are the columns above.
--
--   {
--     "branding":     { "company_name", "logo_url", "primary_color", "secondary_color",
--                       "email_signature", ... },
--     "destinations": [ { "name", "code", "enabled", ... } ],
--     "infrastructure": {
--       "gcp":      { "project_id", "region", "dataset", "corpus_id", ... },
--       "supabase": { "url", "anon_key" },          -- service key: never here
--       "vapi":     { "api_key": "${VAPI_API_KEY}", "assistant_id", "phone_number_id", ... },
--       "openai":   { "api_key": "${OPENAI_API_KEY}", "model" }
--     },
--     "email": {
--       "primary":  "quotes@agency.example",
--       "sendgrid": { "api_key": "${SENDGRID_API_KEY}", "from_email", "from_name", ... },
--       "smtp":     { "host", "port", "username", "password": "${..._SMTP_PASSWORD}" },
--       "imap":     { "host", "port" }
--     },
--     "banking":     { "bank_name", "account_name", "account_number", "branch_code",
--                      "swift_code", "reference_prefix" },
--     "consultants": [ { "id", "name", "email", "active" } ],
--     "agents": {
--       "inbound":  { "enabled", "prompt_file", ... },
--       "helpdesk": { "enabled", "prompt_file", ... },
--       "outbound": { "enabled", "prompt_file", ... }
--     }
--   }
--
-- Secrets are NOT stored. Every secret field holds a ${ENV_VAR} reference that the
-- runtime resolves from its environment:
--   SENDGRID_API_KEY      or {TENANT_ID}_SENDGRID_API_KEY  (per tenant)
--   OPENAI_API_KEY        shared by all tenants
--   VAPI_API_KEY          or {TENANT_ID}_VAPI_API_KEY      (per tenant)
--   SUPABASE_SERVICE_KEY  shared, and never in tenant_config at all
-- {TENANT_ID} is the tenant id upper-cased with '-' turned into '_'
-- (e.g. AFRICASTAY_VAPI_API_KEY).
