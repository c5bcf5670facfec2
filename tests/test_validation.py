"""The hooks' rules, called directly (fast); test_bad_inputs.py proves both tools apply them."""

import sys

import pytest

from local_extensions import ascii_slug
from tests.bad_inputs import BAD_INPUTS, GOOD_INPUTS
from tests.render import DEFAULTS, TEMPLATE_ROOT

sys.path.insert(0, str(TEMPLATE_ROOT / "hooks"))
from wsgi_hooks import core


def answers_with(changes: dict) -> dict:
    answers = {**DEFAULTS, **changes}
    answers["project_slug"] = changes.get("project_slug", ascii_slug(answers["project_name"]))
    answers["package_name"] = changes.get("package_name", answers["project_slug"].replace("-", "_"))
    answers["__url_prefix"] = answers["url_prefix"].rstrip("/")
    return answers


@pytest.mark.parametrize(("changes", "message"), BAD_INPUTS)
def test_bad_answer_is_refused_with_field_and_rule(capsys, changes, message):
    assert core.pre_generate(answers_with(changes)) == 1
    errors = capsys.readouterr().err.splitlines()
    assert any(line.startswith("error: ") and message in line for line in errors), errors


@pytest.mark.parametrize("changes", GOOD_INPUTS)
def test_good_answer_is_accepted(capsys, changes):
    assert core.pre_generate(answers_with(changes)) == 0
    assert capsys.readouterr().err == ""


def test_every_problem_is_reported_at_once(capsys):
    assert core.pre_generate(answers_with({"port": "1", "url_prefix": "x", "domain_name": "A"})) == 1
    fields = [line.split(":")[1].strip() for line in capsys.readouterr().err.splitlines()]
    assert fields == ["domain_name", "url_prefix", "port"]


@pytest.mark.parametrize("field", ["project_name", "description", "author_name", "author_email"])
@pytest.mark.parametrize("markup", ["{{ 7*7 }}", "{% x", "{# note"])
def test_template_markup_in_free_text_is_refused(capsys, field, markup):
    """cookiecutter would render it (or crash), copier would keep it: refused so both make the same project. Not in
    BAD_INPUTS, whose cases both command lines must refuse alike: cookiecutter renders the answer before the hook."""
    value = f"me{markup}@example.org" if field == "author_email" else f"Lab {markup}"
    assert core.pre_generate(answers_with({field: value})) == 1
    assert f"error: {field}: must not contain template markup" in capsys.readouterr().err


# More request_timeout and CORS refusals, through the rule only (test_bad_inputs.py runs both command lines on a few).
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"request_timeout": "601"}, "request_timeout: must be a whole number of seconds from 2 to 600"),
        ({"request_timeout": "\uff13\uff10"}, "request_timeout: must be a whole number of seconds from 2 to 600"),
        ({"cors_origins": "https://Viewer.example.org"}, "cors_origins: must be empty, * alone, or origins"),
        ({"cors_origins": "https://a.org,https://b.org"}, "cors_origins: must be empty, * alone, or origins"),
        ({"cors_origins": '"https://a.org"'}, "cors_origins: must be empty, * alone, or origins"),
        ({"cors_origins": "https://a.org#x"}, "cors_origins: must be empty, * alone, or origins"),
        ({"cors_paths": "api/"}, "cors_paths: must be paths under the prefix"),
        ({"cors_paths": "/a/../b/"}, "cors_paths: must be paths under the prefix"),
        ({"cors_paths": '/a"b/'}, "cors_paths: must be paths under the prefix"),
        ({"cors_paths": "/static/css/"}, "cors_paths: must be paths under the prefix"),
    ],
)
def test_bad_timeout_and_cors_answers_are_refused(capsys, changes, message):
    assert core.pre_generate(answers_with(changes)) == 1
    errors = capsys.readouterr().err.splitlines()
    assert any(line.startswith("error: ") and message in line for line in errors), errors
