"""An Ansible `template` task renders the templates byte-identically, given `swarmdeploy vars`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLE_PROFILES, require_tool
from swarmdeploy.profile import load_profile
from swarmdeploy.render import render_files
from swarmdeploy.targets import TARGETS, applicable_targets
from swarmdeploy.templating import MODEL_VARIABLE, templates_dir

pytestmark = pytest.mark.integration

PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars_files: [vars.json]
  tasks:
    - ansible.builtin.template:
        src: "{{ templates }}/{{ item.template }}"
        dest: "{{ out }}/{{ item.path }}"
      loop: "{{ outputs }}"
"""


@pytest.mark.parametrize("profile", EXAMPLE_PROFILES, ids=lambda p: p.stem)
def test_ansible_renders_what_swarmdeploy_renders(profile: Path, tmp_path: Path) -> None:
    playbook_runner = require_tool("ansible-playbook")
    model = load_profile(profile).model
    outputs = [{"template": o.template, "path": f"{name}/{o.filename.format(name=model['name'])}"}
               for name in applicable_targets(model) for o in TARGETS[name].outputs]
    for output in outputs:
        (tmp_path / "out" / output["path"]).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "vars.json").write_text(json.dumps({MODEL_VARIABLE: model}))
    (tmp_path / "playbook.yml").write_text(PLAYBOOK)
    extra = {"templates": str(templates_dir()), "out": str(tmp_path / "out"), "outputs": outputs,
             "ansible_python_interpreter": sys.executable}
    env = dict(os.environ, ANSIBLE_HOME=str(tmp_path / "ansible"), ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
               ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False", ANSIBLE_NOCOLOR="1")
    result = subprocess.run([playbook_runner, "playbook.yml", "-e", json.dumps(extra)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    for relative, text in render_files(model).items():
        assert (tmp_path / "out" / relative).read_text() == text, relative
