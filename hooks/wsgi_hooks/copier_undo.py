"""Take back what `copier copy` wrote when its task refuses the answers.

Copier renders the project before its task can check the answers (it has no pre-generation hook), and on a failed
task it removes the destination only when it created that directory. Into an existing directory it would leave the
rendered files beside the user's. This removes the template's paths that this run created, and nothing else: a path
counts as created when the file system's birth time of it is later than the start of copier's process (the task's
parent). Files that were there before, identical or overwritten with --overwrite, are the user's and stay; where birth
times are unknown nothing is removed and the caller is told.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from jinja2.sandbox import SandboxedEnvironment

TEMPLATE_TREE = Path(__file__).resolve().parents[2] / "{{cookiecutter.project_slug}}"


def template_paths(answers: dict, answers_file: str, tree: Path = TEMPLATE_TREE) -> list[Path]:
    """The project's paths as copier names them from `tree`: each name rendered, an empty name skipped with what is
    below it (copier's rule). Relative to the project, parents before their contents."""
    environment = SandboxedEnvironment()
    context = {"cookiecutter": answers, "_copier_conf": {"answers_file": answers_file}}
    paths = []

    def walk(source: Path, target: Path) -> None:
        for entry in sorted(source.iterdir()):
            name = environment.from_string(entry.name).render(context)
            if not name or name == ".git":
                continue
            paths.append(target / name)
            if entry.is_dir():
                walk(entry, target / name)

    walk(tree, Path())
    return paths


def process_start(pid: int) -> float | None:
    """Wall-clock time process `pid` started: from /proc on Linux (to the clock tick), else from ps (to the second,
    taken a second early). None when neither can tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        started_after_boot = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return time.time() - (time.clock_gettime(time.CLOCK_BOOTTIME) - started_after_boot)
    except (OSError, IndexError, ValueError, AttributeError):
        pass
    try:
        elapsed = subprocess.run(["ps", "-o", "etime=", "-p", str(pid)], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    seconds = 0
    days, _, clock = elapsed.stdout.strip().rpartition("-")
    for part in clock.split(":"):
        seconds = seconds * 60 + int(part)
    return time.time() - seconds - int(days or 0) * 86400 - 1


def birth_times(paths: list[Path]) -> dict[Path, float]:
    """Birth time of each path that has a known one (st_birthtime where Python has it, else GNU stat's %W)."""
    if not paths:
        return {}
    if hasattr(os.stat_result, "st_birthtime"):
        return {path: path.lstat().st_birthtime for path in paths}
    if shutil.which("stat") is None:
        return {}
    result = subprocess.run(
        ["stat", "--format=%.9W", "--", *map(str, paths)], capture_output=True, text=True, check=False
    )
    times = result.stdout.split() if result.returncode == 0 else []
    if len(times) != len(paths):
        return {}
    return {path: float(value) for path, value in zip(paths, times, strict=True) if float(value) > 0}


def remove_created(project: Path, answers: dict, answers_file: str) -> list[Path] | None:
    """Remove the template's paths under `project` that this copier run created (deepest first, a directory only
    once it is empty); return them. None when birth times or copier's start cannot be known: nothing removed."""
    started = process_start(os.getppid())
    present = [project / path for path in template_paths(answers, answers_file) if (project / path).is_symlink()
               or (project / path).exists()]  # fmt: skip
    born = birth_times(present)
    if started is None or (present and not born):
        return None
    removed = []
    for path in reversed(present):
        if born.get(path, 0) < started:
            continue
        if path.is_dir() and not path.is_symlink():
            if any(path.iterdir()):
                continue
            path.rmdir()
        else:
            path.unlink()
        removed.append(path)
    return removed


def take_back(project: Path, answers: dict, answers_file: str) -> None:
    """Remove what this run wrote and say what happened, on stderr beside the refusal."""
    try:
        removed = remove_created(project, answers, answers_file)
    except (OSError, ValueError) as error:  # the refusal stays the message; this only says what is left
        print(f"copier's files in {project} could not all be removed ({error})", file=sys.stderr)
        return
    if removed is None:
        print(
            f"copier wrote the project's files into {project} before the answers could be checked, and this system "
            "cannot tell which of them are new: remove them by hand (see copier's 'create' lines above).",
            file=sys.stderr,
        )
    elif removed:
        print(f"Nothing kept: the {len(removed)} paths copier wrote are removed again.", file=sys.stderr)
