"""The deploy's plan: what deploy/install.sh would do on a Debian and on a RHEL server, for every option value and
install mode, run on pyinfra's @fake host with the server's answers scripted (tests/plan.py). No root, nothing on this
machine changed. The real thing runs end to end in tests/e2e (the stacks and their scenarios).
"""

import hashlib
import os
import pwd
import re
import stat
import subprocess
import tomllib
from functools import cache

import pytest

from hooks.wsgi_hooks.plugins.proxy_apache import site_modules
from tests.ci import require_tool
from tests.deploy_support import make_scratch_tree, relocate
from tests.plan import APP_DIR, DATABASE_URL, PACKAGE, PROXY_USER, SLUG, Host, Plan, Scenario, shared_plans
from tests.render import CHOICES, TEMPLATE_ROOT, render_cookiecutter

pytestmark = pytest.mark.deploy

ENGINE_TEMPLATE_DIR = TEMPLATE_ROOT / "{{cookiecutter.project_slug}}" / "deploy" / "engine"
ACCOUNT = pwd.getpwuid(os.geteuid()).pw_name  # --user: the account running the deploy (this one, here)
PG_ENV = f"SECRET_KEY=kept-on-the-server\nDATABASE_URL={DATABASE_URL}\nDATA_DIR=/var/lib/{SLUG}\n"
PASSWORD = DATABASE_URL.split(":")[2].split("@")[0]
RELEASE = r"\d{8}T\d{6}Z"  # this run's release: its UTC time
FAMILIES = ("debian", "rhel")

PROJECTS = {
    "flask-gunicorn-nginx-systemd-sqlite": {
        "framework": "flask", "server": "gunicorn", "proxy": "nginx", "supervisor": "systemd", "database": "sqlite",
        "bind": "unix", "url_prefix": "/eegqc"},
    "django-uwsgi-apache-supervisord-postgresql-certbot": {
        "framework": "django", "server": "uwsgi", "proxy": "apache", "supervisor": "supervisord",
        "database": "postgresql", "bind": "tcp", "tls": "certbot", "domain_name": "qc.eeg-lab.org",
        "author_email": "webmaster@eeg-lab.org", "python_version": "3.12"},
    "flask-uwsgi-apache-systemd-postgresql-certificate": {
        "framework": "flask", "server": "uwsgi", "proxy": "apache", "supervisor": "systemd", "database": "postgresql",
        "bind": "unix", "tls": "certificate", "domain_name": "lab.example.org", "url_prefix": "/eegqc"},
    "django-gunicorn-nginx-systemd-sqlite-celery-channels": {
        "framework": "django", "server": "gunicorn", "proxy": "nginx", "supervisor": "systemd", "database": "sqlite",
        "bind": "unix", "url_prefix": "/eegqc", "task_queue": "celery", "websockets": "channels"},
    "django-gunicorn-nginx-supervisord-sqlite-celery-channels": {
        "framework": "django", "server": "gunicorn", "proxy": "nginx", "supervisor": "supervisord",
        "database": "sqlite", "bind": "unix", "task_queue": "celery", "websockets": "channels"},
    "dash-gunicorn-none-none-none": {
        "framework": "dash", "server": "gunicorn", "proxy": "none", "supervisor": "none", "database": "none",
        "bind": "tcp", "url_prefix": "/eegqc"},
    "flask-uwsgi-none-none-sqlite": {
        "framework": "flask", "server": "uwsgi", "proxy": "none", "supervisor": "none", "database": "sqlite",
        "bind": "tcp", "python_version": "3.13"},
    "dash-gunicorn-nginx-systemd-none": {
        "framework": "dash", "server": "gunicorn", "proxy": "nginx", "supervisor": "systemd", "database": "none",
        "bind": "unix", "url_prefix": "/eegqc"},
}  # fmt: skip
NGINX, HEAVY, CERTIFICATE, CELERY, SUPERVISORD, NONE, UWSGI, DASH = PROJECTS
# What a server these projects were deployed on already has.
HOST = {HEAVY: {"env": PG_ENV}, CERTIFICATE: {"env": PG_ENV, "certificate": True}}
DEPLOYED = {"releases": ("20250101T000000Z", "20250102T000000Z"), "live": "20250102T000000Z"}
OLD, LIVE = DEPLOYED["releases"]


def host(project: str, **changes) -> Host:
    return Host(**{**HOST.get(project, {}), **changes})


def scenario(project: str, *arguments: str, **changes) -> Scenario:
    return Scenario(arguments, host(project, **changes))


def says(pattern: str, output: str = "") -> tuple[str, str, str]:
    """The host's answer to the commands matching the regular expression PATTERN: success, with OUTPUT."""
    return ("regex", pattern, output)


def fails(pattern: str) -> tuple[str, str, dict]:
    return ("regex", pattern, {"success": False})


PG_RUNS = says(
    r"^systemctl is-active --quiet postgresql$"
)  # --user: PostgreSQL runs (its role and login: the defaults)
VENV_MADE = says(rf"^test -e {APP_DIR}/venvs/[0-9a-f]{{16}}/\.complete$")  # the same dependencies' virtualenv is there
PYENV = "/home/lab/.pyenv/shims"  # a Python on the account's PATH, not the system's
THEIRS = says(r"stat -L -c '%u %g %a'", "/home/lab/bin\n")  # root's check: the Python's path is another account's
ARCH = ("substring", "ls -pdL *-release", "/etc/os-release\nNAME=Arch\nID=arch\n---\n")
KEEP = {"releases": ("20250101T000000Z", "20250102T000000Z", "20250103T000000Z"),
        "failed": ("20241231T000000Z", "20250104T000000Z"), "live": "20250103T000000Z"}  # fmt: skip
OURS = f"host {PACKAGE} {PACKAGE} 127.0.0.1/32"  # this app's pg_hba.conf rule, but its method

# The scenarios of each project: a first install on a fresh Debian and a fresh RHEL server, then the variants.
SCENARIOS = {project: {family: scenario(project, family=family) for family in FAMILIES} for project in PROJECTS}
# fmt: off
SCENARIOS[NGINX] |= {
    "redeploy": scenario(NGINX, **DEPLOYED, answers=(VENV_MADE,)),
    "not-answering": scenario(NGINX, **DEPLOYED, app_answers=False),
    "first-not-answering": scenario(NGINX, app_answers=False),
    "dry": scenario(NGINX, "--dry"),
    "no-packages": scenario(NGINX, "--no-packages"),
    "os-rhel": scenario(NGINX, "--os", "rhel"),
    "unsupported": scenario(NGINX, answers=(ARCH,)),
    "help": scenario(NGINX, "--help"),
    "ufw": scenario(NGINX, ufw="enabled"),
    "firewalld": scenario(NGINX, family="rhel", firewalld=True),
    "selinux-off": scenario(NGINX, family="rhel", selinux=False),
    "user": scenario(NGINX, "--user"),
    "user-rhel": scenario(NGINX, "--user", family="rhel"),
    "user-fresh": scenario(NGINX, "--user", administrator=False),
    "user-before-proxy": scenario(NGINX, "--user", proxied=False, ufw="enabled"),
    "user-redeploy-before-proxy": scenario(NGINX, "--user", **DEPLOYED, proxied=False),
    "join": scenario(NGINX, "--join"),
    "join-included": scenario(NGINX, "--join", answers=(says(r"^nginx -T "),)),
    "join-rhel-firewalld": scenario(NGINX, "--join", family="rhel", firewalld=True),
    "user-join": scenario(NGINX, "--user", "--join", ufw="enabled"),
    "no-crontab": scenario(NGINX, "--user", "--no-crontab"),
    "keep-0": scenario(NGINX, "--keep", "0"),
    "keep-2": scenario(NGINX, "--keep", "2", **KEEP),
    "rollback": scenario(NGINX, "--rollback", **DEPLOYED),
    "rollback-to": scenario(NGINX, "--rollback", OLD, **DEPLOYED),
    "rollback-failed": scenario(NGINX, "--rollback", "20250103T000000Z", **DEPLOYED, failed=("20250103T000000Z",)),
    "rollback-bad-name": scenario(NGINX, "--rollback", "../etc", **DEPLOYED),
    "rollback-live": scenario(NGINX, "--rollback", LIVE, **DEPLOYED),
    "rollback-nothing": scenario(NGINX, "--rollback"),
    "rollback-first": scenario(NGINX, "--rollback", releases=(LIVE,), live=LIVE),
    "python": scenario(NGINX, "--python", "/opt/python/bin/python3", answers=(
        says(r"^test -x /opt/python/bin/python3$"),
        says(r"^realpath -s /opt/python/bin/python3$", "/opt/python/bin/python3\n"))),
    "python-missing": scenario(NGINX, "--python", "/opt/missing/python3"),
    "python-directory": scenario(NGINX, "--python", "/opt/python", answers=(says(r"^test -[xd] /opt/python$"),)),
    "python-too-old": scenario(NGINX, "--python", "/usr/bin/python3.9", answers=(
        says(r"^test -x /usr/bin/python3\.9$"), fails(r"^/usr/bin/python3\.9 -c 'import sys; sys\.exit"))),
    "python-on-path": scenario(NGINX, answers=(says(r"^command -v python3\.11$", f"{PYENV}/python3.11\n"),)),
    "python-none-on-path": scenario(NGINX, answers=(fails(r"^command -v python3$"),)),
    "python-theirs": scenario(NGINX, answers=(THEIRS,)),
    "user-python-theirs": scenario(NGINX, "--user", answers=(THEIRS,)),
    "local-user-as-root": Scenario(("--user",), local_euid=0),
    "local-not-root": Scenario((), local_euid=1000),
}
SCENARIOS[HEAVY] |= {
    "redeploy": scenario(HEAVY, **DEPLOYED),
    "md5": scenario(HEAVY, password_encryption="md5"),
    "on": scenario(HEAVY, password_encryption="on"),
    "off": scenario(HEAVY, password_encryption="off"),
    "hba-ours": scenario(HEAVY, hba=f"{OURS} scram-sha-256\nlocal all postgres peer\n"),
    "hba-ours-md5": scenario(HEAVY, hba=f"{OURS} md5\nlocal all postgres peer\n"),
    "dry": scenario(HEAVY, "--dry", env=""),
    "firewalld": scenario(HEAVY, family="rhel", firewalld=True),
    "no-headers": scenario(HEAVY, answers=(fails(r"^test -e /usr/include/python3\.13/Python\.h$"),
                                           fails(r"^command -v cc \|\| command -v gcc$"))),
    "user": scenario(HEAVY, "--user", answers=(PG_RUNS,)),
    "user-rhel": scenario(HEAVY, "--user", family="rhel", answers=(PG_RUNS,)),
    "user-pg-stopped": scenario(HEAVY, "--user"),
    "user-pg-stopped-rhel": scenario(HEAVY, "--user", family="rhel"),
    "user-pg-no-role": scenario(HEAVY, "--user", answers=(PG_RUNS, fails(r"^psql 'dbname=my_web_app' .*'SELECT 1'$"))),
    "user-pg-no-login": scenario(HEAVY, "--user", answers=(PG_RUNS, fails(r"import psycopg"))),
    "no-crontab": scenario(HEAVY, "--no-crontab"),
    "user-no-crontab": scenario(HEAVY, "--user", "--no-crontab", answers=(PG_RUNS,)),
    "join": scenario(HEAVY, "--join"),
    "rollback": scenario(HEAVY, "--rollback", **DEPLOYED),
}
SCENARIOS[CERTIFICATE] |= {
    "no-certificate": scenario(CERTIFICATE, certificate=False),
    "dry-no-certificate": scenario(CERTIFICATE, "--dry", certificate=False),
    # Another key's certificate, for another name, expired: all three said at once.
    "wrong-certificate": scenario(CERTIFICATE, certificate=True, answers=(
        says(r"^openssl pkey ", "-----BEGIN PUBLIC KEY-----\nanother\n"),
        says(r"-checkhost ", "Hostname lab.example.org does NOT match certificate\n"), fails(r"-checkend 0$"))),
    "encrypted-key": scenario(CERTIFICATE, certificate=True, answers=(fails(r"^openssl pkey "),)),
    "expiring": scenario(CERTIFICATE, certificate=True, answers=(fails(r"-checkend 1209600$"),)),
    "ufw": scenario(CERTIFICATE, ufw="enabled"),
    "ufw-open": scenario(CERTIFICATE, ufw="open"),
    "join": scenario(CERTIFICATE, "--join", certificate=False),
    "join-rhel": scenario(CERTIFICATE, "--join", family="rhel", certificate=False),
    "localhost-url": scenario(CERTIFICATE, env=PG_ENV.replace("@127.0.0.1:", "@localhost:")),
    "user-selinux": scenario(CERTIFICATE, "--user", family="rhel", answers=(PG_RUNS,)),
}
SCENARIOS[CELERY] |= {"redeploy": scenario(CELERY, **DEPLOYED), "user": scenario(CELERY, "--user")}
SCENARIOS[SUPERVISORD] |= {
    "redeploy": scenario(SUPERVISORD, **DEPLOYED),
    "help": scenario(SUPERVISORD, "--help"),
    "user": scenario(SUPERVISORD, "--user"),
    "user-no-crontab": scenario(SUPERVISORD, "--user", "--no-crontab"),
    "user-no-cron": scenario(SUPERVISORD, "--user", answers=(fails(r"^command -v crontab$"),)),
}
SCENARIOS[NONE] |= {
    "join": scenario(NONE, "--join"),
    "rollback": scenario(NONE, "--rollback", **DEPLOYED),
    "user": scenario(NONE, "--user"),
}
SCENARIOS[UWSGI] |= {"redeploy": scenario(UWSGI, **DEPLOYED)}
# fmt: on


@pytest.fixture(scope="session")
def plans_dir(tmp_path_factory):
    """Where the projects and their plans are made once per session, for every xdist worker."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the session's directory, which each worker's own is in
    path = base / "deploy-plans"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def plan_of(plans_dir):
    """plan_of(PROJECT, SCENARIO): the plan of that scenario; plan_of(PROJECT): the rendered project."""

    @cache
    def made(project):
        return shared_plans(plans_dir, project, PROJECTS[project], SCENARIOS[project])

    def plan_of(project: str, name: str | None = None):
        rendered, plans = made(project)
        return rendered if name is None else plans[name]

    return plan_of


def ok(plan: Plan) -> Plan:
    assert plan.returncode == 0 and plan.stderr == "", plan
    return plan


# How a deploy's error names where it stopped: the phase, and the module's step ("prepare: framework_flask.prepare: ").
STEP = r"(?:[a-z]+(?:: \w+\.\w+)?: )?"


def refused(plan: Plan, message: str, returncode: int = 1, app_untouched: bool = True) -> None:
    """Stopped with RETURNCODE, saying MESSAGE on stderr as `install.sh: error: [STEP: ]MESSAGE` (the deploy's errors
    name the phase and step they stopped in); APP_UNTOUCHED: before any change to the app (its account, directories,
    files, services)."""
    assert plan.returncode == returncode, plan
    assert re.search(rf"(^|/)install\.sh: error: {STEP}{re.escape(message)}", plan.stderr, re.M), plan
    if app_untouched:
        assert not plan.sent(r"^(useradd|mkdir|umask|upload|tar |ln |systemctl (enable|restart|start|reload))"), plan


CASES = [(project, family) for project in PROJECTS for family in FAMILIES]


def case_id(case) -> str:
    return "-".join(case)


# ---------------------------------------------------------------- a first install, every value, both families


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_first_install_succeeds_quietly(plan_of, case):
    plan = ok(plan_of(*case))
    assert plan.lines[0] == f"install.sh: {case[1]} family", "the family is read from /etc/os-release"


def expected_packages(answers: dict, family: str) -> set[str]:
    """What each option value needs from the distribution (the packages a first root install installs)."""
    debian = family == "debian"
    python = f"python{answers.get('python_version', '3.11')}"
    packages = {"python3", "python3-venv", "curl"} if debian else {python, "policycoreutils-python-utils"}
    if answers["server"] == "uwsgi":  # compiled by pip
        packages |= {"python3-dev", "build-essential"} if debian else {f"{python}-devel", "gcc"}
    if answers["supervisor"] == "supervisord":
        packages.add("supervisor")
    if answers["database"] != "none" and answers["supervisor"] != "systemd":  # the backup schedule: cron
        packages.add("cron" if debian else "cronie")
    if answers["database"] == "postgresql":
        packages.add("postgresql" if debian else "postgresql-server")
    if answers["proxy"] == "nginx":
        packages.add("nginx")
    if answers["proxy"] == "apache":
        packages |= {"apache2"} if debian else {"httpd", "mod_ssl"}
    if answers["proxy"] != "none" and not debian:  # the SELinux module for the proxy
        packages |= {"checkpolicy", "policycoreutils"}
    if answers.get("tls") == "certbot":
        packages |= {"certbot", f"python3-certbot-{answers['proxy']}"}
    if answers.get("tls") == "certificate":
        packages |= {"openssl"}  # the certificate's checks before it goes live
    if answers.get("task_queue") == "celery":  # the app's own Redis
        packages.add("redis-server" if debian else "redis")
    return packages


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_packages_per_family(plan_of, case):
    project, family = case
    plan = plan_of(project, family)
    installs = plan.sent(r"^(apt-get|env DEBIAN_FRONTEND=noninteractive apt-get|dnf) ")
    if family == "debian":
        assert installs[0] == "apt-get update -q", installs
        assert installs[1].startswith("env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "), installs
    else:
        assert installs[0].startswith("dnf install -y "), installs
    assert len(installs) == (2 if family == "debian" else 1), installs
    assert set(installs[-1].split()[6 if family == "debian" else 3 :]) == expected_packages(PROJECTS[project], family)


def expected_system_files(answers: dict, family: str, join: bool = False, selinux: bool = True) -> set[str]:
    """The files a first root install puts outside the app's directory."""
    debian = family == "debian"
    expected = {f"/etc/tmpfiles.d/{SLUG}.conf"}  # RUN_DIR, made at every boot
    if answers["supervisor"] == "systemd":
        services = [SLUG]
        if answers["database"] != "none":
            services.append(f"{SLUG}-backup")
        if answers.get("task_queue") == "celery":
            services += [f"{SLUG}-worker", f"{SLUG}-beat", f"{SLUG}-redis"]
        if answers.get("websockets") == "channels":
            services.append(f"{SLUG}-daphne")
        expected |= {f"/etc/systemd/system/{SLUG}.socket"}
        if answers["database"] != "none":
            expected.add(f"/etc/systemd/system/{SLUG}-backup.timer")
        for service in services:  # each in the same sandbox: the drop-in only a system manager applies
            expected |= {
                f"/etc/systemd/system/{service}.service",
                f"/etc/systemd/system/{service}.service.d/system.conf",
            }
    if answers["supervisor"] == "supervisord":
        expected.add(f"/etc/supervisor/conf.d/{SLUG}.conf" if debian else f"/etc/supervisord.d/{SLUG}.ini")
    if answers["proxy"] == "nginx":
        expected.add(f"/etc/nginx/snippets/{SLUG}.conf")  # the app's lines, which the site includes
        if not join:
            expected.add(f"/etc/nginx/sites-available/{SLUG}.conf" if debian else f"/etc/nginx/conf.d/{SLUG}.conf")
    if answers["proxy"] == "apache":
        expected.add(f"/etc/apache2/snippets/{SLUG}.conf" if debian else f"/etc/httpd/snippets/{SLUG}.conf")
        if not join:
            expected.add(f"/etc/apache2/sites-available/{SLUG}.conf" if debian else f"/etc/httpd/conf.d/{SLUG}.conf")
    # The SELinux modules' sources, root's own copy to build from: the proxy's, the app's own Redis's.
    modules = ["proxy"] * (answers["proxy"] != "none") + ["redis"] * (answers.get("task_queue") == "celery")
    for name in modules if not debian and selinux else []:
        module = f"/usr/local/share/selinux/{SLUG}/{SLUG.replace('-', '_')}_{name}"
        expected |= {f"{module}.te", f"{module}.fc"}
    return expected


def deploy_source(path: str, proxy: str) -> str:
    """The file of deploy/ that PATH on the server is a copy of."""
    name = path.rsplit("/", 1)[-1]
    if path.endswith(".service.d/system.conf"):
        return f"{SLUG}-system.conf"
    if "/systemd/" in path:
        return name
    if "/selinux/" in path:
        return f"selinux/{name}"
    if "/supervisor" in path:
        return "supervisord.conf"
    if "/snippets/" in path:
        return f"{proxy}-shared-site.conf"
    assert re.search(r"/(sites-available|conf\.d)/", path), path
    return f"{proxy}.conf"


def system_files(plan: Plan) -> set[str]:
    return {path for path in plan.uploads if not path.startswith(APP_DIR + "/")}


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_layout_holds_exactly_the_expected_system_files(plan_of, case):
    project, family = case
    answers, plan = PROJECTS[project], plan_of(*case)
    assert system_files(plan) == expected_system_files(answers, family)
    for path in system_files(plan) - {f"/etc/tmpfiles.d/{SLUG}.conf"}:  # the others: deploy/'s files as generated
        source = plan_of(project) / "deploy" / deploy_source(path, answers["proxy"])
        assert plan.uploads[path] == source.read_text(), path
    # setgid: the socket made in it is in the service group, which the proxy's user joins.
    assert plan.uploads[f"/etc/tmpfiles.d/{SLUG}.conf"] == f"d /run/{SLUG} 2750 {SLUG} {SLUG} -\n"
    # The app's state, and with a proxy the files it serves from there (setgid: they stay in the group).
    directories = {f"/var/lib/{SLUG}": "750"}
    if answers["proxy"] != "none":
        directories |= {f"/var/lib/{SLUG}/media": "2750", f"/var/lib/{SLUG}/protected": "2750"}
    if answers.get("task_queue") == "celery":  # the app's own Redis: its queue's append-only file, the app's alone
        directories[f"/var/lib/{SLUG}/redis"] = "700"
    for path, mode in directories.items():
        assert plan.sent(rf"^chmod {mode} {path}$") and plan.sent(rf"^chown {SLUG}:{SLUG} {path}$"), path
    assert set(plan.sent(rf"^mkdir -p /var/lib/{SLUG}")) == {f"mkdir -p {path}" for path in directories}
    if answers["proxy"] != "none" and family == "debian":
        site = answers["proxy"].replace("apache", "apache2")
        link = f"ln -s ../sites-available/{SLUG}.conf /etc/{site}/sites-enabled/{SLUG}.conf"
        assert plan.sent(rf"^{re.escape(link)}$"), "the site is enabled by a relative link"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_release_gets_the_code_without_secrets_and_its_own_env(plan_of, case):
    project = case[0]
    plan = plan_of(*case)
    release = re.search(rf"^install\.sh: release ({RELEASE}): from (\S+)$", plan.stdout, re.M)
    assert release and release[2] == str(plan_of(project)), plan
    release_dir = f"{APP_DIR}/releases/{release[1]}"
    [copy] = plan.sent(r"\btar -C ")
    for name in (".env", ".venv", ".git", "instance", "staticfiles"):  # the server's own, never the checkout's
        assert f"--exclude=./{name} " in copy, copy
    # Modes kept for the owner and the group, nothing for other accounts (umask 027: the directories; files: o=), the
    # app's group as root; the secrets and the virtualenv by link.
    assert copy.startswith("umask 027 && ") and f"find {release_dir} -type f -exec chmod g=u,g-w,o= {{}} +" in copy
    assert plan.sent(rf"^chgrp -R {SLUG} {APP_DIR}/releases\b")
    assert copy.endswith(f"ln -s ../../.env {release_dir}/.env")
    assert plan.sent(rf"^ln -s \.\./\.\./venvs/[0-9a-f]{{16}} {release_dir}/\.venv$")
    # The server makes its own secrets (the checkout's envfile.py, on the server's .env), and owns them alone.
    [secrets] = plan.sent(r"ensure_secrets")
    assert secrets.endswith(f"{plan_of(project)}/{PACKAGE}/envfile.py {APP_DIR}/.env /var/lib/{SLUG}")
    assert plan.sent(rf"^chmod 600 {APP_DIR}/\.env$") and plan.sent(rf"^chown {SLUG}:{SLUG} {APP_DIR}/\.env$")
    assert not [path for path in plan.uploads if path.endswith(".env")], "no .env is copied"
    # Prepared, it goes live: a new relative link renamed over `current`.
    switch = f"ln -sfn releases/{release[1]} {APP_DIR}/current.new && mv -T {APP_DIR}/current.new {APP_DIR}/current"
    assert switch in plan.ran and plan.said(f"live release: {release[1]} ({APP_DIR}/current)")


def test_redeploy_reuses_the_virtualenv_of_the_same_dependencies(plan_of):
    [venv] = re.findall(r"^ln -s \.\./\.\./venvs/([0-9a-f]{16}) ", "\n".join(plan_of(NGINX, "debian").ran), re.M)
    plan = ok(plan_of(NGINX, "redeploy"))
    assert plan.said(f"virtualenv {APP_DIR}/venvs/{venv}: the same dependencies, reused")
    assert not plan.sent(r"-m venv|pip install") and plan.sent(rf"^ln -s \.\./\.\./venvs/{venv} {APP_DIR}/releases/")
    assert re.search(rf"^install\.sh: release {RELEASE}: from \S+ \(live: {LIVE}\)$", plan.stdout, re.M), plan


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_system_commands_of_each_value(plan_of, case):
    project, family = case
    answers, plan = PROJECTS[project], plan_of(*case)
    debian = family == "debian"
    ran = plan.ran
    shell = "/usr/sbin/nologin" if debian else "/sbin/nologin"
    assert plan.sent(rf"^useradd -d /var/lib/{SLUG} -s {shell} -r -M {SLUG}$"), "a system account, no home made"
    assert any(re.search(r"-m pip install --quiet --requirement ", command) for command in ran)
    # The app checked on its own socket, then the way clients come in (HEALTH_URL, through the proxy).
    health = plan.sent(r"^curl .* --resolve ")
    probes = [command for command in plan.commands if "/healthz" in command and "--resolve" not in command]
    domain, prefix = answers.get("domain_name", "localhost"), answers.get("url_prefix", "").rstrip("/")
    if answers["supervisor"] == "none":  # the server is not install.sh's: no health check
        assert plan.said("no supervisor chosen: start the server yourself") and not health and not probes
        assert plan.said("no supervisor: reload the server yourself")
    else:
        port = 443 if answers.get("tls", "none") != "none" else 80
        url = f"{'https' if port == 443 else 'http'}://{domain}:{port}{prefix}/healthz"
        assert health and health[0].endswith(f"--resolve {domain}:{port}:127.0.0.1 {url}"), health
        socket = f"/run/{SLUG}/{answers['server']}.sock" if answers["bind"] == "unix" else "127.0.0.1:8000"
        if answers["server"] == "gunicorn":
            where = f"--unix-socket {socket} http://{domain}" if answers["bind"] == "unix" else f"http://{socket}"
            assert probes[0] == f"curl --silent --fail --max-time 10 --output /dev/null {where}{prefix}/healthz"
        else:  # a request in the uwsgi protocol, as the proxy sends it, by the release's Python
            assert probes[0].startswith(f"{APP_DIR}/current/.venv/bin/python -c ")
            assert probes[0].endswith(f" {prefix}/healthz {domain} {socket}"), probes
    if answers["proxy"] != "none":
        assert f"usermod --append --groups {SLUG} {PROXY_USER[answers['proxy'], family]}" in ran
    if answers["supervisor"] == "systemd":
        workers = [f"{SLUG}-worker.service", f"{SLUG}-beat.service"] if answers.get("task_queue") == "celery" else []
        workers += [f"{SLUG}-daphne.service"] if answers.get("websockets") == "channels" else []
        assert f"systemctl enable {' '.join([f'{SLUG}.socket', f'{SLUG}.service', *workers])}" in ran
        assert "systemctl restart my-web-app.socket" in ran and "systemctl restart my-web-app" in ran
        if workers:  # restarted with the server: they run the live release's code
            assert f"systemctl restart {' '.join(workers)}" in ran
    if answers["supervisor"] == "supervisord":
        assert "supervisorctl reread" in ran and any(line.startswith(f"supervisorctl update {SLUG}") for line in ran)
        assert f"systemctl enable --now {'supervisor' if debian else 'supervisord'}" in ran
    if answers["database"] == "postgresql":
        assert plan.said("install.sh: psql as postgres < deploy/postgresql.sql (password stored as scram-sha-256)")
        assert ("postgresql-setup --initdb" in ran) == (not debian)
        assert "systemctl enable --now postgresql" in ran
    if answers["framework"] == "django":
        assert any(line.endswith("manage.py collectstatic --no-input") for line in ran)
        assert ("manage.py migrate --no-input" in ran) == (answers["database"] != "none")
    else:
        assert ("manage.py db upgrade" in ran) == (answers["database"] != "none")
    a2enmod = [line for line in ran if line.startswith("a2enmod")]
    assert a2enmod == (
        [f"a2enmod -q {' '.join(site_modules(answers))}"] if answers["proxy"] == "apache" and debian else []
    )
    tests = {"nginx": "nginx -t", "apache": "apache2ctl configtest" if debian else "apachectl configtest"}
    if answers["proxy"] != "none":
        assert plan.sent(rf"^{tests[answers['proxy']]} 2>&1 >/dev/null$"), "the proxy's configuration is tested"
        service = {"nginx": "nginx", "apache": "apache2" if debian else "httpd"}[answers["proxy"]]
        assert f"systemctl enable {service}" in ran and f"systemctl reload-or-restart {service}" in ran
    if answers.get("tls") == "certbot":
        email, domain = answers["author_email"], answers["domain_name"]
        assert f"certbot certonly --{answers['proxy']} --non-interactive --agree-tos -m {email} -d {domain}" in ran
        assert plan.sent(r"^chmod 755 /var/www/letsencrypt$")
    if answers["database"] != "none":
        if answers["supervisor"] == "systemd":
            assert f"systemctl enable --now {SLUG}-backup.timer" in ran
        else:
            assert plan.said(f"crontab: added @daily cd /srv/{SLUG}/current && .venv/bin/python manage.py backup")
            if answers["supervisor"] == "supervisord":
                assert f"systemctl enable --now {'cron' if debian else 'crond'}" in ran
    if answers["proxy"] != "none" and not debian:  # SELinux enabled: the module loaded, the files labelled
        module = f"/usr/local/share/selinux/{SLUG}/{SLUG.replace('-', '_')}_proxy"
        assert f"semodule -i {module}.pp" in ran and any(line.startswith(f"restorecon -R {APP_DIR} ") for line in ran)
        port = "semanage port -a -t my_web_app_app_port_t -p tcp 8000"
        assert any(line.startswith(port) for line in ran) == (answers["bind"] == "tcp")
    if answers.get("task_queue") == "celery" and not debian:  # the app's own Redis's module, after the proxy's
        redis = f"/usr/local/share/selinux/{SLUG}/{SLUG.replace('-', '_')}_redis"
        loads = plan.sent(r"^semodule -i ")
        assert loads[-1] == f"semodule -i {redis}.pp" and len(loads) == 1 + (answers["proxy"] != "none"), loads
        assert any(f" /var/lib/{SLUG}/redis" in line for line in plan.sent(r"^restorecon -R "))
        before(plan, rf"^\+ semodule -i {redis}\.pp$", rf"^\+ (systemctl|supervisorctl) .*\b{SLUG}-redis\b")
    elif answers["proxy"] == "none" or debian:
        assert not plan.sent(r"^(semodule|restorecon|semanage|checkmodule)")


# ---------------------------------------------------------------- the order of the phases


def before(plan: Plan, *patterns: str) -> None:
    """Each narration line matching a pattern comes before the first one matching the next."""
    indexes = [plan.first(pattern) for pattern in patterns]
    assert indexes == sorted(indexes), f"{patterns} out of order in:\n{plan.stdout}"


@pytest.mark.parametrize("project", [NGINX, HEAVY, CELERY, SUPERVISORD, UWSGI])
def test_backup_before_migrating(plan_of, project):
    plan = ok(plan_of(project, "redeploy"))
    migrate = r"^\+ manage\.py (migrate|db upgrade)"
    before(plan, r"^install\.sh: a backup of the live database before the new release migrates it:$",
           r"^\+ manage\.py backup$", migrate, rf"^install\.sh: live release: {RELEASE} ")  # fmt: skip
    # A first install has no data to back up.
    assert "+ manage.py backup" not in plan_of(project, "debian").lines


@pytest.mark.parametrize("case", [case for case in CASES if case[0] not in (NONE, UWSGI)], ids=case_id)
def test_units_installed_before_the_app_starts_and_answers_before_the_proxy(plan_of, case):
    project, family = case
    answers, plan = PROJECTS[project], plan_of(*case)
    if answers["supervisor"] == "systemd":
        unit = rf"^install\.sh: installed /etc/systemd/system/{SLUG}\.service$"
        start = rf"^\+ systemctl restart {SLUG}$"
    else:
        unit = rf"^install\.sh: installed /etc/(supervisor/conf\.d/{SLUG}\.conf|supervisord\.d/{SLUG}\.ini)$"
        start = rf"^\+ supervisorctl update {SLUG}"
    site = r"^install\.sh: installed /etc/(nginx|apache2|httpd)/(sites-available|conf\.d)/"
    # The release goes live (the link switched) only once prepared; SELinux's module is loaded before the app starts.
    live = rf"^install\.sh: live release: {RELEASE} "
    before(plan, r"^\+ .*\btar -C ", r"^\+ manage\.py|collectstatic", live, unit, start,
           r"^install\.sh: the app answers on its own socket", site, r"^install\.sh: healthy: ")  # fmt: skip
    if family == "rhel":
        before(plan, r"^\+ semodule -i ", live, start)


def test_an_app_that_does_not_answer_is_never_published(plan_of):
    """A redeploy whose app does not answer on its own socket: back to the live release, the proxy untouched, a
    non-zero exit naming the release."""
    plan = plan_of(NGINX, "not-answering")
    assert plan.returncode == 1
    problem = "the app does not answer /healthz on its own socket"
    assert re.search(
        rf"^install\.sh: error: {problem} with release {RELEASE}: switching back to {LIVE}$", plan.stdout, re.M
    )
    error = (
        rf"^install\.sh: error: {STEP}release {RELEASE} failed its health check \({problem}\): rolled back to {LIVE}, "
    )
    assert re.search(error + "which answers", plan.stderr, re.M), plan
    before(
        plan,
        rf"^install\.sh: live release: {RELEASE} ",
        rf"^install\.sh: live release: {LIVE} ",
        r"^\+ systemctl reload my-web-app$",
    )
    assert not plan.said("/etc/nginx/") and not plan.sent(r"\.healthy$"), "neither published nor marked healthy"
    # The first install has nothing to go back to: it says so and goes on (the proxy's check is the last word).
    first = plan_of(NGINX, "first-not-answering")
    assert first.said("warning: the app does not answer /healthz on its own socket (release ")


# ---------------------------------------------------------------- install modes and options


def test_dry_run_changes_nothing_and_says_what_it_would(plan_of):
    plan = ok(plan_of(NGINX, "dry"))
    assert plan.lines[0] == "install.sh: debian family (dry run: nothing is changed)"
    files = r"^(useradd|usermod|mkdir|umask|chmod|chown|chgrp|ln |mv |rm |touch|upload|tar )"
    services = r"^(apt-get|env DEBIAN|systemctl (enable|restart|reload|stop|start|daemon)|ufw |firewall-cmd)"
    assert not plan.sent(files) and not plan.sent(services), plan
    assert not plan.sent(r"ensure_secrets|manage\.py|-m venv|pip install")
    would = [
        "would run: apt-get update -q",
        f"install.sh: would: account {SLUG}",
        f"install.sh: would: installed /etc/systemd/system/{SLUG}.service",
        f"would run: systemctl restart {SLUG}",
        f"install.sh: would: installed /etc/nginx/sites-available/{SLUG}.conf",
        "install.sh: would check http://localhost:80/eegqc/healthz",
    ]
    assert [line for line in would if line not in plan.lines] == [], plan
    pg = ok(plan_of(HEAVY, "dry"))
    assert pg.said("would create the role and database from deploy/postgresql.sql (password from .env)")


def test_no_packages_installs_none(plan_of):
    plan = ok(plan_of(NGINX, "no-packages"))
    assert not plan.sent(r"apt-get|dnf ") and plan.said(f"account {SLUG}")


def test_os_option_wins_over_the_host_s_release(plan_of):
    plan = ok(plan_of(NGINX, "os-rhel"))
    assert plan.lines[0] == "install.sh: rhel family" and plan.sent(r"^dnf install ")
    assert f"/etc/nginx/conf.d/{SLUG}.conf" in plan.uploads and not plan.sent(r"-release")


def test_unknown_distribution_is_refused_clearly(plan_of):
    refused(plan_of(NGINX, "unsupported"), "unsupported distribution 'Arch': use --os debian or --os rhel")


def test_local_checks_of_who_runs_it(plan_of):
    """On this machine (@local) main() checks who runs it before anything else: those messages go to stderr too."""
    refused(plan_of(NGINX, "local-user-as-root"), "--user installs for an ordinary account: as root, leave it out")
    refused(plan_of(NGINX, "local-not-root"), "run as root (sudo deploy/install.sh), with --user to install for your "
            "own account, or with --dry to see what it would change")  # fmt: skip


def test_missing_certificate_stops_before_anything_of_the_app_changes(plan_of):
    pair = f"/etc/ssl/{SLUG}"
    message = f"put the certificate chain in {pair}/fullchain.pem and its key in {pair}/privkey.pem"
    refused(plan_of(CERTIFICATE, "no-certificate"), message)
    assert ok(plan_of(CERTIFICATE, "dry-no-certificate")).said(f"certificate: {message} (a real run stops here)")


def test_a_certificate_the_site_cannot_serve_stops_before_anything_of_the_app_changes(plan_of):
    chain, key = f"/etc/ssl/{SLUG}/fullchain.pem", f"/etc/ssl/{SLUG}/privkey.pem"
    refused(plan_of(CERTIFICATE, "wrong-certificate"), f"{key} is not the key of the certificate in {chain} (their "
            f"public keys differ); the certificate in {chain} is not for lab.example.org (openssl x509 -checkhost); "
            f"the certificate in {chain} has expired")  # fmt: skip
    unreadable = f"{key} is not a private key the proxy can read (PEM, not encrypted)"
    refused(plan_of(CERTIFICATE, "encrypted-key"), unreadable)
    expiring = ok(plan_of(CERTIFICATE, "expiring"))
    assert expiring.said(f"the certificate in {chain} expires within 14 days: renew it") and expiring.sent(r"^ln ")


def test_dash_bundles_are_collected_into_the_release_before_it_goes_live(plan_of):
    """nginx sends the dashboard's bundles from the live release's bundles/ (deploy/nginx-shared-site.conf)."""
    plan = ok(plan_of(DASH, "debian"))
    before(plan, r"^\+ .*\btar -C ", r"^\+ manage\.py collect-bundles --into /var/lib/my-web-app/bundles\.build$",
           r"^\+ umask 027 && cp -R -P ", rf"^install\.sh: live release: {RELEASE} ")  # fmt: skip
    assert not any("collect-bundles" in line for line in ok(plan_of(NONE, "debian")).lines)  # no nginx: the app's


def test_uwsgi_build_needs_are_checked_before_anything_of_the_app_changes(plan_of):
    refused(plan_of(HEAVY, "no-headers"), "uWSGI is compiled when it is installed and needs a C compiler (cc) and the "
            "headers of /usr/bin/python3 (/usr/include/python3.13/Python.h): the system's come with the packages "
            "python3-dev build-essential (an administrator installs them)")  # fmt: skip


# ---------------------------------------------------------------- the firewall


def firewall_lines(plan: Plan) -> list[str]:
    return [line for line in plan.lines if re.search(r"\bufw |firewall-cmd|firewall:|ufw:", line)]


def test_ufw_enabled_opens_http_and_https_before_the_site(plan_of):
    plan = ok(plan_of(CERTIFICATE, "ufw"))
    assert firewall_lines(plan) == ["+ ufw allow 80/tcp", "+ ufw allow 443/tcp"]
    # Open before the site: the first clients come through it (and certbot's check, with certbot).
    before(plan, r"^\+ ufw allow 443/tcp$", r"^install\.sh: installed /etc/apache2/sites-available/")
    assert firewall_lines(plan_of(NGINX, "ufw")) == ["+ ufw allow 80/tcp"]  # HTTP only: no 443


def test_ufw_rules_already_there_are_kept(plan_of):
    assert firewall_lines(ok(plan_of(CERTIFICATE, "ufw-open"))) == ["install.sh: ufw: 80/tcp is open",
                                                                    "install.sh: ufw: 443/tcp is open"]  # fmt: skip


def test_no_active_firewall_changes_nothing(plan_of):
    assert firewall_lines(plan_of(CERTIFICATE, "debian")) == [
        "install.sh: firewall: neither ufw nor firewalld is active; nothing to open for 80/tcp 443/tcp"
    ]


@pytest.mark.parametrize(("project", "ports"), [(NGINX, ["80/tcp"]), (HEAVY, ["80/tcp", "443/tcp"])])
def test_firewalld_active_opens_ports_permanently_and_now(plan_of, project, ports):
    plan = ok(plan_of(project, "firewalld"))
    assert firewall_lines(plan) == [
        line for port in ports for line in (f"+ firewall-cmd --quiet --permanent --add-port={port}",
                                            f"+ firewall-cmd --quiet --add-port={port}")
    ]  # fmt: skip


@pytest.mark.parametrize("project", [NONE, UWSGI])
def test_no_proxy_no_firewall(plan_of, project):
    """proxy=none: the server listens on 127.0.0.1 (or a unix socket), nothing public to open; no firewall code."""
    assert not (plan_of(project) / "deploy" / "engine" / "firewall.py").exists()
    plan = ok(plan_of(project, "debian"))
    assert firewall_lines(plan) == [] and not plan.sent(r"ufw|firewall")


# ---------------------------------------------------------------- SELinux


def test_selinux_disabled_or_debian_skips_the_module(plan_of):
    assert ok(plan_of(NGINX, "selinux-off")).said("SELinux: disabled here; skipped")
    assert plan_of(NGINX, "debian").said("SELinux: the policy module is for RHEL-family systems; skipped")
    for name in ("selinux-off", "debian"):
        assert not plan_of(NGINX, name).sent(r"^(semodule|restorecon|checkmodule)")
        assert not [path for path in plan_of(NGINX, name).uploads if "selinux" in path]


def test_selinux_module_is_built_from_root_s_own_copy(plan_of):
    plan = ok(plan_of(NGINX, "rhel"))
    module = f"/usr/local/share/selinux/{SLUG}/my_web_app_proxy"
    assert plan.ran[plan.ran.index(f"checkmodule -M -m -o {module}.mod {module}.te") :][:3] == [
        f"checkmodule -M -m -o {module}.mod {module}.te",
        f"semodule_package -o {module}.pp -m {module}.mod -f {module}.fc",
        f"semodule -i {module}.pp",
    ]
    assert f"restorecon -R {APP_DIR} /run/{SLUG} /var/lib/{SLUG}/media /var/lib/{SLUG}/protected" in plan.ran


def test_user_selinux_module_is_the_administrator_s_from_the_new_release(plan_of):
    """--user on RHEL: the administrator copies the module's sources from the release being installed (the live one
    is older, or none on a first install), checks them, builds and loads the module; the account runs none of it."""
    plan = ok(plan_of(CERTIFICATE, "user-selinux"))
    release = re.search(rf"^install\.sh: release ({RELEASE}):", plan.stdout, re.M)[1]
    module = f"/usr/local/share/selinux/{SLUG}/my_web_app_proxy"
    source = f"{APP_DIR}/releases/{release}/deploy/selinux/my_web_app_proxy.te"
    copy = [line for line in plan.administrator if f"'{module}.te.new'" in line]
    assert copy and copy[0].startswith(f"test ! -L '{source}' && install -D -m 0600 -o root -g root '{source}' "), plan
    assert f"semodule -i {module}.pp" in plan.administrator
    assert not plan.sent(r"^(semodule|checkmodule|install -D)")


# ---------------------------------------------------------------- PostgreSQL


def hba_rules(plan: Plan) -> list[str]:
    return [
        line.removeprefix("install.sh: pg_hba.conf: ") for line in plan.lines if line.startswith("install.sh: pg_hba")
    ]


@pytest.mark.parametrize(("scenario", "method"), [("debian", "scram-sha-256"), ("md5", "md5"), ("on", "md5")])
def test_pg_hba_method_follows_password_encryption(plan_of, scenario, method):
    plan = ok(plan_of(HEAVY, scenario))
    rule = f"host {PACKAGE} {PACKAGE} 127.0.0.1/32 {method}"
    assert hba_rules(plan) == [rule]
    # First in the file (the first match wins); a rule of ours with another method goes.
    assert any(line.endswith(f" && sed -i '1i {rule}' /etc/pg_hba.conf") for line in plan.ran), plan.ran
    assert plan.said(f"psql as postgres < deploy/postgresql.sql (password stored as {method})")
    assert "cd / && runuser -u postgres -- psql -XtAqc 'SELECT pg_reload_conf()'" in plan.ran


def test_pg_hba_rule_of_ours_is_kept_or_replaced(plan_of):
    kept = ok(plan_of(HEAVY, "hba-ours"))
    assert kept.said(f"pg_hba.conf lets {PACKAGE} in (scram-sha-256)") and not kept.sent(r"sed -i|pg_reload_conf")
    replaced = ok(plan_of(HEAVY, "hba-ours-md5"))
    assert hba_rules(replaced) == [f"host {PACKAGE} {PACKAGE} 127.0.0.1/32 scram-sha-256"]
    assert replaced.sent(r"^sed -i -E '\\#\^host\[\[:space:\]\]\+my_web_app.*#d' /etc/pg_hba\.conf && sed -i '1i ")


def test_pg_hba_localhost_is_either_address(plan_of):
    plan = ok(plan_of(CERTIFICATE, "localhost-url"))
    assert hba_rules(plan) == [
        f"host {PACKAGE} {PACKAGE} {address} scram-sha-256" for address in ("127.0.0.1/32", "::1/128")
    ]


def test_unknown_password_encryption_is_refused_clearly(plan_of):
    plan = plan_of(HEAVY, "off")
    assert plan.returncode == 1
    assert "install.sh: error: PostgreSQL's password_encryption is 'off': set it to scram-sha-256 or md5 in " \
           "postgresql.conf" in plan.stderr, plan  # fmt: skip


@pytest.mark.parametrize("name", [name for name in SCENARIOS[HEAVY]] + ["localhost-url", "user-selinux"])
def test_database_password_is_never_shown(plan_of, name):
    plan = plan_of(CERTIFICATE if name in ("localhost-url", "user-selinux") else HEAVY, name)
    assert PASSWORD not in plan.stdout + plan.stderr and not plan.sent(re.escape(PASSWORD))


@pytest.mark.parametrize("family", FAMILIES)
def test_user_install_asks_to_start_postgresql(plan_of, family):
    plan = plan_of(HEAVY, "user-pg-stopped" + ("-rhel" if family == "rhel" else ""))
    refused(plan, "database not ready: run this script again after that", app_untouched=False)
    initdb = ["test -e /var/lib/pgsql/data/PG_VERSION || postgresql-setup --initdb"] if family == "rhel" else []
    assert plan.administrator[-len(initdb) - 1 :] == [*initdb, "systemctl enable --now postgresql"]
    assert not plan.sent(r"postgresql-setup|systemctl enable")


def test_user_install_asks_for_postgresql_commands_without_the_password(plan_of):
    """--user, no role for the account yet: the administrator's commands are PostgreSQL's own tools, in full."""
    plan = plan_of(HEAVY, "user-pg-no-role")
    refused(plan, "database not ready: run this script again after that", app_untouched=False)
    assert plan.administrator[-4:] == [
        f"cd / && runuser -u postgres -- createuser {PACKAGE}",
        f"cd / && runuser -u postgres -- createuser --role={PACKAGE} {ACCOUNT}",
        f"cd / && runuser -u postgres -- createdb --owner={PACKAGE} {PACKAGE}",
        f"cd / && runuser -u postgres -- psql -X -q -d {PACKAGE} -c 'ALTER SCHEMA public OWNER TO {PACKAGE}'",
    ]


def test_user_install_sets_the_password_itself_and_asks_for_the_pg_hba_rule(plan_of):
    ready = ok(plan_of(HEAVY, "user"))
    assert ready.said(f"PostgreSQL: the password of {PACKAGE} set from .env (stored as scram-sha-256)")
    assert ready.said(f"PostgreSQL: {PACKAGE} can log in") and not ready.sent(r"runuser -u postgres")
    plan = plan_of(HEAVY, "user-pg-no-login")
    refused(plan, "database not ready: run this script again after that", app_untouched=False)
    rule = f"1i host {PACKAGE} {PACKAGE} 127.0.0.1/32 scram-sha-256"
    assert plan.administrator[-2:] == [
        f"cd / && sed -i '{rule}' \"$(runuser -u postgres -- psql -XtAc 'SHOW hba_file')\"",
        "cd / && runuser -u postgres -- psql -Xq -o /dev/null -c 'SELECT pg_reload_conf()'",
    ]


# ---------------------------------------------------------------- --user: the administrator's steps, printed only


USER_INSTALLS = [(NGINX, "user"), (NGINX, "user-rhel"), (NGINX, "user-join"), (HEAVY, "user"), (HEAVY, "user-rhel"),
                 (CELERY, "user"), (SUPERVISORD, "user"), (CERTIFICATE, "user-selinux"), (NONE, "user")]  # fmt: skip


@pytest.mark.parametrize(("project", "name"), USER_INSTALLS, ids=case_id)
def test_user_install_runs_nothing_of_the_administrator_s(plan_of, project, name):
    plan = ok(plan_of(project, name))
    root_only = r"^(useradd|usermod|apt-get|dnf |env DEBIAN|ufw |firewall-cmd|loginctl|a2enmod|semodule|restorecon"
    assert not plan.sent(root_only + r"|systemctl (enable|start|restart|reload|stop|daemon-reload))"), plan
    assert not plan.sent(r"^(sudo|runuser) ") and not [path for path in plan.uploads if path.startswith("/etc/")]
    for command in plan.administrator:
        assert command not in plan.commands, command
    assert plan.said("back to the one before: deploy/install.sh --user --rollback")


def test_user_install_prints_what_the_administrator_runs(plan_of):
    plan = ok(plan_of(NGINX, "user"))
    admin = plan.administrator
    assert not [line for line in admin if "linger" in line], "lingering is enabled for the account already"
    assert f"usermod --append --groups {SLUG} www-data" in admin
    copies = [line for line in admin if line.startswith("test ! -L ")]
    targets = [re.search(r"'(\S+)\.new'", line)[1] for line in copies]
    assert targets == [f"/etc/nginx/sites-available/{SLUG}.conf", f"/etc/nginx/snippets/{SLUG}.conf"]
    for line, name in zip(copies, ["nginx.conf", "nginx-shared-site.conf"], strict=True):
        # Checked before it takes the file's place: the digest of what the account shows, of the checkout's file.
        digest = hashlib.sha256((plan_of(NGINX) / "deploy" / name).read_bytes()).hexdigest()
        assert f"install -D -m 0600 -o root -g root '{APP_DIR}/current/deploy/{name}' " in line
        assert f"echo '{digest}  " in line and line.index("sha256sum --check") < line.index("chmod 0644")
    assert admin[-3:] == [f"ln -sfn ../sites-available/{SLUG}.conf /etc/nginx/sites-enabled/{SLUG}.conf", "nginx -t",
                          "systemctl reload-or-restart nginx"]  # fmt: skip
    # The account's own systemd runs the units as generated: no drop-in, in its own unit directory.
    units = {path: text for path, text in plan.uploads.items() if "/systemd/user/" in path}
    home = os.path.expanduser("~")
    assert set(units) == {
        f"{home}/.config/systemd/user/{SLUG}{suffix}"
        for suffix in (".socket", ".service", "-backup.service", "-backup.timer")
    }
    for path, text in units.items():
        assert text == (plan_of(NGINX) / "deploy" / path.rsplit("/", 1)[-1]).read_text()
    assert "systemctl --user add-wants default.target my-web-app.service" in plan.ran


def test_user_install_on_a_fresh_server_asks_for_the_directories(plan_of):
    plan = plan_of(NGINX, "user-fresh")
    refused(plan, "run this script again once an administrator has made the directories (the commands above)")
    assert plan.administrator[0] == f"loginctl enable-linger {ACCOUNT}"
    assert plan.administrator[-5:] == [
        f"groupadd --force --system {SLUG}",
        f"install -d -o {ACCOUNT} -g {SLUG} -m 2750 {APP_DIR} /var/lib/{SLUG}/media /var/lib/{SLUG}/protected",
        f"install -d -o {ACCOUNT} -g {SLUG} -m 0750 /var/lib/{SLUG} /var/log/{SLUG}",
        f"printf '%s\\n' 'd /run/{SLUG} 2750 {ACCOUNT} {SLUG} -' > /etc/tmpfiles.d/{SLUG}.conf",
        f"systemd-tmpfiles --create /etc/tmpfiles.d/{SLUG}.conf",
    ]


def test_user_install_before_the_proxy_is_set_up_is_healthy_on_the_app_s_socket(plan_of):
    """Issue 21, fix 1: until the administrator has added the proxy's lines, a --user deploy checks the app where it
    can reach it and says the proxy's check waits; a redeploy does not switch back."""
    for name in ("user-before-proxy", "user-redeploy-before-proxy"):
        plan = ok(plan_of(NGINX, name))
        assert plan.said("healthy: the app answers on its own socket (release ")
        assert plan.said(
            "not checked: http://localhost:80/eegqc/healthz: the proxy does not pass requests to the app yet"
        )
        assert not plan.said("switching back") and plan.sent(r"\.healthy$")


def test_user_install_firewall_is_the_administrator_s(plan_of):
    plan = ok(plan_of(NGINX, "user-before-proxy"))
    assert "ufw allow 80/tcp" in plan.administrator and not plan.sent(r"^ufw allow")


# ---------------------------------------------------------------- --join


JOINS = {
    (NGINX, "join"): ("debian", "include /etc/nginx/snippets/my-web-app.conf;", "nginx -t", "nginx"),
    (NGINX, "join-rhel-firewalld"): ("rhel", "include /etc/nginx/snippets/my-web-app.conf;", "nginx -t", "nginx"),
    (CERTIFICATE, "join"): (
        "debian",
        "Include /etc/apache2/snippets/my-web-app.conf",
        "apache2ctl configtest",
        "apache2",
    ),
    (CERTIFICATE, "join-rhel"): (
        "rhel",
        "Include /etc/httpd/snippets/my-web-app.conf",
        "apachectl configtest",
        "httpd",
    ),
}


@pytest.mark.parametrize("join", list(JOINS), ids=case_id)
def test_join_installs_only_the_app_lines_and_prints_the_one_include(plan_of, join):
    project = join[0]
    family, include, test, service = JOINS[join]
    answers, plan = PROJECTS[project], ok(plan_of(*join))
    assert system_files(plan) == expected_system_files(answers, family, join=True)
    snippet = include.split()[-1].rstrip(";")
    assert plan.uploads[snippet] == (plan_of(project) / "deploy" / f"{answers['proxy']}-shared-site.conf").read_text()
    domain = answers.get("domain_name", "localhost")
    added = [line for line in plan.lines if "once: " in line]
    assert added == [f"install.sh: add to the {service} site of {domain}, inside its block, once: {include}"]
    assert plan.administrator[-2:] == [test, f"systemctl reload {service}"]
    # The site is someone else's: its firewall, its service's enablement, its certificate.
    assert not plan.sent(r"^(ufw|firewall-cmd) ") and not plan.sent(rf"^systemctl enable {service}")
    assert plan.said("firewall: left to whoever runs the") and not plan.said("/etc/ssl/my-web-app")
    assert not plan.sent(r"^(certbot|test -e /etc/ssl/)")
    assert plan.said(f"the {service} site for {domain} does not include them yet")
    modules = [line for line in plan.ran if line.startswith("a2enmod")]
    if answers["proxy"] == "apache" and family == "debian":  # TLS is the joined host's: no mod_ssl
        assert modules == [f"a2enmod -q {' '.join(m for m in site_modules(answers) if m != 'ssl')}"]


def test_join_once_included_says_so(plan_of):
    plan = ok(plan_of(NGINX, "join-included"))
    assert plan.said(
        f"the nginx configuration includes /etc/nginx/snippets/{SLUG}.conf: the app is served under /eegqc/"
    )
    assert not [line for line in plan.lines if "once: " in line]


def test_user_join_hands_the_app_lines_to_the_administrator(plan_of):
    plan = ok(plan_of(NGINX, "user-join"))
    include = f"include /etc/nginx/snippets/{SLUG}.conf;"
    assert [line for line in plan.lines if "once: " in line] == [
        f"install.sh: add to the nginx site of localhost, inside its block, once: {include}"
    ]
    assert not [command for command in plan.administrator if re.search(r"ufw|firewall-cmd|systemctl enable", command)]


@pytest.mark.parametrize(
    ("project", "message"),
    [(NONE, "--join: this project has no proxy in front (proxy=none), so no proxy site to join"),
     (HEAVY, "--join: the app must live under a URL prefix, not / (url_prefix): the root of a site someone else runs "
             "stays theirs")],
    ids=["no-proxy", "root-url"],
)  # fmt: skip
def test_join_refused_where_it_cannot_work(plan_of, project, message):
    refused(plan_of(project, "join"), message, returncode=2)


# ---------------------------------------------------------------- supervisord, crontab


def test_supervisord_user_install_runs_its_own_supervisord_started_at_boot(plan_of):
    plan = ok(plan_of(SUPERVISORD, "user"))
    conf = f"{os.environ.get('XDG_CONFIG_HOME') or os.path.expanduser('~/.config')}/{SLUG}"
    assert f"{APP_DIR}/current/.venv/bin/python -m pip install --quiet supervisor" in plan.ran
    assert (
        plan.uploads[f"{conf}/{SLUG}.program.conf"]
        == (plan_of(SUPERVISORD) / "deploy" / "supervisord.conf").read_text()
    )
    account = plan.uploads[f"{conf}/{SLUG}.account.conf"]
    for program in (SLUG, f"{SLUG}-worker", f"{SLUG}-beat", f"{SLUG}-redis", f"{SLUG}-daphne"):
        assert f"[program:{program}]\nuser={ACCOUNT}\n" in account, program
    assert plan.said(f"crontab: added @reboot {APP_DIR}/current/.venv/bin/supervisord -c {conf}/supervisord.conf")
    assert plan.sent(r"^crontab ")
    # The app's own Redis first, alone; then the rest.
    updates = [line for line in plan.ran if " update " in line]
    assert updates[0].endswith(f" update {SLUG}-redis") and updates[1].endswith(
        f" update {SLUG} {SLUG}-worker {SLUG}-beat {SLUG}-daphne"
    )


def test_no_crontab_prints_the_lines_instead(plan_of):
    plan = ok(plan_of(SUPERVISORD, "user-no-crontab"))
    assert not plan.sent(r"^crontab ") and not plan.said("crontab: added")
    assert plan.said("to start it at boot, add to your crontab (crontab -e):")
    assert plan.said(f"backups: add to the crontab of {ACCOUNT} (crontab -e):")
    no_cron = ok(plan_of(SUPERVISORD, "user-no-cron"))
    assert no_cron.said("no crontab command here (the cron package): supervisord will not start at boot")
    assert not no_cron.sent(r"^crontab ")


def test_no_crontab_goes_with_user(plan_of):
    refused(plan_of(HEAVY, "no-crontab"), "--no-crontab goes with --user")
    assert ok(plan_of(HEAVY, "user-no-crontab")).said(f"backups: add to the crontab of {ACCOUNT} (crontab -e):")


def test_no_crontab_only_where_supervisord_or_none_is(plan_of):
    """A systemd project starts at boot through lingering and backs up from a timer: no crontab, no option for it."""
    plan = plan_of(NGINX, "no-crontab")
    assert plan.returncode == 2 and "unrecognized arguments: --no-crontab" in plan.stderr
    assert ok(plan_of(NGINX, "help")).said("--rollback") and "--no-crontab" not in plan_of(NGINX, "help").stdout
    assert "--no-crontab" in ok(plan_of(SUPERVISORD, "help")).stdout


# ---------------------------------------------------------------- Celery, Channels


def test_celery_under_systemd_starts_its_redis_before_the_app(plan_of):
    plan = ok(plan_of(CELERY, "debian"))
    units = r"^install\.sh: installed /etc/systemd/system/"
    before(plan, rf"{units}{SLUG}-redis\.service$", rf"^\+ systemctl start {SLUG}-redis\.service$",
           rf"{units}{SLUG}\.service$", rf"^\+ systemctl restart {SLUG}$")  # fmt: skip
    assert plan.said(f".env: CELERY_BROKER_URL=redis+socket:///run/{SLUG}/redis.sock (the app's own Redis)")
    assert plan.sent(rf"^chmod 700 /var/lib/{SLUG}/redis$")
    # A redeploy leaves the broker running: started (a no-op when it runs), restarted only when its unit changed.
    assert f"systemctl start {SLUG}-redis.service" in ok(plan_of(CELERY, "redeploy")).ran


# ---------------------------------------------------------------- releases: --keep, --rollback


def test_keep_prunes_healthy_releases_beyond_n_and_failed_ones_before_the_live(plan_of):
    """Only releases that went live and passed the health check count (issue 21, fix 3). The host, as the prune reads
    it: healthy 20250101, 20250102, 20250103 (live), failed 20241231 and 20250104."""
    plan = ok(plan_of(NGINX, "keep-2"))
    removed = [line.split("/")[-1] for line in plan.ran if line.startswith(f"rm -rf -- {APP_DIR}/releases/")]
    # Kept: the 2 newest healthy ones, and the failed one newer than the live (for inspection).
    assert removed == ["20241231T000000Z", "20250101T000000Z"], plan.ran


def test_keep_refuses_zero(plan_of):
    refused(plan_of(NGINX, "keep-0"), "--keep: the number of releases to keep, 1 or more, not 0", returncode=2)


def test_rollback_switches_back_gracefully_and_checks(plan_of):
    for project, reload in [(NGINX, f"systemctl reload {SLUG}"), (HEAVY, "touch /run/my-web-app/uwsgi.reload")]:
        plan = ok(plan_of(project, "rollback"))
        assert (
            f"ln -sfn releases/{OLD} {APP_DIR}/current.new && mv -T {APP_DIR}/current.new {APP_DIR}/current" in plan.ran
        )
        assert reload in plan.ran and plan.sent(r"^curl .*--resolve .*/healthz$")
        assert plan.lines[-1] == f"install.sh: rolled back from {LIVE} to {OLD}"
        assert not plan.sent(r"\btar |manage\.py|pip install"), "a rollback copies and prepares nothing"
    assert f"ln -sfn releases/{OLD} {APP_DIR}/current.new && mv -T {APP_DIR}/current.new {APP_DIR}/current" in ok(
        plan_of(NGINX, "rollback-to")).ran  # fmt: skip


NOT_LIVE_AND_HEALTHY = f"that went live and answered in {APP_DIR}/releases"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("rollback-nothing", f"--rollback: {APP_DIR}/current is not a link to a release in {APP_DIR}/releases: "
                             "nothing to roll back"),
        ("rollback-bad-name", f"--rollback: no release '../etc' {NOT_LIVE_AND_HEALTHY}; there are: {OLD} {LIVE}"),
        ("rollback-failed", f"--rollback: no release '20250103T000000Z' {NOT_LIVE_AND_HEALTHY}"),
        ("rollback-live", f"--rollback: {LIVE} is the live release already"),
        ("rollback-first", f"--rollback: no release older than the live one ({LIVE}) that went live and answered"),
    ],
)  # fmt: skip
def test_rollback_refused_clearly(plan_of, name, message):
    plan = plan_of(NGINX, name)
    refused(plan, message)
    assert not plan.sent(r"^ln -sfn ")


def test_rollback_without_supervisor_is_refused(plan_of):
    refused(plan_of(NONE, "rollback"), "--rollback: no supervisor chosen, so the server is not the deploy's to "
            f"reload: switch the link {APP_DIR}/current yourself")  # fmt: skip


# ---------------------------------------------------------------- --python, and the Python root may run


def test_python_option_names_the_rule(plan_of):
    refused(plan_of(NGINX, "python-missing"), "--python: /opt/missing/python3 is not an executable file")
    refused(plan_of(NGINX, "python-directory"), "--python: /opt/python is not an executable file")
    refused(plan_of(NGINX, "python-too-old"), "--python: /usr/bin/python3.9 is not a Python >= 3.11")


def test_python_option_makes_the_virtualenv(plan_of):
    plan = ok(plan_of(NGINX, "python"))
    assert plan.said("Python: /opt/python/bin/python3 (Python 3.13.5)")
    assert plan.sent(rf"^rm -rf {APP_DIR}/venvs/[0-9a-f]+ && /opt/python/bin/python3 -m venv {APP_DIR}/venvs/")


def test_python_found_on_path(plan_of):
    """Without --python: the first python3.11, python3 or newer python3.N on PATH, wherever it is (a conda or pyenv
    one on the account's PATH)."""
    assert ok(plan_of(NGINX, "python-on-path")).said(f"Python: {PYENV}/python3.11 ")
    assert plan_of(NGINX, "debian").sent(r"^command -v python3\.\d+$")[0] == "command -v python3.11"
    refused(plan_of(NGINX, "python-none-on-path"), "no Python >= 3.11 on PATH: install python3.11, or name one with "
            "--python PATH")  # fmt: skip


def test_root_refuses_a_python_another_account_can_change(plan_of):
    """What the host says of the Python's path (here: /home/lab/bin, another account's) decides; --user, which runs
    its own Python, does not ask."""
    plan = plan_of(NGINX, "python-theirs")
    refused(plan, "--python: root would run /usr/bin/python3, but /home/lab/bin can be changed by an account other "
            "than root")  # fmt: skip
    assert not plan_of(NGINX, "user-python-theirs").sent(r"stat -L -c")
    assert ok(plan_of(NGINX, "user-python-theirs"))


def root_may_run_check(plan: Plan) -> str:
    """The first of root's checks of a Python's path (the same check serves the interpreter and its library)."""
    checks = plan.sent(r"stat -L -c '%u %g %a'")
    assert checks, plan
    return checks[0]


def test_root_python_check_reads_a_real_tree_with_the_host_s_shell(plan_of, tmp_path):
    """The check the deploy sends (as the fake host recorded it), run by /bin/sh (what pyinfra runs commands with)
    on a real tree: a Python through a link in another account's directory is reported, root's own is not."""
    if os.geteuid() != 0:
        pytest.skip("makes a directory another account owns: runs as root")
    check = root_may_run_check(plan_of(NGINX, "debian"))
    system_python = os.path.realpath("/bin/sh")  # root's own file in root's own directories: only its path matters
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "python3").symlink_to(system_python)
    os.chown(theirs, 65534, 65534)
    tmp_path.chmod(0o755)
    writable = tmp_path / "writable"
    writable.mkdir()
    writable.chmod(0o777)
    (writable / "python3").symlink_to(system_python)
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    (sticky / "python3").symlink_to(system_python)
    cases = [(system_python, ""), (theirs / "python3", str(theirs)), (writable / "python3", str(writable)),
             (sticky / "python3", "")]  # fmt: skip
    for python, unsafe in cases:
        result = subprocess.run(["/bin/sh", "-c", check.replace("/usr/bin/python3", str(python))],
                                capture_output=True, text=True, check=False, timeout=60)  # fmt: skip
        assert (result.returncode, result.stdout.strip(), result.stderr) == (0, unsafe, ""), (python, result)


# ---------------------------------------------------------------- the rendered deploy: only the chosen values' code

# The deploy questions whose values have code of their own (framework through __family: Dash runs on Flask's).
DEPLOY_QUESTIONS = ("framework", "server", "proxy", "supervisor", "database", "tls", "task_queue", "websockets")
VALUE_MODULE = re.compile(r"^\{% if cookiecutter\.(_*\w+) == '(\w+)' %\}(\w+)\.py\{% endif %\}$")
# Code every value of a question shares, present whenever one is chosen: named after the question, or after what it is
# for (firewall.py: the proxy's ports; graceful.py: the supervisor's reload).
SHARED_MODULE = re.compile(r"^\{% if cookiecutter\.(\w+) (!= 'none'|in \[[^]]*\]) %\}(\w+)\.py\{% endif %\}$")
SHARED = {"proxy": {"proxy", "firewall"}, "supervisor": {"graceful"}, "database": {"backups"}}
# RHEL's policy modules, for the values that bring one: the proxy's access, the app's own Redis (Celery's broker).
SELINUX = (
    "{% if cookiecutter.proxy in ['nginx', 'apache'] or cookiecutter.task_queue == 'celery' %}selinux.py{% endif %}"
)
# How each value shows in deploy code that handles it: its name, except where the name is an ordinary word or the
# operating system's own tool (systemctl and journalctl serve whatever the supervisor).
SIGNS = {("tls", "certificate"): r"/etc/ssl/", ("supervisor", "systemd"): r"daemon-reload|/etc/systemd/system"}


def test_each_value_module_is_named_after_its_value():
    conditional = [path.name for path in ENGINE_TEMPLATE_DIR.iterdir() if "{%" in path.name]
    assert conditional, "no per-value modules"
    assert SELINUX in conditional
    for name in set(conditional) - {SELINUX}:
        shared = SHARED_MODULE.match(name)
        if shared:
            question, condition, module = shared.groups()
            assert module in SHARED.get(question, {question}), name
            values = [value for value in CHOICES[question] if value != "none"]
            assert condition == "!= 'none'" or condition == f"in {values!r}", f"{name}: not every value but none"
            continue
        match = VALUE_MODULE.match(name)
        assert match, f"{name}: not '{{% if cookiecutter.QUESTION == VALUE %}}QUESTION_VALUE.py{{% endif %}}'"
        variable, value, module = match.groups()
        question = {"__family": "framework"}.get(variable, variable)
        assert module == f"{question}_{value}", name
        assert value in CHOICES[question], f"{name}: no such {question}"


def value_modules() -> set[str]:
    """The modules of one option value each, in the template."""
    return {match[3] for path in ENGINE_TEMPLATE_DIR.iterdir() if (match := VALUE_MODULE.match(path.name))}


STACKS = [
    *PROJECTS.values(),
    {"framework": "flask", "server": "uwsgi", "proxy": "nginx", "supervisor": "systemd", "database": "sqlite",
     "tls": "certificate", "domain_name": "lab.example.org"},
]  # fmt: skip


def deploy_code(project) -> str:
    deploy = project / "deploy"
    files = [deploy / "install.sh", deploy / "deploy.py", *sorted((deploy / "engine").glob("*.py"))]
    return "\n".join(path.read_text() for path in files)


def unchosen_values(answers: dict) -> list[tuple[str, str]]:
    chosen = {value for key, value in answers.items() if key in DEPLOY_QUESTIONS}
    if answers["framework"] == "dash":
        chosen.add("flask")  # Dash runs on Flask: the Flask code is Dash's too
    return [
        (question, value)
        for question in DEPLOY_QUESTIONS
        for value in CHOICES[question]
        if value != "none" and value not in chosen and not (question == "framework" and value == "dash")
    ]


@pytest.mark.parametrize("answers", STACKS, ids=lambda answers: "-".join(answers[k] for k in DEPLOY_QUESTIONS[:5]))
def test_deploy_code_holds_nothing_for_values_not_chosen(tmp_path, answers):
    answers = {"tls": "none", "task_queue": "none", "websockets": "none", **answers}
    project = render_cookiecutter(tmp_path, **answers)
    code = deploy_code(project)
    found = {
        f"{question}={value}"
        for question, value in unchosen_values(answers)
        if re.search(SIGNS.get((question, value), rf"\b{value}\b"), code, re.IGNORECASE)
    }
    assert found == set(), f"deploy code for values this project did not choose: {sorted(found)}"
    # The signs are those of the values' code: each chosen value's module shows its own.
    family = {"dash": "flask"}.get(answers["framework"], answers["framework"])
    for question, value in [
        (question, family if question == "framework" else answers[question]) for question in DEPLOY_QUESTIONS
    ]:
        if f"{question}_{value}" in value_modules():
            module = (project / "deploy" / "engine" / f"{question}_{value}.py").read_text()
            assert re.search(SIGNS.get((question, value), rf"\b{value}\b"), module, re.IGNORECASE), (question, value)
    modules = {path.stem for path in (project / "deploy" / "engine").glob("*.py")}
    chosen = {f"{question}_{family if question == 'framework' else answers[question]}" for question in DEPLOY_QUESTIONS}
    assert modules & value_modules() == chosen & value_modules()
    for question, shared in SHARED.items():
        assert (modules & shared == shared) == (answers[question] != "none") and modules & shared in (set(), shared)


def test_pyinfra_pin_is_the_deploy_s(default_project):
    """The tests run the deploy with the pyinfra it pins (deploy/requirements.txt): the dev group pins the same."""
    dev = tomllib.loads((TEMPLATE_ROOT / "pyproject.toml").read_text())["dependency-groups"]["dev"]
    # (entries that are not strings include another group)
    [tools_pin] = [
        requirement for requirement in dev if isinstance(requirement, str) and re.match(r"pyinfra\b", requirement)
    ]
    deploy_pins = [line for line in (default_project / "deploy" / "requirements.txt").read_text().splitlines()
                   if re.match(r"pyinfra\b", line)]  # fmt: skip
    assert deploy_pins == [tools_pin] and tools_pin.startswith("pyinfra==")


def test_install_script_is_executable(default_project):
    assert (default_project / "deploy" / "install.sh").stat().st_mode & stat.S_IXUSR


# ---------------------------------------------------------------- the --user units, as a user manager reads them
# install.sh --user installs the units as generated (test_user_install_prints_what_the_administrator_runs): they name
# nothing only a system manager applies, and the account's manager reads them without a warning. What a root install
# adds is the drop-in <slug>-system.conf.
SYSTEM_ONLY = (
    "User", "Group", "SocketUser", "SocketGroup", "RuntimeDirectory", "StateDirectory", "ReadWritePaths",
    "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "CapabilityBoundingSet", "DevicePolicy",
)  # fmt: skip


def options(unit: str) -> set[str]:
    return {line.split("=", 1)[0] for line in unit.splitlines() if re.match(r"^[A-Z]\w*=", line)}


@pytest.mark.parametrize("project", [NGINX, CERTIFICATE])
def test_units_as_generated_are_what_a_user_manager_runs(plan_of, project, tmp_path):
    deploy = plan_of(project) / "deploy"
    units = [deploy / f"{SLUG}.service", deploy / f"{SLUG}.socket"]
    for unit in units:
        assert not options(unit.read_text()) & set(SYSTEM_ONLY), options(unit.read_text()) & set(SYSTEM_ONLY)
    system = (deploy / f"{SLUG}-system.conf").read_text()
    assert {"User", "ReadWritePaths", "ProtectSystem", "CapabilityBoundingSet"} <= options(system)
    assert ("postgresql.service" in system) == (PROJECTS[project]["database"] == "postgresql")
    scratch = tmp_path / "scratch"
    make_scratch_tree(scratch, SLUG)
    for unit in units:
        (scratch / unit.name).write_text(relocate(unit.read_text(), SLUG, scratch, scratch))
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    analyze = [require_tool("systemd-analyze", "systemd"), "--user", "verify"]
    environment = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    result = subprocess.run([*analyze, *(str(scratch / unit.name) for unit in units)], capture_output=True, text=True,
                            check=False, timeout=60, env=environment)  # fmt: skip
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    # The check reads what it is given: a misspelt option is reported.
    (scratch / f"{SLUG}.socket").write_text((scratch / f"{SLUG}.socket").read_text().replace("Backlog=", "Backlogg="))
    broken = subprocess.run([*analyze, str(scratch / f"{SLUG}.socket")], capture_output=True, text=True, check=False,
                            timeout=60, env=environment)  # fmt: skip
    assert "Backlogg" in broken.stderr, broken.stderr
