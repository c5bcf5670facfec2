"""`copier update` (and `cruft update`) bring template changes into a living project without losing edits or secrets."""

import json
import subprocess
import sys
import time

import pytest
import yaml

from tests.render import TEMPLATE_ROOT, render_cookiecutter
from tests.template_versions import V1, V1_BODY_SIZE_LINE, V1_PORT, V2, build_template_repository, git
from tests.venvs import framework_venv, venv_python

pytestmark = pytest.mark.slow
REPORT = TEMPLATE_ROOT / "build" / "reports" / "copier-update.json"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return build_template_repository(tmp_path_factory.mktemp("versions"))


def copier(cwd, *arguments) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "copier", *arguments], cwd=cwd, capture_output=True, text=True, check=False
    )


def commit_all(project, message) -> None:
    git(project, "add", "-A")
    git(project, "commit", "-qm", message)


def generate_v1(template, project, *data) -> None:
    result = copier(
        project.parent, "copy", "--trust", "--defaults", "--vcs-ref", V1, *data, str(template), str(project)
    )
    assert result.returncode == 0, result.stderr
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "Generated from template v1")


def answers(project) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def update(project, *arguments) -> subprocess.CompletedProcess:
    """`copier update` run from inside the project, as a user would."""
    return copier(project, "update", "--trust", "--defaults", "--vcs-ref", V2, *arguments)


def test_update_keeps_edits_and_secrets_and_brings_the_changes(tmp_path, template):
    project = tmp_path / "my-web-app"
    generate_v1(template, project)
    assert answers(project)["port"] == V1_PORT
    assert "python_version" not in answers(project)
    assert V1_BODY_SIZE_LINE in (project / "deploy" / "nginx-shared-site.conf").read_text()
    assert not (project / ".editorconfig").exists()

    routes = project / "my_web_app" / "routes.py"
    routes.write_text(routes.read_text() + '\n\n@pages.get("/lab")\ndef lab():\n    return "lab edition"\n')
    readme = project / "README.md"
    readme.write_text(readme.read_text().replace("# My Web App\n", "# My Web App (lab edition)\n", 1))
    (project / "my_web_app" / "lab_tools.py").write_text('"""Our own module."""\n\nANSWER = 42\n')
    commit_all(project, "Local edits")
    env_before = (project / ".env").read_bytes()

    started = time.perf_counter()
    result = update(project)
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps({"copier_update_seconds": round(seconds, 2)}) + "\n")

    assert 'return "lab edition"' in routes.read_text()
    assert readme.read_text().startswith("# My Web App (lab edition)\n")
    assert (project / "my_web_app" / "lab_tools.py").exists()
    fresh_v2 = render_cookiecutter(tmp_path / "fresh", port=V1_PORT)
    assert (project / "deploy" / "nginx-shared-site.conf").read_text() == (
        fresh_v2 / "deploy" / "nginx-shared-site.conf"
    ).read_text()
    assert (project / ".editorconfig").exists(), "a file new in v2 arrives"
    assert answers(project)["python_version"] == "3.11", "a new prompt gets its default"
    assert answers(project)["port"] == V1_PORT, "recorded answers win over changed defaults"
    assert answers(project)["_commit"] == V2
    assert (project / ".env").read_bytes() == env_before
    conflicts = git(project, "status", "--porcelain")
    assert ".rej" not in conflicts
    assert "<<<<<<<" not in "".join(path.read_text() for path in project.rglob("*.py"))

    python = venv_python(framework_venv("flask", tmp_path / "venv-renders"))
    tests = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert tests.returncode == 0, tests.stdout[-3000:]


def test_changing_answers_on_update_swaps_files_and_adds_secrets(tmp_path, template):
    project = tmp_path / "my-web-app"
    generate_v1(template, project)
    secret_key = (project / ".env").read_text().split("SECRET_KEY=")[1].splitlines()[0]

    result = update(project, "-d", "proxy=apache", "-d", "database=postgresql")
    assert result.returncode == 0, result.stderr
    assert not (project / "deploy" / "nginx.conf").exists()
    assert (project / "deploy" / "apache.conf").exists()
    assert answers(project)["proxy"] == "apache"
    assert answers(project)["database"] == "postgresql"
    env_text = (project / ".env").read_text()
    assert f"SECRET_KEY={secret_key}\n" in env_text, "the existing secret is kept"
    assert "DATABASE_URL=postgresql://my_web_app:" in env_text, "the new answer's secret is added"
    assert "psycopg" in (project / "pyproject.toml").read_text()


def test_a_dirty_project_is_refused(tmp_path, template):
    project = tmp_path / "my-web-app"
    generate_v1(template, project)
    (project / "README.md").write_text("uncommitted\n")
    result = update(project)
    assert result.returncode != 0
    assert "dirty" in result.stderr.lower()
    assert (project / "README.md").read_text() == "uncommitted\n"
    assert answers(project)["_commit"] == V1


def test_cruft_create_and_update(tmp_path, template):
    project = tmp_path / "my-web-app"
    cruft = [sys.executable, "-m", "cruft"]
    created = subprocess.run([*cruft, "create", "--no-input", "--checkout", V1, str(template)], cwd=tmp_path,
                             capture_output=True, text=True, check=False)  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]["port"] == V1_PORT
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "Generated with cruft from v1")
    env_before = (project / ".env").read_bytes()

    updated = subprocess.run([*cruft, "update", "--skip-apply-ask", "--checkout", V2], cwd=project,
                             capture_output=True, text=True, check=False)  # fmt: skip
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert V1_BODY_SIZE_LINE not in (project / "deploy" / "nginx-shared-site.conf").read_text()
    assert (project / ".editorconfig").exists()
    assert (project / ".env").read_bytes() == env_before
    assert not list(project.rglob("*.rej"))
