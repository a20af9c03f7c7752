"""`swarmdeploy render --check`: the real tools (nginx, systemd-analyze, HAProxy, Terraform, cfn-lint,
promtool) run on a scratch copy of a rendered bundle, one module per tool, all listed in `registry.py`."""
