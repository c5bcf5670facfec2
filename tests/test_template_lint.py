"""Every Python and shell file of the template is linted as what it is, in at least one place.

The app's files are Jinja templates: ruff sees them rendered (test_matrix.py, every accepted combination); the deploy's
own code, deploy/install.sh, deploy.py and deploy/engine/, is linted rendered for the whole deploy matrix
(test_deploy_code.py: shellcheck, ruff, mypy --strict). This module proves each such file is rendered by at least one
of those combinations, and lints the template's own code (hooks, local Jinja extension, tests, scripts), which no
rendering reaches.
"""

import functools
import re
import subprocess
import sys
from pathlib import Path

from cookiecutter.environment import StrictEnvironment
from cookiecutter.generate import generate_context
from cookiecutter.prompt import prompt_for_config

from tests.ci import require_tool
from tests.render import PROMPTS, TEMPLATE_ROOT
from tests.test_matrix import ACCEPTED, CELERY, WEBSOCKETS

PROJECT_TEMPLATE = "{{cookiecutter.project_slug}}"
# The deploy's code: test_deploy_code.py lints every distinct rendering of its files in the deploy matrix.
DEPLOY_TEMPLATE = Path(PROJECT_TEMPLATE) / "deploy"
NOT_OURS = {".git", ".venv", "venv", "build", "__pycache__", ".ruff_cache", ".pytest_cache"}


def template_files() -> list[Path]:
    """Every file of the template repository (paths relative to its root), without tool and build output."""
    return sorted(
        path.relative_to(TEMPLATE_ROOT)
        for path in TEMPLATE_ROOT.rglob("*")
        if path.is_file() and not NOT_OURS & set(path.relative_to(TEMPLATE_ROOT).parts)
    )


def first_line(path: Path) -> str:
    with (TEMPLATE_ROOT / path).open(errors="replace") as file:
        return file.readline()


def suffix(path: Path) -> str:
    """The suffix of the name the file gets, whatever condition the name carries ("{% if ... %}x.py{% endif %}")."""
    return Path(re.sub(r"\{%.*?%\}", "", path.name)).suffix


def is_python(path: Path) -> bool:
    return suffix(path) == ".py" or (first_line(path).startswith("#!") and "python" in first_line(path))


def is_shell(path: Path) -> bool:
    shebang = first_line(path)
    return suffix(path) == ".sh" or (shebang.startswith("#!") and shebang.rstrip().endswith(("sh", "bash")))


def in_app(path: Path) -> bool:
    return path.parts[0] == PROJECT_TEMPLATE


@functools.cache
def name_contexts() -> tuple[dict, ...]:
    """For each combination test_matrix.py lints: the context cookiecutter renders file names with."""
    contexts = []
    for answers in ACCEPTED + CELERY + WEBSOCKETS:
        context = generate_context(context_file=str(TEMPLATE_ROOT / "cookiecutter.json"), extra_context=answers)
        context["cookiecutter"] = prompt_for_config(context, no_input=True)
        contexts.append(context)
    return tuple(contexts)


@functools.cache
def name_template(part: str):
    """One part of a path, compiled once: cookiecutter's environment is the same for every answer."""
    environment = StrictEnvironment(
        context=name_contexts()[0], keep_trailing_newline=True, **PROMPTS["_jinja2_env_vars"]
    )
    return environment.from_string(part)


def rendered_somewhere(path: Path) -> bool:
    """Does some linted combination give this template file a name (no part rendered empty, so it is written)?"""
    return any(all(name_template(part).render(**context) for part in path.parts) for context in name_contexts())


def deploy_name(path: Path) -> str:
    """The name a file of deploy/ gets, under deploy/, whatever condition its name carries."""
    return re.sub(r"\{%.*?%\}", "", str(path.relative_to(DEPLOY_TEMPLATE)))


def test_every_python_file_of_the_app_is_rendered_where_ruff_runs():
    from tests.deploy_support import unique_files

    python_files = [path for path in template_files() if in_app(path) and is_python(path)]
    assert len(python_files) > 30, python_files  # the walk found the app
    # The deploy's code (test_deploy_code.py); deploy/gunicorn.conf.py is the app's, in every test_matrix.py project.
    deploy_code = [
        path for path in python_files
        if path == DEPLOY_TEMPLATE / "deploy.py" or path.is_relative_to(DEPLOY_TEMPLATE / "engine")
    ]  # fmt: skip
    assert {DEPLOY_TEMPLATE / "deploy.py", DEPLOY_TEMPLATE / "engine" / "plan.py"} <= set(deploy_code)
    app = [str(path) for path in python_files if path not in deploy_code]
    assert [name for name in app if not rendered_somewhere(Path(name))] == [], "rendered by no test_matrix.py project"
    linted = {unique.name for unique in unique_files()["deploy-python"]}
    names = {deploy_name(path) for path in deploy_code}
    assert names - linted == set(), "rendered by no combination test_deploy_code.py lints"


def test_every_shell_file_of_the_app_is_shellchecked_rendered():
    from tests.deploy_support import unique_files

    shell_files = [path for path in template_files() if in_app(path) and is_shell(path)]
    assert Path(PROJECT_TEMPLATE, "deploy", "install.sh") in shell_files
    outside = [str(path) for path in shell_files if not path.is_relative_to(DEPLOY_TEMPLATE)]
    assert outside == [], "a shell file outside deploy/ needs a shellcheck test"
    shellchecked = {unique.name for unique in unique_files()["install"]}
    names = {deploy_name(path) for path in shell_files}
    assert names - shellchecked == set(), "rendered by no combination test_deploy_code.py shellchecks"


def test_the_template_s_own_python_passes_ruff():
    """Named one by one: `ruff check .` would also read the app's Jinja pyproject.toml and fail to parse it."""
    python_files = [str(path) for path in template_files() if not in_app(path) and is_python(path)]
    assert {"local_extensions.py", "hooks/pre_gen_project.py", "hooks/post_gen_project.py"} <= set(python_files)
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--no-cache", *python_files],
            cwd=TEMPLATE_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_template_s_own_shell_scripts_pass_shellcheck():
    scripts = [str(path) for path in template_files() if not in_app(path) and is_shell(path)]
    assert {"scripts/build-systemd-testbed.sh", "scripts/install-system-packages.sh", ".ci/run"} <= set(scripts)
    result = subprocess.run(
        [require_tool("shellcheck"), "--external-sources", "--severity=style", "-f", "gcc", *scripts],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
