"""deploy/install.sh is the list of steps; each option value's steps live in deploy/steps/<question>-<value>.sh and a
rendered project carries only the steps of the values it chose."""

import re

import pytest

from tests.render import CHOICES, TEMPLATE_ROOT, render_cookiecutter, valid_for

STEPS_TEMPLATE_DIR = TEMPLATE_ROOT / "{{cookiecutter.project_slug}}" / "deploy" / "steps"
STEP_NAME = re.compile(r"^\{% if cookiecutter\.(_*\w+) == '(\w+)' %\}(\w+)-(\w+)\.sh\{% endif %\}$")
# What every value of a question shares (proxy.sh: what each proxy's file uses), present whenever one is chosen;
# named after the question, or after what it is for (firewall.sh: the proxy's ports opened).
SHARED_STEP_NAME = re.compile(r"^\{% if cookiecutter\.(\w+) != 'none' %\}(\w+)\.sh\{% endif %\}$")
SHARED_STEPS = {"proxy": {"proxy", "firewall"}, "database": {"database", "backups"}}
DEPLOY_QUESTIONS = ("framework", "server", "proxy", "supervisor", "database", "tls", "task_queue")
# How each value shows in deploy code that handles it: its name, except where the name is an ordinary word or the
# operating system's own tool (systemd-tmpfiles, systemctl and journalctl serve whatever the supervisor).
SIGNS = {("tls", "certificate"): r"/etc/ssl/", ("supervisor", "systemd"): r"\.service\b|daemon-reload"}

STACKS = [
    {"framework": "flask", "server": "gunicorn", "proxy": "nginx", "supervisor": "systemd", "database": "sqlite"},
    {"framework": "django", "server": "uwsgi", "proxy": "apache", "supervisor": "supervisord",
     "database": "postgresql", "tls": "certbot", "domain_name": "qc.eeg-lab.org",
     "author_email": "webmaster@eeg-lab.org"},
    {"framework": "dash", "server": "gunicorn", "proxy": "none", "supervisor": "none", "database": "none"},
    {"framework": "flask", "server": "uwsgi", "proxy": "nginx", "supervisor": "systemd", "database": "sqlite",
     "tls": "certificate", "domain_name": "qc.eeg-lab.org"},
    {"framework": "django", "server": "gunicorn", "proxy": "nginx", "supervisor": "supervisord", "database": "sqlite",
     "task_queue": "celery"},
]  # fmt: skip


def test_each_value_step_file_is_named_after_its_value():
    conditional = [path for path in STEPS_TEMPLATE_DIR.iterdir() if "{%" in path.name]
    assert conditional, "no per-value step files"
    for path in conditional:
        shared = SHARED_STEP_NAME.match(path.name)
        if shared:
            assert shared[2] in SHARED_STEPS.get(shared[1], {shared[1]}) and "none" in CHOICES[shared[1]], path.name
            continue
        match = STEP_NAME.match(path.name)
        assert match, f"{path.name}: not '{{% if cookiecutter.QUESTION == VALUE %}}QUESTION-VALUE.sh{{% endif %}}'"
        variable, value, question, named_value = match.groups()
        assert variable.lstrip("_") in (question, "family"), path.name
        assert value == named_value, path.name
        assert value in CHOICES.get(question, []) or question == "framework", f"{path.name}: no such {question}"


def deploy_code(project) -> str:
    deploy = project / "deploy"
    return "\n".join(path.read_text() for path in [deploy / "install.sh", *sorted((deploy / "steps").iterdir())])


def unchosen_values(answers: dict) -> list[tuple[str, str]]:
    chosen = set(answers.values())
    if answers["framework"] == "dash":
        chosen.add("flask")  # Dash runs on Flask: the Flask steps are Dash's too
    return [
        (question, value)
        for question in DEPLOY_QUESTIONS
        for value in CHOICES[question]
        if value != "none" and value not in chosen
    ]


@pytest.mark.parametrize("answers", STACKS, ids=lambda answers: "-".join(answers[k] for k in DEPLOY_QUESTIONS[:5]))
def test_deploy_code_holds_nothing_for_values_not_chosen(tmp_path, answers):
    answers = valid_for(answers)
    code = deploy_code(render_cookiecutter(tmp_path, **answers))
    found = {
        f"{question}={value}"
        for question, value in unchosen_values(answers)
        if re.search(SIGNS.get((question, value), rf"\b{value}\b"), code, re.IGNORECASE)
    }
    assert found == set(), f"deploy code for values this project did not choose: {sorted(found)}"
    steps = sorted(path.name for path in (tmp_path / "my-web-app" / "deploy" / "steps").iterdir())
    chosen_steps = [name for name in steps if "-" in name]
    assert ("proxy.sh" in steps) == (answers["proxy"] != "none")
    assert ("firewall.sh" in steps) == (answers["proxy"] != "none")
    assert all(name.split("-")[1].removesuffix(".sh") in {*answers.values(), "flask"} for name in chosen_steps)


def functions_that_only_print_in_a_dry_run(code: str) -> set[str]:
    """run and system, and the functions that hand their arguments to them: with --root these print the command and
    read nothing from standard input."""
    bodies = dict(re.findall(r"^(\w+)\(\) \{\n(.*?)^\}", code, re.MULTILINE | re.DOTALL))
    assert "dry_run" in bodies["run"] and "run " in bodies["system"], "run and system changed: this check is stale"
    wrappers = {name for name, body in bodies.items() if re.search(r'^\s*(run|system)\b.*"\$@"', body, re.MULTILINE)}
    return {"run", "system"} | wrappers


def test_nothing_is_piped_into_a_command_a_dry_run_only_prints():
    # With --root such a command reads nothing, the pipe's writer may die of SIGPIPE before it wrote, and pipefail
    # made that install.sh's exit status (141) now and then: input goes in as a here-string. Read in the template
    # itself, so every value's steps are checked.
    code = deploy_code(TEMPLATE_ROOT / "{{cookiecutter.project_slug}}")
    names = functions_that_only_print_in_a_dry_run(code)
    assert "account_crontab" in names, names  # a wrapper is found, not only run and system
    piped = re.findall(rf"(?<!\|)\|(?!\|)\s*({'|'.join(sorted(names))})\b", code)
    assert piped == [], f"piped into commands that --root only prints: {piped}"
