"""Render the template with either tool, in-process, the way the tests need it."""

import contextlib
import io
import itertools
import json
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
