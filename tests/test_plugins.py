"""A new option value needs template files plus one plugin module, and no edit to the hooks' core nor to the deploy
engine's plan.

The test copies the template, adds a throwaway proxy value "caddy" (its choice in cookiecutter.json, copier.yml
regenerated from it, a template file, a plugin module and its deploy engine module), generates with both tools and runs
the generated deploy on pyinfra's @fake host (tests/fake_deploy.py).
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from scripts.generate_copier_yml import generate as generate_copier_yml
from tests.fake_deploy import fake_deploy
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

# The deploy engine's module for the value: deploy/engine/plan.py imports proxy_<value> as the proxy's site and calls
# what every proxy module has (PACKAGES, proxy_user, site) in its proxy phase.
CADDY_MODULE = '''"""Caddy in front: deploy/Caddyfile becomes a site of the server's Caddy."""

from __future__ import annotations

from . import layout, proxy
from .context import Deploy
from .pieces import Packages

PACKAGES = Packages(debian=("caddy",), rhel=("caddy",))


def proxy_user(d: Deploy) -> str:
    return "caddy"


def site(d: Deploy) -> None:
    target = f"/etc/caddy/sites/{layout.APP_NAME}.caddy"
    proxy.publish(d, proxy.Site([("Caddyfile", target)], "", "caddy validate", "caddy"))
'''
QUESTION_FILES = {"cookiecutter.json", "copier.yml"}


@pytest.fixture(scope="module")
def template_with_caddy(tmp_path_factory):
    template = tmp_path_factory.mktemp("template") / "template"
    shutil.copytree(TEMPLATE_ROOT, template, ignore=shutil.ignore_patterns(".git", "build", ".venv", "__pycache__"))
    deploy = template / "{{cookiecutter.project_slug}}" / "deploy"
    # The hooks' core, and the deploy engine's plan and every module it has (glob: a file name is a Jinja template).
    core = [*(template / "hooks").rglob("*.py"), *(deploy / "engine").glob("*.py")]
    core_files = {path: path.read_bytes() for path in core}
    assert deploy / "engine" / "plan.py" in core_files

    prompts = json.loads((template / "cookiecutter.json").read_text())
    prompts["proxy"].append("caddy")
    (template / "cookiecutter.json").write_text(json.dumps(prompts, indent=2) + "\n")
    assert generate_copier_yml(template), "the new choice reaches copier.yml"
    (deploy / "{% if cookiecutter.proxy == 'caddy' %}Caddyfile{% endif %}").write_text(
        "{{ cookiecutter.domain_name }} {\n  reverse_proxy 127.0.0.1:{{ cookiecutter.port }}\n}\n"
    )
    (template / "hooks" / "wsgi_hooks" / "plugins" / "proxy_caddy.py").write_text(PLUGIN)
    (deploy / "engine" / "{% if cookiecutter.proxy == 'caddy' %}proxy_caddy.py{% endif %}").write_text(CADDY_MODULE)

    changed = [str(path) for path, content in core_files.items() if path.read_bytes() != content]
    assert changed == [], "an existing hook or engine file changed"
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


@pytest.mark.parametrize("family", ["debian", "rhel"])
def test_the_deploy_runs_the_new_values_module(tmp_path, template_with_caddy, family):
    project = tmp_path / "my-web-app"
    result = generate("cookiecutter", template_with_caddy, project, "proxy=caddy", "url_prefix=/eegqc")
    assert result.returncode == 0, result.stderr
    run = fake_deploy(project, family)
    assert run.returncode == 0 and run.stderr == "", run
    install = {"debian": "env DEBIAN_FRONTEND=noninteractive apt-get install -y -q ", "rhel": "dnf install -y "}[family]
    packages = next(command for command in run.ran() if command.startswith(install)).split()
    assert "caddy" in packages
    assert "usermod --append --groups my-web-app caddy" in run.ran()
    # The site is installed, tested by the proxy's own check, and the proxy reloaded.
    site = "/etc/caddy/sites/my-web-app.caddy"
    assert run.uploads[site] == (project / "deploy" / "Caddyfile").read_text()
    assert f"install.sh: installed {site}" in run.lines()
    tested = run.commands.index("caddy validate 2>&1 >/dev/null", run.commands.index(f"upload {site}"))
    reloaded = run.commands.index("systemctl reload-or-restart caddy")
    assert tested < reloaded, "the proxy reloaded before its check of the new site"
