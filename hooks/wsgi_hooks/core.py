"""The hooks' core: validate answers, write secrets, run the chosen plugins, tidy the tree, print next steps."""

import sys
from pathlib import Path

from wsgi_hooks import project_secrets, tidy, validate
from wsgi_hooks.answers import load_answers
from wsgi_hooks.plugin_api import active_plugins, collect, option_problems

__all__ = ["load_answers", "post_generate", "pre_generate"]


def pre_generate(answers: dict) -> int:
    """Exit status 1, with every problem on stderr, when the answers cannot make a working project."""
    problems = validate.problems(answers) + option_problems(answers)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


def post_generate(answers: dict, project: Path) -> int:
    plugins = active_plugins(answers)
    added = project_secrets.ensure(project, answers["package_name"])
    for plugin in plugins:
        if hasattr(plugin, "post_generate"):
            plugin.post_generate(project, answers)
    tidy.remove_empty_directories(project)
    print(next_steps_text(answers, plugins, added))
    return 0


def next_steps_text(answers: dict, plugins: list, added_secrets: list[str]) -> str:
    lines = [f"Created {answers['project_slug']}/ ({answers['framework']} on {answers['server']})."]
    if added_secrets:
        lines.append(f"Generated {', '.join(added_secrets)} into .env (mode 0600, ignored by git; values not shown).")
    lines += ["", "Next steps:", f"  cd {answers['project_slug']}", "  python3 -m venv .venv"]
    lines += ["  .venv/bin/pip install -e '.[dev]'"]
    lines += [f"  {step}" for step in collect(plugins, "next_steps", answers)]
    lines += ["", "README.md in the project explains each step and how to deploy."]
    return "\n".join(lines)
