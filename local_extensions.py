"""Jinja extension that cookiecutter loads (``_extensions`` in cookiecutter.json) to render the hooks.

Cookiecutter copies each hook to a temporary file before running it, so a hook cannot find the template's ``hooks/``
package by itself. This extension gives the hook template the absolute path of that package and a quoting-safe way to
embed the answers. Copier does not need it: it runs the hooks in place and passes the answers as an argument.
"""

import base64
import json
from pathlib import Path

from jinja2.ext import Extension


def b64json(value):
    """Answers as base64-encoded JSON: safe inside a Python string literal, whatever the user typed."""
    return base64.b64encode(json.dumps(value).encode()).decode()


class HookSupport(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.globals["template_hooks_dir"] = str(Path(__file__).resolve().parent / "hooks")
        environment.filters["b64json"] = b64json
