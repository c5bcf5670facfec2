"""Reject bad answers before a project is kept: cookiecutter's pre-generation hook (copier's task validates through
post_gen_project.py)."""

import sys
from pathlib import Path

# Cookiecutter renders this hook into a temporary file: the line below then names the template's hooks/ directory.
# Copier runs the file in place, unrendered, so its own directory is the right one.
RENDERED_HOOKS_DIR = "{{ template_hooks_dir }}"
sys.path.insert(0, RENDERED_HOOKS_DIR if Path(RENDERED_HOOKS_DIR).is_dir() else str(Path(__file__).resolve().parent))

from wsgi_hooks import core  # noqa: E402

RENDERED_ANSWERS = "{{ cookiecutter | b64json }}"

if __name__ == "__main__":
    sys.exit(core.pre_generate(core.load_answers(RENDERED_ANSWERS, sys.argv[1:])))
