"""Read the answers a hook was given: rendered into it by cookiecutter, or as a JSON argument by copier."""

import base64
import json


def load_answers(rendered_b64: str, argv: list[str]) -> dict:
    """Answers from copier's JSON argument when there is one, else from the line cookiecutter rendered into the hook."""
    if argv:
        return json.loads(argv[0])
    return json.loads(base64.b64decode(rendered_b64))
