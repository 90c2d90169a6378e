# Asymmetric test keys made with the openssl command line, their JWK members, and compact JWS
# tokens signed by openssl (not by tenant_guard). Source it, then:
#   jws_make_keys DIR    RSA 2048 (and 1024, for refusals), EC P-256, Ed25519 keys in DIR; sets
#                        jws_rsa_n, jws_weak_n, jws_ec_x, jws_ec_y, jws_ed_x (base64url)
#   jws_sign ALG KID PAYLOAD_JSON     prints the token (ALG: RS256, PS256, ES256, EdDSA)
jws_b64() { basenc --base64url | tr -d '=\n'; }

jws_make_keys() {
    jws_keys=$1
    mkdir -p "$jws_keys"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$jws_keys/rsa.pem" 2>/dev/null
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$jws_keys/ec.pem" 2>/dev/null
    openssl genpkey -algorithm ED25519 -out "$jws_keys/ed.pem" 2>/dev/null
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$jws_keys/weak.pem" 2>/dev/null
    jws_rsa_n=$(_jws_modulus "$jws_keys/rsa.pem")
    jws_weak_n=$(_jws_modulus "$jws_keys/weak.pem")
    local point
    point=$(openssl pkey -in "$jws_keys/ec.pem" -pubout -outform DER | tail -c 64 | xxd -p | tr -d '\n')
    jws_ec_x=$(printf %s "${point:0:64}" | tr a-f A-F | basenc --base16 -d | jws_b64)
    jws_ec_y=$(printf %s "${point:64:64}" | tr a-f A-F | basenc --base16 -d | jws_b64)
    jws_ed_x=$(openssl pkey -in "$jws_keys/ed.pem" -pubout -outform DER | tail -c 32 | jws_b64)
}

_jws_modulus() {
    openssl pkey -in "$1" -pubout -outform DER | openssl rsa -pubin -inform DER -modulus -noout | cut -d= -f2 |
        basenc --base16 -d | jws_b64
}

jws_sign() {
    local alg=$1 kid=$2 input signature
    input="$(printf '{"alg":"%s","kid":"%s","typ":"JWT"}' "$alg" "$kid" | jws_b64).$(printf %s "$3" | jws_b64)"
    printf %s "$input" > "$jws_keys/input"
    case $alg in
        RS256) signature=$(openssl dgst -sha256 -sign "$jws_keys/rsa.pem" "$jws_keys/input" | jws_b64) ;;
        PS256) signature=$(openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
                           -sign "$jws_keys/rsa.pem" "$jws_keys/input" | jws_b64) ;;
        ES256)  # DER (r, s) to the raw 64-byte r||s that JWS uses
            openssl dgst -sha256 -sign "$jws_keys/ec.pem" -out "$jws_keys/sig.der" "$jws_keys/input"
            signature=$(openssl asn1parse -inform DER -in "$jws_keys/sig.der" | awk -F: '/INTEGER/ {print $NF}' |
                        while read -r hex; do printf '%064s' "$hex" | tr ' ' 0; done | basenc --base16 -d | jws_b64) ;;
        EdDSA) signature=$(openssl pkeyutl -sign -inkey "$jws_keys/ed.pem" -rawin -in "$jws_keys/input" | jws_b64) ;;
    esac
    printf '%s.%s' "$input" "$signature"
}
