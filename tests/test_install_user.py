"""install.sh's Python rules and --user's own parts, without a server: the Python it makes the virtualenv with, the
units a --user install gives the account's own systemd manager, and the options that go only with --user.
The installs themselves run end to end as an ordinary account in tests/e2e (scenario_user.py).
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.ci import require_tool
from tests.deploy_support import make_scratch_tree, relocate
from tests.render import render_cookiecutter

pytestmark = pytest.mark.deploy

SLUG = "my-web-app"
SYSTEMD = {"framework": "flask", "server": "uwsgi", "proxy": "nginx", "supervisor": "systemd", "bind": "unix"}
SUPERVISORD = {**SYSTEMD, "supervisor": "supervisord"}


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, Path]:
    rendered = {}
    for name, answers in {
        "systemd": SYSTEMD,
        "supervisord": SUPERVISORD,
        "systemd-gunicorn-postgresql": {**SYSTEMD, "server": "gunicorn", "database": "postgresql"},
    }.items():
        rendered[name] = render_cookiecutter(tmp_path_factory.mktemp(name), **answers)
    return rendered


def install(project: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [require_tool("bash"), str(project / "deploy" / "install.sh"), "--os", "debian", *arguments],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


# ---------------------------------------------------------------- --python


def fake_python(tmp_path: Path, answer: str) -> Path:
    """An executable that answers install.sh's version questions as an older Python would (no such Python here)."""
    path = tmp_path / "python3.9"
    path.write_text(f"#!/bin/sh\necho '{answer}'\n")
    path.chmod(0o755)
    return path


def test_python_option_names_the_rule(projects, tmp_path):
    cases = {
        str(tmp_path / "missing"): "is not an executable file",
        "/bin/true": "/bin/true is not a Python; this project needs Python >= 3.11",
        str(fake_python(tmp_path, "Python 3.9")): "is Python 3.9; this project needs Python >= 3.11",
    }
    for python, message in cases.items():
        root = tmp_path / "root"
        result = install(projects["systemd"], "--root", str(root), "--python", python)
        assert result.returncode != 0
        assert f"install.sh: error: --python: {python}" in result.stderr and message in result.stderr, result.stderr
        assert not root.exists(), "a refused install left files behind"


def test_python_option_makes_the_virtualenv(projects, tmp_path):
    python = require_tool("python3")
    result = install(projects["systemd"], "--root", str(tmp_path / "root"), "--python", python)
    assert result.returncode == 0, result.stderr
    assert f"install.sh: Python: {python} (Python 3." in result.stdout
    assert f"would run: {python} -m venv {tmp_path}/root/srv/{SLUG}/venvs/" in result.stdout


def test_python_found_on_path(projects, tmp_path):
    """Without --python: the first python3.11, python3 or newer python3.N on PATH, wherever it is (here a directory
    ahead of /usr/bin, as conda's or pyenv's on an account's PATH)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3.11").symlink_to(require_tool("python3"))
    path = f"{bin_dir}:/usr/bin:/bin"
    result = subprocess.run(
        [require_tool("bash"), str(projects["systemd"] / "deploy" / "install.sh"), "--os", "debian",
         "--root", str(tmp_path / "root")],
        capture_output=True, text=True, check=False, timeout=120, env={"PATH": path},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    chosen = re.search(r"^install\.sh: Python: (\S+) ", result.stdout, re.M)
    assert chosen and chosen[1] == f"{bin_dir}/python3.11", result.stdout


# ---------------------------------------------------------------- --no-crontab


def test_no_crontab_goes_with_user(projects):
    result = install(projects["supervisord"], "--no-crontab", "--root", "/tmp/never-made")
    assert result.returncode != 0 and "install.sh: error: --no-crontab goes with --user" in result.stderr
    assert "--no-crontab" in install(projects["supervisord"], "--help").stdout


def test_no_crontab_only_where_supervisord_is(projects):
    """A systemd project starts at boot through lingering: it has no crontab line, and no option for one."""
    assert "--no-crontab" not in install(projects["systemd"], "--help").stdout
    assert install(projects["systemd"], "--no-crontab").returncode == 2


# ---------------------------------------------------------------- the --user units

SYSTEM_ONLY = (
    "User", "Group", "SocketUser", "SocketGroup", "RuntimeDirectory", "StateDirectory", "ReadWritePaths",
    "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "CapabilityBoundingSet", "DevicePolicy",
)  # fmt: skip


def options(unit: str) -> set[str]:
    return {line.split("=", 1)[0] for line in unit.splitlines() if re.match(r"^[A-Z]\w*=", line)}


@pytest.mark.parametrize("variant", ["systemd", "systemd-gunicorn-postgresql"])
def test_units_as_generated_are_what_a_user_manager_runs(projects, variant, tmp_path):
    """install.sh --user installs the units as they are (no file is rewritten): they name nothing only a system
    manager applies, and the account's manager reads them without a warning. What a root install adds is the drop-in
    <slug>-system.conf."""
    deploy = projects[variant] / "deploy"
    units = [deploy / f"{SLUG}.service", deploy / f"{SLUG}.socket"]
    for unit in units:
        assert not options(unit.read_text()) & set(SYSTEM_ONLY), options(unit.read_text()) & set(SYSTEM_ONLY)
    system = (deploy / f"{SLUG}-system.conf").read_text()
    assert {"User", "ReadWritePaths", "ProtectSystem", "CapabilityBoundingSet"} <= options(system)
    assert ("postgresql.service" in system) == ("postgresql" in variant)
    scratch = tmp_path / "scratch"
    make_scratch_tree(scratch, SLUG)
    for unit in units:
        (scratch / unit.name).write_text(relocate(unit.read_text(), SLUG, scratch, scratch))
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    result = subprocess.run(
        [require_tool("systemd-analyze", "systemd"), "--user", "verify", *(str(scratch / unit.name) for unit in units)],
        capture_output=True, text=True, check=False, timeout=60, env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
    )  # fmt: skip
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    # The check reads what it is given: a misspelt option is reported.
    (scratch / f"{SLUG}.socket").write_text((scratch / f"{SLUG}.socket").read_text().replace("Backlog=", "Backlogg="))
    broken = subprocess.run(
        [require_tool("systemd-analyze", "systemd"), "--user", "verify", str(scratch / f"{SLUG}.socket")],
        capture_output=True, text=True, check=False, timeout=60, env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
    )  # fmt: skip
    assert "Backlogg" in broken.stderr, broken.stderr


# ---------------------------------------------------------------- a Python root may run

CHOOSE_SCRIPT = r"""
set -euo pipefail
source deploy/steps/project.sh
source deploy/steps/common.sh
source deploy/steps/base.sh
PYTHON=$1
choose_python
"""


def choose_python_as_root(project: Path, python: str) -> subprocess.CompletedProcess:
    """base.sh's choose_python alone, as a root install runs it (not a dry run: nothing else of install.sh runs)."""
    return subprocess.run(
        [require_tool("bash"), "-c", CHOOSE_SCRIPT, "choose", python],
        cwd=project, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


def test_root_refuses_a_python_another_account_can_change(projects, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("checks what a root install accepts; this test runs as an ordinary user")
    system_python = require_tool("python3")
    accepted = choose_python_as_root(projects["systemd"], system_python)
    assert accepted.returncode == 0 and f"install.sh: Python: {system_python}" in accepted.stdout, accepted.stderr
    # A link in a directory an account owns: the account could point it elsewhere between the check and the use.
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "python3").symlink_to(system_python)
    os.chown(theirs, 65534, 65534)
    tmp_path.chmod(0o755)
    refused = choose_python_as_root(projects["systemd"], str(theirs / "python3"))
    assert refused.returncode != 0
    assert f"--python: root would run {theirs}/python3, but {theirs} can be changed" in refused.stderr, refused.stderr
