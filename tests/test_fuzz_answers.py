"""Generated answer sets through both command lines: refused cleanly or accepted with deploy files the real tools pass.

Each example is a handful of answers (the rest at their defaults) drawn from names people type (accents, CJK, emoji,
hundreds of characters), odd but valid URL prefixes, IDN domains in punycode and raw, ports at the edges, every choice
value and some outside the lists. The hooks' own rule predicts the outcome; the command line must agree:

- refused: non-zero exit, one `error: <question>: ...` line per problem the rule names, and nothing on disk;
- accepted: the project's nginx.conf passes `nginx -t`, apache.conf `apache2 -t`, the systemd unit and socket
  `systemd-analyze verify`, install.sh shellcheck, the Python ruff (as tests/test_deploy_files.py and
  tests/test_deploy_code.py run them, on files relocated into a scratch tree), and the answers the deploy engine writes
  into its commands (deploy/engine/layout.py) are shell words that need no quoting.

500 examples in 10 shards of 50 with fixed seeds, so `-n 2` spreads them and a failure reproduces.
"""

import contextlib
import hashlib
import os
import re
import shutil
from functools import partial
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from hooks.wsgi_hooks import validate
from tests import validators
from tests.deploy_support import (
    apache_modules,
    layout_problems,
    make_scratch_tree,
    relocate,
    self_signed_certificate,
)
from tests.project_checks import ruff_problems
from tests.render import CHOICES, PROMPTS, TEMPLATE_ROOT, generate_with_cli, hook_answers, option_problems, valid_for
from tests.template_versions import copy_working_tree

QUESTIONS = [key for key in PROMPTS if not key.startswith("_")]
TOOLS = ["cookiecutter", "copier"]
SHARDS = 10
EXAMPLES_PER_SHARD = 50
# FUZZ_SHRINK=0 reports a failing example as found, unshrunk: quicker when triaging several failures.
PHASES = [phase for phase in Phase if phase != Phase.shrink or os.environ.get("FUZZ_SHRINK") != "0"]

# ---------------------------------------------------------------- what people type
NAMES = [
    "My Web App",
    "Études Lab Tööl",
    "Straße Œuvre Ærø Łódź",
    "Tiếng Việt QC",
    "研究室",
    "研究室 EEG Lab",
    "🧪 Lab",
    "🧪🧫",
    "!!!",
    "   ",
    "Lab_Tools v2.1",
    "2048 Game",
    "Nginx",
    "Test",
    "Électro-Encéphalographie Qualité Contrôle des Données",
    "A " * 150,
    "Ünïcödé " * 40,
    "x" * 300,
    "O'Brien & Sons <Lab>",
    "$(rm -rf /) `id` ${HOME}",
    "Tab\there",
    'Say "hi"',
    "back\\slash",
    "100% Lab",
    "Lab {{ 7*7 }}",
    "Lab {% x",
]
# No NUL (cannot be a command-line argument) and no lone surrogates (cannot be encoded).
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=300)
SLUGS = ["lab", "eeg-qc", "a" * 31, "a" * 32, "Lab", "-x", "x-", "a--b", "研究室", "é", "nginx", "1lab", "lab_x"]
PACKAGES = ["lab", "eeg_qc", "Lab", "class", "_", "__init__", "flask", "éa", "研究室", "a-b"]
EMAILS = ["you@example.org", "webmaster@eeg-lab.org", "nobody", "a@b", "é@bücher.example", "me@10.0.0.1"]
DOMAINS = [
    "localhost",
    "lab.example.org",
    "xn--bcher-kva.example",
    "xn--80ak6aa92e.com",
    "bücher.example",
    "пример.рф",
    "研究室.jp",
    "LAB.example.org",
    "lab.example.org.",
    "_acme.example.org",
    "-lab.example.org",
    "lab-.example.org",
    "a" * 63 + ".org",
    "a" * 64 + ".org",
    ".".join(["a" * 63] * 4),
    "127.0.0.1",
    "::1",
    "[::1]",
    "lab example.org",
    "",
]
GOOD_DOMAINS = ["localhost", "lab.example.org", "xn--bcher-kva.example", "xn--80ak6aa92e.com", "a" * 63 + ".org",
                ".".join(["a" * 63] * 3) + ".org", "127.0.0.1", "eeg-lab.org"]  # fmt: skip
PREFIXES = ["/", "/eegqc", "/eegqc/", "/a/b-c_d.e~f", "/a/b-c_d.e~f/", "/lab/eegqc/", "/..", "/.", "/a/./b", "/a b",
            "eegqc", "//", "/a//b", "/x?y", "/x#y", "/x%20", "/é", "/研究室", "/" + "a" * 200, "/a;b", "/a$b", "/a'b",
            '/a"b', "/a{b}", "/a\\b", "/-", "/_", "/~"]  # fmt: skip
PORTS = ["0", "1", "80", "1023", "1024", "8000", "65535", "65536", "99999", "-1", "http", "", " 8000", "8000 ",
         "08000", "1e4", "8000.0", "\uff11\uff10\uff12\uff14", "\u0661\u0660\u0662\u0664",
         "\u00b9\u00b2\u00b3\u2074"]  # fmt: skip
PREFIX_SEGMENT = st.text("abcXYZ019._~-", min_size=1, max_size=12).filter(lambda segment: segment not in {".", ".."})
INVALID_CHOICE = "bottle"


@st.composite
def url_prefixes(draw) -> str:
    segments = draw(st.lists(PREFIX_SEGMENT, min_size=1, max_size=4))
    return "/" + "/".join(segments) + draw(st.sampled_from(["", "/"]))


def rarely(draw, one_in: int) -> bool:
    """True about once in `one_in` draws (hypothesis favours an integer range's ends, so not `integers(...) == 0`)."""
    return draw(st.sampled_from([False] * (one_in - 1) + [True]))


@st.composite
def answer_sets(draw) -> dict:
    """Some questions answered (the others left to their defaults). Half the examples keep to values the hooks take,
    so the deploy files of many stacks meet the validators; the other half draw odd and wrong values too."""
    plausible = draw(st.booleans())
    answers = {}
    if draw(st.booleans()):
        answers["project_name"] = draw(st.one_of(st.sampled_from(NAMES), TEXT))
    if not plausible and rarely(draw, 5):
        answers["project_slug"] = draw(st.one_of(st.sampled_from(SLUGS), st.text("abz09-_É", max_size=40)))
    if not plausible and rarely(draw, 8):
        answers["package_name"] = draw(st.sampled_from(PACKAGES))
    for key in ("description", "author_name"):
        if rarely(draw, 5):
            answers[key] = draw(st.one_of(st.sampled_from(NAMES), TEXT))
    if not plausible and rarely(draw, 5):
        answers["author_email"] = draw(st.sampled_from(EMAILS))
    if draw(st.booleans()):
        answers["domain_name"] = draw(st.sampled_from(GOOD_DOMAINS if plausible else DOMAINS))
    if draw(st.booleans()):
        answers["url_prefix"] = draw(
            url_prefixes() if plausible else st.one_of(st.sampled_from(PREFIXES), url_prefixes())
        )
    if draw(st.booleans()):
        good_ports = st.one_of(st.sampled_from(["1024", "65535"]), st.integers(1024, 65535).map(str))
        answers["port"] = draw(
            good_ports if plausible else st.one_of(st.sampled_from(PORTS), st.integers(0, 70000).map(str))
        )
    choices = {key: draw(st.sampled_from(values)) for key, values in CHOICES.items() if draw(st.booleans())}
    if plausible or draw(st.booleans()):
        # the fewest changes to the other choices that make the combination one the hooks take
        with contextlib.suppress(ValueError):
            choices = valid_for(choices)
    if not plausible and rarely(draw, 12):
        choices[draw(st.sampled_from(sorted(CHOICES)))] = INVALID_CHOICE
    return {**answers, **choices}


# ---------------------------------------------------------------- the prediction
def predicted_problems(answers: dict) -> list[str]:
    """The hooks' problems with these answers (the others at their defaults), by their own code."""
    context = hook_answers(answers)
    return validate.problems(context) + option_problems(context)


def fields(lines: list[str]) -> list[str]:
    return [re.match(r"(\w+):", line)[1] for line in lines]


# ---------------------------------------------------------------- the real validators, each input checked once
_checked: dict[str, validators.Check] = {}


def once(key_parts: list[str], run) -> validators.Check:
    """A validator's verdict, cached by its input: many examples share a file, and the same text gives the same run."""
    key = hashlib.sha256("\0".join(key_parts).encode()).hexdigest()
    if key not in _checked:
        _checked[key] = run()
    return _checked[key]


def deploy_problems(project: Path, answers: dict, scratch_root: Path, certificates: Path) -> list[str]:
    """Every deploy file the fast real validators read, relocated into a scratch tree, as test_deploy_files.py does."""
    slug, domain = answers["project_slug"], answers["domain_name"]
    deploy = project / "deploy"
    scratch = scratch_root / "scratch"
    if scratch.exists():
        shutil.rmtree(scratch)
    make_scratch_tree(scratch, slug)

    def relocated(name: str) -> str:
        text = (deploy / name).read_text().replace(f"/etc/letsencrypt/live/{domain}/", f"{certificates}/")
        return relocate(text, slug, scratch, certificates)

    def anonymous(text: str) -> str:  # the cache key: the file without the scratch directory's name
        return text.replace(str(scratch), "SCRATCH")

    checks = []
    for proxy in ("nginx", "apache"):
        if not (deploy / f"{proxy}.conf").exists():
            continue
        site, lines = relocated(f"{proxy}.conf"), relocated(f"{proxy}-shared-site.conf")
        # The own site with the app's lines it includes; the app's lines alone in another site (install.sh --join).
        snippets = {f"snippets/{slug}.conf": lines}
        if proxy == "nginx":
            include = f"include {scratch}/snippets/{slug}.conf;"
            host = validators.nginx_host_servers(include, scratch, certificates)
            own = partial(validators.nginx_test, site, scratch, snippets)
            joined = partial(validators.nginx_test, host, scratch, snippets)
        else:
            modules = apache_modules(site)
            own = partial(validators.apache_test, site, modules, scratch, snippets)
            joined = partial(validators.apache_test, lines, modules, scratch, host_certificates=certificates)
        checks.append(once([proxy, anonymous(site), anonymous(lines)], own))
        if answers["url_prefix"].rstrip("/"):  # install.sh --join refuses the site root
            checks.append(once([f"{proxy}-join", anonymous(lines)], joined))
    units = [name for name in (f"{slug}.service", f"{slug}.socket") if (deploy / name).exists()]
    for name in units:
        (scratch / name).write_text(relocated(name))
    if units:  # the service's drop-in, where a root install puts it
        (scratch / f"{slug}.service.d").mkdir()
        (scratch / f"{slug}.service.d" / "system.conf").write_text(relocated(f"{slug}-system.conf"))
        units.append(f"{slug}.service.d/system.conf")
    for name in units[:2]:
        key = ["systemd", name, *(anonymous((scratch / unit).read_text()) for unit in units)]
        checks.append(once(key, lambda name=name: validators.systemd_verify(scratch / name)))
    script = deploy / "install.sh"
    checks.append(once(["shellcheck", script.read_text()], lambda: validators.shellcheck(script)))
    problems = [str(check) for check in checks if not check.ok]
    problems += layout_problems({"engine/layout.py": (deploy / "engine" / "layout.py").read_text()})
    if ruff := ruff_problems(project):
        problems.append(f"ruff:\n{ruff}")
    return problems


# ---------------------------------------------------------------- the property
@pytest.fixture(scope="session")
def template(tmp_path_factory) -> Path:
    """The working tree without .git: copier reads it in place instead of cloning it for every example."""
    root = tmp_path_factory.mktemp("fuzz-template") / "template"
    copy_working_tree(root)
    return root


@pytest.fixture(scope="session")
def certificates(tmp_path_factory) -> Path:
    return self_signed_certificate(tmp_path_factory.mktemp("fuzz-certificates"))


def check_example(tool: str, answers: dict, template: Path, certificates: Path, workspace: Path) -> None:
    out = workspace / "out"
    out.mkdir()
    predicted = None if INVALID_CHOICE in answers.values() else predicted_problems(answers)
    result = generate_with_cli(tool, out / "project", answers, template=template)
    report = f"{tool} {answers!r}\n--- stdout\n{result.stdout[-3000:]}--- stderr\n{result.stderr[-3000:]}"
    if tool == "cookiecutter" and answers.get("project_slug", "x").strip(".") == "":
        # cookiecutter makes the project directory before any hook runs: '', '.' and '..' name one that exists
        assert result.returncode != 0 and "already exists" in result.stdout, report
        assert list(out.iterdir()) == [], f"a refused project left files behind\n{report}"
        return
    if tool == "cookiecutter" and any(validate.TEMPLATE_MARKUP.search(str(value)) for value in answers.values()):
        # cookiecutter renders command-line answers as Jinja before any hook runs: the hooks see other values
        assert (result.returncode == 0) == bool(list(out.iterdir())), f"refused but left files, or no project\n{report}"
        return
    if predicted is None:  # the tool itself refuses a value outside the choices, before any hook runs
        assert result.returncode != 0, report
        assert any(f"{key}" in result.stderr for key, value in answers.items() if value == INVALID_CHOICE), report
        assert list(out.iterdir()) == [], f"a refused project left files behind\n{report}"
        return
    if predicted:
        assert result.returncode != 0, f"refusal predicted ({predicted}), but generated\n{report}"
        printed = [line.removeprefix("error: ") for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert printed == predicted, report
        assert set(fields(printed)) <= set(QUESTIONS), f"an error must name a question\n{report}"
        assert list(out.iterdir()) == [], f"a refused project left files behind\n{report}"
        return
    assert result.returncode == 0, f"accepted by the hooks' rule, refused by the tool\n{report}"
    context = hook_answers(answers)
    (project,) = out.iterdir()
    assert tool == "copier" or project.name == context["project_slug"], report
    assert (project / context["package_name"] / "__init__.py").is_file(), report
    problems = deploy_problems(project, context, workspace, certificates)
    assert not problems, f"{report}\n" + "\n".join(problems)


def fuzz_shard(number: int):
    @seed(number)
    @settings(
        max_examples=EXAMPLES_PER_SHARD,
        deadline=None,
        database=None,
        phases=PHASES,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    )
    @given(tool=st.sampled_from(TOOLS), answers=answer_sets())
    def test(tool, answers, template, certificates, tmp_path_factory):
        check_example(tool, answers, template, certificates, tmp_path_factory.mktemp("fuzz"))

    test.__name__ = f"test_fuzzed_answers_shard_{number}"
    return test


for _number in range(SHARDS):
    globals()[f"test_fuzzed_answers_shard_{_number}"] = fuzz_shard(_number)


# Examples hypothesis found, each a bug fixed at its source: they run on every test run, whatever the seeds draw.
FOUND = [
    # a long derived slug made a gunicorn.conf.py comment too long for ruff, and systemd refused 32-character users
    ("cookiecutter", {"project_name": "Électroencéphalographie Qualité"}),
    # a 300-character name made Python lines no formatter keeps under 120 columns: refused above 50 columns now
    ("cookiecutter", {"project_name": "A " * 150}),
    # characters outside the BMP crashed copier ("surrogates not allowed") instead of generating or refusing
    ("copier", {"project_name": "õp*\x0fª\U000dedbdi", "domain_name": "xn--80ak6aa92e.com", "port": "37664",
                "framework": "dash"}),
    ("copier", {"description": "\U000e499d&", "author_name": ">þq;'\x98ÙbĀ", "domain_name": "127.0.0.1",
                "proxy": "none", "bind": "tcp"}),
    ("copier", {"project_name": "🧪 Lab", "description": "Tests 🧠 things"}),
    # fullwidth digits passed the port rule and reached nginx.conf
    ("copier", {"port": "\uff11\uff10\uff12\uff14", "bind": "tcp"}),
]  # fmt: skip


@pytest.mark.parametrize(("tool", "answers"), FOUND)
def test_found_example(tool, answers, template, certificates, tmp_path):
    check_example(tool, answers, template, certificates, tmp_path)


def test_the_shards_cover_500_examples_through_both_tools():
    assert SHARDS * EXAMPLES_PER_SHARD >= 500
    assert TOOLS == ["cookiecutter", "copier"]
    assert (TEMPLATE_ROOT / "copier.yml").is_file()
