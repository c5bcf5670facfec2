"""The firewall step and PostgreSQL's authentication, in deploy/install.sh's dry run (--root SCRATCH) and in the step
functions run on their own. The real thing runs end to end in tests/e2e (tests/e2e/scenario_servers.py): md5 and
scram servers, ufw enabled, the --user administrator's commands run as printed."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.ci import require_tool
from tests.render import render_cookiecutter

pytestmark = pytest.mark.deploy

SLUG = "my-web-app"
PACKAGE = "my_web_app"
NGINX_HTTPS = {"proxy": "nginx", "supervisor": "systemd", "tls": "certificate", "domain_name": "qc.eeg-lab.org"}


def dry_run(project: Path, root: Path, os_family: str = "debian") -> subprocess.CompletedProcess:
    result = subprocess.run(
        [require_tool("bash"), str(project / "deploy" / "install.sh"), "--root", str(root), "--os", os_family],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == "", result.stdout + result.stderr
    return result


def firewall_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if re.search(r"\bufw |firewall-cmd|firewall:", line)]


def dry_run_with_ufw(tmp_path, ufw_conf: str) -> str:
    """The HTTPS nginx project's dry run on a server whose /etc/ufw/ufw.conf says `ufw_conf`."""
    project = render_cookiecutter(tmp_path / "p", **NGINX_HTTPS)
    root = tmp_path / "root"
    (root / "etc" / "ufw").mkdir(parents=True)
    (root / "etc" / "ufw" / "ufw.conf").write_text(ufw_conf)
    return dry_run(project, root).stdout


def test_ufw_enabled_opens_http_and_https(tmp_path):
    out = dry_run_with_ufw(tmp_path, "# ufw.conf\nENABLED=yes\nLOGLEVEL=low\n")
    assert firewall_lines(out) == ["would run: ufw allow 80/tcp", "would run: ufw allow 443/tcp"]
    # Open before certbot or the site: Let's Encrypt's check and the first clients come through it.
    assert out.index("ufw allow 443/tcp") < out.index("would run: nginx -t")


def test_ufw_installed_but_disabled_changes_nothing(tmp_path):
    out = dry_run_with_ufw(tmp_path, "ENABLED=no\n")
    assert firewall_lines(out) == [
        "install.sh: firewall: neither ufw nor firewalld is active; nothing to open for 80/tcp 443/tcp"
    ]


def test_firewalld_enabled_opens_http_permanently_and_now(tmp_path):
    systemctl = require_tool("systemctl", "systemd")
    project = render_cookiecutter(tmp_path / "p", proxy="apache", supervisor="supervisord", tls="none")
    root = tmp_path / "root"
    unit = root / "usr" / "lib" / "systemd" / "system" / "firewalld.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\nExecStart=/usr/sbin/firewalld --nofork\n\n[Install]\nWantedBy=multi-user.target\n")
    subprocess.run([systemctl, f"--root={root}", "--quiet", "enable", "firewalld"], check=True, capture_output=True)
    out = dry_run(project, root, "rhel").stdout
    assert firewall_lines(out) == [
        "would run: firewall-cmd --quiet --permanent --add-port=80/tcp",
        "would run: firewall-cmd --quiet --add-port=80/tcp",
    ]


def test_no_proxy_no_firewall_step(tmp_path):
    """proxy=none: the server listens on 127.0.0.1 (or a unix socket), nothing public to open."""
    project = render_cookiecutter(tmp_path / "p", proxy="none", supervisor="none", bind="tcp")
    assert not (project / "deploy" / "steps" / "firewall.sh").exists()
    root = tmp_path / "root"
    (root / "etc" / "ufw").mkdir(parents=True)
    (root / "etc" / "ufw" / "ufw.conf").write_text("ENABLED=yes\n")
    assert firewall_lines(dry_run(project, root).stdout) == []


# ---------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="module")
def postgresql_project(tmp_path_factory):
    answers = {"database": "postgresql", "proxy": "nginx", "supervisor": "supervisord"}
    return render_cookiecutter(tmp_path_factory.mktemp("pg"), **answers)


def test_dry_run_names_the_rule_and_where_its_method_comes_from(postgresql_project, tmp_path):
    out = dry_run(postgresql_project, tmp_path / "root", "rhel").stdout
    assert (
        f"install.sh: pg_hba.conf would start with: host {PACKAGE} {PACKAGE} 127.0.0.1/32 METHOD "
        "(the server's password_encryption)" in out
    )
    assert "--database-for" not in (postgresql_project / "deploy" / "install.sh").read_text()


def step_shell(project: Path, script: str, **environment: str) -> subprocess.CompletedProcess:
    """`script` run with the project's settings, helpers and PostgreSQL step loaded (as install.sh loads them)."""
    steps = project / "deploy" / "steps"
    prelude = f'source "{steps}/project.sh"; source "{steps}/common.sh"; source "{steps}/database-postgresql.sh"\n'
    return subprocess.run(
        [require_tool("bash"), "-c", "set -euo pipefail\n" + prelude + script],
        capture_output=True, text=True, check=False, timeout=60, env={**os.environ, **environment},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("setting", "method"), [("scram-sha-256", "scram-sha-256"), ("md5", "md5"), ("on", "md5")], ids=str
)
def test_password_method_follows_password_encryption(postgresql_project, setting, method):
    result = step_shell(postgresql_project, f"password_method {setting}")
    assert (result.returncode, result.stdout, result.stderr) == (0, method, "")


def test_unknown_password_encryption_is_refused_clearly(postgresql_project):
    result = step_shell(postgresql_project, "password_method off")
    assert result.returncode != 0 and result.stdout == ""
    assert result.stderr == (
        "install.sh: error: PostgreSQL's password_encryption is 'off': "
        "set it to scram-sha-256 or md5 in postgresql.conf\n"
    )


PASSWORD = "S3cret-password_only.in.env"
# What the server says is replaced for these cases only (is PostgreSQL's service active); the end-to-end stacks run
# the real probe.
RUNNING = {"stopped": "postgresql_running() { return 1; }", "running": "postgresql_running() { return 0; }"}


def user_install_database(project: Path, tmp_path: Path, state: str, os_family: str) -> list[str]:
    """postgresql_database as `install.sh --user` runs it, with PostgreSQL stopped, or running but without a role
    for the account (no server behind PGHOST: the account's own connection fails for real). Returns the lines
    printed for an administrator; checks that it stopped and that the password was shown nowhere."""
    app = tmp_path / "app"
    app.mkdir()
    (app / ".env").write_text(f"DATABASE_URL=postgresql://{PACKAGE}:{PASSWORD}@127.0.0.1:5432/{PACKAGE}\n")
    script = f"{RUNNING[state]}; USER_MODE=1; SERVICE_USER=alice; OS_FAMILY={os_family}; APP_DIR={app}\n"
    result = step_shell(project, script + "postgresql_database", PGHOST=str(tmp_path / "no-server"))
    assert result.returncode == 1
    assert result.stderr == "install.sh: error: database not ready: run this script again after that\n"
    assert PASSWORD not in result.stdout + result.stderr
    return [line.removeprefix("install.sh: as root: ") for line in result.stdout.splitlines() if "as root:" in line]


@pytest.mark.parametrize("os_family", ["debian", "rhel"])
def test_user_install_asks_to_start_postgresql(postgresql_project, tmp_path, os_family):
    admin = user_install_database(postgresql_project, tmp_path, "stopped", os_family)
    initdb = ["test -e /var/lib/pgsql/data/PG_VERSION || postgresql-setup --initdb"] if os_family == "rhel" else []
    assert admin == [*initdb, "systemctl enable --now postgresql"]


def test_user_install_asks_for_postgresql_commands_without_the_password(postgresql_project, tmp_path):
    """--user, no role for the account yet: the administrator's commands are PostgreSQL's own tools, in full."""
    admin = user_install_database(postgresql_project, tmp_path, "running", "debian")
    assert admin == [
        f"cd / && runuser -u postgres -- createuser {PACKAGE}",
        f"cd / && runuser -u postgres -- createuser --role={PACKAGE} alice",
        f"cd / && runuser -u postgres -- createdb --owner={PACKAGE} {PACKAGE}",
        f"cd / && runuser -u postgres -- psql -X -q -d {PACKAGE} -c 'ALTER SCHEMA public OWNER TO {PACKAGE}'",
    ]
