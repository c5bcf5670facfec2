"""Run a rendered project's deploy on pyinfra's @fake host, once per scenario: python fake_host.py PROJECT < JSON.

Standard input: a JSON list of scenarios, each {"arguments": [...], "responses": [[kind, matcher, response], ...]}
(kind "substring" or "regex"; response: the command's standard output, or {"success": false}, ...: what pyinfra's
fake connector takes; the first matching one answers). Standard output: a JSON list of results, each
{"returncode", "stdout", "stderr", "commands", "uploads"}: what install.sh would print, every command the deploy
sent to the host, in order (an upload as `upload DEST`), and what each upload put where (DEST: its text). Nothing on
this machine is changed.

Run in a process of its own per project (tests/plan.py): the engine is imported from the project's deploy/.
"""

import contextlib
import functools
import io
import json
import os
import re
import sys
import time
import traceback
from pathlib import Path

import pyinfra.api.connectors
from pyinfra.connectors.fake import FakeConnector

COMMANDS: list[str] = []
UPLOADS: dict[str, str] = {}


def record_commands() -> None:
    """Every command and upload of every connection (the engine connects afresh for each batch of operations)."""
    run_shell_command, put_file = FakeConnector.run_shell_command, FakeConnector.put_file

    def run(self, command, *args, **kwargs):
        status, output = run_shell_command(self, command, *args, **kwargs)
        COMMANDS.append(self.executed_commands[-1])
        return status, output

    def put(self, filename_or_io, remote_filename, *args, **kwargs):
        COMMANDS.append(f"upload {remote_filename}")
        if isinstance(filename_or_io, str):
            UPLOADS[remote_filename] = Path(filename_or_io).read_text()
        else:
            UPLOADS[remote_filename] = filename_or_io.getvalue()
        return put_file(self, filename_or_io, remote_filename, *args, **kwargs)

    FakeConnector.run_shell_command = run
    FakeConnector.put_file = put


def speed_up() -> None:
    # On @fake no time passes: the engine's waits (for a server to answer, workers to be replaced) would only sleep.
    time.sleep = lambda seconds: None
    # Each connection looks pyinfra's connectors up among the installed distributions' entry points: hundreds in the
    # test tools' virtualenv (a few in the deploy's own), the same every time.
    pyinfra.api.connectors.entry_points = functools.cache(pyinfra.api.connectors.entry_points)


def responses(scripted: list[list]) -> dict:
    """The fake connector's responses, in order; of two for the same matcher, the first."""
    kinds = {"substring": str, "regex": re.compile}
    found: dict = {}
    for kind, matcher, response in scripted:
        found.setdefault(kinds[kind](matcher), response)
    return found


def never_deploy(*args, **kwargs):
    raise AssertionError("the deploy started on this machine")


@contextlib.contextmanager
def on_this_machine(euid: int | None):
    """EUID: main()'s checks of who runs it on this machine (@local), run as that user; the deploy itself must not
    start (it would raise). None: on the scripted @fake host."""
    if euid is None:
        yield
        return
    import engine.main

    geteuid, deploy = os.geteuid, engine.main.Deploy
    os.geteuid, engine.main.Deploy = (lambda: euid), never_deploy
    try:
        yield
    finally:
        os.geteuid, engine.main.Deploy = geteuid, deploy


def run(main, scenario: dict) -> dict:
    COMMANDS.clear()
    UPLOADS.clear()
    euid = scenario.get("local_euid")
    connection = "@local" if euid is not None else ("@fake", {
        "fake_responses": responses(scenario["responses"]), "fake_delay": 0, "fake_delay_jitter": 0})  # fmt: skip
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), on_this_machine(euid):
        try:
            returncode = main(scenario["arguments"], connection=connection)
        except SystemExit as exit:  # argparse's refusals
            returncode = exit.code if isinstance(exit.code, int) else 1
        except Exception:  # a bug: what the user would see, a traceback, and Python's exit status
            traceback.print_exc()
            returncode = 1
    return {"returncode": returncode, "stdout": stdout.getvalue(), "stderr": stderr.getvalue(),
            "commands": list(COMMANDS), "uploads": dict(UPLOADS)}  # fmt: skip


if __name__ == "__main__":
    sys.path.insert(0, str(Path(sys.argv[1]) / "deploy"))
    from engine.main import main

    record_commands()
    speed_up()
    scenarios = json.load(sys.stdin)
    print(json.dumps([run(main, scenario) for scenario in scenarios]))
