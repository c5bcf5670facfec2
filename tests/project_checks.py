"""Checks every generated project must pass, whatever the answers."""

import configparser
import json
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from tests.render import CHOICES

TEXT_SUFFIXES = {
    ".py", ".toml", ".yml", ".yaml", ".json", ".ini", ".cfg", ".conf", ".md", ".txt", ".html", ".css", ".js", ".sh",
    ".sql", ".service", ".socket", ".mako", ".example", "",
}  # fmt: skip
JINJA_MARKUP = re.compile(r"\{\{|\{%|\{#")
REQUIRED_FILES = [
    "wsgi.py", "manage.py", "pyproject.toml", "README.md", ".gitignore", ".editorconfig", ".pre-commit-config.yaml",
    ".env.example", ".env", ".github/workflows/ci.yml",
]  # fmt: skip


def project_files(project: Path) -> list[Path]:
    return sorted(path for path in project.rglob("*") if path.is_file() and "__pycache__" not in path.parts)


def leftover_template_markup(project: Path) -> list[str]:
    """Template syntax that survived rendering. HTML templates of the app legitimately contain Jinja/Django tags."""
    found = []
    for path in project_files(project):
        if path.suffix not in TEXT_SUFFIXES:
            continue
        text = path.read_text()
        if "cookiecutter." in text or (path.suffix != ".html" and JINJA_MARKUP.search(text)):
            found.append(str(path.relative_to(project)))
    return found


def unparsable_files(project: Path) -> list[str]:
    """Python that does not compile; TOML/YAML/JSON/INI that does not parse."""
    problems = []
    for path in project_files(project):
        text = path.read_text() if path.suffix in TEXT_SUFFIXES else ""
        try:
            if path.suffix == ".py":
                compile(text, str(path), "exec")
            elif path.suffix == ".toml":
                tomllib.loads(text)
            elif path.suffix in {".yml", ".yaml"}:
                yaml.safe_load(text)
            elif path.suffix == ".json":
                json.loads(text)
            elif path.suffix == ".ini" or path.name == "supervisord.conf":
                configparser.ConfigParser(strict=False, interpolation=None).read_string(text)
        except Exception as error:
            problems.append(f"{path.relative_to(project)}: {error}")
    return problems


def ruff_problems(project: Path) -> str:
    """ruff check and ruff format --check with the project's own configuration; '' when both are clean."""
    output = ""
    for command in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command], cwd=project, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            output += result.stdout + result.stderr
    return output


def env_file_problems(project: Path) -> list[str]:
    env_file = project / ".env"
    problems = []
    if stat.S_IMODE(env_file.stat().st_mode) != 0o600:
        problems.append(f".env has mode {oct(stat.S_IMODE(env_file.stat().st_mode))}, not 0o600")
    if not re.search(r"^SECRET_KEY=\S{50,}$", env_file.read_text(), re.MULTILINE):
        problems.append(".env has no generated SECRET_KEY")
    documented = re.findall(r"^([A-Z_]+)=(.*)$", (project / ".env.example").read_text(), re.MULTILINE)
    problems += [f".env.example gives {name} a value" for name, value in documented if value]
    names = {name for name, _ in documented}
    for name in re.findall(r"^([A-Z_]+)=", env_file.read_text(), re.MULTILINE):
        if name not in names:
            problems.append(f".env sets {name}, which .env.example does not document")
    return problems


def dependency_names(project: Path) -> set[str]:
    project_table = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    return {re.split(r"[<>=!~\[ ;]", requirement)[0].lower() for requirement in project_table["dependencies"]}


def expected_dependencies(answers: dict) -> set[str]:
    """Exactly the distributions each answer needs."""
    if answers["framework"] == "django":
        names = {"django", "django-environ", "whitenoise"}
    else:
        names = {"flask", "environs"}
        if answers["framework"] == "dash":
            names.add("dash")
        if answers["database"] != "none":
            names |= {"flask-sqlalchemy", "flask-migrate", "flask-wtf"}
        if answers.get("proxy", CHOICES["proxy"][0]) in ("nginx", "apache"):
            names.add("itsdangerous")  # the signed links to protected media
    if answers["database"] == "postgresql":
        names.add("psycopg")
    names.add(answers["server"])
    if answers.get("task_queue") == "celery":
        names.add("celery")
    if answers.get("websockets") == "channels":
        names |= {"channels", "daphne"}
    return names
