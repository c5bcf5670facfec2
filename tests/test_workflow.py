"""The generated GitHub Actions workflow, every distinct rendering: GitHub's workflow schema (check-jsonschema's
vendored copy, no network) and zizmor's offline audits (its default persona), with no finding above informational.

The renderings are every combination of the choice answers the workflow's template names (the others cannot change
it), made with cookiecutter's own Jinja environment.
"""

import itertools
import re
import shutil
import sys
from pathlib import Path

import pytest
from cookiecutter.environment import StrictEnvironment

from tests import validators
from tests.ci import skip_or_fail
from tests.render import CHOICES, PROMPTS, TEMPLATE_ROOT, hook_answers

pytestmark = pytest.mark.deploy

WORKFLOW = TEMPLATE_ROOT / "{{cookiecutter.project_slug}}" / ".github" / "workflows" / "ci.yml"


def distinct_workflows() -> dict[str, dict]:
    """{rendered workflow: the first answers that render it}."""
    text = WORKFLOW.read_text()
    keys = sorted(set(re.findall(r"cookiecutter\.(\w+)", text)))
    assert keys and all(key in CHOICES for key in keys), f"the workflow names answers that are not choices: {keys}"
    environment = StrictEnvironment(context={"cookiecutter": PROMPTS}, keep_trailing_newline=True,
                                    **PROMPTS["_jinja2_env_vars"])  # fmt: skip
    template = environment.from_string(text)
    rendered = {}
    for values in itertools.product(*(CHOICES[key] for key in keys)):
        answers = dict(zip(keys, values, strict=True))
        rendered.setdefault(template.render(cookiecutter=hook_answers(answers)), answers)
    return rendered


WORKFLOWS = distinct_workflows()


def zizmor() -> str:
    found = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    if found is None:
        skip_or_fail("zizmor not installed in the test environment: pip install --group dev")
    return found


def zizmor_check(workflow: Path) -> validators.Check:
    """No finding at low severity or above (zizmor exits non-zero for those); nothing is fetched."""
    command = [zizmor(), "--offline", "--no-progress", "--min-severity", "low", "--format", "plain", str(workflow)]
    check = validators.run(command)
    check.ok = check.returncode == 0
    return check


def schema_check(workflow: Path) -> validators.Check:
    tool = validators.python_tool("check_jsonschema", "check-jsonschema")
    check = validators.run([*tool, "--builtin-schema", "vendor.github-workflows", str(workflow)])
    check.ok = check.returncode == 0
    return check


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".github" / "workflows" / "ci.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


def test_the_renderings_differ_where_the_answers_do():
    assert len(WORKFLOWS) == len(CHOICES["python_version"]) * 2, "python_version x (PostgreSQL service or none)"


@pytest.mark.parametrize("text", list(WORKFLOWS), ids=[str(answers) for answers in WORKFLOWS.values()])
def test_workflow_passes_the_schema_and_zizmor(tmp_path, text):
    workflow = write(tmp_path, text)
    schema = schema_check(workflow)
    assert schema.ok, schema
    audit = zizmor_check(workflow)
    assert audit.ok, audit


def test_zizmor_rejects_default_permissions_and_a_persisted_token(tmp_path):
    text = next(iter(WORKFLOWS))
    without_permissions = re.sub(r"^permissions:\n  contents: read\n", "", text, flags=re.M)
    check = zizmor_check(write(tmp_path / "permissions", without_permissions))
    assert not check.ok and "excessive-permissions" in check.stdout + check.stderr, check
    checkout_options = r"^        with:\n(          #.*\n)*          persist-credentials: false\n"
    persisted = re.sub(checkout_options, "", text, flags=re.M)
    assert persisted != text
    check = zizmor_check(write(tmp_path / "credentials", persisted))
    assert not check.ok and "artipacked" in check.stdout + check.stderr, check


def test_schema_rejects_a_misspelt_key(tmp_path):
    text = next(iter(WORKFLOWS)).replace("runs-on:", "runs_on:", 1)
    assert not schema_check(write(tmp_path, text)).ok
