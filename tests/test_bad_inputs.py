"""Both command-line tools refuse each bad answer: non-zero exit, the field and rule named, no traceback, nothing
left on disk: no new directory, and an existing one as it was."""

from pathlib import Path

import pytest

from tests.bad_inputs import BAD_INPUTS
from tests.render import generate_with_cli

TOOLS = ["cookiecutter", "copier"]


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize(("changes", "message"), BAD_INPUTS)
def test_tool_refuses_and_leaves_nothing(tmp_path, tool, changes, message):
    result = generate_with_cli(tool, tmp_path / "my-web-app", changes)
    assert result.returncode != 0
    assert f"error: {message}" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == [], "a refused project must leave nothing behind"


def contents(directory: Path) -> dict[str, bytes | None]:
    """Every path below `directory` with its bytes (None for a directory)."""
    return {
        str(path.relative_to(directory)): None if path.is_dir() else path.read_bytes()
        for path in sorted(directory.rglob("*"))
    }


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"port": "80"}, "port: must be a whole number from 1024 to 65535"),  # a rule of the free-text answers
        ({"proxy": "none"}, "bind: 'unix' needs a proxy"),  # a rule of an option value's plugin
    ],
)
def test_refused_answers_leave_an_existing_directory_as_it_was(tmp_path, tool, changes, message):
    """Copier writes the project before its task can check the answers; the task takes back what it wrote. The
    user's files stay, in a directory of the template's own (tests/) too."""
    destination = tmp_path / "my-web-app"
    (destination / "tests").mkdir(parents=True)
    (destination / "notes.txt").write_text("the user's own notes\n")
    (destination / "tests" / "test_mine.py").write_text("def test_mine():\n    pass\n")
    (destination / "data").mkdir()
    before = contents(destination)

    result = generate_with_cli(tool, destination, changes, into_existing=True)

    assert result.returncode != 0
    assert f"error: {message}" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert contents(destination) == before
    assert [path.name for path in tmp_path.iterdir()] == ["my-web-app"]


@pytest.mark.parametrize("tool", TOOLS)
def test_a_choice_outside_the_list_is_refused(tmp_path, tool):
    result = generate_with_cli(tool, tmp_path / "my-web-app", {"framework": "bottle"})
    assert result.returncode != 0
    assert "framework" in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []
