"""Mozilla-profile compliance through sslyze's scanner and its Mozilla TLS configuration checker, with
the server's own configuration (protocols, ciphers, curves) kept apart from its certificate's properties."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from swarmdeploy.verify.target import Target

# Issues of sslyze's checker that are properties of the certificate, not of the server's configuration.
CERTIFICATE_ISSUES = ("certificate_", "rsa_key_size", "maximum_certificate_lifespan")


@dataclass(frozen=True)
class MozillaScan:
    config_issues: dict[str, str] = field(default_factory=dict)  # protocols, ciphers, curves, vulnerabilities
    certificate_issues: dict[str, str] = field(default_factory=dict)  # key type and size, lifespan, signatures
    path_error: str | None = None  # why RFC 5280 strict path validation (cryptography's) refused the chain
    chain: tuple[x509.Certificate, ...] = ()  # as the server sent it, leaf first
    scan_error: str | None = None


def mozilla_scan(target: Target, profile: str) -> MozillaScan:
    """The live server against Mozilla's `profile`."""
    with warnings.catch_warnings():
        # Imported here: sslyze is slow to import and warns (its bundled trust stores hold certificates
        # newer cryptography frowns on); only the tls check needs it.
        warnings.simplefilter("ignore")
        from sslyze import (CertificateInfoExtraArgument, ScanCommandsExtraArguments, Scanner, ServerNetworkLocation,
                            ServerScanRequest, ServerScanStatusEnum)
        from sslyze.mozilla_tls_profile.tls_config_checker import (SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
                                                                   MozillaTlsConfiguration,
                                                                   ServerNotCompliantWithTlsConfiguration,
                                                                   TlsConfigurationEnum,
                                                                   check_server_against_tls_configuration)

        location = ServerNetworkLocation(target.hostname, target.port, ip_address=target.address)
        extra = CertificateInfoExtraArgument(custom_ca_file=Path(target.ca_file)) if target.ca_file else None
        request = ServerScanRequest(server_location=location, scan_commands=SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
                                    scan_commands_extra_arguments=ScanCommandsExtraArguments(certificate_info=extra))
        scanner = Scanner()
        scanner.queue_scans([request])
        result = next(iter(scanner.get_results()))
        if result.scan_status != ServerScanStatusEnum.COMPLETED:
            return MozillaScan(scan_error=f"sslyze could not scan {target.hostname}:{target.port}: "
                                          f"{result.connectivity_error_trace}")
        try:
            check_server_against_tls_configuration(result, MozillaTlsConfiguration.get(TlsConfigurationEnum(profile)))
            issues: dict[str, str] = {}
        except ServerNotCompliantWithTlsConfiguration as error:
            issues = dict(error.issues)
    deployment = result.scan_result.certificate_info.result.certificate_deployments[0]
    validations = deployment.path_validation_results
    # With --ca-file, the custom store's verdict is the one that counts; else the first store's.
    chosen = next((v for v in validations if target.ca_file and Path(v.trust_store.path) == Path(target.ca_file)),
                  validations[0] if validations else None)
    return MozillaScan(
        config_issues={k: v for k, v in issues.items() if not k.startswith(CERTIFICATE_ISSUES)},
        certificate_issues={k: v for k, v in issues.items()
                            if k.startswith(CERTIFICATE_ISSUES) and k != "certificate_path_validation"},
        path_error=None if deployment.verified_certificate_chain or chosen is None else chosen.validation_error,
        chain=tuple(deployment.received_certificate_chain),
    )
