"""A new option value needs template files plus one plugin module, and no edit to the hooks' core.

The test copies the template, adds a throwaway proxy value "caddy" (its choice in cookiecutter.json, copier.yml
regenerated from it, a template file, a plugin module and its deploy step), generates with both tools and runs the
generated installer's dry run.
"""

import json
import shutil
import subprocess
from pathlib import Path

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

# The deploy step: deploy/install.sh finds it in deploy/steps/ and runs it in its proxy phase.
CADDY_STEP = """\
# shellcheck shell=bash
# Caddy in front: deploy/Caddyfile becomes a site of the server's Caddy.
need_packages debian caddy
need_packages rhel caddy
os_value debian PROXY_USER caddy
os_value rhel PROXY_USER caddy

caddy_site() {
    publish_site "$ROOT$CODE_DIR/deploy/Caddyfile" "/etc/caddy/sites/$APP_NAME.caddy" "" "caddy validate" caddy
}

on proxy caddy_site
"""
QUESTION_FILES = {"cookiecutter.json", "copier.yml"}


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
    (deploy / "steps" / "{% if cookiecutter.proxy == 'caddy' %}proxy-caddy.sh{% endif %}").write_text(CADDY_STEP)

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


def test_only_the_question_list_and_the_files_named_after_the_value_mention_it(template_with_caddy):
    """In the template (its own tests and docs aside), the new value appears in the questions and its own files."""
    mentions = {
        str(path.relative_to(template_with_caddy))
        for path in template_with_caddy.rglob("*")
        if path.is_file()
        and not {".git", "tests", "docs"} & set(path.relative_to(template_with_caddy).parts)
        and "caddy" in path.read_text(errors="replace").lower()
    }
    named = {name for name in mentions if "caddy" in Path(name).name}
    assert named, mentions
    assert mentions - named == QUESTION_FILES


def test_the_installer_runs_the_new_values_step(tmp_path, template_with_caddy):
    project = tmp_path / "my-web-app"
    result = generate("cookiecutter", template_with_caddy, project, "proxy=caddy", "url_prefix=/eegqc")
    assert result.returncode == 0, result.stderr
    root = tmp_path / "root"
    install = subprocess.run(
        ["bash", str(project / "deploy" / "install.sh"), "--root", str(root), "--os", "debian"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    assert install.stderr == ""
    assert "apt-get install -y -q python3 python3-venv curl caddy" in install.stdout
    assert "would run: usermod --append --groups my-web-app caddy" in install.stdout
    assert "would run: caddy validate\n" in install.stdout
    assert "would run: systemctl reload-or-restart caddy" in install.stdout
    site = root / "etc" / "caddy" / "sites" / "my-web-app.caddy"
    assert site.read_text() == (project / "deploy" / "Caddyfile").read_text()
