"""Host state through pytest-testinfra (local:// or ssh://): instances and nginx listening, `nginx -t`, and
deployed files unchanged since the deploy (drift against the manifest's hashes)."""

from __future__ import annotations

from swarmdeploy.verify.result import Observation, Status
from swarmdeploy.verify.target import Target


def _listening(host, target: Target) -> list[Observation]:
    observations = []
    bind = target.expect("server.bind")
    for port in target.expect("server.ports"):
        if host.socket(f"tcp://{bind}:{port}").is_listening:
            observations.append(Observation(f"instance {port}", Status.PASS, f"listening on {bind}:{port}"))
        else:
            unit = f"{target.expect('name')}@{port}.service"
            observations.append(Observation(f"instance {port}", Status.FAIL, f"nothing listens on {bind}:{port}",
                                            f"start it: systemctl start {unit} (process manager: swarmdeploy "
                                            "start), then read its log"))
    for field in ("site.https_port", "site.http_port"):
        port = target.expect(field)
        if field == "site.https_port" and not target.expect("tls.enabled"):
            continue
        listening = host.socket(f"tcp://0.0.0.0:{port}").is_listening or any(
            host.socket(f"tcp://{address}:{port}").is_listening for address in ("127.0.0.1", "::"))
        observations.append(Observation(f"nginx {port}", Status.PASS if listening else Status.FAIL,
                                        f"port {port} {'listening' if listening else 'not listening'}",
                                        "" if listening else "start it: systemctl start nginx (process "
                                                             "manager: swarmdeploy start)"))
    return observations


def _nginx_test(host, target: Target) -> Observation:
    command = target.deployment.nginx_command if target.deployment else []
    if not command:
        return Observation("nginx -t", Status.SKIP, "no deployment record says how nginx runs here")
    result = host.run(" ".join([*command, "-t"]))
    if result.rc == 0:
        return Observation("nginx -t", Status.PASS, "configuration test is successful")
    return Observation("nginx -t", Status.FAIL, (result.stderr or result.stdout).strip()[-300:],
                       "fix the reported line, or roll back: swarmdeploy rollback")


def _drift(host, target: Target) -> Observation:
    files = target.deployment.files if target.deployment else {}
    if not files:
        return Observation("drift", Status.SKIP, "no deployment record with file hashes")
    changed, missing = [], []
    for path, digest in sorted(files.items()):
        remote = host.file(path)
        if not remote.exists:
            missing.append(path)
        elif remote.sha256sum != digest:
            changed.append(path)
    if not changed and not missing:
        return Observation("drift", Status.PASS, f"{len(files)} deployed files match the manifest")
    saw = "; ".join(filter(None, [f"changed: {', '.join(changed)}" if changed else "",
                                  f"missing: {', '.join(missing)}" if missing else ""]))
    return Observation("drift", Status.FAIL, saw,
                       "a hand edit is lost on the next deploy: put the change in the profile and redeploy "
                       "(swarmdeploy deploy), or redeploy to restore the rendered files")


def run(target: Target) -> list[Observation]:
    if target.model is None and target.deployment is None:
        return [Observation("host", Status.SKIP, "needs a profile or a deployment record")]
    if target.through_balancer and target.host is None and target.deployment is None:
        return [Observation("host", Status.SKIP, "verifying the balancer: each host's state is checked on that host "
                                                 "(swarmdeploy verify there, or --host ssh://user@host)")]
    import testinfra

    host = testinfra.get_host(target.host or "local://")
    observations = _listening(host, target) if target.model else []
    return observations + [_nginx_test(host, target), _drift(host, target)]
