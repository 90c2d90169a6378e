#!/usr/bin/env python3
"""Regenerates asymmetric_vectors.hpp: public JWK members and JWS tokens made by the openssl
command line (not by tenant_guard), for test/unit/asymmetric_keys_test.cpp.

    python3 test/unit/vectors/generate_asymmetric_vectors.py > test/unit/vectors/asymmetric_vectors.hpp

Needs only python3 (standard library) and the openssl command (3.x). Fresh keys are made each run
in a temporary directory and their private halves are thrown away; only public members, a
self-signed certificate (for realistic x5c/x5t members) and signed tokens are written out. The
openssl commands used are, per key type:

    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out p256.pem   (P-384, P-521)
    openssl genpkey -algorithm ED25519 -out ed25519.pem
    openssl pkey -in KEY.pem -pubout -outform DER                  (public members parsed from the SPKI)
    openssl dgst -sha256 -binary -sign rsa.pem                     (RS256; -sha384/-sha512 likewise)
    openssl dgst -sha256 -binary -sign rsa.pem -sigopt rsa_padding_mode:pss
                 -sigopt rsa_pss_saltlen:32 -sigopt rsa_mgf1_md:sha256   (PS256; salt = hash size)
    openssl dgst -sha256 -binary -sign p256.pem                    (ES256: DER, converted to raw r||s)
    openssl pkeyutl -sign -rawin -inkey ed25519.pem -in INPUT       (EdDSA)
"""
import base64
import datetime
import hashlib
import json
import os
import subprocess
import sys
import tempfile

TENANT = "aaaaaaaa-0000-4000-8000-000000000001"
CLAIMS = json.dumps({"tenant_id": TENANT, "exp": 4102444800}, separators=(",", ":"))
OTHER_CLAIMS = json.dumps({"tenant_id": "bbbbbbbb-0000-4000-8000-000000000002", "exp": 4102444800},
                          separators=(",", ":"))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def openssl(*args: str, data: bytes = b"") -> bytes:
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout


def der_read(buf: bytes, pos: int = 0):
    """One DER TLV at pos: (tag, contents, position after it)."""
    tag, length = buf[pos], buf[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(buf[pos:pos + count], "big")
        pos += count
    return tag, buf[pos:pos + length], pos + length


def der_sequence(buf: bytes):
    tag, contents, _ = der_read(buf)
    assert tag == 0x30
    items, pos = [], 0
    while pos < len(contents):
        item_tag, item, pos = der_read(contents, pos)
        items.append((item_tag, item))
    return items


def spki_key_bits(spki_der: bytes) -> bytes:
    (_, _algorithm), (tag, bits) = der_sequence(spki_der)
    assert tag == 0x03 and bits[0] == 0  # BIT STRING, no unused bits
    return bits[1:]


def unsigned(integer: bytes) -> bytes:
    return integer.lstrip(b"\0") or b"\0"


class Key:
    def __init__(self, tmp: str, name: str, genpkey_args):
        self.path = os.path.join(tmp, name + ".pem")
        openssl("genpkey", *genpkey_args, "-out", self.path)
        self.spki = openssl("pkey", "-in", self.path, "-pubout", "-outform", "DER")
        self.pem = openssl("pkey", "-in", self.path, "-pubout").decode()

    def rsa_members(self):
        (_, n), (_, e) = der_sequence(spki_key_bits(self.spki))
        return b64url(unsigned(n)), b64url(unsigned(e))

    def ec_members(self, size: int):
        point = spki_key_bits(self.spki)
        assert point[0] == 4 and len(point) == 1 + 2 * size
        return b64url(point[1:1 + size]), b64url(point[1 + size:])

    def okp_x(self):
        return b64url(spki_key_bits(self.spki))


def token(header: dict, claims: str, sign) -> str:
    signing_input = b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + b64url(claims.encode())
    return signing_input + "." + b64url(sign(signing_input.encode()))


def rs(key: Key, bits: int):
    return lambda data: openssl("dgst", f"-sha{bits}", "-binary", "-sign", key.path, data=data)


def ps(key: Key, bits: int, saltlen: str):
    return lambda data: openssl("dgst", f"-sha{bits}", "-binary", "-sign", key.path, "-sigopt", "rsa_padding_mode:pss",
                                "-sigopt", f"rsa_pss_saltlen:{saltlen}", "-sigopt", f"rsa_mgf1_md:sha{bits}", data=data)


def es_der(key: Key, bits: int):
    return lambda data: openssl("dgst", f"-sha{bits}", "-binary", "-sign", key.path, data=data)


def es_raw(key: Key, bits: int, size: int):
    def sign(data: bytes) -> bytes:
        (_, r), (_, s) = der_sequence(es_der(key, bits)(data))
        return unsigned(r).rjust(size, b"\0") + unsigned(s).rjust(size, b"\0")
    return sign


def eddsa(key: Key, tmp: str):
    def sign(data: bytes) -> bytes:
        path = os.path.join(tmp, "input")
        with open(path, "wb") as f:
            f.write(data)
        return openssl("pkeyutl", "-sign", "-rawin", "-inkey", key.path, "-in", path)
    return sign


def literal(name: str, value: str, width: int = 100) -> str:
    escaped = json.dumps(value)[1:-1]  # C++ and JSON escapes agree for this text
    if len(escaped) <= width:
        return f'inline constexpr const char* {name} = "{escaped}";\n'
    parts = []
    if "\\n" in escaped:  # multi-line text (PEM): one literal per line
        parts = [line + "\\n" for line in escaped.split("\\n") if line]
        escaped = ""
    while escaped:
        cut = min(width, len(escaped))
        while escaped[cut - 1] == "\\":  # never split an escape sequence
            cut -= 1
        parts.append(escaped[:cut])
        escaped = escaped[cut:]
    return f"inline constexpr const char* {name} =\n" + "\n".join(f'    "{p}"' for p in parts) + ";\n"


def main():
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        rsa = Key(tmp, "rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        rsa1024 = Key(tmp, "rsa1024", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"])
        curves = {"P-256": (256, 32), "P-384": (384, 48), "P-521": (512, 66)}
        ec = {crv: Key(tmp, crv, ["-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{crv}"]) for crv in curves}
        other_p256 = Key(tmp, "other-p256", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
        ed = Key(tmp, "ed25519", ["-algorithm", "ED25519"])
        cert_path = os.path.join(tmp, "cert.der")
        openssl("req", "-new", "-x509", "-key", rsa.path, "-subj", "/CN=tenant_guard test", "-days", "3650",
                "-outform", "DER", "-out", cert_path)
        with open(cert_path, "rb") as f:
            cert = f.read()

        version = " ".join(openssl("version").decode().split()[:2])
        out.append("// Generated by test/unit/vectors/generate_asymmetric_vectors.py; do not edit by hand.\n")
        out.append(f"// {version}, {datetime.date.today().isoformat()}: keys made by openssl genpkey, tokens signed by\n")
        out.append("// openssl dgst / pkeyutl; the private keys were discarded.\n")
        out.append("#pragma once\n\nnamespace asymmetric_vectors {\n\n")
        out.append(literal("kTenant", TENANT))
        out.append(literal("kClaims", CLAIMS))
        out.append(literal("kOtherClaims", OTHER_CLAIMS))

        n, e = rsa.rsa_members()
        out.append("\n// RSA 2048. Tokens' kid is \"rsa-<alg>\"; the JWKS lists this key once per alg.\n")
        out.append(literal("kRsaN", n))
        out.append(literal("kRsaE", e))
        out.append(literal("kRsaPublicPem", rsa.pem))
        out.append(literal("kRsaX5c", base64.b64encode(cert).decode()))
        out.append(literal("kRsaX5t", b64url(hashlib.sha1(cert).digest())))
        out.append(literal("kRsaX5tS256", b64url(hashlib.sha256(cert).digest())))
        for bits in (256, 384, 512):
            for family, signer in (("RS", rs(rsa, bits)), ("PS", ps(rsa, bits, str(bits // 8)))):
                alg = f"{family}{bits}"
                header = {"alg": alg, "typ": "JWT", "kid": f"rsa-{alg}"}
                out.append(literal(f"k{family.capitalize()}{bits}Token", token(header, CLAIMS, signer)))
        # PSS with the largest salt instead of the hash size (RFC 7518 3.5 fixes it at the hash size).
        out.append(literal("kPs256MaxSaltToken",
                           token({"alg": "PS256", "typ": "JWT", "kid": "rsa-PS256"}, CLAIMS, ps(rsa, 256, "max"))))

        n1024, e1024 = rsa1024.rsa_members()
        out.append("\n// RSA 1024: too short, must be refused.\n")
        out.append(literal("kRsa1024N", n1024))
        out.append(literal("kRsa1024E", e1024))

        for crv, (bits, size) in curves.items():
            x, y = ec[crv].ec_members(size)
            alg = f"ES{bits}"
            tag = crv.replace("-", "")
            out.append(f"\n// EC {crv}, alg {alg}, kid \"ec-{crv}\".\n")
            out.append(literal(f"k{tag}X", x))
            out.append(literal(f"k{tag}Y", y))
            header = {"alg": alg, "typ": "JWT", "kid": f"ec-{crv}"}
            out.append(literal(f"kEs{bits}Token", token(header, CLAIMS, es_raw(ec[crv], bits, size))))
            if crv == "P-256":
                out.append("// The same signature left in DER form (wrong length for JWS): must be refused.\n")
                out.append(literal("kEs256DerSignatureToken", token(header, CLAIMS, es_der(ec[crv], bits))))
                out.append("// Signed by another P-256 key under the same kid: must be refused.\n")
                out.append(literal("kEs256OtherKeyToken", token(header, CLAIMS, es_raw(other_p256, bits, size))))

        out.append("\n// Ed25519, alg EdDSA, kid \"ed25519\".\n")
        out.append(literal("kEd25519X", ed.okp_x()))
        out.append(literal("kEdDsaToken", token({"alg": "EdDSA", "typ": "JWT", "kid": "ed25519"}, CLAIMS, eddsa(ed, tmp))))
        out.append("\n}  // namespace asymmetric_vectors\n")
    sys.stdout.write("".join(out))


if __name__ == "__main__":
    main()
