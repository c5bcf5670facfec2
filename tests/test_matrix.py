"""Every combination of framework x server x proxy x supervisor x database x bind renders with cookiecutter.

Accepted combinations give a complete project whose files parse, compile and pass ruff; refused ones are refused with
their message.
"""

import math

import pytest

from tests import project_checks
from tests.render import CHOICES, combinations, refusals, valid_for

MATRIX_KEYS = ("framework", "server", "proxy", "supervisor", "database", "bind")
MATRIX = combinations(*MATRIX_KEYS)
# The hooks' own rule (wsgi_hooks.plugin_api.option_problems) splits the matrix: what it refuses, and why.
REFUSALS = [(answers, refusals(answers)) for answers in MATRIX]
ACCEPTED = [answers for answers, problems in REFUSALS if not problems]
REFUSED = [(answers, problems) for answers, problems in REFUSALS if problems]
# task_queue=celery doubles the product above; its files depend on the framework (family), the supervisor (units or
# programs) and the server (the program file), so celery is rendered in every combination of those three axes, the
# others at their defaults (valid_for makes each combination one the hooks take).
CELERY_KEYS = ("framework", "server", "supervisor")
CELERY = [
    valid_for({"database": CHOICES["database"][0], **answers, "task_queue": "celery"})
    for answers in combinations(*CELERY_KEYS)
]

# websockets=channels (Django only, behind a proxy, on a unix socket) adds files that depend on the server (the proxy's
# lines), the proxy and the supervisor (unit, program or printed command): rendered on each of those combinations,
# with Django, rather than doubling the product above.
WEBSOCKETS_KEYS = ("server", "proxy", "supervisor")
WEBSOCKETS = [
    {"framework": "django", "database": CHOICES["database"][0], "bind": "unix", **answers, "websockets": "channels"}
    for answers in combinations(*WEBSOCKETS_KEYS)
    if answers["proxy"] != "none"
] + [
    # asgi.py and its test differ with and without a database (the auth middleware, the django_db mark).
    {"framework": "django", "server": "gunicorn", "database": database, "bind": "unix", "websockets": "channels"}
    for database in CHOICES["database"][1:]
]


def label(answers: dict) -> str:
    return "-".join(answers.values())


def test_the_matrix_is_the_full_product():
    assert len({label(answers) for answers in MATRIX}) == len(MATRIX), "each combination once"
    assert len(MATRIX) == math.prod(len(CHOICES[key]) for key in MATRIX_KEYS)
    assert ACCEPTED, "the default-like combinations are accepted"
    assert REFUSED, "the rule refuses some combinations (proxy=none with a unix socket)"


def test_celery_matrix_covers_its_axes():
    assert len({label(answers) for answers in CELERY}) == math.prod(len(CHOICES[key]) for key in CELERY_KEYS)
    assert all(not refusals(answers) for answers in CELERY), "celery is accepted with every framework and supervisor"


def test_websockets_matrix_covers_its_axes():
    axes = len(CHOICES["server"]) * (len(CHOICES["proxy"]) - 1) * len(CHOICES["supervisor"])
    assert len(WEBSOCKETS) == axes + len(CHOICES["database"]) - 1
    assert {answers["database"] for answers in WEBSOCKETS} == set(CHOICES["database"])
    assert all(not refusals(answers) for answers in WEBSOCKETS), "channels is accepted with Django behind a proxy"
    others = [{**answers, "framework": framework} for answers in WEBSOCKETS for framework in ("flask", "dash")]
    assert all(refusals(answers) for answers in others), "and refused with Flask and Dash"


@pytest.mark.parametrize("answers", ACCEPTED + CELERY + WEBSOCKETS, ids=label)
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


@pytest.mark.parametrize(
    ("answers", "problems"), [pytest.param(answers, problems, id=label(answers)) for answers, problems in REFUSED]
)
def test_refused_combination_names_the_rule(cookies, capfd, answers, problems):
    result = cookies.bake(extra_context=answers)
    assert result.exit_code != 0
    errors = capfd.readouterr().err
    for problem in problems:
        field = problem.split(":")[0]
        assert field in CHOICES, f"the message names the question it refuses: {problem}"
        assert f"error: {problem}" in errors
    assert result.project_path is None or not result.project_path.exists()
