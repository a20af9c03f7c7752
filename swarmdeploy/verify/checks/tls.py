"""TLS: handshake, trusted chain, hostname, days to expiry, protocol versions, Mozilla compliance
(sslyze), HSTS, and the HTTP->HTTPS redirect."""

from __future__ import annotations

import dataclasses
import datetime
import re
import socket
import ssl
import warnings
from pathlib import Path

from cryptography import x509

from swarmdeploy.verify.chain_policy import explain
from swarmdeploy.verify.engineio import http_request
from swarmdeploy.verify.fleet import BALANCER_ERRORS, NO_HOST_IN_SERVICE
from swarmdeploy.verify.result import Observation, Status
from swarmdeploy.verify.target import Target
from swarmdeploy.verify.tls_scan import MozillaScan, mozilla_scan

EXPIRY_WARNING_DAYS = 14
REDIRECT_PATH = "/verify-redirect?x=1"
# TLSv1 or TLSv1.1 as a whole word: not the TLSv1 inside TLSv1.2.
LEGACY_PROTOCOLS = re.compile(r"^\s*ssl_protocols\s+[^;]*\bTLSv1(\.1)?(?![.\d])", re.MULTILINE)
CLOCKS = "check the clocks (this machine's and the server's: timedatectl; NTP)"
# Each problem's fix where the public TLS ends: the host's nginx, or the balancer in front of the hosts.
FIXES: dict[str, dict[str, str]] = {
    "expired": {
        "nginx": "the certificate has expired: renew it (certbot renew) and reload nginx",
        "haproxy": "the balancer's certificate has expired: renew it, put the chain and key in "
                   "load_balancer.certificate (one PEM) and reload haproxy",
        "alb": "the balancer's certificate has expired: renew or re-import it in ACM, attach it to the HTTPS listener "
               "(certificate_arn) and apply",
    },
    "not_yet_valid": {
        "nginx": f"the certificate is not valid yet: {CLOCKS}; or serve tls.certificate only from its start date",
        "haproxy": f"the balancer's certificate is not valid yet: {CLOCKS}; or put one valid now in "
                   "load_balancer.certificate and reload haproxy",
        "alb": f"the balancer's certificate is not valid yet: {CLOCKS}; or attach one valid now to the HTTPS listener "
               "(certificate_arn)",
    },
    "untrusted": {
        "nginx": "the chain is not trusted: serve the full chain (fullchain.pem) as tls.certificate, or pass --ca-file "
                 "for a private CA",
        "haproxy": "the balancer's chain is not trusted: put the full chain (leaf, intermediates) and the key in "
                   "load_balancer.certificate and reload haproxy, or pass --ca-file for a private CA",
        "alb": "the balancer's chain is not trusted: import the certificate into ACM with its chain and attach it "
               "(certificate_arn), or pass --ca-file for a private CA",
    },
    "hostname": {
        "nginx": "the certificate does not name {host}: issue one that covers site.server_names, or fix verify.url",
        "haproxy": "the balancer's certificate (load_balancer.certificate) does not name {host}: issue one that covers "
                   "site.server_names, or fix verify.url",
        "alb": "the balancer's certificate (certificate_arn) does not name {host}: request one in ACM that covers "
               "site.server_names, or fix verify.url",
    },
    "legacy": {
        "nginx": "ssl_protocols TLSv1.2 TLSv1.3 (render the profile's nginx target)",
        "haproxy": "the balancer offers TLS 1.0/1.1: apply the rendered haproxy target (ssl-min-ver TLSv1.2 in its "
                   "ssl-default-bind-options, no ssl-min-ver on a bind line) and reload haproxy",
        "alb": "the balancer offers TLS 1.0/1.1: leave load_balancer.ssl_policy unset (it follows tls.profile) or set "
               "a TLS 1.2+ policy, and apply",
    },
    "config": {
        "nginx": "deploy the nginx site rendered for tls.profile: {profile} (its ssl_protocols, ssl_ciphers, "
                 "ssl_ecdh_curve)",
        "haproxy": "apply the balancer rendered for tls.profile: {profile} (the haproxy target's ssl-default-bind-* "
                   "lines) and reload haproxy",
        "alb": "apply the balancer rendered for tls.profile: {profile} (the ALB's load_balancer.ssl_policy)",
    },
    "handshake": {
        "nginx": "check tls.certificate/tls.certificate_key and that nginx listens with ssl",
        "haproxy": "check load_balancer.certificate (chain and key in one PEM) and that HAProxy binds "
                   "load_balancer.https_port with ssl crt",
        "alb": "check the HTTPS listener on load_balancer.https_port and its certificate (certificate_arn)",
    },
}
VERIFY_PROBLEMS = {9: "not_yet_valid", 10: "expired", 62: "hostname"}  # OpenSSL verify codes; others: untrusted


def _fix(target: Target, problem: str) -> str:
    """The fix for `problem` where the public TLS ends."""
    where = target.expect("load_balancer.kind") if target.through_balancer else "nginx"
    return FIXES[problem][where].format(host=target.hostname, profile=target.expect("tls.profile", "intermediate"))


def _handshake(target: Target, context: ssl.SSLContext) -> tuple[str, str, bytes]:
    with (socket.create_connection((target.connect_host(), target.port), timeout=target.timeout) as raw,
          context.wrap_socket(raw, server_hostname=target.hostname) as tls):
        return tls.version() or "?", tls.cipher()[0], tls.getpeercert(binary_form=True) or b""


def _unverified_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _trust(target: Target) -> tuple[list[Observation], bytes]:
    try:
        version, cipher, der = _handshake(target, target.ssl_context())
        return [Observation("handshake", Status.PASS, f"{version} {cipher}, chain trusted, name matches")], der
    except ssl.SSLCertVerificationError as error:
        failure = Observation("certificate", Status.FAIL, f"{error.verify_message} ({target.hostname})",
                              _fix(target, VERIFY_PROBLEMS.get(error.verify_code, "untrusted")))
    except (ssl.SSLError, OSError) as error:
        return [Observation("handshake", Status.FAIL, f"TLS handshake failed: {error}", _fix(target, "handshake"))], b""
    _, _, der = _handshake(target, _unverified_context())
    return [failure], der


def _expiry(target: Target, der: bytes) -> Observation:
    certificate = x509.load_der_x509_certificate(der)
    now = datetime.datetime.now(datetime.UTC)
    if certificate.not_valid_before_utc > now:
        return Observation("expiry", Status.FAIL, f"valid only from {certificate.not_valid_before_utc:%Y-%m-%d %H:%M} "
                                                  f"UTC; this machine's clock says {now:%Y-%m-%d %H:%M} UTC",
                           _fix(target, "not_yet_valid"))
    days = (certificate.not_valid_after_utc - now).days
    if days < 0:
        return Observation("expiry", Status.FAIL, f"expired {-days} days ago", _fix(target, "expired"))
    if days < EXPIRY_WARNING_DAYS:
        return Observation("expiry", Status.WARN, f"expires in {days} days", "renew the certificate soon")
    return Observation("expiry", Status.PASS, f"expires in {days} days")


def _legacy_protocols(target: Target) -> list[Observation]:
    """TLS 1.0/1.1 live (where OpenSSL still offers them) and in the deployed nginx files."""
    observations = []
    context = _unverified_context()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # deprecated is the point: we offer only these
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    try:
        version, _, _ = _handshake(target, context)
        observations.append(Observation("TLS 1.0/1.1", Status.FAIL, f"the server negotiated {version}",
                                        _fix(target, "legacy")))
    except ssl.SSLError as error:
        if error.reason == "NO_PROTOCOLS_AVAILABLE":  # this machine's OpenSSL cannot even offer them
            observations.append(Observation("TLS 1.0/1.1", Status.SKIP, "this machine's OpenSSL offers no TLS 1.0/1.1: "
                                                                        "the live probe cannot run here"))
        else:
            observations.append(Observation("TLS 1.0/1.1", Status.PASS, "refused over the network"))
    except OSError as error:
        observations.append(Observation("TLS 1.0/1.1", Status.SKIP, f"not probed: {error}"))
    configs = [Path(p) for p in (target.deployment.files if target.deployment else {}) if p.endswith(".conf")]
    legacy = [str(p) for p in configs if p.is_file() and LEGACY_PROTOCOLS.search(p.read_text(errors="replace"))]
    if legacy:
        observations.append(Observation("ssl_protocols", Status.FAIL, f"TLSv1/TLSv1.1 enabled in {', '.join(legacy)}",
                                        "ssl_protocols TLSv1.2 TLSv1.3; redeploy the rendered nginx site"))
    elif configs:
        observations.append(Observation("ssl_protocols", Status.PASS, "no TLSv1/TLSv1.1 in the deployed nginx files"))
    return observations


def _mozilla(target: Target) -> list[Observation]:
    """Protocols and ciphers (the config), the certificate's Mozilla properties and its strict chain: each apart,
    so a certificate's property is never blamed on the config."""
    profile = target.expect("tls.profile", "intermediate")
    scan: MozillaScan = mozilla_scan(target, profile)
    if scan.scan_error:
        return [Observation("Mozilla profile", Status.FAIL, scan.scan_error, "see the handshake above")]
    observations = [
        Observation("Mozilla profile", Status.FAIL, "; ".join(f"{k}: {v}" for k, v in scan.config_issues.items()),
                    _fix(target, "config")) if scan.config_issues else
        Observation("Mozilla profile", Status.PASS, f"protocols, ciphers and curves comply with Mozilla {profile} "
                                                    "(sslyze)"),
        Observation("certificate profile", Status.FAIL,
                    "; ".join(f"{k}: {v}" for k, v in scan.certificate_issues.items()),
                    f"reissue the certificate as Mozilla {profile} asks (key type and size, lifespan, signature)")
        if scan.certificate_issues else
        Observation("certificate profile", Status.PASS, f"key, signature and lifespan as Mozilla {profile} asks"),
    ]
    if scan.path_error:
        saw, fix = explain(scan.path_error, scan.chain, target.ca_file)
        observations.append(Observation("strict chain", Status.WARN, saw, fix))
    else:
        observations.append(Observation("strict chain", Status.PASS, "RFC 5280 path validation passes (cryptography)"))
    return observations


def _hsts(target: Target) -> Observation:
    response = http_request(target, "GET", f"{target.base}/healthz")
    header = response.headers.get("Strict-Transport-Security")
    if header and "max-age=" in header:
        return Observation("HSTS", Status.PASS, header)
    if target.through_balancer and response.status in BALANCER_ERRORS:
        return Observation("HSTS", Status.SKIP, f"not judged: the balancer answered {response.status} itself; "
                                                f"{NO_HOST_IN_SERVICE}")
    wanted = target.expect("tls.hsts", True)
    return Observation("HSTS", Status.FAIL if wanted else Status.PASS, "no Strict-Transport-Security header",
                       "tls.hsts: true; keep add_header ... always at server level so no location drops it"
                       if wanted else "")


def _authority(host: str) -> str:
    return f"[{host}]" if ":" in host else host  # an IPv6 literal


def _expected_location(target: Target) -> str | None:
    """Exactly where http:// must send a browser: the public https URL. One host behind a balancer (deploy's own
    verify) redirects to the balancer's public port, not its own. None without a profile: any https:// URL."""
    if target.model is None:
        return None
    if target.expect("load_balancer.enabled") and not target.through_balancer:
        suffix = target.expect("site.public_authority_suffix")
    else:
        suffix = "" if target.port == 443 else f":{target.port}"
    return f"https://{_authority(target.hostname)}{suffix}{REDIRECT_PATH}"


def _redirect(target: Target) -> Observation:
    if target.http_port is None and target.port != 443:
        return Observation("redirect", Status.SKIP, "HTTPS on a custom port: pass the profile to know the HTTP port")
    http_port = target.http_port or 80
    try:
        response = http_request(target, "GET", f"http://{_authority(target.hostname)}:{http_port}{REDIRECT_PATH}")
    except OSError as error:
        return Observation("redirect", Status.FAIL, f"nothing answers on port {http_port}: {error}",
                           "the rendered nginx site (or the balancer) listens on the HTTP port and redirects to HTTPS")
    location = response.headers.get("Location", "")
    statuses, wanted = _redirect_statuses(target), _expected_location(target)
    if response.status in statuses and (location == wanted if wanted else
                                        location.startswith("https://") and location.endswith(REDIRECT_PATH)):
        return Observation("redirect", Status.PASS, f"{response.status} -> {location}")
    return Observation("redirect", Status.FAIL, f"HTTP {response.status} Location {location or '-'}, expected "
                                                f"{' or '.join(map(str, statuses))} to {wanted or 'https://...'}",
                       f"redirect every http:// request with 308 to {wanted or 'https://'} (the public host and port, "
                       "path and query kept), method and body kept (the rendered nginx site and HAProxy do; the ALB "
                       "can only 301)")


def _redirect_statuses(target: Target) -> tuple[int, ...]:
    """308 keeps the method and body; an ALB's redirect action offers only 301 and 302."""
    if target.model is None:
        return (301, 308)
    return (301,) if target.through_balancer and target.expect("load_balancer.kind") == "alb" else (308,)


def run(target: Target) -> list[Observation]:
    if target.scheme != "https":
        if target.expect("environment") == "production":
            return [Observation("TLS", Status.FAIL, f"{target.url} is not https",
                                "production needs TLS: tls.profile: intermediate and an https verify.url")]
        return [Observation("TLS", Status.SKIP, "plain http (development)")]
    observations, der = _trust(target)
    if der:
        observations.append(_expiry(target, der))
    observations += _legacy_protocols(target)
    if observations[0].status is Status.PASS:
        observations += _mozilla(target)  # needs a chain OpenSSL trusts, or every item reads "path validation"
    observations.append(_hsts_safely(target))
    observations.append(_redirect(target))
    return observations


def _hsts_safely(target: Target) -> Observation:
    try:
        return _hsts(dataclasses.replace(target, insecure=True))  # the header matters here, not the chain
    except OSError as error:
        return Observation("HSTS", Status.FAIL, f"no HTTPS response: {error}", "see the handshake above")
