"""The Ansible roles and playbooks pass ansible-lint's production profile, and every role
documents each of its defaults (defaults/main.yml, meta/argument_specs.yml, README.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
ROLES = sorted(p for p in (REPO / "playbooks" / "roles").iterdir() if p.is_dir())


def test_the_playbooks_pass_ansible_lint_with_the_production_profile() -> None:
    lint = Path(sys.executable).with_name("ansible-lint")
    done = subprocess.run([str(lint), "--offline", "--nocolor", "--profile", "production",
                           "playbooks/"], capture_output=True, text=True, timeout=600, cwd=REPO,
                          check=False)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    assert "Profile 'production' was required, and it passed" in done.stderr


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_each_role_default_is_prefixed_typed_and_documented(role: Path) -> None:
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    readme = (role / "README.md").read_text()
    for name in defaults:
        assert name.startswith(f"{role.name}_"), name
        assert name in specs["main"]["options"], f"{name} is not in meta/argument_specs.yml"
        assert f"`{name}`" in readme, f"{name} is not in README.md"
    for name, option in specs["main"]["options"].items():
        assert name in defaults or option.get("required") or name in (
            yaml.safe_load((role / "vars" / "main.yml").read_text()) or {}), (
            f"{name} is documented but has no default and is not required")
