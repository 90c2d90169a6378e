-- The verification cache: the same token presented again is not verified again, but its times
-- are checked on every use; refused tokens are never remembered.
SET client_min_messages = warning;  -- standalone or after other tests: the same output
CREATE EXTENSION IF NOT EXISTS tenant_guard;
RESET client_min_messages;
\set VERBOSITY terse
SET tenant_guard.clock_skew = 0;
SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id', 'aaaaaaaa-0000-4000-8000-000000000001',
         'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS token_a,
       tenant_guard.sign_token(jsonb_build_object('tenant_id', 'bbbbbbbb-0000-4000-8000-000000000002',
         'exp', floor(extract(epoch FROM now()))::bigint + 2), 'district-hs256') AS short_lived
\gset
SELECT hits, misses, entries, capacity FROM tenant_guard.token_cache_stats();

SELECT tenant_guard.set_tenant(:'token_a');
SELECT tenant_guard.set_tenant(:'token_a');
SELECT tenant_guard.set_tenant(:'token_a');
SELECT hits, misses, entries FROM tenant_guard.token_cache_stats();

-- A cached token still expires.
SELECT tenant_guard.set_tenant(:'short_lived');
SELECT tenant_guard.set_tenant(:'short_lived');
SELECT pg_sleep(2.2);
SELECT tenant_guard.set_tenant(:'short_lived');
SELECT hits, misses, entries FROM tenant_guard.token_cache_stats();

-- A tampered token is refused every time and never cached.
SELECT tenant_guard.set_tenant(left(:'token_a', length(:'token_a') - 3) || 'AAA');
SELECT tenant_guard.set_tenant(left(:'token_a', length(:'token_a') - 3) || 'AAA');
SELECT hits, misses, entries FROM tenant_guard.token_cache_stats();

-- A changed claim setting empties the cache: the token is verified against the new rules.
SET tenant_guard.audience = 'student-records';
SELECT tenant_guard.set_tenant(:'token_a');
SELECT hits, misses, entries FROM tenant_guard.token_cache_stats();
RESET tenant_guard.audience;

-- Size 0 turns it off.
SET tenant_guard.token_cache_size = 0;
SELECT tenant_guard.set_tenant(:'token_a');
SELECT tenant_guard.set_tenant(:'token_a');
SELECT hits, misses, entries, capacity FROM tenant_guard.token_cache_stats();
RESET tenant_guard.token_cache_size;
RESET tenant_guard.clock_skew;

-- tenant_guard.require_jti (superuser): one-time tokens. A jti is accepted once; the cache does
-- not help a replay.
SET tenant_guard.require_jti = on;
SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id', 'aaaaaaaa-0000-4000-8000-000000000001',
         'jti', 'request-1', 'exp', extract(epoch FROM now())::bigint + 600), 'district-hs256') AS one_time
\gset
SELECT tenant_guard.set_tenant(:'one_time');
SELECT tenant_guard.set_tenant(:'one_time');
SELECT tenant_guard.set_tenant(:'token_a');
RESET tenant_guard.require_jti;
SELECT tenant_guard.set_tenant(:'token_a');
