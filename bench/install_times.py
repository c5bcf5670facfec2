"""Install times: a first install and a redeploy with unchanged dependencies, the old shell installer against the
new deploy engine, on the same stack; writes build/reports/install-times.md (and prints it).

    python -m bench.install_times [--rounds 5] [--stack NAME ...] [--old REF] [--new REF] [--trace]

As root (systemd-nspawn; TESTBED_DIR names the testbed, as for the end-to-end tests). The project is rendered once
from each template: the old one from commit REF of this repository (the last with the shell installer), the new one
from this checkout's working tree. Each round boots a fresh container per variant, copies the project to a checkout
on the "server" and times `deploy/install.sh --no-packages` as root (the first install), then changes one line of the
app's code and times the same command again (the redeploy: the dependencies are the same, so both installers reuse
the app's virtualenv). Old and new alternate, which goes first too, so the noise of a shared machine falls on both.

pip installs from the testbed's wheelhouse, offline, as in the end-to-end tests. The new engine's first install
includes making its deploy tools' own virtualenv (pyinfra from deploy/requirements.txt): a new server has none, so
that cost is counted, and reported apart as well; its redeploy finds it made. --trace keeps each install's output
with the second each line came at (where the time goes), at a small cost to the timings.
"""

import argparse
import contextlib
import datetime
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.measure import machine, median, spread
from tests.render import TEMPLATE_ROOT, generate_with_cli

REPORT = TEMPLATE_ROOT / "build" / "reports" / "install-times.md"
TRACES = TEMPLATE_ROOT / "build" / "reports" / "install-times"
TRACES_NOTE = "build/reports/install-times/STACK-VARIANT-ROUND-STEP.log"
WORK = TEMPLATE_ROOT / "build" / "bench" / "install-times"
# The last commit whose generated deploy/install.sh is the shell installer (deploy/steps/*.sh).
SHELL_INSTALLER = "373de2d"
STACKS = {
    "flask-gunicorn-nginx-systemd-sqlite": ("flask", "gunicorn"),
    "django-uwsgi-nginx-systemd-sqlite": ("django", "uwsgi"),
}
VARIANTS = ("old", "new")
LABELS = {"old": "old (shell)", "new": "new (engine)"}
SLUG = "my-web-app"
PACKAGE = "my_web_app"
CHECKOUT = "/root/checkout"
CODE_DIR = f"/srv/{SLUG}/current"
HEALTHZ = "http://127.0.0.1/eegqc/healthz"
INSTALL_TIMEOUT = 1800  # a loaded machine: the first install's pip runs take minutes
# --trace: each line of the installer's output (stdout and stderr) after the time it was written at (bash's own clock,
# no process per line).
STAMP_LINES = (
    'set -o pipefail; "$@" 2>&1 | while IFS= read -r line || [[ -n $line ]];'
    ' do printf "%s %s\\n" "$EPOCHREALTIME" "$line"; done'
)
# The one line the redeploy changes: the package's docstring, replaced by one carrying a fresh mark.
CHANGE_LINE = """import sys
path, mark = sys.argv[1:]
lines = open(path).read().split("\\n")
assert lines[0].startswith('\"\"\"') and lines[0].endswith('\"\"\"'), lines[0]
lines[0] = f'\"\"\"Redeployed: {mark}.\"\"\"'
open(path, "w").write("\\n".join(lines))
"""


@dataclass
class Round:
    first_install: float
    redeploy: float
    tools: float | None = None  # the new engine's deploy tools' virtualenv, within the first install


@dataclass
class Timings:
    rounds: dict[str, list[Round]] = field(default_factory=lambda: {variant: [] for variant in VARIANTS})


# ---------------------------------------------------------------- the two templates, the projects, the wheels


def template_at(ref: str) -> Path:
    """The template at commit `ref` of this repository, extracted once into the bench's directory."""
    destination = WORK / f"template-{ref}"
    if not (destination / "cookiecutter.json").is_file():
        shutil.rmtree(destination, ignore_errors=True)
        destination.mkdir(parents=True)
        archive = WORK / f"template-{ref}.tar"
        subprocess.run(["git", "-C", str(TEMPLATE_ROOT), "archive", f"--output={archive}", ref], check=True)
        subprocess.run(["tar", "-xf", str(archive), "-C", str(destination)], check=True)
        archive.unlink()
    return destination


def stack_answers(name: str) -> dict:
    framework, server = STACKS[name]
    return {
        "framework": framework,
        "server": server,
        "proxy": "nginx",
        "supervisor": "systemd",
        "database": "sqlite",
        "url_prefix": "/eegqc",
    }


def render(template: Path, answers: dict, directory: Path) -> Path:
    """With the cookiecutter command, in a process of its own: the two templates' local_extensions must not meet."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    project = directory / SLUG
    result = generate_with_cli("cookiecutter", project, answers, template)
    if result.returncode != 0:
        raise RuntimeError(f"cookiecutter from {template} failed:\n{result.stderr[-3000:]}")
    return project


def ensure_wheels(projects: list[Path]) -> None:
    """The wheelhouse of the end-to-end tests (tests/e2e/stack.py: every stack's dependencies and the deploy tools of
    this checkout), plus whatever a benchmarked project needs beyond it (a template at another commit)."""
    from tests.e2e.stack import BUILD_SCRIPT, dependencies, deploy_tools, ensure_wheelhouse

    def requirements(project: Path) -> set[str]:
        tools = deploy_tools(project) if (project / "deploy" / "requirements.txt").is_file() else []
        return {*dependencies(project), *tools}

    with tempfile.TemporaryDirectory() as scratch:
        ensure_wheelhouse(Path(scratch))
        covered = {
            "supervisor",
            *(r for toml in Path(scratch).glob("*/*/pyproject.toml") for r in requirements(toml.parent)),
        }
    extra = sorted(set().union(*map(requirements, projects)) - covered)
    if extra:
        listing = WORK / "extra-requirements.txt"
        listing.write_text("\n".join(extra) + "\n")
        subprocess.run(["bash", str(BUILD_SCRIPT), "--wheels", "-r", str(listing)], check=True, timeout=900)


# ---------------------------------------------------------------- one round: boot, install, change a line, redeploy


def timed_install(testbed, trace: Path | None) -> tuple[float, float]:
    """Seconds `install.sh --no-packages` took, and the wall-clock time it started at (the container shares the
    host's clock). With `trace`, its output goes there, each line after the second it was written at."""
    command = [f"{CHECKOUT}/deploy/install.sh", "--no-packages"]
    if trace:
        command = ["bash", "-c", STAMP_LINES, "stamp", *command]
    started_at = time.time()
    started = time.perf_counter()
    result = testbed.run(command, check=False, timeout=INSTALL_TIMEOUT)
    seconds = time.perf_counter() - started
    if trace:
        trace.parent.mkdir(parents=True, exist_ok=True)
        stamped = (line.partition(" ") for line in result.stdout.splitlines())
        trace.write_text("".join(f"{float(at) - started_at:7.2f} {text}\n" for at, _, text in stamped))
    if result.returncode != 0:
        output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        raise RuntimeError(f"install.sh failed ({result.returncode}):\n{output}")
    return seconds, started_at


def check_healthy(testbed) -> None:
    response = testbed.curl(HEALTHZ, "-H", "Host: localhost", check=False)
    if response.status != 200:
        raise RuntimeError(f"{HEALTHZ} -> {response.status or response.error} after install.sh")


def tools_seconds(testbed, started_at: float) -> float | None:
    """From the install's start until the deploy tools' virtualenv was complete (install.sh touches its .complete
    before it runs the deploy); None without one (the shell installer)."""
    find = ["find", "/root/.cache", "-path", f"*/{SLUG}-deploy/*/.complete", "-printf", "%T@\n"]
    found = testbed.run(find, check=False).stdout.split()
    return float(found[0]) - started_at if found else None


def one_round(project: Path, trace: Path | None = None) -> Round:
    """A fresh container: the first install, one line changed, the redeploy. With `trace`, the installers' stamped
    output goes to TRACE-first-install.log and TRACE-redeploy.log."""
    from tests.nspawn import PROJECT_MOUNT, Testbed

    def trace_file(step: str) -> Path | None:
        return trace.with_name(f"{trace.name}-{step}.log") if trace else None

    with Testbed(project=project, boot_timeout=180, stop_timeout=60) as testbed:
        testbed.run(["cp", "-a", PROJECT_MOUNT, CHECKOUT])
        first_install, started_at = timed_install(testbed, trace_file("first-install"))
        check_healthy(testbed)
        tools = tools_seconds(testbed, started_at)
        mark = secrets.token_hex(6)
        testbed.run(["python3", "-c", CHANGE_LINE, f"{CHECKOUT}/{PACKAGE}/__init__.py", mark])
        redeploy, _ = timed_install(testbed, trace_file("redeploy"))
        check_healthy(testbed)
        if mark not in testbed.run(["head", "-1", f"{CODE_DIR}/{PACKAGE}/__init__.py"]).stdout:
            raise RuntimeError("the redeploy did not put the changed line live")
    return Round(first_install, redeploy, tools)


# ---------------------------------------------------------------- the report


def cell(values: list[float]) -> str:
    return f"{median(values):.1f} ({spread(values)})"


def stack_rows(name: str, timings: Timings) -> list[str]:
    """Per step: each variant's median (lowest to highest), the ratio of the medians, and the median of the rounds'
    own ratios (each new run beside the old one of its round, so a load that drifts between rounds cancels)."""
    old, new = timings.rounds["old"], timings.rounds["new"]
    rows = []
    for step, label in (("first_install", "first install"), ("redeploy", "redeploy, unchanged dependencies")):
        old_values = [getattr(result, step) for result in old]
        new_values = [getattr(result, step) for result in new]
        paired = [n / o for o, n in zip(old_values, new_values, strict=True)]
        rows.append(
            f"| {name} | {label} | {cell(old_values)} | {cell(new_values)} | "
            f"{median(new_values) / median(old_values):.2f} | {median(paired):.2f} ({spread(paired)}) |"
        )
    return rows


def report(
    timings: dict[str, Timings], arguments: argparse.Namespace, host: str, elapsed: float, loads: tuple[str, str]
) -> list[str]:
    rounds = arguments.rounds
    new = f"the template at {arguments.new}" if arguments.new else f"this checkout ({head()})"
    lines = [
        "# Install times: the shell installer against the deploy engine",
        "",
        f"Run {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC with `python -m bench.install_times"
        f" {' '.join(sys.argv[1:])}`; old: the template at {arguments.old} (deploy/install.sh in shell), new: {new}"
        f" (deploy/engine on pyinfra). Machine: {host}",
        "",
        f"Seconds of `deploy/install.sh --no-packages` as root in a fresh systemd-nspawn container per round and"
        f" variant, pip offline from the testbed's wheelhouse; median (lowest to highest) of {rounds} rounds, old and"
        " new alternating. The redeploy follows the first install in the same container after one line of the app's"
        " code changed (same dependencies: both reuse the app's virtualenv).",
        "",
        "| stack | step | old (shell) | new (engine) | new / old (medians) | new / old (per round) |",
        "|---|---|---|---|---|---|",
    ]
    for name, stack_timings in timings.items():
        lines += stack_rows(name, stack_timings)
    lines.append("")
    for name, stack_timings in timings.items():
        made = [result for result in stack_timings.rounds["new"] if result.tools is not None]
        if made:
            tools = [result.tools for result in made]
            rest = [result.first_install - result.tools for result in made]
            lines.append(
                f"- {name}: the new first install includes making the deploy tools' virtualenv (pyinfra and its"
                f" dependencies, pip from the wheelhouse), as on a new server: {cell(tools)} s of it (from the start"
                f" of install.sh until that virtualenv is complete), the rest {cell(rest)} s. The redeploy reuses it."
            )
    lines += ["", "Each round (first install / redeploy, seconds; the new one's deploy tools in brackets):", ""]
    for name, stack_timings in timings.items():
        for variant in VARIANTS:
            each = ", ".join(
                f"{result.first_install:.1f}"
                + (f" [{result.tools:.1f}]" if result.tools is not None else "")
                + f" / {result.redeploy:.1f}"
                for result in stack_timings.rounds[variant]
            )
            lines.append(f"- {name}, {LABELS[variant]}: {each}")
    lines += [
        "",
        f"Load average at the start and the end: {loads[0]}; {loads[1]}. Whole run: {elapsed / 60:.1f} minutes.",
    ]
    return lines


def head() -> str:
    """This checkout's commit, and whether its working tree differs from it."""
    commit = subprocess.run(
        ["git", "-C", str(TEMPLATE_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "-C", str(TEMPLATE_ROOT), "status", "--porcelain"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return f"{commit}, with uncommitted changes" if changed else commit


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """File descriptor 1 onto 2, for subprocesses too, for the time of the block."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stack", action="append", choices=list(STACKS), help="repeatable; default: the first")
    parser.add_argument("--old", default=SHELL_INSTALLER, help="the old template's commit (default %(default)s)")
    parser.add_argument("--new", help="the new template's commit (default: this checkout's working tree)")
    parser.add_argument("--trace", action="store_true", help=f"each install's output, timed, into {TRACES_NOTE}")
    arguments = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("systemd-nspawn needs root")
    import pytest  # the testbed skips through pytest's exception when it cannot run

    names = arguments.stack or [next(iter(STACKS))]
    started, start_load, host = time.monotonic(), load_average(), machine()
    templates = {
        "old": template_at(arguments.old),
        "new": template_at(arguments.new) if arguments.new else TEMPLATE_ROOT,
    }
    projects = {
        (name, variant): render(templates[variant], stack_answers(name), WORK / name / variant)
        for name in names
        for variant in VARIANTS
    }
    timings = {name: Timings() for name in names}
    try:
        with stdout_to_stderr():  # the renders' hooks and the wheel builds talk: stdout is the report's
            ensure_wheels(list(projects.values()))
        for index in range(arguments.rounds):
            for name in names:
                for variant in VARIANTS if index % 2 == 0 else VARIANTS[::-1]:
                    trace = TRACES / f"{name}-{variant}-{index + 1}" if arguments.trace else None
                    result = one_round(projects[name, variant], trace)
                    timings[name].rounds[variant].append(result)
                    tools = f", of which deploy tools {result.tools:.1f} s" if result.tools is not None else ""
                    print(
                        f"round {index + 1}/{arguments.rounds} {name} {variant}: first install"
                        f" {result.first_install:.1f} s{tools}, redeploy {result.redeploy:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
    except pytest.skip.Exception as error:
        print(f"install_times: cannot run: {error}", file=sys.stderr)
        return 2
    lines = report(timings, arguments, host, time.monotonic() - started, (start_load, load_average()))
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\nwritten to {REPORT.relative_to(TEMPLATE_ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
