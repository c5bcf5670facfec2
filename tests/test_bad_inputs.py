"""Both command-line tools refuse each bad answer: non-zero exit, the field and rule named, nothing left on disk."""

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
    assert list(tmp_path.iterdir()) == [], "a refused project must leave nothing behind"


@pytest.mark.parametrize("tool", TOOLS)
def test_a_choice_outside_the_list_is_refused(tmp_path, tool):
    result = generate_with_cli(tool, tmp_path / "my-web-app", {"framework": "bottle"})
    assert result.returncode != 0
    assert "framework" in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []
