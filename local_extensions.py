"""Jinja extension that cookiecutter loads (``_extensions`` in cookiecutter.json) to render the defaults and hooks.

Cookiecutter copies each hook to a temporary file before running it, so a hook cannot find the template's ``hooks/``
package by itself. This extension gives the hook template the absolute path of that package and a quoting-safe way to
embed the answers. Copier does not need that: it runs the hooks in place and passes the answers as an argument.

It also gives cookiecutter the ``ascii_slug`` filter that derives project_slug from project_name. Copier cannot load a
module from the template directory (it imports ``_jinja_extensions`` from its own environment, and the template
directory is not on sys.path), so scripts/generate_copier_yml.py writes the same steps into copier.yml as one plain
Jinja expression built from TRANSLITERATION below: one table, two renderings, the same slug.
"""

import base64
import contextlib
import functools
import json
import logging
import re
import unicodedata
from pathlib import Path

from jinja2 import Environment, FileSystemBytecodeCache
from jinja2.ext import Extension

SLUG_LENGTH = 31  # systemd refuses longer user and group names (the unit runs as the slug)
# What a derived slug is when the name has no letter or digit with an ASCII form (研究室, "!!!"): never a valid slug,
# always a harmless directory name, so the hooks refuse it and ask for project_slug.
NO_SLUG = "-"
# Letters Unicode does not decompose into an ASCII letter plus accents.
# fmt: off
SPECIAL_LETTERS = {
    "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ħ": "h", "\u0131": "i",
    "ŧ": "t", "ŋ": "ng", "ƒ": "f", "ĸ": "k", "\u017f": "s", "ɨ": "i", "ƀ": "b", "ɍ": "r", "ȥ": "z",
}
# fmt: on
# Blocks whose letters get an ASCII form: Latin-1 Supplement, Latin Extended-A and -B, Latin Extended Additional
# (Vietnamese), the Latin ligatures (fi) and the fullwidth forms.
TRANSLITERATED_BLOCKS = [(0x00A0, 0x024F), (0x1E00, 0x1EFF), (0xFB00, 0xFB06), (0xFF01, 0xFF5E)]


def _ascii_form(character: str) -> str:
    """The character without its accents (NFKD, combining marks dropped), "" when that leaves no ASCII."""
    if character in SPECIAL_LETTERS:
        return SPECIAL_LETTERS[character]
    bare = "".join(part for part in unicodedata.normalize("NFKD", character) if not unicodedata.combining(part))
    return bare if bare.isascii() else ""


def _transliteration() -> dict[str, str]:
    """Lowercase non-ASCII character -> its ASCII form, for every such character in the blocks that has one."""
    table = {}
    for first, last in TRANSLITERATED_BLOCKS:
        for code in range(first, last + 1):
            character = chr(code)
            form = _NOT_SLUG.sub("-", _ascii_form(character).lower())  # what ascii_slug makes of it anyway
            if character.lower() == character and form.strip("-"):
                table[character] = form
    return table


_NOT_SLUG = re.compile(r"[^a-z0-9]+")
TRANSLITERATION = _transliteration()
_TRANSLATE = str.maketrans(TRANSLITERATION)


def ascii_slug(name: str) -> str:
    """project_name -> project_slug: `Études Lab Tööl` -> `etudes-lab-tool`.

    Lowercase, accents and ligatures to ASCII, every run of other characters to one dash, at most 31 characters
    (cut at a dash when there is one); NO_SLUG when nothing is left. Copier gets these steps from
    scripts/generate_copier_yml.py (`copier_ascii_slug`); keep the two in step.
    """
    slug = _NOT_SLUG.sub("-", str(name).lower().translate(_TRANSLATE)).strip("-")
    slug = (slug + "-")[: SLUG_LENGTH + 1].rsplit("-", 1)[0][:SLUG_LENGTH]
    return slug or NO_SLUG


def b64json(value):
    """Answers as base64-encoded JSON: safe inside a Python string literal, whatever the user typed."""
    return base64.b64encode(json.dumps(value).encode()).decode()


class QuietHookFailure(logging.Filter):
    """Cookiecutter logs a failed hook with the traceback of its own hook runner, after the hook printed why. The
    pre-generation hook fails only to refuse answers, and has named the field and the rule: drop that record. Any
    other hook failure keeps its message, without cookiecutter's traceback (the hook printed its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.getMessage().startswith("Stopping generation because"):
            return True
        record.exc_info = record.exc_text = None
        return "pre_gen_project" not in record.getMessage()


class HookSupport(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        hooks_log = logging.getLogger("cookiecutter.hooks")
        if not any(isinstance(existing, QuietHookFailure) for existing in hooks_log.filters):
            hooks_log.addFilter(QuietHookFailure())
        environment.globals["template_hooks_dir"] = str(Path(__file__).resolve().parent / "hooks")
        environment.filters["b64json"] = b64json
        environment.filters["ascii_slug"] = ascii_slug
        # Compiling is most of a bake's time: the template files, and each file name (cookiecutter compiles those
        # from strings). Jinja's bytecode cache keeps the compiled code, checked against the source, in a private
        # per-user temporary directory; names go through it too.
        if environment.bytecode_cache is None:
            with contextlib.suppress(RuntimeError, OSError):  # no safe cache directory: compile as before
                environment.bytecode_cache = FileSystemBytecodeCache()
                environment.from_string = functools.partial(cached_from_string, environment)


def cached_from_string(environment, source, globals=None, template_class=None):
    """Environment.from_string through the environment's bytecode cache (keyed by the source itself)."""
    if not isinstance(source, str):
        return Environment.from_string(environment, source, globals, template_class)
    cache = environment.bytecode_cache
    bucket = cache.get_bucket(environment, source, None, source)
    if bucket.code is None:
        bucket.code = environment.compile(source)
        cache.set_bucket(bucket)
    template_class = template_class or environment.template_class
    return template_class.from_code(environment, bucket.code, environment.make_globals(globals), None)
