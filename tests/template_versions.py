"""A git repository of the template with two tagged versions, for update tests.

v2.0.0 is the current working tree. v1.0.0 differs from it in the ways an older release would:
- a changed line in a deploy file (nginx's client_max_body_size),
- a file that did not exist yet (.editorconfig),
- a different default (port 8080 instead of 8000),
- a prompt that did not exist yet (python_version; v1 always used 3.11).
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

from scripts.generate_copier_yml import generate as generate_copier_yml
from tests.render import TEMPLATE_ROOT

V1, V2 = "v1.0.0", "v2.0.0"
PROJECT_TREE = "{{cookiecutter.project_slug}}"
# The app's nginx locations (the site includes them): v1 had a smaller upload limit there.
NGINX_SITE = f"{PROJECT_TREE}/deploy/{{% if cookiecutter.proxy == 'nginx' %}}nginx-shared-site.conf{{% endif %}}"
V1_BODY_SIZE_LINE = "client_max_body_size 1m;"
BODY_SIZE = re.compile(r"client_max_body_size [^;\n]+;")
V1_PORT = "8080"
GIT = ["git", "-c", "user.name=Template Tests", "-c", "user.email=tests@example.org", "-c", "commit.gpgsign=false"]


def git(cwd: Path, *arguments: str) -> str:
    return subprocess.run([*GIT, *arguments], cwd=cwd, check=True, capture_output=True, text=True).stdout


def copy_working_tree(destination: Path) -> None:
    ignore = shutil.ignore_patterns(".git", "build", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache")
    shutil.copytree(TEMPLATE_ROOT, destination, ignore=ignore, dirs_exist_ok=True)


def make_v1(template: Path) -> None:
    site = template / NGINX_SITE
    text, changed = BODY_SIZE.subn(V1_BODY_SIZE_LINE, site.read_text())
    assert changed == 1, "the app's nginx locations must set client_max_body_size once"
    site.write_text(text)
    (template / PROJECT_TREE / ".editorconfig").unlink()

    prompts = json.loads((template / "cookiecutter.json").read_text())
    prompts["port"] = V1_PORT
    del prompts["python_version"], prompts["__prompts__"]["python_version"]
    (template / "cookiecutter.json").write_text(json.dumps(prompts, indent=2) + "\n")
    assert generate_copier_yml(template), "copier.yml follows cookiecutter.json"

    for path in (template / PROJECT_TREE).rglob("*"):
        if path.is_file() and "cookiecutter.python_version" in (text := path.read_text()):
            path.write_text(text.replace("cookiecutter.python_version", "'3.11'"))


def build_template_repository(root: Path) -> Path:
    """The repository at root/template with tags v1.0.0 and v2.0.0 (HEAD)."""
    template = root / "template"
    copy_working_tree(template)
    make_v1(template)
    git(template, "init", "-q", "-b", "main")
    git(template, "add", "-A")
    git(template, "commit", "-qm", "Release 1.0.0")
    git(template, "tag", V1)
    shutil.rmtree(template / PROJECT_TREE)
    copy_working_tree(template)
    git(template, "add", "-A")
    git(template, "commit", "-qm", "Release 2.0.0")
    git(template, "tag", V2)
    return template
