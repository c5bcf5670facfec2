"""Write copier.yml from cookiecutter.json, the one place the questions are defined.

cookiecutter reads cookiecutter.json straight from the repository, so that file is the source; copier.yml is generated
and committed (tests/test_prompts.py fails when it is stale). Run `make copier.yml` or
`python scripts/generate_copier_yml.py [TEMPLATE_DIR]` after changing cookiecutter.json.

What comes from cookiecutter.json: every question in order, its help (`__prompts__`), choices and default (a Jinja
default's `cookiecutter.x` becomes copier's `x`), `_envops` from `_jinja2_env_vars`, and the hidden `cookiecutter`
answer carrying every question plus every derived `__x` key. What lives here: copier's own settings and the sections.

cookiecutter's `ascii_slug` filter comes from local_extensions.py, a module copier cannot import (copier imports
`_jinja_extensions` from its own environment; the template directory is not on sys.path). So `x | ascii_slug` becomes
the same steps written out in plain Jinja (`copier_ascii_slug`), with local_extensions.TRANSLITERATION as the table.
"""

import json
import re
import sys
from pathlib import Path

import yaml

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
if str(TEMPLATE_ROOT) not in sys.path:
    sys.path.insert(0, str(TEMPLATE_ROOT))
from local_extensions import NO_SLUG, SLUG_LENGTH, TRANSLITERATION  # noqa: E402

# A section heading goes before the question named here; later questions stay in the section above them.
SECTION_STARTS = {"project_name": "PROJECT", "framework": "STACK", "domain_name": "SITE"}
RULE = "# " + "-" * 64

HEADER = """\
# copier.yml -- GENERATED from cookiecutter.json by scripts/generate_copier_yml.py (`make copier.yml`); do not edit.
# The template tree is written for cookiecutter (`{{ cookiecutter.x }}`); the hidden `cookiecutter` answer at the end
# gives copier the same variable, so one tree serves both tools.
"""

CONFIGURATION = """\
_min_copier_version: "9.4"
_subdirectory: "{% raw %}{{cookiecutter.project_slug}}{% endraw %}"
_templates_suffix: ""
_answers_file: .copier-answers.yml
_envops:  # same as "_jinja2_env_vars" in cookiecutter.json: block tags on their own lines leave no blank line
__ENV_OPTIONS__
  keep_trailing_newline: true
_exclude:
  - ".git"
_tasks:
  # Cookiecutter's two hooks in one Python process (a second one only started the interpreter again): validate the
  # answers (refused: copier removes a directory it created, and the task takes back what copier wrote into one that
  # existed), then write .env, let the chosen plugins act, tidy the tree and print the next steps (`cd` the destination
  # as typed). Idempotent: copier update re-runs it.
  - - "{{ _copier_python }}"
    - "{{ _copier_conf.src_path }}/hooks/post_gen_project.py"
    - "{{ cookiecutter | to_json }}"
    - >-
      {{ {'destination': _copier_conf.dst_path | string, 'answers_file': _copier_conf.answers_file | string,
      'operation': _copier_operation | default('')} | to_json }}
"""

HIDDEN_INTRO = """\
# The template tree reads `cookiecutter.<key>`; this computed answer provides it. Not asked, not recorded.
# type json, not yaml: to_json escapes an emoji as a surrogate pair, which JSON joins and YAML leaves broken.
cookiecutter:
  type: json
  when: false
  default: >-
"""

COOKIECUTTER_REFERENCE = re.compile(r"\bcookiecutter\.")
EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.S)
ASCII_SLUG = re.compile(r"\{\{\s*(\w+)\s*\|\s*ascii_slug\s*\}\}")


def copier_ascii_slug(name: str) -> str:
    """local_extensions.ascii_slug(name) as a Jinja expression copier evaluates without that module: lowercase,
    transliterate, runs of other characters to one dash (copier's ansible filter regex_replace), cut to 32 at a dash."""
    single = {key: value for key, value in TRANSLITERATION.items() if len(value) == 1}
    multiple = {key: value for key, value in TRANSLITERATION.items() if len(value) > 1}
    assert all(re.fullmatch(r"[a-z0-9-]+", value) for value in TRANSLITERATION.values()), "no quoting needed"
    table = f"''.maketrans('{''.join(single)}', '{''.join(single.values())}')"
    table_multiple = "''.maketrans({" + ", ".join(f"'{key}': '{value}'" for key, value in multiple.items()) + "})"
    slug = (
        f"(({name} | lower).translate({table}).translate({table_multiple})"
        " | regex_replace('[^a-z0-9]+', '-')).strip('-')"
    )
    return f"{{{{ ((({slug} ~ '-')[:{SLUG_LENGTH + 1}].rsplit('-', 1)[0][:{SLUG_LENGTH}]) or '{NO_SLUG}') }}}}"


def questions(prompts: dict) -> list[str]:
    return [key for key in prompts if not key.startswith("_")]


def derived_keys(prompts: dict) -> list[str]:
    """cookiecutter's rendered private keys (`__x`), computed from the answers and never asked."""
    return [key for key in prompts if key.startswith("__") and key != "__prompts__"]


def scalar(text: str, *, in_list: bool = False) -> str:
    """`text` as YAML: plain when YAML reads it back as the same string, else double-quoted."""
    document, expected = (f"[{text}]", [text]) if in_list else (f"key: {text}", {"key": text})
    try:
        if text == text.strip() and yaml.safe_load(document) == expected:
            return text
    except yaml.YAMLError:
        pass  # e.g. "a: b" or "{{ x }}": YAML syntax, so it needs quotes
    return json.dumps(text, ensure_ascii=False)


def for_copier(template: str) -> str:
    """A cookiecutter Jinja default for copier, whose answers are top-level names and which has no `ascii_slug`."""
    template = COOKIECUTTER_REFERENCE.sub("", template)
    return ASCII_SLUG.sub(lambda match: copier_ascii_slug(match.group(1)), template)


def as_expression(key: str, template: str) -> str:
    """A derived key's template as one Jinja expression, to sit in the hidden answer's dict."""
    if "{%" in template or "{#" in template:
        raise ValueError(f"{key}: only {{{{ expressions }}}} and plain text can be carried to copier: {template!r}")
    parts = []
    position = 0
    for match in EXPRESSION.finditer(template):
        if match.start() > position:
            parts.append(json.dumps(template[position : match.start()]))
        parts.append(for_copier(match.group(1).strip()))
        position = match.end()
    if position < len(template) or not parts:
        parts.append(json.dumps(template[position:]))
    return parts[0] if len(parts) == 1 else "(" + " ~ ".join(parts) + ")"


def question_block(key: str, value, help_text: str) -> list[str]:
    lines = [f"{key}:", "  type: str", f"  help: {scalar(help_text)}"]
    if isinstance(value, list):
        lines.append("  choices: [" + ", ".join(scalar(choice, in_list=True) for choice in value) + "]")
        default = value[0]  # cookiecutter's default is the first choice
    else:
        default = for_copier(value)
    return [*lines, f"  default: {scalar(default)}"]


def copier_yml(prompts: dict) -> str:
    """The text of copier.yml for this cookiecutter.json content."""
    missing = [key for key in SECTION_STARTS if key not in prompts]
    if missing:
        raise ValueError(f"section starts missing from cookiecutter.json: {missing}")
    env_options = "\n".join(f"  {name}: {json.dumps(value)}" for name, value in prompts["_jinja2_env_vars"].items())
    lines = [HEADER, f"{RULE} CONFIGURATION", CONFIGURATION.replace("__ENV_OPTIONS__", env_options)]
    for key in questions(prompts):
        if key in SECTION_STARTS:
            lines.append(f"{RULE} {SECTION_STARTS[key]}")
        lines += [*question_block(key, prompts[key], prompts["__prompts__"][key]), ""]
    lines += [f"{RULE} HIDDEN", HIDDEN_INTRO.rstrip("\n"), "    {{ {"]
    lines += [f'      "{key}": {key},' for key in questions(prompts)]
    lines += [f'      "{key}": {as_expression(key, prompts[key])},' for key in derived_keys(prompts)]
    lines += ["    } | to_json }}"]
    return "\n".join(lines) + "\n"


def generate(template_root: Path = TEMPLATE_ROOT) -> bool:
    """Rewrite template_root/copier.yml from its cookiecutter.json; True when the file changed."""
    prompts = json.loads((template_root / "cookiecutter.json").read_text())
    target = template_root / "copier.yml"
    text = copier_yml(prompts)
    if target.exists() and target.read_text() == text:
        return False
    target.write_text(text)
    return True


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else TEMPLATE_ROOT
    print(f"{root / 'copier.yml'}: {'rewritten' if generate(root) else 'already current'}")
