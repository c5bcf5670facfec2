"""The hooks' core: validate answers, write secrets, run the chosen plugins, tidy the tree, print next steps."""

import json
import os
import shlex
import sys
from pathlib import Path

from wsgi_hooks import project_secrets, tidy, validate
from wsgi_hooks.answers import load_answers
from wsgi_hooks.plugin_api import active_plugins, collect, option_problems

__all__ = ["copier_task", "load_answers", "post_generate", "pre_generate"]


def pre_generate(answers: dict) -> int:
    """Exit status 1, with every problem on stderr, when the answers cannot make a working project."""
    problems = validate.problems(answers) + option_problems(answers)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


def copier_task(arguments: list[str], project: Path) -> int:
    """Copier's task: the answers (JSON), then copier's own values (JSON: destination as typed, answers file,
    operation). Refused answers: exit status 1, and a copy takes back what copier wrote (copier_undo)."""
    answers = json.loads(arguments[0])
    run = json.loads(arguments[1]) if len(arguments) > 1 else {}
    if pre_generate(answers):
        if run.get("operation") == "copy":
            from wsgi_hooks import copier_undo  # jinja2, copier's own dependency: imported only here

            copier_undo.take_back(project, answers, run.get("answers_file") or ".copier-answers.yml")
        return 1
    return post_generate(answers, project, shown_as=run.get("destination"))


def post_generate(answers: dict, project: Path, shown_as: str | None = None) -> int:
    plugins = active_plugins(answers)
    added = project_secrets.ensure(project, answers["package_name"])
    for plugin in plugins:
        if hasattr(plugin, "post_generate"):
            plugin.post_generate(project, answers)
    tidy.remove_empty_directories(project)
    print(next_steps_text(answers, plugins, added, shown_as or directory_from_shell(project)))
    return 0


def directory_from_shell(project: Path) -> str:
    """`project` as the user reaches it from the shell they ran the tool in (its PWD: the hooks run inside the
    project): relative when it is below that directory, else absolute."""
    shell_directory = os.environ.get("PWD", "")
    if shell_directory and project.is_relative_to(shell_directory) and project != Path(shell_directory):
        return str(project.relative_to(shell_directory))
    return str(project)


def next_steps_text(answers: dict, plugins: list, added_secrets: list[str], directory: str) -> str:
    lines = [f"Created {directory}/ ({answers['framework']} on {answers['server']})."]
    if added_secrets:
        lines.append(f"Generated {', '.join(added_secrets)} into .env (mode 0600, ignored by git; values not shown).")
    lines += ["", "Next steps:", f"  cd {shlex.quote(directory)}", "  python3 -m venv .venv"]
    lines += ["  .venv/bin/pip install -e '.[dev]'"]
    lines += [f"  {step}" for step in collect(plugins, "next_steps", answers)]
    lines += ["", "README.md in the project explains each step and how to deploy."]
    return "\n".join(lines)
