"""The end-to-end harness without a container or root: which checks each stack of test_stacks.py runs and in which
order (tests/e2e/sequence.py), that run_checks follows that plan, that the modules import each other one way only,
and that `pytest -m e2e -k <option>` selects the stacks that have the option.

TODAY is the order the checks ran in before they were registered (run_stack's calls, one after the other): every
stack's checks come in that order, and which of them a stack has follows from what it has (test_what_a_stack_has).
"""

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e import browser, scenario_join, scenario_media, scenario_servers, scenario_user, test_stacks
from tests.e2e.checks import PHASES, STEP_POINTS, Spec
from tests.e2e.scenario_backups import BACKUP_STACKS
from tests.e2e.scenario_celery import JOB_ONLY_STACKS
from tests.e2e.scenario_releases import RELEASE_STACKS
from tests.e2e.scenario_workerhost import WORKERHOST_STACKS
from tests.e2e.sequence import SEQUENCE, STEPS, plan, run_checks, steps
from tests.e2e.stack import Check as Result
from tests.e2e.stack import StackReport
from tests.render import TEMPLATE_ROOT

E2E = Path(__file__).parent
SPECS = [Spec(answers) for answers in test_stacks.STACKS]

# Every check name, by its beginning, in the order the checks ran before they were registered.
TODAY = [
    "serving after install",
    "PostgreSQL: password stored",
    "PostgreSQL: switched to scram-sha-256",
    "ufw:",
    "join: the host's other pages",
    "join: the app's lines are root's",
    "join: the app over HTTPS",
    "join: the host's headers",
    "join: the app sees the request's scheme",
    "pages and links under the prefix",
    "static files from the proxy",
    "dash endpoints and callback",
    "django admin and its css",
    "browser:",
    "healthz reports the database",
    "outside the prefix is not a 5xx",
    "security headers once",
    "media: written by the app",
    "media: protected file",
    "CORS:",
    "request timeout: the proxy and the server agree",
    "request timeout: a slower request is cut",
    "hardening in force",
    "websockets: Daphne runs",
    "websockets: echo",
    "celery: the app's own Redis before the redeploys",
    "write a note",
    "stop: in time",
    "media: served while the app is stopped",
    "start: time to first 200",
    "the note survives the restart",
    "kill -9 master",
    "socket activation",
    "reload under load",
    "websockets: Daphne restarted by the redeploy",
    "releases: v1 kept",
    "releases: v3 failing /healthz",
    "releases: a step failing mid-deploy",
    "releases: install.sh --rollback",
    "releases: a new dependency",
    "celery: short settings",
    "celery: the broker is the app's own Redis",
    "celery: a job over HTTP",
    "celery: stopping the worker",
    "celery: kill -9 of the worker",
    "celery: a message Redis lost",
    "celery: beat runs",
    "celery: a worker on a second server",
    "backups: one taken before",
    "backups: the schedule is installed",
    "backups: a scheduled run",
    "backups: restore after",
    "secret key rotation",
    "redeploy removes stale files",
    "database password rotation",
    "user units pass systemd-analyze",
    "user unit hardening",
    "virtualenv from the Python under /opt",
    "one @reboot line",
    "boot path",
    "root loads only root's files",
    "the account's edits change nothing",
    "final stop",
]


def names(spec: Spec) -> list[str]:
    return [check.name for check in plan(spec)]


def today_index(name: str) -> int:
    found = [index for index, start in enumerate(TODAY) if name.startswith(start)]
    assert len(found) == 1, f"{name!r} matches {len(found)} entries of TODAY"
    return found[0]


def by_id(specs: list[Spec]) -> list:
    return [pytest.param(spec, id=spec.id) for spec in specs]


# ---------------------------------------------------------------- the one list


def test_phases_follow_each_other():
    phases = [PHASES.index(check.phase) for check in SEQUENCE]
    assert phases == sorted(phases), [(check.phase, check.name) for check in SEQUENCE]
    assert set(phases) == set(range(len(PHASES))), "a phase without checks"
    points = [STEP_POINTS.index(step.point) for step in STEPS]
    assert points == sorted(points), [(step.point, step.name) for step in STEPS]


def test_every_registered_check_is_in_the_list_once():
    """A check a module registers and the list forgets would never run: each module's CHECKS and STEPS are in
    SEQUENCE and STEPS, once each; and no two checks share a name (the report tells them apart by it)."""
    modules = [browser] + [importlib.import_module(f"tests.e2e.{path.stem}") for path in E2E.glob("scenario_*.py")]
    registered = [check for module in modules for check in getattr(module, "CHECKS", [])]
    assert len(registered) > 40, "the scenario modules register their checks in CHECKS"
    for check in registered:
        assert sum(check is listed for listed in SEQUENCE) == 1, check.name
    for step in [step for module in modules for step in getattr(module, "STEPS", [])]:
        assert sum(step is listed for listed in STEPS) == 1, step.name
    assert len({check.name for check in SEQUENCE}) == len(SEQUENCE)


@pytest.mark.parametrize("spec", by_id(SPECS))
def test_order_is_todays(spec):
    """Every name has its place in TODAY, and a stack's checks come in that order: the releases after the reload under
    load (whose install made the second release), the backups after the releases, the final stop last."""
    found = names(spec)
    order = [today_index(name) for name in found]
    assert order == sorted(order), found
    assert found[0] == "serving after install" and found[-1] == "final stop"


# ---------------------------------------------------------------- what a stack has decides its checks


def starting(found: list[str], *beginnings: str) -> list[str]:
    return [name for name in found if name.startswith(beginnings)]


@pytest.mark.parametrize("spec", by_id(SPECS))
def test_what_a_stack_has(spec):
    found = names(spec)
    systemd, postgresql = spec.supervisor == "systemd", spec.database == "postgresql"
    every_stack = [
        "serving after install",
        "pages and links under the prefix",
        "static files from the proxy",
        "healthz reports the database",
        "outside the prefix is not a 5xx",
        "security headers once",
        "write a note",
        "stop: in time, no orphans, maintenance page",
        "start: time to first 200",
        "the note survives the restart",
        "kill -9 master: recovery",
        "reload under load: zero failures, new code",
        "final stop",
    ]
    assert [name for name in found if name in every_stack] == every_stack
    assert ("dash endpoints and callback" in found) == (spec.framework == "dash")
    assert ("django admin and its css" in found) == (spec.framework == "django")
    pages = sum(has_page(spec) for _, _, has_page in browser.PAGES)
    audited = (spec.framework in ("dash", "django")) + pages if spec.name in browser.BROWSER_STACKS else 0
    assert len(starting(found, "browser:")) == audited
    assert ("hardening in force" in found) == (systemd and not spec.user_mode)
    assert ("socket activation: a request starts the stopped service" in found) == systemd
    assert ("secret key rotation takes effect on reload" in found) == (systemd or postgresql)
    assert ("redeploy removes stale files, keeps data" in found) == (systemd or postgresql)
    assert ("database password rotation" in found) == postgresql
    assert ("PostgreSQL: password stored as pg_hba.conf's rule expects" in found) == postgresql
    md5_as_root = spec.name in scenario_servers.MD5_STACKS and not spec.user_mode
    assert ("PostgreSQL: switched to scram-sha-256, the database step follows" in found) == md5_as_root
    assert len(starting(found, "ufw:")) == (1 if spec.name in scenario_servers.UFW_STACKS else 0)
    join = (5 if spec.framework == "django" else 4) if spec.join else 0
    assert len(starting(found, "join:")) == join
    media = (6 if spec.name == scenario_media.NGINX_STACK else 5) if spec.cors else 0
    assert len(starting(found, "media:", "CORS:", "request timeout:")) == media
    assert len(starting(found, "websockets:")) == (3 if spec.channels else 0)
    celery = 0
    if spec.celery:  # the run id before the redeploys; the job; the worker's stop, kill -9, a lost message, beat
        celery = 1 + 3 + (0 if spec.name in JOB_ONLY_STACKS else 4) + (1 if spec.name in WORKERHOST_STACKS else 0)
    assert len(starting(found, "celery:")) == celery
    releases = (5 if systemd else 4) if spec.name in RELEASE_STACKS else 0
    assert len(starting(found, "releases:")) == releases
    backups = (4 if BACKUP_STACKS[spec.name] else 3) if spec.name in BACKUP_STACKS else 0
    assert len(starting(found, "backups:")) == backups
    user_checks = {check.name for check in scenario_user.CHECKS}
    user_found = [name for name in found if name in user_checks]
    if not spec.user_mode:
        assert user_found == []
    elif systemd:
        assert user_found[:2] == ["user units pass systemd-analyze --user verify", "user unit hardening in force"]
    boot = spec.user_mode and spec.name in scenario_user.BOOT_STACKS
    assert ("boot path: the app answers without a login" in found) == boot
    assert ("one @reboot line in the crontab" in found) == (boot and spec.supervisor == "supervisord")
    assert ("root loads only root's files" in found) == (boot and spec.proxy != "none")


def test_the_options_are_the_answers_and_the_install_mode():
    """Each option word stands for what the stack has; the ids are unique and start with the report's name."""
    for spec in SPECS:
        answers = spec.answers
        assert ("celery" in spec.options) == (answers.get("task_queue") == "celery")
        assert ("channels" in spec.options) == (answers.get("websockets") == "channels")
        assert ("cors" in spec.options) == bool(answers.get("cors_origins"))
        assert spec.id.startswith(spec.name + "-") or spec.id == spec.name
        assert StackReport(spec.name, answers).name == spec.name
    assert len({spec.id for spec in SPECS}) == len(SPECS)
    # How many stacks have each, as test_stacks.py and tests/e2e/checks.py choose them.
    options = ("celery", "channels", "cors", "join")
    counts = {option: sum(option in spec.options for spec in SPECS) for option in options}
    assert counts == {"celery": 4, "channels": 3, "cors": 2, "join": 3}


# ---------------------------------------------------------------- setup steps


@pytest.mark.parametrize("spec", by_id(SPECS))
def test_setup_steps(spec):
    """The server as its user has it before the install; inside it, a Python under /opt, the administrator's site."""
    prepare = [
        *([scenario_servers.prepare_md5] if spec.name in scenario_servers.MD5_STACKS else []),
        *([scenario_servers.prepare_ufw] if spec.name in scenario_servers.UFW_STACKS else []),
        *([scenario_media.add_slow_page] if spec.name == scenario_media.NGINX_STACK else []),
    ]
    assert steps(spec, "prepare") == prepare
    opt_python = spec.user_mode and spec.name in scenario_user.OPT_PYTHON_STACKS
    checkout = [scenario_user.before_user_install] * opt_python + [scenario_join.prepare] * spec.join
    assert steps(spec, "checkout") == checkout
    assert steps(spec, "installed") == [scenario_join.finish] * spec.join


# ---------------------------------------------------------------- run_checks follows the plan


class Recorder:
    """Stands in for a booted Stack: records each check's name and fails those in `failing`."""

    def __init__(self, spec: Spec, failing: set[str] = frozenset()):
        self.spec = spec
        self.report = StackReport(spec.name, spec.answers)
        self.failing = failing
        self.installed_with: tuple = ()

    def check(self, name: str, function, *args) -> object:
        if name == "install":
            function(*args)  # sequence.install: calls self.install with the setup steps
        ok = name not in self.failing
        self.report.checks.append(Result(name, ok))
        return name if ok else None

    def install(self, at_checkout, when_installed) -> None:
        self.installed_with = (at_checkout, when_installed)

    def ran(self) -> list[str]:
        return [check.name for check in self.report.checks]


@pytest.mark.parametrize("spec", by_id(SPECS))
def test_run_checks_runs_the_plan(spec, monkeypatch):
    monkeypatch.setattr(browser, "find_chromium", lambda: "/usr/bin/chromium")
    monkeypatch.setattr(browser, "AXE", Path(__file__))  # any file: axe-core "installed"
    stack = Recorder(spec)
    run_checks(stack)
    assert stack.ran() == ["install", *names(spec)]
    assert stack.installed_with == (steps(spec, "checkout"), steps(spec, "installed"))
    assert "skipped" not in stack.report.metrics


def test_a_failed_install_stops_the_stack():
    stack = Recorder(SPECS[0], failing={"install"})
    run_checks(stack)
    assert stack.ran() == ["install"]


def test_no_note_no_note_check(monkeypatch):
    """The note is looked for after the restart only if it was written; the redeploy check runs either way."""
    monkeypatch.setattr(browser, "find_chromium", lambda: "/usr/bin/chromium")
    monkeypatch.setattr(browser, "AXE", Path(__file__))
    stack = Recorder(SPECS[-1], failing={"write a note"})
    run_checks(stack)
    assert "the note survives the restart" not in stack.ran()
    assert stack.ran()[1:] == [name for name in names(SPECS[-1]) if name != "the note survives the restart"]
    assert "redeploy removes stale files, keeps data" in stack.ran()


def test_without_chromium_the_browser_checks_are_left_out_with_the_reason(monkeypatch):
    monkeypatch.setattr(browser, "find_chromium", lambda: None)
    monkeypatch.setattr(browser, "AXE", Path(__file__))  # axe-core there, Chromium not: one reason, Chromium's
    spec = next(spec for spec in SPECS if spec.name in browser.BROWSER_STACKS)
    stack = Recorder(spec)
    run_checks(stack)
    assert stack.ran() == ["install", *(name for name in names(spec) if not name.startswith("browser:"))]
    assert len(stack.report.metrics["skipped"]) == 1 and "chromium" in stack.report.metrics["skipped"][0]


# ---------------------------------------------------------------- imports one way


def e2e_imports(path: Path) -> tuple[set[str], set[str]]:
    """The tests.e2e modules `path` imports: at its top level, and inside functions (deferred)."""
    tree = ast.parse(path.read_text())
    top, deferred = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        found = {module.removeprefix("tests.e2e.") for module in modules if module.startswith("tests.e2e.")}
        found = {module for module in found if (E2E / f"{module}.py").exists()}
        (top if node in tree.body else deferred).update(found)
    return top, deferred


def test_imports_go_one_way():
    """stack.py and checks.py import no scenario module; the scenario modules import them; only sequence.py imports
    the scenarios for the list; nothing imports inside a function to break a circle."""
    for path in sorted(E2E.glob("*.py")):
        top, deferred = e2e_imports(path)
        assert not deferred, f"{path.name} imports {deferred} inside a function"
        if path.stem == "checks":
            assert top == set(), top
        if path.stem == "stack":
            assert top == {"checks"}, top
        if path.stem.startswith("scenario_") or path.stem == "browser":
            assert "sequence" not in top, path.name


# ---------------------------------------------------------------- -k selects by option

KEYWORDS = {
    "celery": lambda spec: spec.answers.get("task_queue") == "celery",
    "channels": lambda spec: spec.answers.get("websockets") == "channels",
    "cors": lambda spec: bool(spec.answers.get("cors_origins")),
    "user": lambda spec: spec.user_mode,
    "join": lambda spec: spec.join,
    "postgresql": lambda spec: spec.database == "postgresql",
    "supervisord": lambda spec: spec.supervisor == "supervisord",
    # `-k systemd` alone matches every stack: the `systemd` marker (a container with systemd) is a keyword of each.
    "systemd-": lambda spec: spec.supervisor == "systemd",
    "celery and not user": lambda spec: spec.celery and not spec.user_mode,
    "flask-gunicorn-nginx-systemd-sqlite": lambda spec: spec.name == "flask-gunicorn-nginx-systemd-sqlite",
}


@pytest.fixture(scope="module")
def selected() -> dict[str, list[str]]:
    """`pytest --collect-only -q -m e2e -k KEYWORD tests/e2e/test_stacks.py` for each keyword, at once."""
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "e2e", "tests/e2e/test_stacks.py", "-k"]
    runs = {
        keyword: subprocess.Popen(
            [*command, keyword], cwd=TEMPLATE_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for keyword in KEYWORDS
    }
    found = {}
    for keyword, run in runs.items():
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, f"-k {keyword}: {out}{err}"
        found[keyword] = [line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "::test_stack[" in line]
    return found


@pytest.mark.parametrize("keyword", KEYWORDS)
def test_k_selects_the_stacks_with_the_option(keyword, selected):
    wanted = [spec.id for spec in SPECS if KEYWORDS[keyword](spec)]
    assert wanted, json.dumps(keyword)
    assert selected[keyword] == wanted
