"""The deploy's own code for every accepted combination of the deploy matrix (tests/deploy_support.py), each distinct
rendering once: deploy/install.sh through shellcheck; deploy.py and deploy/engine/ through ruff (check and format
--check, with the generated project's own configuration); deploy/engine/ through mypy --strict, against the pyinfra
deploy/requirements.txt pins and on the oldest Python install.sh runs the deploy with.

ruff reads one file at a time: each distinct file is linted once, at its place in a project beside that project's
pyproject.toml. mypy reads a package with everything it imports: whole deploy/engine/ packages are checked, many in
one mypy process (each under a directory of its own, so that their modules do not collide), in batches, enough of the
distinct packages that every distinct module is checked in one (type_checked_engines: about a fifth of them). The
modules meet through plan.py, which has a rendering per combination of modules, and through modules that have one
rendering (base, context, pieces, proxy, releases), so a module's types are checked against everything that uses it.
Tests named *_rejects_* prove each check bites.
"""

import functools
import hashlib
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import validators
from tests.deploy_support import DeployRenderer, kind_of, label, params, rendered_matrix, unique_files
from tests.render import TEMPLATE_ROOT

pytestmark = pytest.mark.deploy

PYPROJECT_TEMPLATE = TEMPLATE_ROOT / "{{cookiecutter.project_slug}}" / "pyproject.toml"
MYPY_BATCH = 200  # engines per mypy process: about 30 s of CPU each


# ---------------------------------------------------------------- install.sh
def write_deploy_dir(scratch: Path, files: dict[str, str]) -> Path:
    deploy = scratch / "deploy"
    for name, content in files.items():
        (deploy / name).parent.mkdir(parents=True, exist_ok=True)
        (deploy / name).write_text(content)
    return deploy


@pytest.mark.parametrize("unique", params("install"))
def test_install_script_passes_shellcheck(unique, tmp_path):
    check = validators.shellcheck(write_deploy_dir(tmp_path, {unique.name: unique.content}) / unique.name)
    assert check.ok, check


def test_shellcheck_rejects_an_unquoted_variable(tmp_path):
    script = unique_files()["install"][0].content
    assert 'rm -rf "$tools"' in script
    broken = write_deploy_dir(tmp_path, {"install.sh": script.replace('rm -rf "$tools"', "rm -rf $tools", 1)})
    check = validators.shellcheck(broken / "install.sh")
    assert not check.ok and "SC2086" in check.stdout, check


# ---------------------------------------------------------------- what is distinct
@dataclass
class Rendering:
    """One distinct rendering (of a file, or of the whole deploy/engine/), with the combinations that produce it."""

    files: dict[str, str]  # name under deploy/: content
    combos: list[dict] = field(default_factory=list)
    pyproject: str = ""  # the project's, for ruff: of the first combination

    @property
    def example(self) -> str:
        return label(self.combos[0])


def digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def ruff_settings(pyproject: str) -> str:
    """The [tool.ruff*] tables of a pyproject.toml: what ruff reads of it."""
    return "\n".join(re.findall(r"^\[tool\.ruff[^\n]*\n(?:(?!\[)[^\n]*\n)*", pyproject, re.M))


@functools.cache
def python_files() -> list[Rendering]:
    """Each distinct deploy.py and deploy/engine/ module, with the ruff settings of the projects that have it."""
    renderer = DeployRenderer()
    pyproject_template = renderer.environment.from_string(PYPROJECT_TEMPLATE.read_text())
    found: dict[str, Rendering] = {}
    for answers, files in rendered_matrix():
        pyproject = pyproject_template.render(cookiecutter=renderer.context(answers))
        settings = ruff_settings(pyproject)
        for name, content in files.items():
            if kind_of(name) == "deploy-python":
                key = digest(settings, name, content)
                found.setdefault(key, Rendering({name: content}, pyproject=pyproject)).combos.append(answers)
    return list(found.values())


@functools.cache
def engines() -> list[Rendering]:
    """Each distinct deploy/engine/ package, in a stable order."""
    found: dict[str, Rendering] = {}
    for answers, files in rendered_matrix():
        engine = {name: content for name, content in sorted(files.items()) if name.startswith("engine/")}
        key = digest(*(part for item in engine.items() for part in item))
        found.setdefault(key, Rendering(engine)).combos.append(answers)
    return sorted(found.values(), key=lambda rendering: rendering.example)


def test_the_distinct_renderings_cover_the_matrix():
    combos = len(rendered_matrix())
    assert sum(len(rendering.combos) for rendering in engines()) == combos
    names = {name for _, files in rendered_matrix() for name in files if kind_of(name) == "deploy-python"}
    assert {"deploy.py", "engine/main.py", "engine/plan.py", "engine/context.py"} <= names
    assert {name for rendering in python_files() for name in rendering.files} == names
    rendered = sum(1 for _, files in rendered_matrix() for name in files if kind_of(name) == "deploy-python")
    assert sum(len(rendering.combos) for rendering in python_files()) == rendered, "each file of each combination"


# ---------------------------------------------------------------- findings, grouped for whoever fixes them
@dataclass(frozen=True)
class Finding:
    file: str  # under deploy/
    line: int
    message: str  # tool and message, no line number


def grouped(findings: list[tuple[Finding, Rendering]], renderings: list[Rendering], what: str) -> str:
    """One line per file and message: in how many of the distinct RENDERINGS that have the file, at which lines, and
    one combination that renders it so."""
    totals: dict[str, int] = {}
    for rendering in renderings:
        for name in rendering.files:
            totals[name] = totals.get(name, 0) + 1
    groups: dict[tuple[str, str], list[tuple[int, Rendering]]] = {}
    for finding, rendering in findings:
        groups.setdefault((finding.file, finding.message), []).append((finding.line, rendering))
    lines = []
    for (file, message), seen in sorted(groups.items()):
        affected = {id(rendering): rendering for _, rendering in seen}
        at = ", ".join(str(line) for line in sorted({line for line, _ in seen})[:8])
        example = next(iter(affected.values())).example
        lines.append(f"{file}: {message}: in {len(affected)} of {totals[file]} {what} (line {at}), e.g. {example}")
    return "\n".join(lines)


# ---------------------------------------------------------------- ruff
RUFF_PATH = re.compile(r"^c\d+/s\d+/deploy/")


def ruff_findings(renderings: list[Rendering], root: Path) -> list[tuple[Finding, Rendering]]:
    """ruff check and ruff format --check on each rendering's files, each where the project has it, beside its
    pyproject.toml: root/c<settings>/s<slot>/ is a project with at most one rendering of each file."""
    where: dict[str, Rendering] = {}
    slots: dict[tuple[str, str], int] = {}
    settings_index: dict[str, int] = {}
    for rendering in renderings:
        settings = settings_index.setdefault(ruff_settings(rendering.pyproject), len(settings_index))
        for name, content in rendering.files.items():
            slot = slots[(str(settings), name)] = slots.get((str(settings), name), -1) + 1
            project = root / f"c{settings}" / f"s{slot}"
            if not (project / "pyproject.toml").exists():
                project.mkdir(parents=True)
                (project / "pyproject.toml").write_text(rendering.pyproject)
            path = project / "deploy" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            where[str(path.relative_to(root))] = rendering
    found = []
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--no-cache", "--output-format=json", "."], cwd=root,
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode in (0, 1) and result.stderr == "", result
        for item in json.loads(result.stdout):
            path = str(Path(item["filename"]).relative_to(root))
            message = f"ruff {' '.join(command)}: {item['code']} {item['message']}"
            found.append((Finding(RUFF_PATH.sub("", path), item["location"]["row"], message), where[path]))
    return found


def test_deploy_python_passes_ruff(tmp_path):
    renderings = python_files()
    findings = ruff_findings(renderings, tmp_path)
    assert findings == [], "\n" + grouped(findings, renderings, "distinct renderings (file and ruff settings)")


def test_ruff_rejects_an_unused_import_and_unformatted_code(tmp_path):
    pyproject = python_files()[0].pyproject
    clean = Rendering({"engine/extra.py": '"""Clean."""\n\nVALUE = {"a": 1}\n'}, pyproject=pyproject)
    unused = Rendering({"engine/extra.py": '"""Unused."""\n\nimport os\n'}, pyproject=pyproject)
    unformatted = Rendering({"engine/extra.py": '"""Unformatted."""\n\nVALUE = {  "a":1 }\n'}, pyproject=pyproject)
    assert ruff_findings([clean], tmp_path / "clean") == []
    assert [finding for finding, _ in ruff_findings([unused], tmp_path / "unused")] == [
        Finding("engine/extra.py", 3, "ruff check: F401 `os` imported but unused")
    ]
    assert [finding for finding, _ in ruff_findings([unformatted], tmp_path / "unformatted")] == [
        Finding("engine/extra.py", 3, "ruff format --check: unformatted File would be reformatted")
    ]


# ---------------------------------------------------------------- mypy
def oldest_python() -> str:
    """The oldest Python deploy/install.sh runs the deploy with."""
    script = unique_files()["install"][0].content
    major, minor = re.search(r"sys\.version_info < \((\d+), (\d+)\)", script).groups()
    return f"{major}.{minor}"


MYPY_LINE = re.compile(r"^e([0-9a-f]+)/(engine/\S+\.py):(\d+): error: (.+)$", re.M)


def mypy_findings(renderings: list[Rendering], root: Path) -> list[tuple[Finding, Rendering]]:
    """mypy --strict on each rendering's deploy/engine/, all in one process: root/e<index>/engine/."""
    for index, rendering in enumerate(renderings):
        for name, content in rendering.files.items():
            path = root / f"e{index:x}" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    command = [
        sys.executable, "-m", "mypy", "--strict", "--python-version", oldest_python(), "--cache-dir", os.devnull,
        "--namespace-packages", "--explicit-package-bases", "--no-error-summary", "--show-error-codes",
        "--no-color-output", "--no-pretty", "--untyped-calls-exclude", "pyinfra",  # as the project's [tool.mypy]
        *(f"e{index:x}/engine" for index in range(len(renderings))),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False, timeout=1800)
    assert result.returncode in (0, 1) and result.stderr == "", result  # 2: mypy could not run
    found = [
        (Finding(file, int(line), f"mypy {message}"), renderings[int(index, 16)])
        for index, file, line, message in MYPY_LINE.findall(result.stdout)
    ]
    assert bool(found) == (result.returncode == 1), result.stdout[-3000:]
    return found


@functools.cache
def type_checked_engines() -> list[Rendering]:
    """Distinct engines, the ones with most modules first, each kept if it has a module (file and content) no engine
    kept before has: together they hold every distinct module, plan.py's included."""
    covered: set[tuple[str, str]] = set()
    chosen = []
    for rendering in sorted(engines(), key=lambda rendering: -len(rendering.files)):
        if modules := set(rendering.files.items()) - covered:
            chosen.append(rendering)
            covered |= modules
    return chosen


def test_the_type_checked_engines_hold_every_module():
    every = {module for rendering in engines() for module in rendering.files.items()}
    assert {module for rendering in type_checked_engines() for module in rendering.files.items()} == every
    plans = {rendering.files["engine/plan.py"] for rendering in engines()}
    assert len(plans) <= len(type_checked_engines()) < len(engines())


def mypy_batches() -> list:
    count = len(type_checked_engines())
    return [
        pytest.param(start, id=f"engines-{start + 1}-{min(start + MYPY_BATCH, count)}-of-{count}")
        for start in range(0, count, MYPY_BATCH)
    ]


@pytest.mark.parametrize("start", mypy_batches())
def test_deploy_engine_passes_mypy_strict(start, tmp_path):
    tools = next(unique.content for unique in unique_files()["deploy-requirements"])
    pinned = re.search(r"^pyinfra==(\S+)$", tools, re.M)[1]
    assert importlib.metadata.version("pyinfra") == pinned, "mypy reads the pyinfra the deploy runs on"
    batch = type_checked_engines()[start : start + MYPY_BATCH]
    findings = mypy_findings(batch, tmp_path)
    assert findings == [], "\n" + grouped(findings, batch, "distinct engines of this batch")


def test_mypy_rejects_a_wrong_type(tmp_path):
    engine = engines()[0]
    broken = Rendering({**engine.files, "engine/broken.py": "from . import layout\n\nCOUNT: int = layout.APP_NAME\n"})
    findings = [finding for finding, _ in mypy_findings([broken], tmp_path)]
    assert Finding("engine/broken.py", 3, 'mypy Incompatible types in assignment (expression has type "str", '
                   'variable has type "int")  [assignment]') in findings  # fmt: skip
