"""Every combination of framework x server x proxy x supervisor x database x bind renders with cookiecutter.

Accepted combinations give a complete project whose files parse, compile and pass ruff; refused ones are refused with
their message.
"""

import pytest

from tests import project_checks
from tests.render import combinations

MATRIX = combinations("framework", "server", "proxy", "supervisor", "database", "bind")
ACCEPTED = [answers for answers in MATRIX if not (answers["proxy"] == "none" and answers["bind"] == "unix")]
REFUSED = [answers for answers in MATRIX if answers not in ACCEPTED]


def label(answers: dict) -> str:
    return "-".join(answers.values())


def test_the_matrix_is_the_full_product():
    assert len(MATRIX) == 324
    assert len(REFUSED) == 54


@pytest.mark.parametrize("answers", ACCEPTED, ids=label)
def test_combination_renders_a_clean_project(cookies, answers):
    result = cookies.bake(extra_context=answers)
    assert result.exit_code == 0, result.exception
    project = result.project_path
    missing = [name for name in project_checks.REQUIRED_FILES if not (project / name).is_file()]
    assert missing == []
    assert not (project / ".copier-answers.yml").exists(), "the answers file is copier's alone"
    assert project_checks.leftover_template_markup(project) == []
    assert project_checks.unparsable_files(project) == []
    assert project_checks.env_file_problems(project) == []
    assert project_checks.dependency_names(project) == project_checks.expected_dependencies(answers)
    assert project_checks.ruff_problems(project) == ""


@pytest.mark.parametrize("answers", REFUSED, ids=label)
def test_refused_combination_names_the_rule(cookies, capfd, answers):
    result = cookies.bake(extra_context=answers)
    assert result.exit_code != 0
    assert "error: bind: 'unix' needs a proxy" in capfd.readouterr().err
    assert result.project_path is None or not result.project_path.exists()
