"""copier renders every framework x server x proxy x supervisor x database combination to cookiecutter's tree.

Only .env (fresh secrets each time) and copier's answers file may differ.
"""

import filecmp
import math

import pytest

from tests.render import CHOICES, accepted, combinations, render_cookiecutter, render_copier, valid_for

MATRIX_KEYS = ("framework", "server", "proxy", "supervisor", "database")
# Each combination made acceptable by the hooks' rule (proxy=none gets the answers it needs, e.g. bind=tcp).
MATRIX = [valid_for(answers) for answers in combinations(*MATRIX_KEYS)]
# websockets=channels (Django behind a proxy) under each supervisor: its conditional files through both tools.
WEBSOCKETS = [
    {"framework": "django", "supervisor": supervisor, "url_prefix": "/eegqc", "websockets": "channels"}
    for supervisor in CHOICES["supervisor"]
]
ALLOWED_DIFFERENCES = {".env", ".copier-answers.yml"}


def differences(left, right, relative="") -> list[str]:
    """Paths present on one side only or with different contents, recursively."""
    comparison = filecmp.dircmp(left, right, ignore=[])
    found = [f"{relative}{name}" for name in comparison.left_only + comparison.right_only]
    found += [f"{relative}{name}" for name in comparison.diff_files + comparison.funny_files]
    for name, sub in comparison.subdirs.items():
        found += differences(sub.left, sub.right, f"{relative}{name}/")
    return found


def test_matrix_is_the_full_product_all_accepted():
    chosen = [tuple(answers[key] for key in MATRIX_KEYS) for answers in MATRIX]
    assert len(set(chosen)) == len(MATRIX) == math.prod(len(CHOICES[key]) for key in MATRIX_KEYS)
    assert all(accepted(answers) for answers in MATRIX)
    assert any(len(answers) > len(MATRIX_KEYS) for answers in MATRIX), "valid_for completed the refused ones"


@pytest.mark.parametrize("answers", MATRIX + WEBSOCKETS, ids=lambda answers: "-".join(answers.values()))
def test_copier_tree_equals_cookiecutter_tree(tmp_path, answers):
    from_cookiecutter = render_cookiecutter(tmp_path / "cookiecutter", **answers)
    from_copier = render_copier(tmp_path / "copier", **answers)
    assert sorted(differences(from_cookiecutter, from_copier)) == sorted(ALLOWED_DIFFERENCES)
