"""`swarmdeploy export ansible`: the exported role, applied for real by ansible-playbook (implicit localhost,
`connection: local`) into a temporary root for every example profile, places exactly what deploy's systemd
manager installs, byte-identical to `swarmdeploy render`, with deploy's modes; a second run changes nothing;
a broken site never passes its `nginx -t`; `--syntax-check` and ansible-lint's production profile pass.

Run times of each apply print with `-s`.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import jinja2.defaults
import pytest
import yaml
from conftest import EXAMPLE_PROFILES, REPO, require_tool
from host_render import render_for_host

from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.releases import PRIVATE_SUFFIXES
from swarmdeploy.deploy.systemd_manager import SystemdManager
from swarmdeploy.export.ansible import ROLE, ROLE_DEFAULTS, ROLE_TEMPLATES
from swarmdeploy.profile import load_profile
from swarmdeploy.templating import templates_dir

SWARMDEPLOY = str(Path(sys.executable).parent / "swarmdeploy")
LOCAL_PLAYBOOK = """---
- name: Apply the exported role to this machine
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: swarmdeploy
"""
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def swarmdeploy(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([SWARMDEPLOY, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def export_for_host(profile: Path, workdir: Path) -> tuple[Path, Path]:
    """(the example profile made for this host, its role export): stand-in certificates that exist here, so
    the role's `nginx -t` can load them (tests/host_render.py), every other value as in the example."""
    render_for_host(profile, workdir / "host")
    host_profile = workdir / "host" / profile.name
    return host_profile, exported(host_profile, workdir)


def exported(profile: Path, workdir: Path) -> Path:
    swarmdeploy("export", "ansible", str(profile), "-o", str(workdir / "export"))
    return workdir / "export"


def ansible_env(workdir: Path) -> dict[str, str]:
    """Ansible's state in the test's directory; the venv's tools on PATH (ansible-lint runs ansible-playbook)."""
    return {**os.environ, "ANSIBLE_HOME": str(workdir / "ansible"), "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-tmp"),
            "ANSIBLE_REMOTE_TEMP": str(workdir / "ansible-remote-tmp"), "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "XDG_CACHE_HOME": str(workdir / "cache"),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def role_variables(root: Path) -> dict[str, str | bool]:
    """Install under root, without systemd (not PID 1 here), testing the site with this machine's nginx."""
    return {"swarmdeploy_root": str(root), "swarmdeploy_manage_services": False,
            "swarmdeploy_nginx": require_tool("nginx")}


def apply_locally(export: Path, root: Path, workdir: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """ansible-playbook of the role on implicit localhost; (its result, its wall time)."""
    playbook = workdir / "local.yml"
    playbook.write_text(LOCAL_PLAYBOOK)
    extra = {**role_variables(root), "ansible_python_interpreter": sys.executable}
    env = {**ansible_env(workdir), "ANSIBLE_ROLES_PATH": str(export / "roles")}
    started = time.monotonic()
    result = subprocess.run([require_tool("ansible-playbook"), str(playbook), "-e", json.dumps(extra)],
                            cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    return result, time.monotonic() - started


def recap(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, int]]:
    """PLAY RECAP per host: {"localhost": {"ok": 7, "changed": 0, ...}}; the run must have succeeded."""
    assert result.returncode == 0, result.stdout + result.stderr
    return {host: dict(zip(("ok", "changed", "unreachable", "failed"), map(int, counts), strict=True))
            for host, *counts in RECAP.findall(result.stdout)}


def expected_files(model: dict) -> dict[Path, tuple[str, int]]:
    """Where deploy's systemd manager puts each file (relative to the root) -> (its path in a rendered bundle,
    the mode deploy's releases give it)."""
    manager = SystemdManager(Layout(Path("/"), model["name"]))
    files = {}
    for path, target in manager.links(SimpleNamespace(model=model)).items():
        bundle_path = str(target.relative_to(manager.layout.current))
        files[path.relative_to("/")] = (bundle_path, 0o600 if bundle_path.endswith(PRIVATE_SUFFIXES) else 0o644)
    return files


def installed(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under root: relative path -> (mode, content)."""
    return {str(path.relative_to(root)): (stat.S_IMODE(path.stat().st_mode), path.read_bytes())
            for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.mark.integration
@pytest.mark.parametrize("profile", EXAMPLE_PROFILES, ids=lambda p: p.stem)
def test_the_role_installs_what_render_renders_and_a_second_run_changes_nothing(profile: Path, tmp_path: Path) -> None:
    host_profile, export = export_for_host(profile, tmp_path)
    model = load_profile(host_profile).model
    rendered = tmp_path / "render"
    swarmdeploy("render", str(host_profile), "-o", str(rendered))
    root = tmp_path / "root"

    first, first_time = apply_locally(export, root, tmp_path)
    assert recap(first)["localhost"]["changed"] > 0
    # Every handler was notified (each skipped here: no systemd to reload).
    for handler in ("Reload systemd", "Restart the instances one at a time", "Reload nginx"):
        assert f"RUNNING HANDLER [swarmdeploy : {handler}]" in first.stdout, first.stdout

    files = installed(root)
    secrets = str(Path(model["server"]["secrets_file"]).relative_to("/"))
    expected = expected_files(model)
    assert set(files) == {str(path) for path in expected} | {secrets}
    for path, (bundle_path, mode) in expected.items():
        assert files[str(path)] == (mode, (rendered / bundle_path).read_bytes()), path
    assert files[secrets] == (0o600, b"")

    # The operator fills in the secrets file; the next run leaves it as it is and changes nothing else.
    (root / secrets).write_text("SWARMDEPLOY_PUBLISH_TOKEN=kept\n")
    second, second_time = apply_locally(export, root, tmp_path)
    assert recap(second)["localhost"]["changed"] == 0, second.stdout
    assert "RUNNING HANDLER" not in second.stdout
    assert (root / secrets).read_text() == "SWARMDEPLOY_PUBLISH_TOKEN=kept\n"
    print(f"\n{profile.stem}: first run {first_time:.1f} s, second run {second_time:.1f} s")


@pytest.mark.integration
def test_a_site_nginx_refuses_is_never_enabled(tmp_path: Path) -> None:
    _, export = export_for_host(EXAMPLE_PROFILES[0], tmp_path)
    site = export / ROLE / "templates" / "nginx" / "site.conf.j2"
    site.write_text(site.read_text() + "no_such_directive on;\n")
    root = tmp_path / "root"
    result, _ = apply_locally(export, root, tmp_path)
    assert result.returncode != 0
    assert "failed to validate" in result.stdout and "no_such_directive" in result.stdout, result.stdout
    assert not list((root / "etc" / "nginx" / "conf.d").iterdir())


@pytest.mark.integration
def test_a_root_that_is_not_absolute_is_refused(tmp_path: Path) -> None:
    _, export = export_for_host(EXAMPLE_PROFILES[0], tmp_path)
    result, _ = apply_locally(export, Path("relative/root"), tmp_path)
    assert result.returncode != 0 and "swarmdeploy_root must be empty" in result.stdout, result.stdout
    assert not (tmp_path / "relative").exists()


@pytest.mark.integration
@pytest.mark.parametrize("profile", EXAMPLE_PROFILES, ids=lambda p: p.stem)
def test_syntax_check_and_ansible_lint_production_pass(profile: Path, tmp_path: Path) -> None:
    export = exported(profile, tmp_path)
    inventory = ["-i", "inventory.yml"] if (export / "inventory.yml").exists() else []
    env = ansible_env(tmp_path)
    checked = subprocess.run([require_tool("ansible-playbook"), *inventory, "--syntax-check", "playbook.yml"],
                             cwd=export, env=env, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    linted = subprocess.run([require_tool("ansible-lint"), "--offline", "--profile", "production", "--nocolor",
                             "-f", "pep8"], cwd=export, env=env, capture_output=True, text=True, timeout=300)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert "Profile 'production' was required, and it passed." in linted.stderr, linted.stderr


# --- what the export holds --------------------------------------------------------------------------------------

def test_the_role_copies_each_template_it_renders_unchanged(tmp_path: Path) -> None:
    role = exported(EXAMPLE_PROFILES[0], tmp_path) / ROLE
    tasks = (role / "tasks" / "main.yml").read_text()
    used = set(re.findall(r"src: ([\w/@.]+\.j2)", tasks))
    assert used == set(ROLE_TEMPLATES)
    copied = {str(p.relative_to(role / "templates")) for p in (role / "templates").rglob("*") if p.is_file()}
    assert copied == used
    for template in used:
        assert (role / "templates" / template).read_bytes() == (templates_dir() / template).read_bytes()


@pytest.mark.parametrize("profile", EXAMPLE_PROFILES, ids=lambda p: p.stem)
def test_defaults_hold_the_model_and_the_documented_variables(profile: Path, tmp_path: Path) -> None:
    role = exported(profile, tmp_path) / ROLE
    model = load_profile(profile).model
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    assert defaults == {**ROLE_DEFAULTS, "sd": model}
    # The same model `swarmdeploy vars` prints, so any other tool gets these values too.
    assert yaml.safe_load(swarmdeploy("vars", str(profile)).stdout) == {"sd": model}
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
    options = specs["options"]
    assert set(options) == set(defaults)
    for name, option in options.items():
        assert option["type"] and option["description"], name
        assert option.get("default") == ROLE_DEFAULTS.get(name), name
    assert options["sd"]["required"] is True


@pytest.mark.parametrize("profile", EXAMPLE_PROFILES, ids=lambda p: p.stem)
def test_the_inventory_lists_the_profile_hosts(profile: Path, tmp_path: Path) -> None:
    export = exported(profile, tmp_path)
    model = load_profile(profile).model
    [play] = yaml.safe_load((export / "playbook.yml").read_text())
    assert play["hosts"] == model["ident"] and play["roles"] == [{"role": "swarmdeploy"}]
    hosts = model["load_balancer"]["hosts"]
    if not hosts:
        assert not (export / "inventory.yml").exists()
        return
    inventory = yaml.safe_load((export / "inventory.yml").read_text())
    assert inventory == {"all": {"children": {model["ident"]: {"hosts": {
        host["name"]: {"ansible_host": host["address"]} for host in hosts}}}}}


def test_export_without_a_target_lists_the_targets() -> None:
    listed = swarmdeploy("export").stdout
    assert "ansible" in listed and "terraform" in listed


def test_an_export_never_replaces_a_directory_that_is_not_one(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = subprocess.run([SWARMDEPLOY, "export", "ansible", str(EXAMPLE_PROFILES[0]), "-o", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and (tmp_path / "keep.txt").read_text() == "mine"
    assert "--force" in result.stderr


# --- what Ansible would do with the templates and the model -------------------------------------------------------

# Every filter in plain jinja2's default set: a template using any other filter (Ansible's to_yaml, regex_replace,
# ...) renders only inside Ansible, and swarmdeploy's own renderer would refuse it.
JINJA2_FILTERS = frozenset(jinja2.defaults.DEFAULT_FILTERS)
FILTER = re.compile(r"\|\s*([A-Za-z_][\w.]*)")
EXPRESSION = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)


@pytest.mark.parametrize("template", sorted(templates_dir().rglob("*.j2")), ids=lambda p: str(p.name))
def test_templates_use_only_plain_jinja2_filters(template: Path) -> None:
    used = {name for expression in EXPRESSION.findall(template.read_text()) for name in FILTER.findall(expression)}
    assert used <= JINJA2_FILTERS, f"{template}: filters plain jinja2 lacks: {sorted(used - JINJA2_FILTERS)}"


def test_the_filter_scan_catches_an_ansible_filter() -> None:
    assert {"to_nice_yaml", "join"} == set(FILTER.findall("{{ sd.server | to_nice_yaml }} {{ a|join(',') }}"))
    assert "to_nice_yaml" not in JINJA2_FILTERS


@pytest.mark.parametrize("payload", ["{{ lookup('pipe', 'id') }}", "{% raw %}", "{#"])
def test_a_profile_value_ansible_would_render_is_refused(payload: str, tmp_path: Path) -> None:
    data = yaml.safe_load((REPO / "profiles" / "dev.yaml").read_text())
    data["site"]["server_names"] = [f"dash{payload}.example.com"]
    data["server"]["app"] = f"app{payload}:create"
    path = tmp_path / "injected.yaml"
    path.write_text(yaml.safe_dump(data))
    result = subprocess.run([SWARMDEPLOY, "export", "ansible", str(path), "-o", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "site.server_names" in result.stderr and "server.app" in result.stderr, \
        result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("profile", EXAMPLE_PROFILES, ids=lambda p: p.stem)
def test_no_model_value_holds_template_syntax(profile: Path) -> None:
    """What Ansible re-renders in variable values: nothing in any example profile's model."""
    def strings(value):
        if isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)
        elif isinstance(value, str):
            yield value

    assert not [s for s in strings(load_profile(profile).model) if any(m in s for m in ("{{", "{%", "{#"))]
