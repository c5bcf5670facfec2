"""Format the generated project's deploy engine (its Python, with Jinja in it) with ruff, as the rendered files must be.

Jinja statement lines ({% ... %}, each on a line of its own) become comments, inline {{ ... }} placeholder names and
a region between {# ruff: off #} and {# ruff: on #} lines one comment, while ruff formats and sorts imports; then
they are put back. Run after editing deploy/engine; the tests check
the rendered files (tests/test_deploy_files.py).

    .venv/bin/python scripts/format_deploy_engine.py
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "{{cookiecutter.project_slug}}" / "deploy" / "engine"
STATEMENT = re.compile(r"^\s*(\{%.*%\})\s*$")
EXPRESSION = re.compile(r"\{\{.*?\}\}")
MARK = "#__jinja__ "
REGION = re.compile(r"^\{# ruff: off #\}\n.*?^\{# ruff: on #\}\n", re.M | re.S)


def protect(text: str) -> tuple[str, list[str]]:
    expressions: list[str] = []

    def hide(match: re.Match[str]) -> str:
        expressions.append(match[0])
        return f"__jinja{len(expressions) - 1}__"

    regions: list[str] = []

    def keep(match: re.Match[str]) -> str:
        regions.append(match[0])
        return f"{MARK}__region{len(regions) - 1}__\n"

    text = REGION.sub(keep, text)
    lines = [MARK + STATEMENT.match(line)[1] if STATEMENT.match(line) else line for line in text.splitlines()]
    return EXPRESSION.sub(hide, "\n".join(lines) + "\n"), [*expressions, *regions]


def blank_lines_before_statements(text: str) -> list[int]:
    """For each Jinja statement line, how many blank lines stand right before it."""
    counts, blank = [], 0
    for line in text.splitlines():
        if STATEMENT.match(line):
            counts.append(blank)
        blank = blank + 1 if not line.strip() else 0
    return counts


def keep_blank_lines(text: str, counts: list[int]) -> str:
    """Put back the blank lines the source had before each Jinja statement line (ruff sets those of the comments it
    saw there, which would double the blank lines between definitions once rendered)."""
    lines: list[str] = []
    index = 0
    for line in text.splitlines():
        if STATEMENT.match(line) and index < len(counts):
            while lines and not lines[-1].strip():
                lines.pop()
            lines.extend([""] * counts[index])
            index += 1
        lines.append(line)
    return "\n".join(lines) + "\n"


def restore(text: str, kept: list[str]) -> str:
    regions = [item for item in kept if item.startswith("{#")]
    text = re.sub(r"^[ \t]*# ?__jinja__ __region(\d+)__\n", lambda match: regions[int(match[1])], text, flags=re.M)
    text = re.sub(r"__jinja(\d+)__", lambda match: kept[int(match[1])], text)
    return re.sub(r"^[ \t]*# ?__jinja__ ", "", text, flags=re.M)


def main() -> int:
    ruff = str(Path(sys.executable).with_name("ruff"))
    failed = []
    for path in sorted(path for path in ENGINE.iterdir() if ".py" in path.name):
        source = path.read_text()
        protected, expressions = protect(path.read_text())
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / "engine.py"
            copy.write_text(protected)
            settings = ["--config", "line-length = 120"]
            check = subprocess.run(
                [ruff, "check", "--select", "I", "--fix", "--quiet", *settings, str(copy)], check=False
            )
            form = subprocess.run([ruff, "format", "--quiet", *settings, str(copy)], check=False)
            if check.returncode or form.returncode:
                failed.append(path.name)
                continue
            formatted = keep_blank_lines(restore(copy.read_text(), expressions), blank_lines_before_statements(source))
        if formatted != path.read_text():
            path.write_text(formatted)
            print(f"formatted {path.name}")
    for name in failed:
        print(f"could not format {name} (not Python once the Jinja is hidden)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
