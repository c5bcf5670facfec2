"""The documentation site builds with `mkdocs build --strict`, every page is in the navigation, and the generated
parts are current: the questions page and README.md's questions table (from cookiecutter.json), the reference pages
(from generated projects)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scripts.generate_questions_doc import OUTPUT, README, readme_with_table, render
from scripts.generate_reference_docs import render_pages
from tests.render import PROMPTS, TEMPLATE_ROOT

DOCS = TEMPLATE_ROOT / "docs"


def nav_pages(entries) -> list[str]:
    pages = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_questions_page_is_current():
    assert OUTPUT.read_text() == render(), "docs/questions.md is stale: run `make docs/questions.md`"


def test_readme_questions_table_is_current_and_complete():
    readme = README.read_text()
    assert readme == readme_with_table(readme), "README.md's questions table is stale: run `make docs/questions.md`"
    questions = [key for key in PROMPTS if not key.startswith("_")]
    assert [row.split("`")[1] for row in readme.splitlines() if row.startswith("| `")][: len(questions)] == questions


def test_reference_pages_are_current():
    for page, text in render_pages().items():
        assert page.read_text() == text, f"{page.name} is stale: run `make docs/reference`"


def test_every_page_is_in_the_navigation():
    config = yaml.safe_load((TEMPLATE_ROOT / "mkdocs.yml").read_text())
    pages = {str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md")}
    listed = nav_pages(config["nav"])
    assert sorted(listed) == sorted(set(listed)), "a page is listed twice"
    assert set(listed) == pages


def test_site_builds_strictly(tmp_path: Path):
    mkdocs = Path(sys.executable).with_name("mkdocs")
    if not mkdocs.exists():
        pytest.skip("mkdocs is not installed in the test environment (pip install --group dev)")
    # NO_MKDOCS_2_WARNING: Material's end-of-life banner, the only output that is not about these pages.
    result = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=TEMPLATE_ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    noise = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("INFO")]
    assert not noise, "\n".join(noise)
    assert (tmp_path / "site" / "questions" / "index.html").exists()
