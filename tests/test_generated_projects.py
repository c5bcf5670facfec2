"""For every framework x database x server, the generated project's own test suite and `manage.py check` pass.

PostgreSQL projects run against a real PostgreSQL server (a scratch cluster on loopback), SQLite ones against SQLite.
"""

import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest

from tests.render import combinations, render_cookiecutter
from tests.services import create_database, free_port, postgres_cluster, redis_server
from tests.venvs import framework_venv, venv_python

pytestmark = pytest.mark.slow
# With HTTPS, Django's own test of `manage.py check --deploy` expects no warning at all.
MATRIX = [
    *combinations("framework", "database", "server"),
    {"framework": "django", "database": "postgresql", "server": "uwsgi", "proxy": "apache", "tls": "certificate",
     "domain_name": "qc.eeg-lab.org"},
    # task_queue=celery: the job eagerly and through a real worker on a scratch Redis (TEST_BROKER_URL).
    *({"framework": framework, "database": "sqlite", "server": "gunicorn", "task_queue": "celery"}
      for framework in ("flask", "django", "dash")),
    # websockets=channels: the echo consumer through asgi.py (Channels' test client), with the auth middleware's
    # session on PostgreSQL.
    {"framework": "django", "database": "postgresql", "server": "uwsgi", "websockets": "channels"},
    # extra_secrets: made into .env, required by the settings, rotated by init-config (with a database password).
    {"framework": "dash", "database": "postgresql", "server": "gunicorn", "extra_secrets": "JWT_SECRET API_TOKEN"},
    {"framework": "django", "database": "sqlite", "server": "gunicorn", "extra_secrets": "JWT_SECRET"},
]  # fmt: skip


@pytest.fixture(scope="session")
def venvs(tmp_path_factory):
    built = {}

    def venv_for(framework):
        if framework not in built:
            built[framework] = framework_venv(framework, tmp_path_factory.mktemp(f"venv-{framework}"))
        return built[framework]

    return venv_for


@pytest.fixture(scope="session")
def broker_url():
    with redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_server():
    with postgres_cluster() as url:
        yield url


def clean_environment() -> dict:
    """The caller's environment minus anything that would point a project at another database or settings."""
    drop = {"DATABASE_URL", "TEST_DATABASE_URL", "SECRET_KEY", "URL_PREFIX", "DJANGO_SETTINGS_MODULE", "DATA_DIR",
            "TEST_BROKER_URL", "CELERY_BROKER_URL"}  # fmt: skip
    return {name: value for name, value in os.environ.items() if name not in drop}


def run(python, project, *arguments, environment) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(python), *arguments],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.mark.parametrize("answers", MATRIX, ids=lambda answers: "-".join(answers.values()).replace(" ", "+"))
def test_generated_project_passes_its_own_tests(request, tmp_path, venvs, answers):
    python = venv_python(venvs(answers["framework"]))
    project = render_cookiecutter(tmp_path, url_prefix="/eegqc", **answers)
    environment = clean_environment()
    if answers["database"] == "postgresql":
        server = request.getfixturevalue("postgres_server")
        database_url = create_database(server, f"test_{uuid.uuid4().hex[:12]}")
        environment |= {"TEST_DATABASE_URL": database_url, "DATABASE_URL": database_url}
    if answers.get("task_queue") == "celery":
        environment["TEST_BROKER_URL"] = request.getfixturevalue("broker_url")

    tests = run(python, project, "-m", "pytest", "-q", "-p", "no:cacheprovider", environment=environment)
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    summary = tests.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary) and "skipped" not in summary and "warning" not in summary, summary

    if answers["framework"] == "django" and answers["database"] != "none":
        migrate = run(python, project, "manage.py", "migrate", "--no-input", environment=environment)
        assert migrate.returncode == 0, migrate.stderr
    check = run(python, project, "manage.py", "check", environment=environment)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("framework", ["flask", "django", "dash"])
def test_check_reports_an_unreachable_database(tmp_path, venvs, framework):
    python = venv_python(venvs(framework))
    project = render_cookiecutter(tmp_path, framework=framework, database="postgresql")
    environment = clean_environment() | {"DATABASE_URL": "postgresql://nobody:wrong@127.0.0.1:9/none"}
    check = run(python, project, "manage.py", "check", environment=environment)
    assert check.returncode != 0
    assert "database" in (check.stdout + check.stderr).lower()


def test_django_development_server_serves_the_stylesheet_under_the_prefix(tmp_path, venvs):
    """`manage.py runserver` as the README runs it (with the autoreloader, whose server thread reads the settings
    first): the home page under /eegqc links its stylesheet under /eegqc, and that link answers with the CSS."""
    python = venv_python(venvs("django"))
    project = render_cookiecutter(tmp_path, framework="django", url_prefix="/eegqc")
    environment = clean_environment() | {"DATA_DIR": str(tmp_path / "data")}
    for command in (["migrate", "--no-input"], ["collectstatic", "--no-input"]):
        result = run(python, project, "manage.py", *command, environment=environment)
        assert result.returncode == 0, result.stderr
    port = free_port()
    server = subprocess.Popen(
        [str(python), "manage.py", "runserver", f"127.0.0.1:{port}"],
        cwd=project,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # the autoreloader's child too is stopped with the group
    )
    try:
        page = wait_for(f"http://127.0.0.1:{port}/eegqc/", server)
        stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.read().decode())
        assert stylesheet, "the home page links no stylesheet"
        assert stylesheet.group(1).startswith("/eegqc/static/"), stylesheet.group(1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{stylesheet.group(1)}", timeout=10) as response:
            assert response.status == 200
            assert response.headers.get_content_type() == "text/css"
            assert b"{" in response.read()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def wait_for(url: str, server: subprocess.Popen, timeout: float = 60):
    """The first answer of `url` once the server listens (it fails if the server exits first)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return urllib.request.urlopen(url, timeout=5)
        except urllib.error.URLError:
            assert server.poll() is None, server.stderr.read().decode()
            assert time.monotonic() < deadline, f"{url} did not answer within {timeout} s"
            time.sleep(0.3)
