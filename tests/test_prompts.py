"""cookiecutter.json and copier.yml ask the same questions, with the same choices, defaults, help and derived values."""

import json
import re

import pytest
import yaml

from tests.render import PROMPTS, TEMPLATE_ROOT, render_cookiecutter, render_copier

COPIER = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())
COPIER_QUESTIONS = {key: value for key, value in COPIER.items() if not key.startswith("_") and key != "cookiecutter"}
COOKIECUTTER_QUESTIONS = {key: value for key, value in PROMPTS.items() if not key.startswith("_")}
ISSUE_KEYS = [
    "project_name", "project_slug", "package_name", "description", "author_name", "author_email", "framework",
    "server", "proxy", "supervisor", "database", "domain_name", "url_prefix", "bind", "port", "tls", "task_queue",
    "python_version",
]  # fmt: skip


def test_both_tools_ask_the_fixed_keys_in_the_same_order():
    assert list(COOKIECUTTER_QUESTIONS) == ISSUE_KEYS
    assert list(COPIER_QUESTIONS) == ISSUE_KEYS


@pytest.mark.parametrize("key", ISSUE_KEYS)
def test_choices_defaults_and_help_agree(key):
    ours, theirs = COOKIECUTTER_QUESTIONS[key], COPIER_QUESTIONS[key]
    if isinstance(ours, list):
        assert theirs["choices"] == ours
        assert theirs["default"] == ours[0], "cookiecutter's default is the first choice"
    else:
        assert "choices" not in theirs
        translated = ours.replace("cookiecutter.", "")
        assert theirs["default"] == translated
    assert theirs["help"] == PROMPTS["__prompts__"][key]
    assert theirs["type"] == "str", "answers reach the hooks as strings from both tools"


def test_copier_hidden_cookiecutter_variable_carries_every_answer():
    """The tree reads cookiecutter.<key>; copier gets it from this hidden computed answer."""
    hidden = COPIER["cookiecutter"]
    assert hidden["when"] is False
    carried = re.findall(r'^\s*"(\w+)":', hidden["default"], re.M)
    assert carried == [*ISSUE_KEYS, "__url_prefix", "__family", "__app_dir", "__data_dir", "__run_dir", "__log_dir"]
    assert PROMPTS["__url_prefix"].replace("cookiecutter.", "").strip("{} ") in hidden["default"]


@pytest.mark.parametrize(
    ("answers", "slug", "package"),
    [
        ({}, "my-web-app", "my_web_app"),
        ({"project_name": "EEG QC"}, "eeg-qc", "eeg_qc"),
        ({"project_name": "Lab_Tools v2.1"}, "lab-tools-v2-1", "lab_tools_v2_1"),
        ({"project_name": "Lab Tools", "project_slug": "labtools"}, "labtools", "labtools"),
    ],
)
def test_derived_names_agree(tmp_path, answers, slug, package):
    cookiecutter_project = render_cookiecutter(tmp_path / "cc", **answers)
    copier_project = render_copier(tmp_path / "cp", **answers)
    assert cookiecutter_project.name == slug
    assert (cookiecutter_project / package / "__init__.py").is_file()
    recorded = yaml.safe_load((copier_project / ".copier-answers.yml").read_text())
    assert (recorded["project_slug"], recorded["package_name"]) == (slug, package)
    assert (copier_project / package / "__init__.py").is_file()


@pytest.mark.parametrize(("url_prefix", "normalised"), [("/", ""), ("/eegqc", "/eegqc"), ("/lab/eegqc/", "/lab/eegqc")])
def test_url_prefix_is_normalised_alike(tmp_path, url_prefix, normalised):
    for project in (
        render_cookiecutter(tmp_path / "cc", url_prefix=url_prefix),
        render_copier(tmp_path / "cp", url_prefix=url_prefix),
    ):
        assert f'URL_PREFIX = "{normalised}"' in (project / "my_web_app" / "config.py").read_text()


def test_cookiecutter_json_is_tidy():
    """Written by json.dump(indent=2), so diffs stay readable."""
    text = (TEMPLATE_ROOT / "cookiecutter.json").read_text()
    assert text == json.dumps(json.loads(text), indent=2) + "\n"
