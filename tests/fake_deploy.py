"""A rendered project's deploy/install.sh run on pyinfra's @fake host: nothing on this machine is touched.

The engine (deploy/engine) runs as install.sh runs it, on a host whose answers are scripted: a command nobody scripted
succeeds with no output (pyinfra's fake connector). What it prints, every command it sends and every file it uploads
are the plan. Each run is a process of its own: the engine is imported from the project, and two projects' engines
must not share one interpreter.

`python tests/fake_deploy.py PROJECT < JSON` is that process: standard input {"arguments": [...], "responses":
[[kind, matcher, response], ...]} (kind "substring" or "regex"), standard output {"returncode", "stdout", "stderr",
"commands", "uploads"}.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

FAILS = {"success": False}
OS_RELEASE = {
    "debian": 'NAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="12"\n',
    "rhel": 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n',
}


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
        [sys.executable, __file__, str(project)], input=json.dumps(scenario), capture_output=True, text=True,
        check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == "", f"the fake host's runner failed:\n{result.stderr[-4000:]}"
    return FakeDeploy(**json.loads(result.stdout))


# ---------------------------------------------------------------- the runner, in a process of its own
COMMANDS: list[str] = []
UPLOADS: dict[str, str] = {}


def record() -> None:
    """Every command and upload of every connection (the engine connects afresh for each batch of operations)."""
    from pyinfra.connectors.fake import FakeConnector

    run_shell_command, put_file = FakeConnector.run_shell_command, FakeConnector.put_file

    def run(self, command, *args, **kwargs):
        result = run_shell_command(self, command, *args, **kwargs)
        COMMANDS.append(self.executed_commands[-1])
        return result

    def put(self, filename_or_io, remote_filename, *args, **kwargs):
        COMMANDS.append(f"upload {remote_filename}")
        if isinstance(filename_or_io, str):
            UPLOADS[remote_filename] = Path(filename_or_io).read_text()
        else:
            content = filename_or_io.getvalue()
            UPLOADS[remote_filename] = content.decode() if isinstance(content, bytes) else content
        return put_file(self, filename_or_io, remote_filename, *args, **kwargs)

    FakeConnector.run_shell_command = run
    FakeConnector.put_file = put


def no_waiting() -> None:
    import time

    import pyinfra.api.connectors

    # On @fake no time passes: the engine's waits (for a server to answer) would only sleep.
    time.sleep = lambda seconds: None
    # Each connection looks pyinfra's connectors up among the installed distributions' entry points, the same each time.
    pyinfra.api.connectors.entry_points = functools.cache(pyinfra.api.connectors.entry_points)


def run_scenario(project: Path, scenario: dict) -> dict:
    sys.path.insert(0, str(project / "deploy"))
    from engine.main import main

    kinds = {"substring": str, "regex": re.compile}
    responses = {kinds[kind](matcher): response for kind, matcher, response in scenario["responses"]}
    connection = ("@fake", {"fake_responses": responses, "fake_delay": 0, "fake_delay_jitter": 0})
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            returncode = main(scenario["arguments"], connection=connection)
        except SystemExit as exit:  # argparse's refusals
            returncode = exit.code if isinstance(exit.code, int) else 1
    return {"returncode": returncode, "stdout": stdout.getvalue(), "stderr": stderr.getvalue(),
            "commands": COMMANDS, "uploads": UPLOADS}  # fmt: skip


if __name__ == "__main__":
    record()
    no_waiting()
    print(json.dumps(run_scenario(Path(sys.argv[1]), json.load(sys.stdin))))
