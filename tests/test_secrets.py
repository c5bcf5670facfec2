"""Secrets: generated per project, 0600, never tracked, never in the answers file, never printed, never overwritten."""

import json
import re
import stat
import subprocess
import sys

import pytest
import yaml

from tests.render import TEMPLATE_ROOT, generate_with_cli, render_cookiecutter, render_copier


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
    generation = generate_with_cli(tool, project, {"database": "postgresql"})
    assert generation.returncode == 0, generation.stderr
    secrets = secrets_of(project)
    printed = generation.stdout + generation.stderr
    assert "SECRET_KEY" in printed, "the user is told which secrets were written"
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
