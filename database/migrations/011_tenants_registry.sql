-- 011 — the tenant registry, as the platform already has it (tool migration
-- `tenants_registry`).
--
-- Production databases created this table by hand in the Supabase SQL Editor, so
-- this file creates ONLY what is absent: the table, a missing column, an index,
-- row level security, the two policies, the grants, the trigger and its function,
-- the comments. It never drops or replaces anything: an existing policy, trigger,
-- function or grant with another definition is left as it is and reported with a
-- WARNING (`tenant-migrator migrate` shows it). On a database that has it all it
-- changes nothing and takes no lock stronger than a catalog read, so a reader
-- holding the table in an open transaction does not make it wait.
--
-- Runs unchanged in the SQL Editor and with `psql -v ON_ERROR_STOP=1 -f`, any
-- number of times. Needs the Supabase roles (anon, authenticated, service_role)
-- and auth.role(); on plain PostgreSQL the tool creates them first
-- (tenant_migrator/sql/supabase_compat.sql).

CREATE TABLE IF NOT EXISTS public.tenants (
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

DO $migration_011$
DECLARE
    tbl CONSTANT regclass := 'public.tenants'::regclass;
    item record;
    existing record;
    have text[];
    want CONSTANT text[] := ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',
                                  'REFERENCES', 'TRIGGER'];
BEGIN
    -- Columns an older hand-made table may lack (never altered when present).
    FOR item IN
        SELECT * FROM (VALUES
            ('short_name', 'VARCHAR(50)'),
            ('status', 'VARCHAR(20) DEFAULT ''active'''),
            ('plan', 'VARCHAR(50) DEFAULT ''lite'''),
            ('created_at', 'TIMESTAMPTZ DEFAULT NOW()'),
            ('created_by', 'UUID'),
            ('updated_at', 'TIMESTAMPTZ DEFAULT NOW()'),
            ('deleted_at', 'TIMESTAMPTZ'),
            ('admin_email', 'VARCHAR(255)'),
            ('support_email', 'VARCHAR(255)'),
            ('max_users', 'INT DEFAULT 5'),
            ('max_monthly_quotes', 'INT DEFAULT 100'),
            ('max_storage_gb', 'INT DEFAULT 1'),
            ('features_enabled', 'JSONB DEFAULT ''{"ai_helpdesk": true, "email_quotes": true, "voice_calls": false}''::jsonb')
        ) AS c (col, definition)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_attribute
                       WHERE attrelid = tbl AND attname = item.col AND NOT attisdropped) THEN
            EXECUTE format('ALTER TABLE public.tenants ADD COLUMN %I %s', item.col, item.definition);
        END IF;
    END LOOP;

    -- Indexes, by name.
    FOR item IN
        SELECT * FROM (VALUES
            ('idx_tenants_status', 'status'),
            ('idx_tenants_plan', 'plan'),
            ('idx_tenants_created_at', 'created_at'),
            ('idx_tenants_admin_email', 'admin_email')
        ) AS i (idx, col)
    LOOP
        IF to_regclass('public.' || item.idx) IS NULL THEN
            EXECUTE format('CREATE INDEX %I ON public.tenants (%I)', item.idx, item.col);
        END IF;
    END LOOP;

    -- Row level security: enabled when it is not (ALTER TABLE takes ACCESS EXCLUSIVE).
    IF NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = tbl AND relrowsecurity) THEN
        ALTER TABLE public.tenants ENABLE ROW LEVEL SECURITY;
    END IF;

    -- The two policies, under the names production already has. Compared without
    -- spaces, parentheses and casts, which the server adds when it stores them.
    FOR item IN
        SELECT * FROM (VALUES
            ('Service role has full access to tenants', 'ALL',
             'auth.role() = ''service_role''', 'auth.role=''service_role'''),
            ('Users can view own tenant', 'SELECT',
             'id = current_setting(''app.tenant_id'', true)',
             'id=current_setting''app.tenant_id'',true')
        ) AS p (policy, command, qual, normalised)
    LOOP
        SELECT cmd, regexp_replace(qual, '\s|\(|\)|::text|::character varying', '', 'g') AS q
          INTO existing
          FROM pg_policies
         WHERE schemaname = 'public' AND tablename = 'tenants' AND policyname = item.policy;
        IF NOT FOUND THEN
            EXECUTE format('CREATE POLICY %I ON public.tenants FOR %s USING (%s)',
                           item.policy, item.command, item.qual);
        ELSIF existing.cmd IS DISTINCT FROM item.command OR existing.q IS DISTINCT FROM item.normalised THEN
            RAISE WARNING 'tenant-migrator: policy "%" on public.tenants exists with another definition (FOR % USING %); left as it is',
                item.policy, existing.cmd, existing.q;
        END IF;
    END LOOP;

    -- Grants: ALL to authenticated and service_role, for a role that has none on the
    -- table yet. A role with some privileges was set up on purpose: reported.
    FOR item IN SELECT unnest(ARRAY['authenticated', 'service_role']) AS grantee LOOP
        SELECT coalesce(array_agg(DISTINCT a.privilege_type), '{}') INTO have
          FROM pg_class c, aclexplode(c.relacl) a
         WHERE c.oid = tbl AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = item.grantee);
        IF cardinality(have) = 0 THEN
            EXECUTE format('GRANT ALL ON public.tenants TO %I', item.grantee);
        ELSIF NOT have @> want THEN
            RAISE WARNING 'tenant-migrator: % has only % on public.tenants (011 grants ALL); left as it is',
                item.grantee, array_to_string(have, ', ');
        END IF;
    END LOOP;

    -- The updated_at trigger and its function.
    IF to_regprocedure('public.update_tenants_updated_at()') IS NULL THEN
        EXECUTE $fn$
            CREATE FUNCTION public.update_tenants_updated_at()
            RETURNS TRIGGER AS $body$
            BEGIN
                NEW.updated_at = NOW();
                RETURN NEW;
            END;
            $body$ LANGUAGE plpgsql
        $fn$;
    ELSIF regexp_replace(
              (SELECT prosrc FROM pg_proc
                WHERE oid = to_regprocedure('public.update_tenants_updated_at()')),
              '\s', '', 'g') <> 'BEGINNEW.updated_at=NOW();RETURNNEW;END;' THEN
        RAISE WARNING 'tenant-migrator: function public.update_tenants_updated_at() exists with another body; left as it is';
    END IF;

    SELECT pg_get_triggerdef(oid) AS def INTO existing
      FROM pg_trigger
     WHERE tgrelid = tbl AND tgname = 'trigger_tenants_updated_at' AND NOT tgisinternal;
    IF NOT FOUND THEN
        CREATE TRIGGER trigger_tenants_updated_at
            BEFORE UPDATE ON public.tenants
            FOR EACH ROW
            EXECUTE FUNCTION public.update_tenants_updated_at();
    ELSIF existing.def NOT LIKE '%BEFORE UPDATE ON public.tenants FOR EACH ROW EXECUTE FUNCTION%update_tenants_updated_at()%' THEN
        RAISE WARNING 'tenant-migrator: trigger trigger_tenants_updated_at on public.tenants exists with another definition (%); left as it is',
            existing.def;
    END IF;

    -- Comments, where there are none.
    IF obj_description(tbl, 'pg_class') IS NULL THEN
        COMMENT ON TABLE public.tenants IS 'Central registry of all tenants in the multi-tenant platform';
    END IF;
    FOR item IN
        SELECT * FROM (VALUES
            ('id', 'Unique tenant identifier (e.g., tn_xxx_yyy)'),
            ('status', 'Tenant status: active, suspended, or deleted'),
            ('plan', 'Subscription plan: lite, pro, or enterprise')
        ) AS d (col, comment)
    LOOP
        IF col_description(tbl, (SELECT attnum FROM pg_attribute
                                 WHERE attrelid = tbl AND attname = item.col)) IS NULL THEN
            EXECUTE format('COMMENT ON COLUMN public.tenants.%I IS %L', item.col, item.comment);
        END IF;
    END LOOP;
END
$migration_011$;
