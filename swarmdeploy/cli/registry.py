"""Every `swarmdeploy` command and the module that defines it, in one place.

A command's module is imported only when that command runs (or when --help lists them all), so
`render` never pays for what `deploy` or `verify` import. tests/test_cli_imports.py checks that this
table and the commands the modules register are the same.
"""

COMMANDS: dict[str, str] = {
    "render": "profile_commands",
    "validate": "profile_commands",
    "schema": "profile_commands",
    "init": "profile_commands",
    "vars": "profile_commands",
    "serve": "profile_commands",
    "deploy": "deploy_command",
    "verify": "verify_command",
    "status": "operate_commands",
    "releases": "operate_commands",
    "rollback": "operate_commands",
    "start": "operate_commands",
    "restart": "operate_commands",
    "stop": "operate_commands",
    "export": "export_command",
    "bench": "bench_command",
    "diagnose": "diagnose_command",
}
