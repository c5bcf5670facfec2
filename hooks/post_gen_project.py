"""Finish a generated project: cookiecutter's post-generation hook, and copier's one task (also run on update), which
validates the answers first: copier has no pre-generation hook, and one process costs one interpreter start."""

import sys
from pathlib import Path

# Cookiecutter renders this hook into a temporary file: the line below then names the template's hooks/ directory.
# Copier runs the file in place, unrendered, so its own directory is the right one.
RENDERED_HOOKS_DIR = "{{ template_hooks_dir }}"
sys.path.insert(0, RENDERED_HOOKS_DIR if Path(RENDERED_HOOKS_DIR).is_dir() else str(Path(__file__).resolve().parent))

from wsgi_hooks import core  # noqa: E402

RENDERED_ANSWERS = "{{ cookiecutter | b64json }}"

if __name__ == "__main__":
    # Arguments: copier, which has not validated the answers (cookiecutter's pre-generation hook has).
    if sys.argv[1:]:
        sys.exit(core.copier_task(sys.argv[1:], Path.cwd()))
    sys.exit(core.post_generate(core.load_answers(RENDERED_ANSWERS, []), Path.cwd()))
