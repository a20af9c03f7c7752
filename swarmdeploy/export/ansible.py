"""`export ansible`: a role installing what deploy's systemd manager installs, plus an example playbook.

The role's tasks, handlers and meta are static files (ansible_role/); the templates are copied from
templates/ as they are, and defaults/main.yml holds the resolved model as `sd`, the one variable every
template reads. Layout of the export:

    roles/swarmdeploy/  defaults, tasks, handlers, meta, templates
    playbook.yml        the role on the profile's hosts
    inventory.yml       only when the profile lists load_balancer.hosts
"""

from __future__ import annotations

import textwrap
from importlib import resources
from pathlib import Path

import yaml

from swarmdeploy.model import Model
from swarmdeploy.templating import MODEL_VARIABLE, templates_dir

ROLE = "roles/swarmdeploy"
# The templates the role's tasks render (tests/test_export_ansible.py keeps this in step with tasks/main.yml).
ROLE_TEMPLATES = ("systemd/instance@.service.j2", "systemd/instances.target.j2", "systemd/server.env.j2",
                  "nginx/site.conf.j2")
# The role's own variables; argument_specs.yml documents each with the same default.
ROLE_DEFAULTS = {
    "swarmdeploy_root": "",
    "swarmdeploy_manage_services": True,
    "swarmdeploy_nginx": "/usr/sbin/nginx",
    "swarmdeploy_file_owner": "root",
    "swarmdeploy_file_group": "root",
}


def _static_role_files() -> dict[str, str]:
    base = Path(str(resources.files("swarmdeploy.export"))) / "ansible_role"
    return {str(path.relative_to(base)): path.read_text(encoding="utf-8")
            for path in sorted(base.rglob("*.yml"))}


class _IndentedDumper(yaml.SafeDumper):
    """Indents list items under their key, as yamllint (run by ansible-lint) expects."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _yaml(data: dict) -> str:
    return yaml.dump(data, Dumper=_IndentedDumper, sort_keys=False, width=1000)


def _defaults(model: Model) -> str:
    # Two lint exceptions, for the model only: every template reads it as `sd` (the contract with
    # `swarmdeploy vars`), and some of its values (the cipher list) are single words longer than a line.
    return (f"---\n# Written by swarmdeploy export from profile \"{model['name']}\". {MODEL_VARIABLE} is the resolved "
            "model\n# (swarmdeploy vars): change the profile and export again rather than edit it here.\n"
            f"# yamllint disable rule:line-length\n{_yaml(ROLE_DEFAULTS)}"
            f"{MODEL_VARIABLE}:  # noqa: var-naming[no-role-prefix]\n{textwrap.indent(_yaml(model), '  ')}")


def _playbook(model: Model, inventory: bool) -> str:
    run = "ansible-playbook -i inventory.yml playbook.yml" if inventory else (
        f"ansible-playbook -i YOUR_INVENTORY playbook.yml (hosts in group {model['ident']})")
    return f"""---
# Written by swarmdeploy export from profile "{model['name']}". Run: {run}
- name: Install the {model['name']} dashboard
  hosts: {model['ident']}
  become: true
  serial: 1  # one host at a time: the others keep serving behind the balancer
  gather_facts: false
  roles:
    - role: swarmdeploy
"""


def _inventory(model: Model) -> str:
    hosts = {host["name"]: {"ansible_host": host["address"]} for host in model["load_balancer"]["hosts"]}
    header = f"---\n# The hosts profile \"{model['name']}\" lists in load_balancer.hosts.\n"
    return header + _yaml({"all": {"children": {model["ident"]: {"hosts": hosts}}}})


def ansible_files(model: Model) -> dict[str, str]:
    files = {f"{ROLE}/{path}": text for path, text in _static_role_files().items()}
    files |= {f"{ROLE}/templates/{template}": (templates_dir() / template).read_text(encoding="utf-8")
              for template in ROLE_TEMPLATES}
    files[f"{ROLE}/defaults/main.yml"] = _defaults(model)
    inventory = bool(model["load_balancer"]["hosts"])
    files["playbook.yml"] = _playbook(model, inventory)
    if inventory:
        files["inventory.yml"] = _inventory(model)
    return files
