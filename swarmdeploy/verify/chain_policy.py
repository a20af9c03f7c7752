"""Explain why a chain that OpenSSL (and browsers) trust fails RFC 5280 strict validation, as done by
cryptography's verifier (which sslyze uses): name the certificate and the extension it lacks, and how
to reissue it. The usual case is a private CA made with a plain `openssl req -x509`, which has no keyUsage."""

from __future__ import annotations

import re
from pathlib import Path

from cryptography import x509

# The extensions cryptography's verifier requires, what each is, and the openssl option that adds it.
EXTENSIONS = {
    "2.5.29.15": ("keyUsage", {"ca": "keyUsage=critical,keyCertSign,cRLSign", "leaf": "keyUsage=critical,digitalSignature"}),
    "2.5.29.19": ("basicConstraints", {"ca": "basicConstraints=critical,CA:TRUE", "leaf": "basicConstraints=CA:FALSE"}),
    "2.5.29.17": ("subjectAltName", {"leaf": "subjectAltName=DNS:your.host.name"}),
    "2.5.29.35": ("authorityKeyIdentifier", {"ca": "authorityKeyIdentifier=keyid:always",
                                             "leaf": "authorityKeyIdentifier=keyid:always"}),
    "2.5.29.37": ("extendedKeyUsage", {"leaf": "extendedKeyUsage=serverAuth"}),
}
_OID = re.compile(r"\b(\d+(?:\.\d+){3,})\b")


def _anchors(ca_file: Path | None) -> list[x509.Certificate]:
    if not ca_file or not Path(ca_file).is_file():
        return []
    try:
        return x509.load_pem_x509_certificates(Path(ca_file).read_bytes())
    except ValueError:
        return []


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return certificate.issuer == certificate.subject


def _lacking(certificates: list[x509.Certificate], oid: str) -> list[x509.Certificate]:
    return [c for c in certificates if all(e.oid.dotted_string != oid for e in c.extensions)]


def explain(error: str, chain: tuple[x509.Certificate, ...], ca_file: Path | None) -> tuple[str, str]:
    """(what the certificates lack, how to reissue them) for a strict path validation error."""
    match = _OID.search(error)
    if not match or match.group(1) not in EXTENSIONS:
        return error, ("reissue the certificates with a CA that follows RFC 5280 (keyUsage, basicConstraints, "
                       "subjectAltName), or use a public CA")
    oid = match.group(1)
    name, options = EXTENSIONS[oid]
    candidates = [*chain, *_anchors(ca_file)]
    lacking = _lacking(candidates, oid) or candidates[:1]
    subjects = ", ".join(dict.fromkeys(c.subject.rfc4514_string() for c in lacking))
    roles = ["ca" if _is_ca(c) else "leaf" for c in lacking]
    role = "ca" if "ca" in roles and "ca" in options else "leaf" if "leaf" in options else next(iter(options))
    saw = f"{subjects} lacks {name} ({oid}): strict RFC 5280 clients refuse the chain; OpenSSL and browsers accept it"
    if role == "ca":
        fix = (f"reissue the CA with -addext \"{options['ca']}\" (and basicConstraints=critical,CA:TRUE), e.g. "
               "openssl req -x509 -new -key ca.key -subj \"/CN=Your CA\" -days 3650 -addext "
               f"\"{options['ca']}\" -addext \"basicConstraints=critical,CA:TRUE\" -out ca.pem; then sign "
               "tls.certificate with it again and redeploy")
    else:
        fix = (f"reissue tls.certificate with \"{options['leaf']}\" in its extensions (openssl x509 -req ... "
               "-extfile), then redeploy")
    return saw, fix
