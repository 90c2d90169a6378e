-- Every refusal: a clear SQLSTATE and message, no echo of the token or key, no context left behind.
CREATE EXTENSION IF NOT EXISTS tenant_guard;
CREATE EXTENSION IF NOT EXISTS pgcrypto;

-- Forging needs the raw key: the superuser running this test reads it from the key file.
CREATE FUNCTION pg_temp.b64url(data bytea) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT translate(rtrim(replace(encode(data, 'base64'), E'\n', ''), '='), '+/', '-_') $$;
CREATE FUNCTION pg_temp.unb64url(data text) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT decode(rpad(translate(data, '-_', '+/'), (length(data) + 3) / 4 * 4, '='), 'base64') $$;
CREATE FUNCTION pg_temp.key_bytes(key_id text) RETURNS bytea LANGUAGE sql AS $$
  SELECT pg_temp.unb64url(k ->> 'k')
  FROM jsonb_array_elements(pg_read_file(current_setting('tenant_guard.jwks_file'))::jsonb -> 'keys') AS k
  WHERE k ->> 'kid' = key_id $$;
-- A token with any header and payload text, MAC'd with the named key (hash sha256/384/512).
CREATE FUNCTION pg_temp.forge(header text, payload text, key_id text DEFAULT 'district-hs256',
                              hash text DEFAULT 'sha256') RETURNS text LANGUAGE sql AS $$
  SELECT signing_input || '.' || pg_temp.b64url(hmac(signing_input::bytea, pg_temp.key_bytes(key_id), hash))
  FROM (SELECT pg_temp.b64url(convert_to(header, 'UTF8')) || '.' || pg_temp.b64url(convert_to(payload, 'UTF8'))
          AS signing_input) s $$;
-- Tries a token; reports SQLSTATE and message, checks the message does not contain the token,
-- and that no context is left afterwards.
CREATE FUNCTION pg_temp.attempt(token text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  outcome text;
BEGIN
  BEGIN
    PERFORM tenant_guard.set_tenant(token);
    outcome := 'accepted ' || tenant_guard.current_tenant();
  EXCEPTION WHEN others THEN
    outcome := SQLSTATE || ': ' || SQLERRM;
    IF length(token) > 8 AND position(token IN SQLERRM) > 0 THEN
      outcome := outcome || ' [LEAKS TOKEN]';
    END IF;
    IF tenant_guard.current_tenant() IS NOT NULL THEN
      outcome := outcome || ' [CONTEXT LEFT BEHIND]';
    END IF;
  END;
  PERFORM tenant_guard.reset_tenant();
  RETURN outcome;
END $$;

CREATE TEMP TABLE t AS SELECT extract(epoch FROM now())::bigint AS now;
SELECT now AS now FROM t \gset
\set hs256 '{"alg":"HS256","typ":"JWT","kid":"district-hs256"}'
SELECT format('{"tenant_id":"aaaaaaaa-0000-4000-8000-000000000001","exp":%s}', :now + 600) AS good_claims \gset

-- Sanity: the forging helper produces tokens the extension accepts.
SELECT pg_temp.attempt(pg_temp.forge(:'hs256',
  format('{"tenant_id":"aaaaaaaa-0000-4000-8000-000000000001","exp":%s}', :now + 600))) AS forged_but_valid;

-- Structure.
SELECT pg_temp.attempt('') AS empty,
       pg_temp.attempt('abc') AS no_dots,
       pg_temp.attempt('a.b') AS two_parts,
       pg_temp.attempt('a.b.c.d') AS four_parts;
SELECT pg_temp.attempt('!!!.e30.AA') AS bad_base64_header,
       pg_temp.attempt(pg_temp.b64url('[1,2]') || '.e30.AA') AS header_not_object,
       pg_temp.attempt(pg_temp.b64url('{"alg":"HS256"') || '.e30.AA') AS header_truncated_json;
SELECT pg_temp.attempt(tenant_guard.sign_token(format('{"tenant_id":"aaaaaaaa-0000-4000-8000-000000000001","exp":%s}', :now + 600)::jsonb, 'district-hs256') || '=') AS padding_appended;
-- Truncated and tampered tokens. (Three characters off the 43 of an HS256 signature leave 30 whole
-- bytes, so the result does not depend on the random key; one character off would leave four
-- stray bits that are zero one time in sixteen.)
SELECT tenant_guard.sign_token(jsonb_build_object('tenant_id', 'aaaaaaaa-0000-4000-8000-000000000001',
       'exp', :now + 600), 'district-hs256') AS good \gset
SELECT pg_temp.attempt(left(:'good', length(:'good') - 3)) AS truncated_signature,
       pg_temp.attempt(left(:'good', length(:'good') - 43)) AS signature_removed,
       pg_temp.attempt(left(:'good', 40)) AS cut_in_half;
SELECT pg_temp.attempt(split_part(:'good', '.', 1) || '.' ||
         pg_temp.b64url(convert_to(format('{"tenant_id":"bbbbbbbb-0000-4000-8000-000000000002","exp":%s}', :now + 600), 'UTF8')) ||
         '.' || split_part(:'good', '.', 3)) AS payload_swapped_to_other_tenant;
-- Oversized: refused before it is even decoded; garbage: refused cleanly.
SELECT pg_temp.attempt(repeat('A', 20000) || '.' || repeat('B', 20000) || '.C') AS oversized;
SELECT pg_temp.attempt(string_agg(chr(1 + (i * 7919) % 1000), '')) AS binary_garbage FROM generate_series(1, 3000) i;
SELECT pg_temp.attempt(pg_temp.b64url(convert_to(repeat('[', 5000) || repeat(']', 5000), 'UTF8')) || '.e30.AA') AS deeply_nested_header;
SELECT pg_temp.attempt(pg_temp.forge(:'hs256', repeat('{"a":', 100) || '1' || repeat('}', 100))) AS deeply_nested_claims;

-- Algorithms.
SELECT pg_temp.attempt(pg_temp.b64url('{"alg":"none","kid":"district-hs256"}') || '.' ||
         pg_temp.b64url(convert_to(:'good_claims', 'UTF8')) || '.') AS alg_none,
       pg_temp.attempt(pg_temp.forge('{"alg":"None","kid":"district-hs256"}', :'good_claims')) AS alg_none_capitalised;
SELECT pg_temp.attempt(pg_temp.forge('{"alg":"HS384","kid":"district-hs256"}', :'good_claims', 'district-hs256', 'sha384')) AS alg_mismatch,
       pg_temp.attempt(pg_temp.forge('{"alg":"RS256","kid":"district-hs256"}', :'good_claims')) AS algorithm_confusion,
       pg_temp.attempt(pg_temp.forge('{"alg":"XX999","kid":"district-hs256"}', :'good_claims')) AS alg_unknown;
SELECT pg_temp.attempt(pg_temp.forge('{"alg":"HS256","kid":"nobody"}', :'good_claims')) AS unknown_kid,
       pg_temp.attempt(pg_temp.forge('{"alg":"HS256"}', :'good_claims')) AS no_kid_with_several_keys,
       pg_temp.attempt(pg_temp.forge('{"alg":"HS256","kid":"district-hs256","kid":"district-hs512"}', :'good_claims')) AS duplicate_header_member,
       pg_temp.attempt(pg_temp.forge('{"alg":"HS256","kid":"district-hs256","crit":["b64"],"b64":false}', :'good_claims')) AS critical_extension;
-- Signed with another key than the kid names.
SELECT pg_temp.attempt(pg_temp.forge('{"alg":"HS512","kid":"district-hs512"}', :'good_claims', 'district-hs384', 'sha512')) AS wrong_key;

-- Claims and time.
SELECT pg_temp.attempt(pg_temp.forge(:'hs256', format('{"tenant_id":"aaaaaaaa-0000-4000-8000-000000000001","exp":%s}', :now - 3600))) AS expired,
       pg_temp.attempt(pg_temp.forge(:'hs256', format('{"tenant_id":"aaaaaaaa-0000-4000-8000-000000000001","exp":%s}', :now - 10))) AS expired_within_leeway,
       pg_temp.attempt(pg_temp.forge(:'hs256', format('{"tenant_id":"aaaaaaaa-0000-4000-8000-000000000001","exp":%s,"nbf":%s}', :now + 600, :now + 3600))) AS not_yet_valid,
       pg_temp.attempt(pg_temp.forge(:'hs256', format('{"tenant_id":"aaaaaaaa-0000-4000-8000-000000000001","exp":%s,"iat":%s}', :now + 600, :now + 3600))) AS issued_in_future;
SELECT pg_temp.attempt(pg_temp.forge(:'hs256', '{"tenant_id":"aaaaaaaa-0000-4000-8000-000000000001"}')) AS missing_exp;
SET tenant_guard.require_exp = off;
SELECT pg_temp.attempt(pg_temp.forge(:'hs256', '{"tenant_id":"aaaaaaaa-0000-4000-8000-000000000001"}')) AS exp_optional;
RESET tenant_guard.require_exp;
SET tenant_guard.clock_skew = 0;
SELECT pg_temp.attempt(pg_temp.forge(:'hs256', format('{"tenant_id":"aaaaaaaa-0000-4000-8000-000000000001","exp":%s}', :now - 10))) AS expired_without_leeway;
RESET tenant_guard.clock_skew;
SELECT pg_temp.attempt(pg_temp.forge(:'hs256', format('{"exp":%s}', :now + 600))) AS missing_tenant,
       pg_temp.attempt(pg_temp.forge(:'hs256', format('{"tenant_id":42,"exp":%s}', :now + 600))) AS tenant_not_string,
       pg_temp.attempt(pg_temp.forge(:'hs256', format('{"tenant_id":"district-7","exp":%s}', :now + 600))) AS tenant_not_uuid,
       pg_temp.attempt(pg_temp.forge(:'hs256', format('{"tenant_id":"aaaaaaaa-0000-4000-8000-000000000001","exp":"soon"}'))) AS exp_not_number;
SELECT pg_temp.attempt(pg_temp.forge(:'hs256', '[1,2,3]')) AS claims_not_object;

-- Issuer and audience, when configured.
SET tenant_guard.issuer = 'https://idp.example';
SET tenant_guard.audience = 'student-records';
SELECT pg_temp.attempt(pg_temp.forge(:'hs256', :'good_claims')) AS issuer_missing,
       pg_temp.attempt(pg_temp.forge(:'hs256', format('{"tenant_id":"aaaaaaaa-0000-4000-8000-000000000001","exp":%s,"iss":"https://evil.example","aud":"student-records"}', :now + 600))) AS wrong_issuer,
       pg_temp.attempt(pg_temp.forge(:'hs256', format('{"tenant_id":"aaaaaaaa-0000-4000-8000-000000000001","exp":%s,"iss":"https://idp.example","aud":"billing"}', :now + 600))) AS wrong_audience,
       pg_temp.attempt(pg_temp.forge(:'hs256', format('{"tenant_id":"aaaaaaaa-0000-4000-8000-000000000001","exp":%s,"iss":"https://idp.example","aud":["billing","student-records"]}', :now + 600))) AS audience_in_array;
RESET tenant_guard.issuer;
RESET tenant_guard.audience;

-- The tenant claim's name is configurable.
SET tenant_guard.tenant_claim = 'district';
SELECT pg_temp.attempt(pg_temp.forge(:'hs256', format('{"district":"cccccccc-0000-4000-8000-000000000003","exp":%s}', :now + 600))) AS custom_claim,
       pg_temp.attempt(pg_temp.forge(:'hs256', :'good_claims')) AS default_claim_ignored;
RESET tenant_guard.tenant_claim;

-- Upper-case UUIDs are accepted and normalised.
SELECT pg_temp.attempt(pg_temp.forge(:'hs256', format('{"tenant_id":"AAAAAAAA-0000-4000-8000-00000000000A","exp":%s}', :now + 600))) AS upper_case_uuid;

-- The backend survived all of it.
SELECT 'still alive' AS backend;
