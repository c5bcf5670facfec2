"""copier renders every framework x server x proxy x supervisor x database combination to cookiecutter's tree.

Only .env (fresh secrets each time) and copier's answers file may differ.
"""

import filecmp

import pytest

from tests.render import combinations, render_cookiecutter, render_copier, valid_for

MATRIX = [valid_for(answers) for answers in combinations("framework", "server", "proxy", "supervisor", "database")]
ALLOWED_DIFFERENCES = {".env", ".copier-answers.yml"}


def differences(left, right, relative="") -> list[str]:
    """Paths present on one side only or with different contents, recursively."""
    comparison = filecmp.dircmp(left, right, ignore=[])
    found = [f"{relative}{name}" for name in comparison.left_only + comparison.right_only]
    found += [f"{relative}{name}" for name in comparison.diff_files + comparison.funny_files]
    for name, sub in comparison.subdirs.items():
        found += differences(sub.left, sub.right, f"{relative}{name}/")
    return found


def test_matrix_size():
    assert len(MATRIX) == 162


@pytest.mark.parametrize("answers", MATRIX, ids=lambda answers: "-".join(answers.values()))
def test_copier_tree_equals_cookiecutter_tree(tmp_path, answers):
    from_cookiecutter = render_cookiecutter(tmp_path / "cookiecutter", **answers)
    from_copier = render_copier(tmp_path / "copier", **answers)
    assert sorted(differences(from_cookiecutter, from_copier)) == sorted(ALLOWED_DIFFERENCES)
