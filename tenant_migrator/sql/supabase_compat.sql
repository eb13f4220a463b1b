-- Supabase compatibility for plain PostgreSQL (the embedded server, CI's server).
--
-- Supabase databases come with the roles anon, authenticated and service_role and
-- the function auth.role(); migration 011's policies and grants name them. The tool
-- runs this file before the migrations ONLY when the database has no `auth` schema,
-- so it never touches a real Supabase database.
--
-- Roles are cluster-wide while this runs once per database: several databases on
-- one server (parallel test runs on CI's shared server) may create the same role at
-- the same moment. The loser of that race gets duplicate_object (the role became
-- visible) or unique_violation (it waited on the winner's uncommitted row); both
-- mean "it exists now", which is all we need.

DO $compat$
DECLARE
    role_name text;
    -- Like Supabase, the backend's service role is not subject to row level
    -- security. Only a superuser may grant BYPASSRLS; without it the 011 policy
    -- still lets the service role in through auth.role().
    is_super boolean := (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
BEGIN
    FOREACH role_name IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format(
                    'CREATE ROLE %I NOLOGIN NOINHERIT%s',
                    role_name,
                    CASE WHEN role_name = 'service_role' AND is_super THEN ' BYPASSRLS' ELSE '' END
                );
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
END
$compat$;

CREATE SCHEMA IF NOT EXISTS auth;

-- Supabase's definition: the role claim of the request's JWT, as PostgREST sets it
-- (request.jwt.claim.role on older versions, request.jwt.claims on newer ones).
CREATE OR REPLACE FUNCTION auth.role() RETURNS text
LANGUAGE sql STABLE
AS $fn$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'
    )::text
$fn$;

GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION auth.role() TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
