"""TLS files: create the self-signed certificate a demo profile asks for; check any certificate
before it is installed (readable, key matches, not expired, names covered)."""

from __future__ import annotations

import datetime
import fnmatch
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SELF_SIGNED_DAYS = 90
CA_FILE = "ca.pem"  # beside the certificate: what verify trusts for a self-signed deployment


COMMON_NAME_LIMIT = 64  # X.509's upper bound; the full names go in subjectAltName, which clients check


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:COMMON_NAME_LIMIT])])


def _key_usage(*, signing: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=not signing, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=signing, crl_sign=signing,
                         encipher_only=False, decipher_only=False)


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


class PrivateCA:
    """A throw-away CA whose ECDSA P-256 server certificates pass strict verifiers (sslyze's):
    CA and leaf carry the key usages, identifiers and SANs RFC 5280 asks for."""

    def __init__(self, ca_file: Path, days: int = SELF_SIGNED_DAYS) -> None:
        self.ca_file = ca_file
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self.certificate = (
            x509.CertificateBuilder().subject_name(_name("swarmdeploy local CA")).issuer_name(_name("swarmdeploy local CA"))
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(signing=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        ca_file.parent.mkdir(parents=True, exist_ok=True)
        ca_file.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def issue(self, certificate: Path, key_path: Path, names: list[str], days: int = 30,
              expired: bool = False) -> None:
        """Write the chain (leaf then CA) and the key (mode 0600); an expired one ended yesterday."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        start = now - datetime.timedelta(days=days + 2 if expired else 1)
        end = now - datetime.timedelta(days=1) if expired else now + datetime.timedelta(days=days)
        leaf = (
            x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(self.certificate.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(signing=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        certificate.parent.mkdir(parents=True, exist_ok=True)
        certificate.write_bytes(leaf.public_bytes(serialization.Encoding.PEM)
                                + self.certificate.public_bytes(serialization.Encoding.PEM))
        _write_key(key, key_path)


def create_self_signed(certificate: Path, key_path: Path, names: list[str]) -> Path:
    """A local CA beside the certificate and a certificate from it for names; returns the CA file.

    The CA's key is not kept: nothing else is ever signed with it.
    """
    ca = PrivateCA(certificate.parent / CA_FILE)
    ca.issue(certificate, key_path, names, days=SELF_SIGNED_DAYS)
    return ca.ca_file


def _covers(pattern: str, name: str) -> bool:
    return fnmatch.fnmatch(name, pattern) if pattern.startswith("*.") else pattern == name


def certificate_problems(certificate: Path, key_path: Path, names: list[str]) -> list[str]:
    """What is wrong with the pair for these names; empty when it can be installed."""
    try:
        cert = x509.load_pem_x509_certificate(certificate.read_bytes())
    except (OSError, ValueError) as error:
        return [f"cannot read the certificate {certificate}: {error}"]
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        return [f"cannot read the private key {key_path}: {error}"]
    problems = []
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*raw) != cert.public_key().public_bytes(*raw):
        problems.append(f"{key_path} is not the key of {certificate}")
    if cert.not_valid_after_utc < datetime.datetime.now(datetime.UTC):
        problems.append(f"{certificate} expired on {cert.not_valid_after_utc:%Y-%m-%d}")
    try:
        covered = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
    except x509.ExtensionNotFound:
        covered = []
    missing = [n for n in names if not any(_covers(c, n) for c in covered)]
    if missing:
        problems.append(f"{certificate} is for {', '.join(covered) or 'no DNS name'}, not {', '.join(missing)}")
    return problems
