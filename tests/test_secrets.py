"""Secrets: generated per project, 0600, never tracked, never in the answers file, never printed, never overwritten."""

import json
import re
import stat
import subprocess
import sys

import pytest
import yaml

from hooks.wsgi_hooks.validate import PROJECT_VARIABLES
from tests.render import TEMPLATE_ROOT, generate_with_cli, render_cookiecutter, render_copier
from tests.template_versions import V2, build_template_repository, git


def secrets_of(project) -> dict[str, str]:
    lines = (project / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if re.match(r"[A-Z_]+=", line))


def test_every_render_gets_its_own_secrets(tmp_path):
    projects = [render_cookiecutter(tmp_path / f"cc{index}", database="postgresql") for index in range(2)]
    projects += [render_copier(tmp_path / f"cp{index}", database="postgresql") for index in range(2)]
    keys = [secrets_of(project)["SECRET_KEY"] for project in projects]
    urls = [secrets_of(project)["DATABASE_URL"] for project in projects]
    assert len(set(keys)) == len(keys) == 4
    assert len(set(urls)) == 4
    for project in projects:
        assert stat.S_IMODE((project / ".env").stat().st_mode) == 0o600
        assert len(secrets_of(project)["SECRET_KEY"]) >= 43, "at least 256 bits in URL-safe base64"
        password = re.match(
            r"postgresql://my_web_app:([^@]+)@127\.0\.0\.1:5432/my_web_app$", secrets_of(project)["DATABASE_URL"]
        )
        assert password and len(password[1]) >= 43


@pytest.mark.parametrize("tool", ["cookiecutter", "copier"])
def test_secrets_are_in_no_tracked_file_and_never_printed(tmp_path, tool):
    project = tmp_path / "my-web-app"
    generation = generate_with_cli(tool, project, {"database": "postgresql", "extra_secrets": "JWT_SECRET API_TOKEN"})
    assert generation.returncode == 0, generation.stderr
    secrets = secrets_of(project)
    assert {"SECRET_KEY", "DATABASE_URL", "JWT_SECRET", "API_TOKEN"} <= set(secrets)
    assert len({secrets["SECRET_KEY"], secrets["JWT_SECRET"], secrets["API_TOKEN"]}) == 3
    printed = generation.stdout + generation.stderr
    assert "SECRET_KEY, DATABASE_URL, JWT_SECRET, API_TOKEN" in printed or all(
        name in printed for name in ("SECRET_KEY", "JWT_SECRET", "API_TOKEN")
    ), "the user is told which secrets were written"
    for value in secrets.values():
        assert value not in printed

    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=project, capture_output=True, text=True, check=True
    ).stdout.split()
    assert ".env" not in tracked
    assert ".env.example" in tracked
    assert (".copier-answers.yml" in tracked) == (tool == "copier")
    for name in tracked:
        content = (project / name).read_text(errors="replace")
        for variable, value in secrets.items():
            assert value not in content, f"{variable} leaked into {name}"


def run_post_hook(project, answers: dict) -> None:
    """What copier does on `copier update`: run the post-generation task again in the existing project."""
    hook = TEMPLATE_ROOT / "hooks" / "post_gen_project.py"
    subprocess.run([sys.executable, str(hook), json.dumps(answers)], cwd=project, check=True, capture_output=True)


def test_running_the_hook_again_keeps_secrets_and_adds_only_missing_ones(tmp_path):
    project = render_copier(tmp_path / "p", database="postgresql")
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    answers["__url_prefix"] = answers["url_prefix"].rstrip("/")
    before = (project / ".env").read_bytes()
    run_post_hook(project, answers)
    assert (project / ".env").read_bytes() == before

    original = secrets_of(project)
    env_file = project / ".env"
    env_file.write_text(
        "".join(line + "\n" for line in before.decode().splitlines() if not line.startswith("SECRET_KEY="))
    )
    run_post_hook(project, answers)
    again = secrets_of(project)
    assert again["DATABASE_URL"] == original["DATABASE_URL"]
    assert again["SECRET_KEY"] and again["SECRET_KEY"] != original["SECRET_KEY"]
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def copier_command(cwd, *arguments) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "copier", *arguments], cwd=cwd, capture_output=True, text=True,
                          check=False, timeout=600)  # fmt: skip


def test_copier_update_keeps_every_secret_and_adds_a_new_extra_one(tmp_path):
    """extra_secrets answered again with one more name: `copier update` re-renders the project and its task adds the
    new secret to .env; every value already there stays, and none is printed or written into the answers file."""
    template = build_template_repository(tmp_path / "versions")
    project = tmp_path / "my-web-app"
    copied = copier_command(tmp_path, "copy", "--trust", "--defaults", "--vcs-ref", V2, "-d",
                            "extra_secrets=JWT_SECRET", str(template), str(project))  # fmt: skip
    assert copied.returncode == 0, copied.stderr
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "generated")
    before = secrets_of(project)
    updated = copier_command(project, "update", "--trust", "--defaults", "--vcs-ref", V2, "-d",
                             "extra_secrets=JWT_SECRET API_TOKEN")  # fmt: skip
    assert updated.returncode == 0, updated.stderr
    after = secrets_of(project)
    assert {name: after[name] for name in before} == before
    assert after["API_TOKEN"] and after["API_TOKEN"] not in before.values()
    answers_file = (project / ".copier-answers.yml").read_text()
    assert yaml.safe_load(answers_file)["extra_secrets"] == "JWT_SECRET API_TOKEN"
    for value in after.values():
        assert value not in updated.stdout + updated.stderr and value not in answers_file


@pytest.mark.parametrize(
    "answers",
    [{"framework": "django", "database": "postgresql", "task_queue": "celery", "extra_secrets": "JWT_SECRET"},
     {"framework": "flask", "database": "sqlite", "task_queue": "celery"}, {"framework": "dash", "database": "none"}],
    ids=["django", "flask", "dash"],
)  # fmt: skip
def test_extra_secrets_cannot_take_a_name_the_project_reads(tmp_path, answers):
    """The hooks refuse as extra_secrets every variable .env.example lists (extra secrets aside): the list they hold
    (PROJECT_VARIABLES) covers the file."""
    project = render_cookiecutter(tmp_path, **answers)
    listed = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", (project / ".env.example").read_text(), flags=re.M))
    extra = set(answers.get("extra_secrets", "").split())
    extra |= {f"{name}_FALLBACKS" for name in extra}
    assert listed - extra <= PROJECT_VARIABLES, sorted(listed - extra - PROJECT_VARIABLES)
    assert extra <= listed, "each extra secret and its fallbacks are in .env.example"
