"""A new option value needs template files plus one plugin module, and no edit to the hooks' core.

The test copies the template, adds a throwaway proxy value "caddy" (its choice in cookiecutter.json, copier.yml
regenerated from it, a template file, a plugin module), and generates with both tools.
"""

import json
import shutil
import subprocess

import pytest

from scripts.generate_copier_yml import generate as generate_copier_yml
from tests.render import TEMPLATE_ROOT, generate_with_cli

PLUGIN = '''"""Throwaway plugin for the test: proxy=caddy."""


def validate(answers):
    if answers["domain_name"] == "refused.example.org":
        yield "domain_name: the caddy plugin refuses this one"


def post_generate(project, answers):
    (project / "deploy" / "caddy-plugin-ran").write_text(answers["project_slug"])


def next_steps(answers):
    yield "caddy run --config deploy/Caddyfile"
'''


@pytest.fixture(scope="module")
def template_with_caddy(tmp_path_factory):
    template = tmp_path_factory.mktemp("template") / "template"
    shutil.copytree(TEMPLATE_ROOT, template, ignore=shutil.ignore_patterns(".git", "build", ".venv", "__pycache__"))
    core_files = {path: path.read_bytes() for path in (template / "hooks").rglob("*.py")}

    prompts = json.loads((template / "cookiecutter.json").read_text())
    prompts["proxy"].append("caddy")
    (template / "cookiecutter.json").write_text(json.dumps(prompts, indent=2) + "\n")
    assert generate_copier_yml(template), "the new choice reaches copier.yml"
    deploy = template / "{{cookiecutter.project_slug}}" / "deploy"
    deploy.mkdir(exist_ok=True)
    (deploy / "{% if cookiecutter.proxy == 'caddy' %}Caddyfile{% endif %}").write_text(
        "{{ cookiecutter.domain_name }} {\n  reverse_proxy 127.0.0.1:{{ cookiecutter.port }}\n}\n"
    )
    (template / "hooks" / "wsgi_hooks" / "plugins" / "proxy_caddy.py").write_text(PLUGIN)

    assert all(path.read_bytes() == content for path, content in core_files.items()), "no existing hook file changed"
    subprocess.run(["git", "init", "-q"], cwd=template, check=True)
    subprocess.run(["git", "add", "-A"], cwd=template, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "caddy"], cwd=template, check=True
    )
    return template


def generate(tool, template, destination, *assignments):
    answers = dict(assignment.split("=", 1) for assignment in assignments)
    return generate_with_cli(tool, destination, answers, template=template)


@pytest.mark.parametrize("tool", ["cookiecutter", "copier"])
def test_new_value_works_through_its_plugin(tmp_path, template_with_caddy, tool):
    project = tmp_path / "my-web-app"
    result = generate(tool, template_with_caddy, project, "proxy=caddy")
    assert result.returncode == 0, result.stderr
    assert (project / "deploy" / "Caddyfile").read_text() == "localhost {\n  reverse_proxy 127.0.0.1:8000\n}\n"
    assert (project / "deploy" / "caddy-plugin-ran").read_text() == "my-web-app"
    assert "caddy run --config deploy/Caddyfile" in result.stdout


@pytest.mark.parametrize("tool", ["cookiecutter", "copier"])
def test_the_plugin_can_refuse_answers(tmp_path, template_with_caddy, tool):
    project = tmp_path / "my-web-app"
    result = generate(tool, template_with_caddy, project, "proxy=caddy", "domain_name=refused.example.org")
    assert result.returncode != 0
    assert "error: domain_name: the caddy plugin refuses this one" in result.stderr
    assert not project.exists()


def test_other_values_do_not_load_the_plugin(tmp_path, template_with_caddy):
    project = tmp_path / "my-web-app"
    result = generate("cookiecutter", template_with_caddy, project, "proxy=nginx")
    assert result.returncode == 0, result.stderr
    assert not (project / "deploy" / "Caddyfile").exists()
    assert "caddy" not in result.stdout
