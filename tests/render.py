"""Render the template with either tool, in-process, the way the tests need it."""

import contextlib
import io
import itertools
import json
import subprocess
import sys
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
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


def valid_for(answers: dict) -> dict:
    """Adjust answers so the combination is accepted: proxy=none needs bind=tcp and tls=none."""
    answers = dict(answers)
    if answers.get("proxy") == "none":
        answers["bind"] = "tcp"
        answers["tls"] = "none"
    return answers


def generate_with_cli(tool: str, destination: Path, answers: dict, template: Path = TEMPLATE_ROOT):
    """Run the tool's command line as a user would, no prompts; returns the CompletedProcess (never raises).

    cookiecutter names the project directory itself: `destination`'s name must be the slug. The command runs in
    `destination`'s parent: cookiecutter puts the template on the END of sys.path, so a local_extensions.py in the
    current directory (this repository's) would otherwise win over another template copy's.
    """
    if tool == "cookiecutter":
        assignments = [f"{key}={value}" for key, value in answers.items()]
        command = ["cookiecutter", "--no-input", "-o", str(destination.parent), str(template), *assignments]
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
