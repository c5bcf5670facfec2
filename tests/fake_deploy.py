"""A rendered project's deploy/install.sh on pyinfra's @fake host, a fresh server of one family, for the tests that
look at one deploy (tests/plan.py scripts many variants): run by tests/fake_host.py, nothing on this machine touched.
A command nobody scripted succeeds with no output (pyinfra's fake connector)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.plan import OS_RELEASE

RUNNER = Path(__file__).with_name("fake_host.py")  # runs scenarios in a process of its own
FAILS = {"success": False}


def fresh_server(family: str) -> list[list]:
    """A server of FAMILY after the packages step: nothing of the app on it, no firewall active, python3.11 on PATH
    with its headers, SELinux enabled on RHEL (as it ships) with the app's module not loaded yet."""
    return [
        ["substring", "uname -s", "Linux"],
        ["substring", "-release", f"/etc/os-release\n{OS_RELEASE[family]}---\n"],
        ["regex", r"^test -e \S+/include/python3\.11/Python\.h$", ""],
        ["regex", r"^test -[edfx] ", FAILS],
        ["regex", r"^command -v python3\.11$", "/usr/bin/python3.11"],
        ["regex", r"^command -v python3(\.\d+)?$", FAILS],
        ["regex", r"^command -v \S+ \|\| true$", "/usr/bin/found"],  # pyinfra's Which fact: every tool is installed
        ["regex", r"^/usr/bin/python3\.11 -V$", "Python 3.11.2"],
        ["substring", 'sysconfig.get_path("include")', "/usr/include/python3.11"],
        ["regex", r"^readlink ", FAILS],
        ["substring", "/etc/ufw/ufw.conf", FAILS],
        ["substring", "is-active --quiet firewalld", FAILS],
        ["substring", "selinuxenabled", "" if family == "rhel" else FAILS],
        ["regex", r"^semodule -l", FAILS],
        ["regex", r"^semanage port -l", FAILS],
    ]


@dataclass(frozen=True)
class FakeDeploy:
    returncode: int
    stdout: str
    stderr: str
    commands: list[str]  # in order; an upload as "upload DEST"
    uploads: dict[str, str]  # DEST: the text uploaded there

    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    def ran(self) -> list[str]:
        """The commands install.sh printed as it ran them (`+ CMD`)."""
        return [line[2:] for line in self.lines() if line.startswith("+ ")]


def fake_deploy(project: Path, family: str, *arguments: str, responses: list[list] = ()) -> FakeDeploy:
    """deploy/install.sh ARGUMENTS --os FAMILY on a fresh FAMILY server; RESPONSES win over its answers."""
    scenario = {"arguments": [*arguments, "--os", family], "responses": [*responses, *fresh_server(family)]}
    result = subprocess.run(
        [sys.executable, str(RUNNER), str(project)], input=json.dumps([scenario]), capture_output=True, text=True,
        check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == "", f"the fake host's runner failed:\n{result.stderr[-4000:]}"
    return FakeDeploy(**json.loads(result.stdout)[0])
