"""The order of every stack's checks, in one list, and run_stack, which follows it.

SEQUENCE holds the checks every stack shares (Stack's own) and the scenario modules' (their CHECKS), in the order they
run; each applies to the stacks its condition names (tests/e2e/checks.py). STEPS holds the scenarios' setup around the
install. A stack runs what applies to it, in this order: its install first, and nothing more if that failed.
tests/e2e/test_sequence.py checks the order (the phases, and what comes after what) without a container.
"""

import contextlib
import time
from pathlib import Path

from tests.e2e import (
    browser,
    scenario_backups,
    scenario_celery,
    scenario_join,
    scenario_media,
    scenario_releases,
    scenario_servers,
    scenario_user,
    scenario_websockets,
    scenario_workerhost,
)
from tests.e2e.checks import Check, Spec, Step, in_phase
from tests.e2e.stack import Stack, StackReport
from tests.nspawn import Testbed
from tests.render import render_cookiecutter

STEPS: list[Step] = [
    *scenario_servers.STEPS,
    *scenario_media.STEPS,
    *scenario_user.STEPS,
    *scenario_join.STEPS,
]


def systemd(spec: Spec) -> bool:
    return spec.supervisor == "systemd"


def framework(name: str):
    return lambda spec: spec.framework == name


SEQUENCE: list[Check] = [
    Check("after_install", "serving after install", Stack.wait_for_200),
    *scenario_servers.CHECKS,
    *scenario_join.CHECKS,
    Check("after_install", "pages and links under the prefix", Stack.check_pages),
    Check("after_install", "static files from the proxy", Stack.check_static),
    Check("after_install", "dash endpoints and callback", Stack.check_dash, framework("dash")),
    Check("after_install", "django admin and its css", Stack.check_django_admin, framework("django")),
    *browser.CHECKS,  # headless Chromium, in one Dash and one Django stack
    Check("after_install", "healthz reports the database", Stack.check_healthz),
    Check("after_install", "outside the prefix is not a 5xx", Stack.check_outside_prefix),
    Check("after_install", "security headers once", Stack.check_security_headers_once),
    *in_phase(scenario_media.CHECKS, "after_install"),
    Check(
        "after_install",
        "hardening in force",
        Stack.check_hardening,
        lambda spec: spec.supervisor == "systemd" and not spec.user_mode,
    ),
    *in_phase(scenario_websockets.CHECKS, "after_install"),
    *in_phase(scenario_celery.CHECKS, "before_redeploy"),
    Check("before_redeploy", "write a note", Stack.keep_note),
    Check("stop", "stop: in time, no orphans, maintenance page", Stack.check_stop),
    *in_phase(scenario_media.CHECKS, "stopped"),
    Check("restart", "start: time to first 200", Stack.check_start),
    Check(
        "restart",
        "the note survives the restart",
        lambda stack: stack.check_note_persists(stack.note),
        needs="write a note",
    ),
    Check("restart", "kill -9 master: recovery", Stack.check_kill_master),
    Check("restart", "socket activation: a request starts the stopped service", Stack.check_socket_activation, systemd),
    Check("redeploy", "reload under load: zero failures, new code", Stack.check_reload_under_load),
    *in_phase(scenario_websockets.CHECKS, "after_redeploy"),
    *scenario_releases.CHECKS,
    *in_phase(scenario_celery.CHECKS, "after_redeploy"),
    *scenario_workerhost.CHECKS,
    *scenario_backups.CHECKS,
    # Redeploys and rotations on the systemd stacks and the PostgreSQL (supervisord) ones: both supervisors, every
    # framework and server, root and --user, within the suite's time.
    Check(
        "after_redeploy",
        "secret key rotation takes effect on reload",
        Stack.check_secret_rotation,
        lambda spec: spec.supervisor == "systemd" or spec.database == "postgresql",
    ),
    Check(
        "after_redeploy",
        "redeploy removes stale files, keeps data",
        lambda stack: stack.check_redeploy_removes_stale_files(stack.note),
        lambda spec: spec.supervisor == "systemd" or spec.database == "postgresql",
    ),
    Check(
        "after_redeploy",
        "database password rotation",
        Stack.check_database_password_rotation,
        lambda spec: spec.database == "postgresql",
    ),
    *scenario_user.CHECKS,
    Check("final", "final stop", Stack.check_stop),
]


def plan(spec: Spec) -> list[Check]:
    """The checks of SEQUENCE that apply to the stack, in order."""
    return [check for check in SEQUENCE if check.applies(spec)]


def steps(spec: Spec, point: str) -> list:
    return [step.run for step in STEPS if step.point == point and step.applies(spec)]


def install(stack: Stack) -> None:
    """Stack.install with the scenarios' setup inside it."""
    stack.install(steps(stack.spec, "checkout"), steps(stack.spec, "installed"))


def passed(report: StackReport, name: str) -> bool:
    return any(check.name == name and check.ok for check in report.checks)


def run_checks(stack: Stack) -> None:
    """The install check, then, if it passed, each check of the stack's plan. A check whose `needs` did not pass is
    left out; one that cannot run here (a tool missing) is left out with the reason in report.metrics["skipped"]."""
    stack.check("install", install, stack)
    if not passed(stack.report, "install"):
        return
    for check in plan(stack.spec):
        if check.needs and not passed(stack.report, check.needs):
            continue
        reason = check.unavailable() if check.unavailable else ""
        if reason:
            skipped = stack.report.metrics.setdefault("skipped", [])
            if reason not in skipped:
                skipped.append(reason)
            continue
        stack.check(check.name, check.run, stack)


def run_stack(answers: dict, workdir: Path) -> StackReport:
    """Render, boot, install and check one stack; the report is written whatever happens."""
    spec = Spec(answers)
    project = render_cookiecutter(workdir / "project", **answers)
    report = StackReport(spec.name, answers)
    started = time.monotonic()
    try:
        with Testbed(project=project, boot_timeout=60, stop_timeout=60) as testbed:
            stack = Stack(testbed, project, answers)
            report = stack.report
            report.metrics["boot_seconds"] = round(testbed.timings.get("running", 0), 2)
            for prepare in steps(spec, "prepare"):
                prepare(stack)
            run_checks(stack)
    finally:
        report.metrics["wall_seconds"] = round(time.monotonic() - started, 1)
        with contextlib.suppress(OSError):
            report.write()
    return report
