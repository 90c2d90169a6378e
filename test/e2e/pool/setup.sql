-- Pool-safety fixture: one tenant (and one token) per pgbench client, a table every client writes,
-- and checks that raise an error starting with LEAK when a client could see what is not its own.
CREATE EXTENSION tenant_guard;
CREATE ROLE pool_app LOGIN;
CREATE TABLE public.pool_rows (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    client_id   int NOT NULL,
    phase       text NOT NULL,
    backend_pid int NOT NULL DEFAULT pg_backend_pid()
);
GRANT SELECT, INSERT ON public.pool_rows TO pool_app;
-- Not a tenant table (no tenant_id column): every client reads its own token from it.
CREATE TABLE public.pool_tokens (client_id int PRIMARY KEY, tenant uuid NOT NULL, token text NOT NULL);
INSERT INTO public.pool_tokens
SELECT c, t, tenant_guard.sign_token(jsonb_build_object('tenant_id', t, 'sub', 'client-' || c,
                                     'exp', extract(epoch FROM now())::bigint + 7200), 'district-hs256')
  FROM generate_series(0, 63) c, LATERAL (SELECT ('10000000-0000-4000-8000-' || lpad(c::text, 12, '0'))::uuid) u(t);
GRANT SELECT ON public.pool_tokens TO pool_app;

CREATE SCHEMA pool_check;
GRANT USAGE ON SCHEMA pool_check TO pool_app;
-- At the start of a transaction (or of a pooled session): no context, nothing visible.
CREATE FUNCTION pool_check.no_context() RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF tenant_guard.current_tenant() IS NOT NULL THEN
        RAISE EXCEPTION 'LEAK: tenant % is set before this client set one', tenant_guard.current_tenant();
    END IF;
    IF EXISTS (SELECT FROM public.pool_rows) THEN
        RAISE EXCEPTION 'LEAK: rows are visible without a tenant context';
    END IF;
END $$;
-- With a context: it is this client's tenant, and every visible row is this client's.
CREATE FUNCTION pool_check.only_mine(me int) RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    mine uuid := (SELECT t.tenant FROM public.pool_tokens t WHERE t.client_id = me);
    seen bigint;
BEGIN
    IF tenant_guard.current_tenant() IS DISTINCT FROM mine THEN
        RAISE EXCEPTION 'LEAK: client % acts as tenant %', me, tenant_guard.current_tenant();
    END IF;
    IF EXISTS (SELECT FROM public.pool_rows r WHERE r.client_id <> me OR r.tenant_id <> mine) THEN
        RAISE EXCEPTION 'LEAK: client % sees rows of another client', me;
    END IF;
    SELECT count(*) INTO seen FROM public.pool_rows;
    RETURN seen;
END $$;
