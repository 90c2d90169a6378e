-- Lifecycle of the tenant context: scopes, COMMIT/ROLLBACK, savepoints, DISCARD ALL, fail closed.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS tenant_guard;
RESET client_min_messages;
\set VERBOSITY terse

-- Tokens are minted here and kept in psql variables, never printed.
SELECT tenant_guard.sign_token(jsonb_build_object(
         'tenant_id', 'aaaaaaaa-0000-4000-8000-000000000001', 'sub', 'teacher-a',
         'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS token_a,
       tenant_guard.sign_token(jsonb_build_object(
         'tenant_id', 'bbbbbbbb-0000-4000-8000-000000000002', 'sub', 'teacher-b', 'role', 'staff',
         'exp', extract(epoch FROM now())::bigint + 600), 'district-hs512') AS token_b
\gset

-- No context to begin with.
SELECT tenant_guard.current_tenant() IS NULL AS no_context, current_setting('tenant_guard.tenant_id') AS shown;

-- Transaction scope (the default): gone after COMMIT.
BEGIN;
SELECT tenant_guard.set_tenant(:'token_a');
SELECT tenant_guard.current_tenant(), tenant_guard.require_tenant(), current_setting('tenant_guard.tenant_id');
SELECT tenant_guard.current_subject(), tenant_guard.current_claims() - 'exp' AS claims;
COMMIT;
SELECT tenant_guard.current_tenant() IS NULL AS cleared_by_commit;

-- ... and after ROLLBACK.
BEGIN;
SELECT tenant_guard.set_tenant(:'token_a', true);
ROLLBACK;
SELECT tenant_guard.current_tenant() IS NULL AS cleared_by_rollback;

-- Outside a transaction block a transaction-scoped context lasts one statement.
SELECT tenant_guard.set_tenant(:'token_a') IS NOT NULL AS set_in_autocommit;
SELECT tenant_guard.current_tenant() IS NULL AS gone_next_statement;

-- Savepoints: ROLLBACK TO SAVEPOINT restores the context held at the savepoint.
BEGIN;
SELECT tenant_guard.set_tenant(:'token_a');
SAVEPOINT switch_tenant;
SELECT tenant_guard.set_tenant(:'token_b');
SELECT tenant_guard.current_tenant() AS inside_savepoint;
ROLLBACK TO SAVEPOINT switch_tenant;
SELECT tenant_guard.current_tenant() AS restored_a;
SAVEPOINT clear_it;
SELECT tenant_guard.reset_tenant();
SELECT tenant_guard.current_tenant() IS NULL AS reset_inside_savepoint;
ROLLBACK TO SAVEPOINT clear_it;
SELECT tenant_guard.current_tenant() AS restored_after_reset;
SAVEPOINT keep_b;
SELECT tenant_guard.set_tenant(:'token_b');
RELEASE SAVEPOINT keep_b;
SELECT tenant_guard.current_tenant() AS released_keeps_b;
COMMIT;
SELECT tenant_guard.current_tenant() IS NULL AS cleared_after_savepoints;

-- Session scope lasts across transactions until reset_tenant().
SELECT tenant_guard.set_tenant(:'token_b', false);
BEGIN;
SELECT tenant_guard.current_tenant() AS session_b;
COMMIT;
SELECT tenant_guard.current_tenant() AS still_b, tenant_guard.current_claims() ->> 'role' AS role;
-- A transaction-scoped context overrides it, then the session context returns.
BEGIN;
SELECT tenant_guard.set_tenant(:'token_a');
SELECT tenant_guard.current_tenant() AS local_a_over_session_b;
COMMIT;
SELECT tenant_guard.current_tenant() AS back_to_session_b;
SELECT tenant_guard.reset_tenant();
SELECT tenant_guard.current_tenant() IS NULL AS reset_clears_session;

-- reset_tenant() is transactional like RESET: rolled back, the session context stays.
SELECT tenant_guard.set_tenant(:'token_b', false) IS NOT NULL AS session_set;
BEGIN;
SELECT tenant_guard.reset_tenant();
ROLLBACK;
SELECT tenant_guard.current_tenant() AS reset_rolled_back;

-- DISCARD ALL (a pool's reset query) and RESET ALL clear the session context.
DISCARD ALL;
SELECT tenant_guard.current_tenant() IS NULL AS cleared_by_discard_all;
SELECT tenant_guard.set_tenant(:'token_b', false) IS NOT NULL AS session_set;
RESET ALL;
SELECT tenant_guard.current_tenant() IS NULL AS cleared_by_reset_all;

-- Fail closed: a refused token leaves no context, even a session context from before ...
SELECT tenant_guard.set_tenant(:'token_a', false) IS NOT NULL AS session_set;
SELECT tenant_guard.set_tenant(:'token_a' || 'x', false);
SELECT tenant_guard.current_tenant() IS NULL AS no_context_after_refusal,
       current_setting('tenant_guard.tenant_id') = '' AS setting_cleared_too;
-- ... also when the refusal happened inside a transaction that rolled back ...
SELECT tenant_guard.set_tenant(:'token_a', false) IS NOT NULL AS session_set;
BEGIN;
SELECT tenant_guard.set_tenant('not-a-token');
ROLLBACK;
SELECT tenant_guard.current_tenant() IS NULL AS no_context_after_rollback;
-- ... or inside a savepoint that was rolled back.
BEGIN;
SELECT tenant_guard.set_tenant(:'token_a') IS NOT NULL AS local_set;
SAVEPOINT attempt;
SELECT tenant_guard.set_tenant(:'token_b' || 'x');
ROLLBACK TO SAVEPOINT attempt;
SELECT tenant_guard.current_tenant() IS NULL AS no_context_after_failed_savepoint;
COMMIT;
-- A PL/pgSQL handler that swallows the error does not get the old context back either.
SELECT tenant_guard.set_tenant(:'token_a', false) IS NOT NULL AS session_set;
DO $$
BEGIN
  PERFORM tenant_guard.set_tenant('garbage');
EXCEPTION WHEN invalid_authorization_specification THEN
  RAISE NOTICE 'caught: %, context now %', SQLERRM, coalesce(tenant_guard.current_tenant()::text, 'none');
END $$;
SELECT tenant_guard.current_tenant() IS NULL AS no_context_after_caught_error;
-- A new valid token works again afterwards.
SELECT tenant_guard.set_tenant(:'token_b', false) AS recovered;
SELECT tenant_guard.reset_tenant();

-- PREPARE TRANSACTION ends the transaction scope too.
BEGIN;
SELECT tenant_guard.set_tenant(:'token_a') IS NOT NULL AS local_set;
PREPARE TRANSACTION 'tenant_guard_prepared';
SELECT tenant_guard.current_tenant() IS NULL AS cleared_by_prepare;
COMMIT PREPARED 'tenant_guard_prepared';
SELECT tenant_guard.current_tenant() IS NULL AS still_none_after_commit_prepared;

-- Session scope can be forbidden.
SET tenant_guard.allow_session_context = off;
SELECT tenant_guard.set_tenant(:'token_a', false);
SELECT tenant_guard.set_tenant(:'token_a', true) IS NOT NULL AS local_still_allowed;
RESET tenant_guard.allow_session_context;

-- NULL arguments are refused, not ignored.
SELECT tenant_guard.set_tenant(NULL);
SELECT tenant_guard.set_tenant(:'token_a', NULL);
