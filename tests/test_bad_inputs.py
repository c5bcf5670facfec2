"""Both command-line tools refuse each bad answer: non-zero exit, the field and rule named, nothing left on disk."""

import subprocess
import sys

import pytest

from tests.bad_inputs import BAD_INPUTS
from tests.render import TEMPLATE_ROOT


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *command], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(("changes", "message"), BAD_INPUTS)
def test_cookiecutter_refuses(tmp_path, changes, message):
    output = tmp_path / "out"
    output.mkdir()
    assignments = [f"{key}={value}" for key, value in changes.items()]
    result = run("cookiecutter", "--no-input", "-o", str(output), str(TEMPLATE_ROOT), *assignments)
    assert result.returncode != 0
    assert f"error: {message}" in result.stderr
    assert list(output.iterdir()) == [], "a refused project must leave nothing behind"


@pytest.mark.parametrize(("changes", "message"), BAD_INPUTS)
def test_copier_refuses(tmp_path, changes, message):
    destination = tmp_path / "project"
    assignments = [argument for key, value in changes.items() for argument in ("-d", f"{key}={value}")]
    result = run(
        "copier",
        "copy",
        "--trust",
        "--defaults",
        "--vcs-ref",
        "HEAD",
        *assignments,
        str(TEMPLATE_ROOT),
        str(destination),
    )
    assert result.returncode != 0
    assert f"error: {message}" in result.stderr
    assert not destination.exists(), "a refused project must leave nothing behind"


@pytest.mark.parametrize("tool", ["cookiecutter", "copier"])
def test_a_choice_outside_the_list_is_refused(tmp_path, tool):
    if tool == "cookiecutter":
        result = run("cookiecutter", "--no-input", "-o", str(tmp_path), str(TEMPLATE_ROOT), "framework=bottle")
    else:
        result = run(
            "copier", "copy", "--trust", "--defaults", "-d", "framework=bottle", str(TEMPLATE_ROOT), str(tmp_path / "p")
        )
    assert result.returncode != 0
    assert "framework" in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []
