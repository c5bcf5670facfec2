"""Render time: cookiecutter against copier, per combination, from the command line a user types; the whole matrix of
stack answers in one process; and a `copier update` between two tagged versions of this template."""

import itertools
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.measure import median, spread
from tests.render import CHOICES, TEMPLATE_ROOT, accepted, generate_with_cli, render_cookiecutter
from tests.template_versions import V1, V2, build_template_repository, git

COMBINATIONS = {
    "defaults (flask, gunicorn, nginx, systemd, sqlite)": {},
    "django, uwsgi, apache, supervisord, postgresql, /eegqc": {
        "framework": "django",
        "server": "uwsgi",
        "proxy": "apache",
        "supervisor": "supervisord",
        "database": "postgresql",
        "url_prefix": "/eegqc",
    },
    "dash, uwsgi, no proxy, tcp": {"framework": "dash", "server": "uwsgi", "proxy": "none", "bind": "tcp"},
}
STACK_QUESTIONS = ["framework", "server", "proxy", "supervisor", "database"]


def timed_cli(tool: str, answers: dict, template: Path = TEMPLATE_ROOT) -> float:
    with tempfile.TemporaryDirectory() as directory:
        destination = Path(directory) / "my-web-app"
        start = time.perf_counter()
        result = generate_with_cli(tool, destination, answers, template)
        seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{tool} failed: {result.stderr[-2000:]}")
    return seconds


def per_combination(repeats: int) -> list[str]:
    lines = [
        "## Rendering: one project from the command line",
        "",
        f"`cookiecutter --no-input` and `copier copy --trust --defaults` from a fresh clone of this checkout's HEAD"
        f" (what a user has after `git clone`), {repeats} times each, alternating (the first of each discarded: a cold"
        " cache); seconds, median (lowest to highest).",
        "",
        "| answers | cookiecutter | copier | copier / cookiecutter |",
        "|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as directory:
        # Copier clones a git template before rendering and deletes the clone after: a local clone hard-links every
        # loose object of the source, so a long-lived checkout would bill copier for its own history.
        clone = Path(directory) / "template"
        subprocess.run(["git", "clone", "-q", "--no-local", str(TEMPLATE_ROOT), str(clone)], check=True)
        for label, answers in COMBINATIONS.items():
            times = {"cookiecutter": [], "copier": []}
            for _ in range(repeats + 1):
                for tool in times:
                    times[tool].append(timed_cli(tool, answers, clone))
            cookiecutter, copier = (times[tool][1:] for tool in times)
            lines.append(
                f"| {label} | {median(cookiecutter):.3f} ({spread(cookiecutter)}) | {median(copier):.3f} "
                f"({spread(copier)}) | {median(copier) / median(cookiecutter):.2f} |"
            )
        from_checkout, from_clone = [], []
        for _ in range(repeats):
            from_checkout.append(timed_cli("copier", {}))
            from_clone.append(timed_cli("copier", {}, clone))
    python_start = [time_command([sys.executable, "-c", "import cookiecutter.main"]) for _ in range(5)]
    copier_start = [time_command([sys.executable, "-c", "import copier._cli"]) for _ in range(5)]
    lines += [
        "",
        f"Of that, starting Python and importing cookiecutter takes {median(python_start):.3f} s, copier"
        f" {median(copier_start):.3f} s. Copier with the default answers from this checkout itself rather than a fresh"
        f" clone: {median(from_checkout):.3f} s ({spread(from_checkout)}), against {median(from_clone):.3f} s"
        f" ({spread(from_clone)}) in the same loop ({loose_objects()} loose objects here).",
        "",
    ]
    return lines


def loose_objects() -> str:
    """`count` of `git count-objects`: what copier's local clone copies one file at a time."""
    result = subprocess.run(["git", "count-objects"], cwd=TEMPLATE_ROOT, capture_output=True, text=True, check=False)
    return result.stdout.split(" ", 1)[0] or "?"


def time_command(command: list[str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def whole_matrix() -> list[str]:
    combinations = [
        dict(zip(STACK_QUESTIONS, values, strict=True))
        for values in itertools.product(*(CHOICES[key] for key in STACK_QUESTIONS))
    ]
    kept = [answers for answers in combinations if accepted(answers)]
    times = []
    with tempfile.TemporaryDirectory() as directory:
        for index, answers in enumerate(kept):
            start = time.perf_counter()
            render_cookiecutter(Path(directory) / str(index), **answers)
            times.append(time.perf_counter() - start)
    return [
        "## Rendering: the whole matrix",
        "",
        f"Every accepted combination of {', '.join(STACK_QUESTIONS)} ({len(kept)} of {len(combinations)}), rendered by"
        f" cookiecutter in one process: {sum(times):.1f} s in all, {median(times):.3f} s median per project"
        f" ({spread(times)}).",
        "",
    ]


def copier_update(repeats: int) -> list[str]:
    times = []
    with tempfile.TemporaryDirectory() as directory:
        template = build_template_repository(Path(directory))
        for index in range(repeats):
            project = Path(directory) / f"project-{index}"
            copy = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--vcs-ref", V1]
            subprocess.run([*copy, str(template), str(project)], check=True, capture_output=True)
            git(project, "init", "-q", "-b", "main")
            git(project, "add", "-A")
            git(project, "commit", "-qm", "v1")
            update = [sys.executable, "-m", "copier", "update", "--trust", "--defaults", "--vcs-ref", V2]
            times.append(time_command(update, cwd=project))
    return [
        "## `copier update` from v1 to v2",
        "",
        f"A project generated at v1 and committed, updated to v2 (tests/template_versions.py: a changed deploy line, a"
        f" new file, a new question): {median(times):.2f} s median of {repeats} ({spread(times)}).",
        "",
    ]


def run_render(repeats: int) -> list[str]:
    assert TEMPLATE_ROOT.is_dir()
    return [*per_combination(repeats), *whole_matrix(), *copier_update(max(3, repeats // 2))]
