"""Render the template with either tool, in-process, the way the tests need it."""

import contextlib
import functools
import io
import itertools
import json
import subprocess
import sys
from pathlib import Path

from cookiecutter.environment import StrictEnvironment
from cookiecutter.main import cookiecutter

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
# The hooks import their plugins as `wsgi_hooks.plugins.<name>`, so hooks/ itself must be importable (as in the hooks).
if str(TEMPLATE_ROOT / "hooks") not in sys.path:
    sys.path.insert(0, str(TEMPLATE_ROOT / "hooks"))
from wsgi_hooks.plugin_api import option_problems  # noqa: E402

PROMPTS = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text())
DEFAULTS = {
    key: value[0] if isinstance(value, list) else value for key, value in PROMPTS.items() if not key.startswith("_")
}
CHOICES = {key: value for key, value in PROMPTS.items() if isinstance(value, list) and not key.startswith("_")}


def render_cookiecutter(output_dir: Path, **answers) -> Path:
    """Generate a project with cookiecutter, no prompts; returns its directory. Hook output is swallowed."""
    with contextlib.redirect_stdout(io.StringIO()):
        project = cookiecutter(
            str(TEMPLATE_ROOT),
            no_input=True,
            extra_context=answers,
            output_dir=str(output_dir),
            overwrite_if_exists=False,
        )
    return Path(project)


def render_copier(destination: Path, **answers) -> Path:
    """Generate a project with copier from the working tree (uncommitted changes included)."""
    import warnings

    from copier import run_copy

    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        run_copy(str(TEMPLATE_ROOT), destination, data=answers, defaults=True, unsafe=True, vcs_ref="HEAD", quiet=True)
    return destination


def combinations(*keys: str) -> list[dict]:
    """Every combination of the choice answers named by `keys`."""
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(CHOICES[key] for key in keys))]


@functools.cache
def default_template(text: str):
    """A Jinja default compiled once (compiling costs far more than rendering, and the matrices render thousands)."""
    environment = StrictEnvironment(context={"cookiecutter": PROMPTS}, **PROMPTS["_jinja2_env_vars"])
    return environment.from_string(text)


def hook_answers(answers: dict) -> dict:
    """The context cookiecutter's no-input prompt builds, so the hooks' answers: `answers`, the other defaults and
    the derived keys rendered in prompt order, private settings as they are."""
    context = {}
    for key, default in PROMPTS.items():
        if key == "__prompts__":
            continue
        if key.startswith("_") and not key.startswith("__"):
            context[key] = default
        elif key in answers:
            context[key] = answers[key]
        elif isinstance(default, list):
            context[key] = default[0]
        elif isinstance(default, str):
            context[key] = default_template(default).render(cookiecutter=context)
        else:
            context[key] = default
    return context


def refusals(answers: dict) -> list[str]:
    """Why the hooks refuse these answers (the others at their defaults), by the hooks' own rule; [] if accepted."""
    return option_problems(hook_answers(answers))


def accepted(answers: dict) -> bool:
    return not refusals(answers)


def valid_for(answers: dict) -> dict:
    """`answers` plus the fewest changes to the other choice answers that make a combination the hooks accept."""
    free = [key for key in CHOICES if key not in answers]
    for count in range(len(free) + 1):
        for keys in itertools.combinations(free, count):
            for values in itertools.product(*(CHOICES[key][1:] for key in keys)):
                candidate = {**answers, **dict(zip(keys, values, strict=True))}
                if accepted(candidate):
                    return candidate
    raise ValueError(f"no choice of the other answers makes {answers} acceptable: {refusals(answers)}")


def generate_with_cli(
    tool: str, destination: Path, answers: dict, template: Path = TEMPLATE_ROOT, *, into_existing: bool = False
):
    """Run the tool's command line as a user would, no prompts; returns the CompletedProcess (never raises).

    cookiecutter names the project directory itself: `destination`'s name must be the slug. The command runs in
    `destination`'s parent: cookiecutter puts the template on the END of sys.path, so a local_extensions.py in the
    current directory (this repository's) would otherwise win over another template copy's. `into_existing`: the
    destination exists, which cookiecutter accepts with --overwrite-if-exists (copier as it is).
    """
    if tool == "cookiecutter":
        assignments = [f"{key}={value}" for key, value in answers.items()]
        overwrite = ["--overwrite-if-exists"] if into_existing else []
        command = ["cookiecutter", "--no-input", *overwrite, "-o", str(destination.parent), str(template), *assignments]
    else:
        data = [argument for key, value in answers.items() for argument in ("-d", f"{key}={value}")]
        command = [
            "copier",
            "copy",
            "--trust",
            "--defaults",
            "--vcs-ref",
            "HEAD",
            *data,
            str(template),
            str(destination),
        ]
    return subprocess.run(
        [sys.executable, "-m", *command],
        cwd=destination.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
