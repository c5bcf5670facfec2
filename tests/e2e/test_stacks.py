"""The generated stacks serve, survive kill -9, reload under load without losing a request and stop cleanly.

Each test boots one Debian container (systemd as PID 1, loopback only), runs the project's own deploy/install.sh in
it as on a fresh server (as root; supervisord stacks and one systemd stack as an ordinary account, `install.sh --user`,
with the commands it prints for an administrator run as root), and checks the stack through its proxy
(tests/e2e/stack.py), in the order of tests/e2e/sequence.py. Results per stack go to build/reports/e2e/<name>.json
and the table build/reports/e2e.md (tests/conftest.py).

A test's id is the stack's name (framework-server-proxy-supervisor-database, its report's name) and then what else it
has (tests/e2e/checks.py, Spec.options): -celery, -channels, -cors, -user (install.sh --user), -join (install.sh
--join). So `pytest -m e2e -k celery tests/e2e/test_stacks.py` runs the Celery stacks, `-k 'user and not celery'` the
other --user ones, and `-k flask-uwsgi-nginx-systemd-sqlite` still that one stack.
"""

import pytest

from tests.ci import skip_or_fail
from tests.e2e import scenario_media
from tests.e2e.checks import Spec, stack_name
from tests.e2e.sequence import run_stack
from tests.e2e.stack import ensure_wheelhouse, stack_answers
from tests.render import CHOICES

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.systemd]

FRAMEWORKS = CHOICES["framework"]
SERVERS = CHOICES["server"]
PROXIES = CHOICES["proxy"]

# 1. supervisord: every framework x server x proxy with SQLite, and one PostgreSQL stack per framework.
SUPERVISORD = [
    stack_answers(framework, server, proxy, "supervisord")
    for framework in FRAMEWORKS
    for server in SERVERS
    for proxy in PROXIES
] + [
    stack_answers("flask", "gunicorn", "nginx", "supervisord", "postgresql"),
    stack_answers("django", "uwsgi", "apache", "supervisord", "postgresql"),
    stack_answers("dash", "uwsgi", "none", "supervisord", "postgresql"),
]
# 2. systemd: every framework x server behind nginx, and an Apache stack; all socket-activated (deploy/<slug>.socket).
SYSTEMD = [stack_answers(framework, server, "nginx", "systemd") for framework in FRAMEWORKS for server in SERVERS] + [
    stack_answers("django", "uwsgi", "apache", "systemd")
]
# task_queue=celery on one stack per framework, in each install mode: systemd as root (Django, Dash), the account's
# own supervisord and the account's own systemd (Flask, --user): tests/e2e/scenario_celery.py; the Dash one also with
# a worker on a second server (tests/e2e/scenario_workerhost.py).
CELERY_STACKS = {
    "django-gunicorn-nginx-systemd-sqlite",
    "flask-gunicorn-nginx-supervisord-sqlite",
    "flask-uwsgi-nginx-systemd-sqlite",
    "dash-uwsgi-nginx-systemd-sqlite",
}
# websockets=channels on a Django nginx stack (systemd, root, joined into the administrator's server block), a Django
# Apache stack (gunicorn, the account's own supervisord, --user) and a Django nginx stack under the account's own
# systemd (uWSGI, --user): tests/e2e/scenario_websockets.py.
WEBSOCKETS_STACKS = {
    "django-gunicorn-nginx-systemd-sqlite",
    "django-gunicorn-apache-supervisord-sqlite",
    "django-uwsgi-nginx-systemd-sqlite",
}


def with_options(answers: dict) -> dict:
    """The stack's answers with the options some stacks exercise (celery, websockets)."""
    name = stack_name(answers)
    if name in CELERY_STACKS:
        answers = {**answers, "task_queue": "celery"}
    if name in WEBSOCKETS_STACKS:
        answers = {**answers, "websockets": "channels"}
    return answers


# Two of them with a non-default request timeout and CORS on (tests/e2e/scenario_media.py).
STACKS = [scenario_media.with_answers(with_options(answers), stack_name(answers)) for answers in SUPERVISORD + SYSTEMD]


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory):
    ensure_wheelhouse(tmp_path_factory.mktemp("wheel-projects"))


@pytest.mark.parametrize("answers", STACKS, ids=[Spec(answers).id for answers in STACKS])
def test_stack(answers, wheelhouse, tmp_path):
    report = run_stack(answers, tmp_path)
    failed = report.failed()
    assert not failed, "\n\n".join(f"{check.name}: {check.detail}" for check in failed)
    for reason in report.metrics.get("skipped", []):  # checks left out for a missing tool (tests/e2e/browser.py)
        skip_or_fail(reason)
