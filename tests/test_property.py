"""Property tests: every generated profile is refused with located findings, or renders configs the real
tools accept.

Profiles come from the shipped JSON Schema (hypothesis-jsonschema) and from mutations of the example
profiles (a field's value replaced by an edge value, a value of another type or another valid value of that
field; a field dropped; a key or a list item repeated). Each is written to a file and checked with the
library's check_profile: a refused one has error findings, each at a FILE:LINE:COL inside the file, and no
exception; an accepted one resolves, renders every target that applies, and its configs pass `nginx -t`
(warnings fail too), `systemd-analyze verify` and `haproxy -c`, with derived values inside what each
consumer accepts. At the end one `swarmdeploy validate` run over every file written must exit 2 (or 0),
name each file's verdict and print no traceback.

CI runs 400 derandomized cases a test (the "ci" settings profile below). A longer, random search:

    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_property.py

A failure prints the profile as YAML: add it to tests/profiles/ with the finding it must produce.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator

from conftest import EXAMPLE_PROFILES, require_tool
from host_render import make_certificate
from swarmdeploy.findings import Finding
from swarmdeploy.profile import check_profile, load_profile
from swarmdeploy.render import render_files
from swarmdeploy.rules.addresses import looks_numeric
from swarmdeploy.schema import profile_schema
from swarmdeploy.validation import ProfileValidator
from swarmdeploy.validators import haproxy, systemd
from swarmdeploy.validators.base import execute
from swarmdeploy.validators.nginx import nginx_argv
from swarmdeploy.validators.scratch import scratch_copy
from swarmdeploy.verify.result import Status

_COMMON: dict[str, Any] = {
    "deadline": None, "database": None, "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
}
settings.register_profile("ci", max_examples=400, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=3000, **_COMMON)
SETTINGS = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# What the programs receiving the rendered values accept at most.
NR_OPEN = 1024 * 1024  # the kernel's default fs.nr_open: a higher LimitNOFILE or worker_rlimit_nofile fails at start
HAPROXY_TIMER_MS = 2**31 - 1  # HAProxy's timers (timeouts, inter, hard-stop-after): about 24.8 days
HAPROXY_MAXLIFE_S = 2**31 - 1  # `cookie ... maxlife` counts seconds
NGINX_LIMIT_CONN = 65535
UNIT_NAME_MAX = 255  # systemd's limit for NAME@PORT.service
HOST_USER = "www-data"  # nginx -t resolves `user`: the profile's user is a fact of its hosts, not of this one
# nginx warns about stapling only because the stand-in certificate has no issuer and no OCSP responder.
STAND_IN_WARNINGS = ('"ssl_stapling" ignored',)


# --- Writing profiles: YAML with repeated keys where a mutation asks for one --------------------------------

class Pairs:
    """A mapping as a list of (key, value): YAML written from it may repeat a key."""

    def __init__(self, pairs: list[tuple[Any, Any]]) -> None:
        self.pairs = pairs

    def __repr__(self) -> str:  # how hypothesis shows a failing case
        return f"Pairs({self.pairs!r})"


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(Pairs, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data.pairs))


def to_yaml(document: Any) -> str:
    # ASCII only: every other character escaped, so the text has no line break but \n (findings count lines).
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=False, width=100)


# --- Generating profiles -------------------------------------------------------------------------------------

SCHEMA = profile_schema()
EXAMPLES = [yaml.safe_load(path.read_text()) for path in EXAMPLE_PROFILES]
VALID_CORPUS = sorted((Path(__file__).parent / "profiles" / "valid").glob("*.yaml"))
FieldPath = tuple[Any, ...]


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        target = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _fields(node: dict[str, Any], path: FieldPath = ()) -> Iterator[tuple[FieldPath, dict[str, Any]]]:
    """Every property of the schema with its own schema, sections included."""
    for key, child in _resolve(node).get("properties", {}).items():
        yield path + (key,), child
        yield from _fields(child, path + (key,))


FIELDS = dict(_fields(SCHEMA))
FIELD_VALUES = {path: from_schema({"$defs": SCHEMA["$defs"], **schema}) for path, schema in FIELDS.items()}

EDGE_VALUES = st.sampled_from([
    None, True, False, 0, -1, 1, 1023, 65535, 65536, 2**31 - 1, 2**31, 2**63, 10**30,
    0.5, 2.0, -0.0, 1e-300, 1e308, math.nan, math.inf, -math.inf,
    "", "x", "/", "/..", "/a/../b", "/./a", "a" * 300, "/" + "a" * 256, "/a/" + "b" * 1100,
    "1.2.3.4/33", "256.256.256.256", "999.1.1.1", "[:::::]", ":::", "10.0.0.0/99", "10.0.0.1/8", "0.0.0.0",
    "[::]", "224.0.0.1", "redis://127.0.0.1:99999/0", "redis://999.1.1.1:6379/0", "https://a.example.com:0",
    "{{ x }}", "a;b", "line\nbreak", "\u00e9", "\x00", [], {}, [None], {"a": 1}, ["x", "x"],
])
ANY_VALUE = st.one_of(
    EDGE_VALUES,
    st.integers(),
    st.floats(),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
    st.lists(st.text(max_size=10), max_size=3),
)


def _overlay(base: Any, generated: Any) -> Any:
    """generated's fields over base's: a schema-made value inside a coherent example, or alone over {}."""
    if not isinstance(base, dict) or not isinstance(generated, dict):
        return generated
    return {**base, **{key: _overlay(base.get(key), value) for key, value in generated.items()}}


SCHEMA_PROFILES = st.builds(_overlay, st.sampled_from([{}, *EXAMPLES]), from_schema(SCHEMA))


def _paths(value: Any, path: FieldPath = ()) -> Iterator[FieldPath]:
    """Every key and list item of a document, by path."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield path + (key,)
        yield from _paths(child, path + (key,))


def _parent(document: dict[str, Any], path: FieldPath) -> dict[Any, Any] | list[Any] | None:
    """The mapping or list that holds path's last part (mappings made on the way where there is nothing yet),
    or None where a scalar is in the way."""
    current: Any = document
    for part in path[:-1]:
        inside_mapping = isinstance(current, dict) and isinstance(current.setdefault(part, {}), (dict, list))
        inside_list = isinstance(current, list) and isinstance(part, int) and part < len(current)
        if not (inside_mapping or inside_list):
            return None
        current = current[part]
    key = path[-1]
    fits = isinstance(current, dict) or (isinstance(current, list) and isinstance(key, int) and key < len(current))
    return current if fits else None


MUTATIONS = ["valid", "valid", "valid", "edge", "edge", "drop", "repeat"]  # a field's own values most often


@st.composite
def mutated_profiles(draw: st.DrawFn) -> Any:
    """An example profile with one to three fields changed, dropped or repeated."""
    document = json.loads(json.dumps(draw(st.sampled_from(EXAMPLES))))
    repeats: dict[FieldPath, Any] = {}
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(sorted({*_paths(document), *FIELDS}, key=repr)))
        parent = _parent(document, path)
        if parent is None:
            continue
        key, kind = path[-1], draw(st.sampled_from(MUTATIONS))
        if kind == "drop" and isinstance(parent, list):
            del parent[key]
        elif kind == "drop":
            parent.pop(key, None)
        elif kind == "repeat" and isinstance(parent, list):
            parent.append(parent[key])  # a list item twice
        elif kind == "repeat" and key in parent:
            repeats[path] = draw(ANY_VALUE)  # the key twice, the second time with another value
        else:
            parent[key] = draw(FIELD_VALUES[path] if kind == "valid" and path in FIELD_VALUES else ANY_VALUE)
    return _with_repeats(document, repeats)


def _with_repeats(value: Any, repeats: dict[FieldPath, Any], path: FieldPath = ()) -> Any:
    if not isinstance(value, dict):
        return value
    pairs = []
    for key, child in value.items():
        pairs.append((key, _with_repeats(child, repeats, path + (key,))))
        if path + (key,) in repeats:
            pairs.append((key, repeats[path + (key,)]))
    return Pairs(pairs)


# --- Checking one profile ------------------------------------------------------------------------------------

def _assert_located(path: Path, text: str, finding: Finding) -> None:
    """FILE:LINE:COL of a place in the file, a message and a fix."""
    lines = text.split("\n")
    shown = f"{finding.format()}\n--- {path.name} ---\n{text}"
    assert finding.file == str(path), shown
    assert 1 <= finding.line <= len(lines), shown
    assert 1 <= finding.column <= len(lines[finding.line - 1]) + 1, shown
    assert finding.format().startswith(f"{path}:{finding.line}:{finding.column} "), shown
    assert finding.message and finding.fix, shown


def _bindable_here(address: str) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address.strip("[]"), 0))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class HostFacts:
    """What a profile says of its own hosts and this machine lacks, replaced after validation (load_profile's
    adjust): TLS files, the nginx user and version, a listen address of another machine (nginx -t binds it)
    and host names of its network (haproxy -c resolves them). One certificate serves every case: the scratch
    copy's would be made per case for the first server name, and cryptography refuses a common name past 64
    characters."""

    certificate: Path
    key: Path
    nginx_version: str  # a config for nginx 1.25 has directives this machine's 1.22 does not know

    def apply(self, data: dict[str, Any]) -> None:
        data["proxy"]["user"] = HOST_USER
        data["proxy"]["version"] = self.nginx_version
        stand_ins = {("tls", "certificate"): self.certificate, ("tls", "certificate_key"): self.key,
                     ("load_balancer", "certificate"): self.pem, ("load_balancer", "backend_ca_file"): self.certificate}
        for (section, name), stand_in in stand_ins.items():
            if data[section][name]:  # unset stays unset: it means something (HAProxy's @system-ca)
                data[section][name] = str(stand_in)
        listen = data["site"]["listen_address"]
        if listen and not _bindable_here(listen):
            data["site"]["listen_address"] = "[::1]" if ":" in listen else "127.0.0.1"
        for host in data["load_balancer"]["hosts"]:  # haproxy -c warns about a name it cannot resolve here
            if not looks_numeric(host["address"]):
                host["address"] = "127.0.0.1"

    @property
    def pem(self) -> Path:
        """Chain and key in one file, as HAProxy's crt takes them."""
        return self.certificate.with_name("certificate-and-key.pem")


def _consumer_limit_problems(model: dict[str, Any]) -> list[str]:
    """What no validator here checks: the limits the kernel, nginx and HAProxy apply when the service starts."""
    balancer, proxy, server = model["load_balancer"], model["proxy"], model["server"]
    seconds = [balancer[k] for k in ("timeout_client", "timeout_server", "timeout_tunnel", "health_check_timeout",
                                     "health_check_interval", "hard_stop_after")] + [proxy["connect_timeout"]]
    problems = {
        f"LimitNOFILE={server['open_files_limit']} above nr_open": server["open_files_limit"] > NR_OPEN,
        f"worker_rlimit_nofile {proxy['worker_rlimit_nofile']} above nr_open": proxy["worker_rlimit_nofile"] > NR_OPEN,
        "limit_conn above 65535": proxy["max_connections_per_client"] > NGINX_LIMIT_CONN,
        "a HAProxy timer above 2^31-1 ms": max(seconds) * 1000 > HAPROXY_TIMER_MS,
        "maxlife above 2^31-1 s": balancer["stickiness_duration"] > HAPROXY_MAXLIFE_S,
        "a unit name above 255 characters": len(f"{model['name']}@{max(server['ports'])}.service") > UNIT_NAME_MAX,
        "a port outside 1-65535": not all(0 < port <= 65535 for port in server["ports"]),
    }
    return [problem for problem, found in problems.items() if found]


def _validator_problems(model: dict[str, Any], files: dict[str, str]) -> list[str]:
    """nginx -t (warnings included), systemd-analyze verify and haproxy -c on a scratch copy with stand-ins."""
    problems = []
    with scratch_copy(model, files, stand_in=("server.venv",)) as copy:
        nginx = require_tool("nginx")
        result = execute([*nginx_argv(nginx, copy.runtime, copy.path("nginx/nginx.conf"), copy.runtime / "start.log"), "-t"])
        said = [line for line in result.stderr.splitlines()
                if "[" in line and not any(allowed in line for allowed in STAND_IN_WARNINGS)]
        if result.returncode != 0 or said:
            problems.append("nginx -t: " + "\n".join(said or [result.stderr]))
        checks = [systemd.UNITS_VERIFY] + ([haproxy.HAPROXY_CHECK] if "haproxy/haproxy.cfg" in files else [])
        for validator in checks:
            verdict = validator.run(copy, require_tool(validator.tool.program))
            if verdict.status is not Status.PASS:
                problems.append(f"{validator.name}: {copy.relative(verdict.detail)}")
    return problems


@dataclass
class Cases:
    """Profiles checked one by one as they are written, and all of them by the CLI at the end."""

    directory: Path
    host: HostFacts
    refused: list[Path] = field(default_factory=list)
    accepted: list[Path] = field(default_factory=list)
    slowest: tuple[float, str] = (0.0, "")

    def check(self, document: Any) -> None:
        path = self.directory / f"case-{len(self.refused) + len(self.accepted):05d}.yaml"
        path.write_text(to_yaml(document), encoding="utf-8")
        self.check_file(path)

    def check_file(self, path: Path) -> None:
        """Refused with located findings, or accepted and rendered into configs the real tools accept."""
        started = time.monotonic()
        text = path.read_text(encoding="utf-8")
        _, findings = check_profile(path)
        for finding in findings:
            _assert_located(path, text, finding)
        if any(f.severity == "error" for f in findings):
            self.refused.append(path)
        else:
            self.accepted.append(path)
            model = load_profile(path, adjust=self.host.apply).model
            problems = _consumer_limit_problems(model) + _validator_problems(model, render_files(model))
            assert not problems, "\n".join(problems) + f"\n--- valid profile {path.name} ---\n{text}"
        self.slowest = max(self.slowest, (time.monotonic() - started, path.name))

    def check_cli(self) -> None:
        """One `swarmdeploy validate` over every file: each one's verdict, located findings, exit 2 if one is refused."""
        cli = str(Path(sys.executable).parent / "swarmdeploy")
        result = subprocess.run([cli, "validate", *map(str, self.refused + self.accepted)],
                                check=False, capture_output=True, text=True, timeout=300)
        said = result.stdout + result.stderr
        assert "Traceback" not in said, said[-3000:]
        assert result.returncode == (2 if self.refused else 0), said[-3000:]
        verdicts = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
        for path in self.accepted:
            assert verdicts.get(str(path), "").startswith("valid"), (path, verdicts.get(str(path)))
        for path in self.refused:
            assert re.match(r"\d+ error\(s\)", verdicts.get(str(path), "")), (path, verdicts.get(str(path)))
            assert re.search(rf"^{re.escape(str(path))}:\d+:\d+ ", said, re.MULTILINE), f"{path}: no FILE:LINE:COL"
        print(f"{len(self.refused) + len(self.accepted)} cases: {len(self.refused)} refused, {len(self.accepted)} "
              f"accepted; the slowest, {self.slowest[1]}, took {self.slowest[0]:.2f} s")


@pytest.fixture(scope="module")
def host_facts(tmp_path_factory: pytest.TempPathFactory) -> HostFacts:
    for tool in ("nginx", "systemd-analyze", "haproxy"):
        require_tool(tool)
    certificate, key = make_certificate(tmp_path_factory.mktemp("tls"), ["stand-in.example"])
    said = subprocess.run([require_tool("nginx"), "-v"], check=False, capture_output=True, text=True).stderr
    facts = HostFacts(certificate, key, re.search(r"nginx/(\d+\.\d+)", said).group(1))
    facts.pem.write_text(certificate.read_text() + key.read_text())
    return facts


@pytest.fixture
def cases(tmp_path_factory: pytest.TempPathFactory, host_facts: HostFacts) -> Cases:
    return Cases(tmp_path_factory.mktemp("profiles"), host_facts)


@pytest.mark.integration
def test_profiles_from_the_schema(cases: Cases) -> None:
    @SETTINGS
    @given(SCHEMA_PROFILES)
    def run(document: dict[str, Any]) -> None:
        cases.check(document)

    run()
    cases.check_cli()


@pytest.mark.integration
def test_mutated_example_profiles(cases: Cases) -> None:
    @SETTINGS
    @given(mutated_profiles())
    def run(document: Any) -> None:
        cases.check(document)

    run()
    cases.check_cli()


@pytest.mark.integration
@pytest.mark.parametrize("path", VALID_CORPUS, ids=lambda p: p.name)
def test_valid_corpus_renders_what_the_tools_accept(path: Path, cases: Cases) -> None:
    """The boundaries the valid corpus shows accepted (65535, 27 characters, 97 characters...) really are."""
    cases.check_file(path)
    assert cases.accepted == [path]


# --- uniqueItems: linear, and the same verdict as jsonschema's ------------------------------------------------

def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=3) | st.dictionaries(st.sampled_from("ab"), children, max_size=2)


# Few distinct leaves, so that repeats are common; 1, 1.0 and true tell JSON Schema's equality apart.
JSON_VALUES = st.recursive(st.sampled_from([None, True, False, 0, 1, 1.0, -0.0, 2.5, "", "a", "1"]), _containers,
                           max_leaves=6)


@SETTINGS
@given(st.lists(JSON_VALUES, max_size=6))
def test_unique_items_agrees_with_jsonschema(items: list[Any]) -> None:
    schema = {"uniqueItems": True}
    assert ProfileValidator(schema).is_valid(items) == Draft202012Validator(schema).is_valid(items), items


def test_unique_items_is_linear_and_points_at_the_repeat() -> None:
    # Mappings where names belong: jsonschema cannot sort them and compared them pair by pair.
    names = [{"name": f"web-{i}"} for i in range(5000)] + [{"name": "web-1234"}]
    profile = {"name": "dash", "site": {"server_names": names}}
    started = time.monotonic()
    errors = list(ProfileValidator(SCHEMA).iter_errors(profile))
    assert time.monotonic() - started < 5, "uniqueItems is no longer linear (jsonschema's took 53 s here)"
    repeats = [e for e in errors if e.validator == "uniqueItems"]
    assert [list(e.absolute_path) for e in repeats] == [["site", "server_names", 5000]]
    assert repeats[0].message == "item 5000 repeats item 1234"
    assert any(e.validator == "maxItems" for e in errors)
