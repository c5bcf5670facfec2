"""cookiecutter.json is the one source of the questions; copier.yml is generated from it and asks the same.

Same keys in the same order, same choices, defaults, help and derived values, proved on the files and by rendering.
"""

import json
import re

import pytest
import yaml
from jinja2.sandbox import SandboxedEnvironment

from hooks.wsgi_hooks import validate
from local_extensions import NO_SLUG, TRANSLITERATION, ascii_slug
from scripts.generate_copier_yml import copier_ascii_slug, copier_yml, for_copier, generate
from tests.render import PROMPTS, TEMPLATE_ROOT, generate_with_cli, render_cookiecutter, render_copier
from tests.template_versions import copy_working_tree, git

COPIER = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())
COPIER_QUESTIONS = {key: value for key, value in COPIER.items() if not key.startswith("_") and key != "cookiecutter"}
COOKIECUTTER_QUESTIONS = {key: value for key, value in PROMPTS.items() if not key.startswith("_")}
DERIVED_KEYS = [key for key in PROMPTS if key.startswith("__") and key != "__prompts__"]


def test_committed_copier_yml_is_current():
    """Regenerating from cookiecutter.json changes nothing: nobody edited copier.yml by hand or forgot to regenerate."""
    assert (TEMPLATE_ROOT / "copier.yml").read_text() == copier_yml(PROMPTS), "run `make copier.yml` and commit it"


def test_both_tools_ask_the_same_keys_in_the_same_order():
    assert len(COOKIECUTTER_QUESTIONS) > 1
    assert list(COPIER_QUESTIONS) == list(COOKIECUTTER_QUESTIONS)
    assert list(PROMPTS["__prompts__"]) == list(COOKIECUTTER_QUESTIONS), "every question has its help text"


@pytest.mark.parametrize("key", list(COOKIECUTTER_QUESTIONS))
def test_choices_defaults_and_help_agree(key):
    ours, theirs = COOKIECUTTER_QUESTIONS[key], COPIER_QUESTIONS[key]
    if isinstance(ours, list):
        assert theirs["choices"] == ours
        assert theirs["default"] == ours[0], "cookiecutter's default is the first choice"
    else:
        assert "choices" not in theirs
        assert theirs["default"] == for_copier(ours)
    assert theirs["help"] == PROMPTS["__prompts__"][key]
    assert theirs["type"] == "str", "answers reach the hooks as strings from both tools"


def test_copier_hidden_cookiecutter_variable_carries_every_answer():
    """The tree reads cookiecutter.<key>; copier gets it from this hidden computed answer."""
    hidden = COPIER["cookiecutter"]
    # json, not yaml: to_json writes 🧠 as the surrogate pair \\ud83e\\udde0, which JSON joins and YAML does not.
    assert (hidden["type"], hidden["when"]) == ("json", False)
    carried = re.findall(r'^\s*"(\w+)":', hidden["default"], re.M)
    assert DERIVED_KEYS, "cookiecutter.json derives some answers (__url_prefix, __family)"
    assert carried == [*COOKIECUTTER_QUESTIONS, *DERIVED_KEYS]
    assert PROMPTS["__url_prefix"].replace("cookiecutter.", "").strip("{} ") in hidden["default"]


def test_generated_yaml_reads_back_as_the_source_strings():
    """Values YAML would read as numbers, booleans or mappings are quoted; the rest stay plain."""
    tricky = ["8000", "3.11", "yes", "no", "null", "a: b", "{{ x }}", "[x]", "#x", "x, y", " x", "Café"]
    prompts = json.loads(json.dumps(PROMPTS))
    prompts["python_version"] = tricky
    prompts["description"] = prompts["__prompts__"]["description"] = "Say: yes, 'no' and \"maybe\" # twice"
    parsed = yaml.safe_load(copier_yml(prompts))
    assert parsed["python_version"]["choices"] == tricky
    assert parsed["description"]["default"] == parsed["description"]["help"] == prompts["description"]


def test_a_new_derived_key_reaches_copier_without_editing_the_generator():
    prompts = {**PROMPTS, "__service": "{{ cookiecutter.project_slug }}-web", "__literal": "fixed"}
    text = copier_yml(prompts)
    assert '      "__service": (project_slug ~ "-web"),\n' in text
    assert '      "__literal": "fixed",\n' in text
    with pytest.raises(ValueError, match="__block"):
        copier_yml({**PROMPTS, "__block": "{% if cookiecutter.tls %}x{% endif %}"})


# ---------------------------------------------------------------- by rendering
PROBE = "{{cookiecutter.project_slug}}/answers-probe.txt"
NEW_DERIVED = {"__service": "{{ cookiecutter.project_slug }}-{{ cookiecutter.server }}"}
CHANGED_ANSWERS = {
    "project_name": "Lab_Tools v2.1",
    "framework": "dash",
    "server": "uwsgi",
    "proxy": "none",
    "bind": "tcp",
    "url_prefix": "/lab/eegqc/",
    "port": "9000",
    "python_version": "3.13",
    "description": "EEG quality control 🧠, Ünïcödé",
}


@pytest.fixture(scope="module")
def probe_template(tmp_path_factory):
    """A copy of the template with one more derived key (copier.yml regenerated) and a file listing every answer."""
    template = tmp_path_factory.mktemp("probe") / "template"
    copy_working_tree(template)
    prompts = {**json.loads((template / "cookiecutter.json").read_text()), **NEW_DERIVED}
    (template / "cookiecutter.json").write_text(json.dumps(prompts, indent=2) + "\n")
    assert generate(template)
    keys = [*COOKIECUTTER_QUESTIONS, *DERIVED_KEYS, *NEW_DERIVED]
    (template / PROBE).write_text(
        "{% for key in " + json.dumps(keys) + " %}\n{{ key }}={{ cookiecutter[key] }}\n{% endfor %}\n"
    )
    git(template, "init", "-q", "-b", "main")
    git(template, "add", "-A")
    git(template, "commit", "-qm", "probe")
    return template


@pytest.mark.parametrize("answers", [{}, CHANGED_ANSWERS], ids=["defaults", "changed"])
def test_both_tools_compute_the_same_answers(tmp_path, probe_template, answers):
    """Every answer and derived value, defaults included, as each tool hands it to the template tree."""
    listed = {}
    for tool in ("cookiecutter", "copier"):
        (tmp_path / tool).mkdir()
        slug = answers.get("project_slug", "lab-tools-v2-1" if answers else "my-web-app")
        result = generate_with_cli(tool, tmp_path / tool / slug, answers, template=probe_template)
        assert result.returncode == 0, result.stderr
        listed[tool] = (tmp_path / tool / slug / "answers-probe.txt").read_text()
    assert listed["cookiecutter"] == listed["copier"]
    assert f"__service={slug}-{answers.get('server', 'gunicorn')}\n" in listed["copier"]
    assert listed["copier"].count("\n") == len(COOKIECUTTER_QUESTIONS) + len(DERIVED_KEYS) + len(NEW_DERIVED)


@pytest.mark.parametrize(
    ("answers", "slug", "package"),
    [
        ({}, "my-web-app", "my_web_app"),
        ({"project_name": "EEG QC"}, "eeg-qc", "eeg_qc"),
        ({"project_name": "Lab_Tools v2.1"}, "lab-tools-v2-1", "lab_tools_v2_1"),
        ({"project_name": "Lab Tools", "project_slug": "labtools"}, "labtools", "labtools"),
        ({"project_name": "Études Lab Tööl"}, "etudes-lab-tool", "etudes_lab_tool"),
        ({"project_name": "Straße Œuvre Ærø Łódź"}, "strasse-oeuvre-aero-lodz", "strasse_oeuvre_aero_lodz"),
        ({"project_name": "  Tiếng Việt -- \uff31\uff23 ﬁles!  "}, "tieng-viet-qc-files", "tieng_viet_qc_files"),
        (
            {"project_name": "Électro-Encéphalographie Qualité Contrôle"},
            "electro-encephalographie",
            "electro_encephalographie",
        ),
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


# ---------------------------------------------------------------- the ASCII slug, one table for both tools
NAMES = [
    "My Web App",
    "Études Lab Tööl",
    "研究室",
    "!!!",
    "",
    "Lab_Tools v2.1",
    "ÆØÅ æøå ẞß Ĳ ǅ",
    "İstanbul Iğd\u0131r",
    "x" * 40,
    "abc-" * 20,
    "a" + "-" * 40 + "b",
    "研究室 Lab 2",
    "".join(chr(ord(c) + 0xFEE0) for c in "Fullwidth") + " 🧪 Émoji",
    "".join(TRANSLITERATION).upper(),
    "".join(TRANSLITERATION),
]


@pytest.mark.parametrize("name", NAMES)
def test_copier_expression_is_the_cookiecutter_filter(name):
    """copier.yml's written-out slug expression gives what local_extensions.ascii_slug gives cookiecutter."""
    environment = SandboxedEnvironment(extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"])
    assert environment.from_string(copier_ascii_slug("project_name")).render(project_name=name) == ascii_slug(name)


def test_derived_slugs_are_ascii_and_valid_or_refused_clearly():
    for name in NAMES:
        slug = ascii_slug(name)
        assert slug.isascii() and 1 <= len(slug) <= 31
        if slug == NO_SLUG:
            assert "set project_slug" in validate.slug_problems(slug)[0]
    assert validate.NO_SLUG == NO_SLUG, "the hooks recognise the placeholder the filter derives"
    assert ascii_slug("Électro-Encéphalographie Qualité Contrôle") == "electro-encephalographie", "cut at a dash"


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
