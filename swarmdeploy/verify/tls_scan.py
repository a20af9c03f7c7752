"""Mozilla-profile compliance through sslyze's scanner and its Mozilla TLS configuration checker."""

from __future__ import annotations

import warnings
from pathlib import Path

from swarmdeploy.verify.target import Target


def mozilla_issues(target: Target, profile: str) -> dict[str, str]:
    """{issue id: explanation} for the live server against Mozilla's `profile`; empty when compliant."""
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
            return {"scan": f"sslyze could not scan {target.hostname}:{target.port}: {result.connectivity_error_trace}"}
        try:
            check_server_against_tls_configuration(result, MozillaTlsConfiguration.get(TlsConfigurationEnum(profile)))
        except ServerNotCompliantWithTlsConfiguration as error:
            return dict(error.issues)
    return {}
