"""The certificates deploy makes for self-signed profiles: every allowed server name fits."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from swarmdeploy.deploy.certificates import certificate_problems, create_self_signed


def test_a_server_name_longer_than_a_common_name_still_gets_a_certificate(tmp_path: Path) -> None:
    """X.509 caps the common name at 64 characters; DNS names run to 253 and live in subjectAltName."""
    long_name = ".".join(["a" * 60, "b" * 60, "example", "com"])
    cert, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    create_self_signed(cert, key, [long_name, "dash.example.com"])
    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [long_name, "dash.example.com"]
    assert certificate_problems(cert, key, [long_name, "dash.example.com"]) == []
