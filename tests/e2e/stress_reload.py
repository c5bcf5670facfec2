"""Stress mode for the reload race: the reload-under-load scenario of the end-to-end tests, repeated, for each WSGI
server under each supervisor. Opt-in, not part of `make test` (the file name does not match test_*.py); run it as
root with the testbed built (scripts/build-systemd-testbed.sh):

    .venv/bin/python -m pytest -n 2 tests/e2e/stress_reload.py            # 20 repeats per stack
    E2E_STRESS_REPEATS=50 .venv/bin/python -m pytest -n 2 tests/e2e/stress_reload.py

Two stacks at a time on two cores is on purpose: the race this guards against (a worker told to finish while it
holds a connection it has just accepted) showed only under CPU contention. Each repeat changes the code, runs
deploy/install.sh again under 16 clients and counts every request that did not get a 200. Totals per stack go to
build/reports/reload-stress/<stack>.json and one line each to build/reports/reload-stress.md.
"""

import json
import os
import time

import pytest
from filelock import FileLock

from tests.e2e.checks import stack_name
from tests.e2e.sequence import install
from tests.e2e.stack import REPORT_DIR, Stack, ensure_wheelhouse, stack_answers
from tests.nspawn import Testbed
from tests.render import CHOICES, render_cookiecutter

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.systemd]

REPEATS = int(os.environ.get("E2E_STRESS_REPEATS", "20"))
SUPERVISORS = [supervisor for supervisor in CHOICES["supervisor"] if supervisor != "none"]
STACKS = [
    stack_answers("flask", server, "nginx", supervisor) for server in CHOICES["server"] for supervisor in SUPERVISORS
]
STRESS_DIR = REPORT_DIR.parent / "reload-stress"


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory):
    ensure_wheelhouse(tmp_path_factory.mktemp("wheel-projects"))


def write_result(result: dict) -> None:
    STRESS_DIR.mkdir(parents=True, exist_ok=True)
    (STRESS_DIR / f"{result['stack']}.json").write_text(json.dumps(result, indent=2) + "\n")
    summary = STRESS_DIR.parent / "reload-stress.md"
    line = (
        f"| {result['stack']} | {result['install_mode']} | {result['repeats']} | {result['failed']} "
        f"| {result['requests']} | {result['stale_retries']} | {result['max_latency']:.2f} s |\n"
    )
    with FileLock(str(summary) + ".lock"):
        if not summary.exists():
            header = "| stack | install | repeats | failed | requests | stale | max latency |"
            summary.write_text(header + "\n" + "|---" * 7 + "|\n")
        with summary.open("a") as handle:
            handle.write(line)


@pytest.mark.parametrize("answers", STACKS, ids=[stack_name(answers) for answers in STACKS])
def test_reload_stress(answers, wheelhouse, tmp_path):
    project = render_cookiecutter(tmp_path / "project", **answers)
    runs: list[dict] = []
    with Testbed(project=project, boot_timeout=60, stop_timeout=60) as testbed:
        stack = Stack(testbed, project, answers)
        install(stack)
        stack.wait_for_200()
        started = time.monotonic()
        for _ in range(REPEATS):
            runs.append(stack.check_reload_under_load(count_failures=True))
    result = {
        "stack": stack_name(answers),
        "install_mode": stack.report.metrics["install_mode"],
        "repeats": len(runs),
        "requests": sum(run["requests"] for run in runs),
        "failed": sum(run["failed"] for run in runs),
        "stale_retries": sum(run["stale_retries"] for run in runs),
        "max_latency": max(run["max_latency"] for run in runs),
        "failures": [failure for run in runs for failure in run["failures"]][:20],
        "seconds": round(time.monotonic() - started, 1),
    }
    write_result(result)
    assert result["failed"] == 0, f"{result['failed']} of {result['requests']} requests failed: {result['failures']}"
