"""Find the plugins for the chosen answers.

A plugin is the module ``wsgi_hooks/plugins/<question>_<value>.py`` (e.g. ``proxy_apache.py``); it is active when the
answer to <question> is <value>. Every function is optional:

    validate(answers) -> Iterable[str]        problems, each "field: rule"
    post_generate(project: Path, answers)     act on the generated tree
    next_steps(answers) -> Iterable[str]      shell commands or advice for the user, printed after generation

Adding an option value therefore needs template files plus one plugin module, and no edit to the core.
"""

import importlib
import importlib.util
from types import ModuleType

PLUGIN_PACKAGE = "wsgi_hooks.plugins"


def active_plugins(answers: dict) -> list[ModuleType]:
    """Plugin modules for the chosen answers, in prompt order."""
    plugins = []
    for question, value in answers.items():
        if question.startswith("_") or not isinstance(value, str):
            continue
        name = f"{question}_{value}"
        if name.isidentifier() and importlib.util.find_spec(f"{PLUGIN_PACKAGE}.{name}") is not None:
            plugins.append(importlib.import_module(f"{PLUGIN_PACKAGE}.{name}"))
    return plugins


def collect(plugins: list[ModuleType], function: str, *args) -> list:
    """Call `function` on every plugin that defines it; concatenate the iterables they return."""
    results = []
    for plugin in plugins:
        hook = getattr(plugin, function, None)
        if hook is not None:
            results.extend(hook(*args) or ())
    return results


def option_problems(answers: dict) -> list[str]:
    """What the chosen option values' plugins refuse: THE rule for which answer combinations are accepted.

    The hooks apply it before generation; the template's tests import it to split combinations into accepted and
    refused ones instead of restating it.
    """
    return collect(active_plugins(answers), "validate", answers)
