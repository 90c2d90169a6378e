-- tenant_guard 0.1.0: signed tenant context.
-- Every object is schema-qualified; the C functions never consult search_path.

\echo Use "CREATE EXTENSION tenant_guard" to load this file. \quit

CREATE FUNCTION tenant_guard.set_tenant(token text, is_local boolean DEFAULT true)
RETURNS uuid
LANGUAGE c VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'tg_set_tenant';
COMMENT ON FUNCTION tenant_guard.set_tenant(text, boolean) IS
  'Verify a signed tenant token and set the tenant context (is_local: until transaction end, else session)';

-- STABLE and PARALLEL SAFE: it sits in every policy; workers see the leader''s tenant.
-- LEAKPROOF: it takes no argument and cannot fail, so it reveals nothing about rows.
CREATE FUNCTION tenant_guard.current_tenant()
RETURNS uuid
LANGUAGE c STABLE PARALLEL SAFE LEAKPROOF
AS 'MODULE_PATHNAME', 'tg_current_tenant';
COMMENT ON FUNCTION tenant_guard.current_tenant() IS 'The current tenant, or NULL when no context is set';

CREATE FUNCTION tenant_guard.require_tenant()
RETURNS uuid
LANGUAGE c STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'tg_require_tenant';
COMMENT ON FUNCTION tenant_guard.require_tenant() IS 'The current tenant; raises an error when no context is set';

CREATE FUNCTION tenant_guard.reset_tenant()
RETURNS void
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'tg_reset_tenant';
COMMENT ON FUNCTION tenant_guard.reset_tenant() IS 'Clear the tenant context (also when the transaction later rolls back)';

-- Claims live only in the leader process: PARALLEL RESTRICTED.
CREATE FUNCTION tenant_guard.current_claims()
RETURNS jsonb
LANGUAGE c STABLE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'tg_current_claims';
COMMENT ON FUNCTION tenant_guard.current_claims() IS 'The verified claims of the current context, or NULL';

CREATE FUNCTION tenant_guard.current_subject()
RETURNS text
LANGUAGE c STABLE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'tg_current_subject';
COMMENT ON FUNCTION tenant_guard.current_subject() IS 'The sub claim of the current context, or NULL';

CREATE FUNCTION tenant_guard.sign_token(claims jsonb, kid text DEFAULT NULL)
RETURNS text
LANGUAGE c VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'tg_sign_token';
COMMENT ON FUNCTION tenant_guard.sign_token(jsonb, text) IS
  'Superuser only: mint an HS token with a configured key (demos, tests, operators)';
REVOKE ALL ON FUNCTION tenant_guard.sign_token(jsonb, text) FROM PUBLIC;

GRANT USAGE ON SCHEMA tenant_guard TO PUBLIC;
