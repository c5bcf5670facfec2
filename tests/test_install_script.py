"""deploy/install.sh --root SCRATCH: the tree it lays out, the system commands it would run, and a second run.

With --root the script installs files under SCRATCH and prints (does not run) every command that changes the system:
packages, users, services, the database. The same code paths run for real on a server.
"""

import os
import stat
import subprocess
from pathlib import Path

import pytest

from hooks.wsgi_hooks.plugins.proxy_apache import site_modules
from tests import validators
from tests.ci import require_tool
from tests.render import TEMPLATE_ROOT, render_cookiecutter

pytestmark = pytest.mark.deploy

SLUG = "my-web-app"
CASES = {
    "flask-gunicorn-nginx-systemd-sqlite-debian": (
        {"framework": "flask", "server": "gunicorn", "proxy": "nginx", "supervisor": "systemd", "database": "sqlite",
         "bind": "unix", "url_prefix": "/eegqc"},
        "debian",
    ),
    "django-uwsgi-apache-supervisord-postgresql-certbot-rhel": (
        {"framework": "django", "server": "uwsgi", "proxy": "apache", "supervisor": "supervisord",
         "database": "postgresql", "bind": "tcp", "tls": "certbot", "domain_name": "qc.eeg-lab.org",
     "author_email": "webmaster@eeg-lab.org"},
        "rhel",
    ),
    "flask-uwsgi-apache-systemd-postgresql-certificate-debian": (
        {"framework": "flask", "server": "uwsgi", "proxy": "apache", "supervisor": "systemd",
         "database": "postgresql", "bind": "unix", "tls": "certificate", "domain_name": "qc.eeg-lab.org"},
        "debian",
    ),
    "django-gunicorn-nginx-systemd-sqlite-channels-rhel": (
        {"framework": "django", "server": "gunicorn", "proxy": "nginx", "supervisor": "systemd", "database": "sqlite",
         "bind": "unix", "url_prefix": "/eegqc", "websockets": "channels"},
        "rhel",
    ),
    "dash-gunicorn-none-none-debian": (
        {"framework": "dash", "server": "gunicorn", "proxy": "none", "supervisor": "none", "database": "none",
         "bind": "tcp", "url_prefix": "/eegqc"},
        "debian",
    ),
}  # fmt: skip


def run_install(project: Path, root: Path, os_family: str) -> subprocess.CompletedProcess:
    bash = require_tool("bash")
    return subprocess.run(
        [bash, str(project / "deploy" / "install.sh"), "--root", str(root), "--os", os_family],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def files_outside_the_code(root: Path) -> set[str]:
    return {
        "/" + str(path.relative_to(root))
        for path in root.rglob("*")
        if (path.is_file() or path.is_symlink()) and not path.is_relative_to(root / "srv")
    }


def expected_system_files(answers: dict, os_family: str, join: bool = False) -> set[str]:
    debian = os_family == "debian"
    expected = {f"/etc/tmpfiles.d/{SLUG}.conf"}  # RUN_DIR, made at every boot
    if answers["supervisor"] == "systemd":
        expected |= {f"/etc/systemd/system/{SLUG}.service", f"/etc/systemd/system/{SLUG}.socket",
                     f"/etc/systemd/system/{SLUG}.service.d/system.conf"}  # fmt: skip
        if answers["database"] != "none":  # the backup schedule, its service in the same sandbox
            expected |= {f"/etc/systemd/system/{SLUG}-backup.service", f"/etc/systemd/system/{SLUG}-backup.timer",
                         f"/etc/systemd/system/{SLUG}-backup.service.d/system.conf"}  # fmt: skip
        if answers.get("websockets") == "channels":  # Daphne, in the same sandbox
            expected |= {f"/etc/systemd/system/{SLUG}-daphne.service",
                         f"/etc/systemd/system/{SLUG}-daphne.service.d/system.conf"}  # fmt: skip
    if answers["supervisor"] == "supervisord":
        expected.add(f"/etc/supervisor/conf.d/{SLUG}.conf" if debian else f"/etc/supervisord.d/{SLUG}.ini")
    if answers["proxy"] == "nginx":
        expected.add(f"/etc/nginx/snippets/{SLUG}.conf")  # the app's lines, which the site includes
        if not join:
            expected |= {f"/etc/nginx/sites-available/{SLUG}.conf", f"/etc/nginx/sites-enabled/{SLUG}.conf"} if debian \
                else {f"/etc/nginx/conf.d/{SLUG}.conf"}  # fmt: skip
    if answers["proxy"] == "apache":
        expected.add(f"/etc/apache2/snippets/{SLUG}.conf" if debian else f"/etc/httpd/snippets/{SLUG}.conf")
        if not join:
            expected |= {f"/etc/apache2/sites-available/{SLUG}.conf", f"/etc/apache2/sites-enabled/{SLUG}.conf"} \
                if debian else {f"/etc/httpd/conf.d/{SLUG}.conf"}  # fmt: skip
    if answers["proxy"] in ("nginx", "apache") and not debian:
        # The SELinux module's sources, root's own copy to build from (steps/proxy.sh).
        module = f"/usr/local/share/selinux/{SLUG}/{SLUG.replace('-', '_')}_proxy"
        expected |= {f"{module}.te", f"{module}.fc"}
    return expected


@pytest.fixture(scope="module", params=list(CASES), ids=list(CASES))
def installed(request, tmp_path_factory):
    """The project rendered, then installed twice into the same scratch root."""
    answers, os_family = CASES[request.param]
    project = render_cookiecutter(tmp_path_factory.mktemp("project"), **answers)
    root = tmp_path_factory.mktemp("root")
    first = run_install(project, root, os_family)
    env_after_first = (root / "srv" / SLUG / ".env").read_text() if first.returncode == 0 else ""
    second = run_install(project, root, os_family)
    return answers, os_family, project, root, first, second, env_after_first


def test_install_script_succeeds_quietly(installed):
    *_, first, second, _ = installed
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stderr == ""
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stderr == ""


def test_install_script_is_executable(installed):
    project = installed[2]
    assert (project / "deploy" / "install.sh").stat().st_mode & stat.S_IXUSR


def test_code_is_copied_without_secrets_or_local_state(installed):
    project, root = installed[2], installed[3]
    app = root / "srv" / SLUG / "current"
    for name in ("manage.py", "wsgi.py", "pyproject.toml", "deploy/install.sh", "my_web_app/envfile.py"):
        assert (app / name).is_file(), name
        assert (app / name).read_bytes() == (project / name).read_bytes()
    assert not (app / ".git").exists()
    # .env and the virtualenv live outside the release; the release links to them.
    assert os.readlink(app / ".env") == "../../.env"
    assert os.readlink(app / ".venv").startswith("../../venvs/")
    assert (app / ".env").read_text() != (project / ".env").read_text(), "the server makes its own secrets"


def test_each_install_is_a_release_and_current_links_the_last(installed):
    """Two runs, two releases; `current` names the second by a relative link; both share one virtualenv (the same
    dependencies); nothing of the code is outside the releases."""
    root = installed[3]
    app = root / "srv" / SLUG
    releases = sorted(path.name for path in (app / "releases").iterdir())
    assert len(releases) == 2, releases
    assert os.readlink(app / "current") == f"releases/{releases[1]}"
    venvs = {os.readlink(app / "releases" / name / ".venv") for name in releases}
    assert len(venvs) == 1 and venvs.pop().startswith("../../venvs/")  # made for real only outside a dry run
    assert sorted(path.name for path in app.iterdir()) == [".env", "current", "releases", "venvs"]
    assert f"live release: {releases[1]} (/srv/{SLUG}/current)" in installed[5].stdout


def test_env_file_holds_fresh_secrets_and_data_dir(installed):
    answers, root = installed[0], installed[3]
    env_file = root / "srv" / SLUG / ".env"
    text = env_file.read_text()
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert "\nSECRET_KEY=" in text and f"\nDATA_DIR=/var/lib/{SLUG}\n" in text
    assert ("\nDATABASE_URL=postgresql://my_web_app:" in text) == (answers["database"] == "postgresql")


def test_tree_holds_exactly_the_expected_system_files(installed):
    answers, os_family, project, root, *_ = installed
    assert files_outside_the_code(root) == expected_system_files(answers, os_family)
    state = root / "var" / "lib" / SLUG
    assert state.is_dir() and stat.S_IMODE(state.stat().st_mode) == 0o750
    if answers["supervisor"] == "systemd":
        for unit in (f"{SLUG}.service", f"{SLUG}.socket"):
            assert (root / "etc" / "systemd" / "system" / unit).read_text() == (project / "deploy" / unit).read_text()
        drop_in = root / "etc" / "systemd" / "system" / f"{SLUG}.service.d" / "system.conf"
        assert drop_in.read_text() == (project / "deploy" / f"{SLUG}-system.conf").read_text()
    # setgid: the socket made in it is in the service group, which the proxy's user joins.
    assert (root / "etc" / "tmpfiles.d" / f"{SLUG}.conf").read_text() == f"d /run/{SLUG} 2750 {SLUG} {SLUG} -\n"
    if answers["proxy"] != "none" and os_family == "debian":
        link = root / "etc" / answers["proxy"].replace("apache", "apache2") / "sites-enabled" / f"{SLUG}.conf"
        assert os.readlink(link) == f"../sites-available/{SLUG}.conf"


def test_system_changes_are_printed_not_made(installed):
    answers, os_family, *_, first, _, _ = installed
    out = first.stdout
    assert f"would run: useradd --system --user-group --home-dir /var/lib/{SLUG}" in out
    assert ("would run: apt-get update" in out) == (os_family == "debian")
    assert ("would run: dnf install" in out) == (os_family == "rhel")
    assert "-m pip install --quiet --requirement" in out
    if answers["supervisor"] == "none":  # the server is not install.sh's: no health gate
        assert "no supervisor: reload the server yourself" in out and "--resolve" not in out
    else:
        assert "--resolve" in out and "/healthz" in out  # the health check, printed
    if answers["proxy"] != "none" and answers["bind"] == "unix":
        assert f"would run: usermod --append --groups {SLUG} " in out
    if answers["supervisor"] == "systemd":
        assert f"would run: systemctl enable {SLUG}.socket {SLUG}.service" in out
        assert f"would run: systemctl restart {SLUG}.socket" in out
        assert f"would run: systemctl restart {SLUG}\n" in out
        if answers.get("websockets") == "channels":  # Daphne beside the server, restarted with it
            assert f"{SLUG}.service {SLUG}-daphne.service\n" in out
            assert f"would run: systemctl restart {SLUG}-daphne.service\n" in out
    if answers["supervisor"] == "supervisord":
        assert f"would run: supervisorctl update {SLUG}" in out
    if answers["supervisor"] == "none":
        assert "start the server yourself" in out
    if answers["database"] == "postgresql":
        assert "psql -X -v ON_ERROR_STOP=1 (deploy/postgresql.sql, password on stdin)" in out
    if answers["framework"] == "django":
        assert "collectstatic --no-input" in out
    elif answers["database"] != "none":
        assert "manage.py db upgrade" in out
    if answers["proxy"] == "apache" and os_family == "debian":
        assert f"would run: a2enmod -q {' '.join(site_modules(answers))}" in out
    if answers["proxy"] != "none":
        assert ("would run: nginx -t" in out) == (answers["proxy"] == "nginx")
    if answers.get("tls") == "certbot":
        assert f"certbot certonly --{answers['proxy']} --non-interactive" in out


def test_second_run_changes_nothing(installed):
    env_after_first, second, root = installed[6], installed[5], installed[3]
    assert (root / "srv" / SLUG / ".env").read_text() == env_after_first, "secrets are kept"
    assert "installed /etc/" not in second.stdout
    assert "every secret already set" in second.stdout
    assert installed[6].count("DATA_DIR=") == 1


def test_system_packages_script_passes_shellcheck():
    check = validators.shellcheck(TEMPLATE_ROOT / "scripts" / "install-system-packages.sh")
    assert check.ok, check


# ---------------------------------------------------------------- --user: refused where it cannot work
# The --user install itself runs for real in every supervisord stack of tests/e2e (as an ordinary account).
USER_REFUSALS = [
    ({"supervisor": "supervisord"}, ["--user"], "--user installs for an ordinary account: as root, leave it out"),
    ({"supervisor": "supervisord"}, ["--user", "--root", "/tmp/preview"], "--user and --root do not go together"),
    (
        {"proxy": "none", "bind": "tcp"},
        ["--join", "--root", "/tmp/preview"],
        "--join: this project has no proxy",
    ),
    (
        {"proxy": "nginx", "url_prefix": "/"},
        ["--join", "--root", "/tmp/preview"],
        "--join: the app must live under a URL",
    ),
]


@pytest.mark.parametrize(
    ("answers", "arguments", "message"),
    USER_REFUSALS,
    ids=["root", "root-dir", "join-none", "join-root"],
)
def test_user_install_options_are_refused_clearly(tmp_path, answers, arguments, message):
    if os.geteuid() != 0 and arguments == ["--user"]:
        pytest.skip("checks the refusal as root; this test runs as an ordinary user")
    project = render_cookiecutter(tmp_path, **answers)
    bash = require_tool("bash")
    result = subprocess.run(
        [bash, str(project / "deploy" / "install.sh"), "--os", "debian", *arguments],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert f"install.sh: error: {message}" in result.stderr, result.stdout + result.stderr


# ---------------------------------------------------------------- --join: the app's lines only, the line to add
# A real join (nginx and Apache, HTTP and HTTPS, beside another site) runs in tests/e2e (scenario_join.py).
JOIN_CASES = {
    "nginx-debian": (
        {"proxy": "nginx", "url_prefix": "/eegqc"},
        "debian",
        "include /etc/nginx/snippets/my-web-app.conf;",
    ),
    "apache-rhel-certificate": (
        {"proxy": "apache", "url_prefix": "/eegqc", "tls": "certificate", "domain_name": "qc.eeg-lab.org"},
        "rhel",
        "Include /etc/httpd/snippets/my-web-app.conf",
    ),
}


@pytest.mark.parametrize("case", list(JOIN_CASES))
def test_join_installs_only_the_app_lines_and_prints_the_include(tmp_path, case):
    answers, os_family, include = JOIN_CASES[case]
    project = render_cookiecutter(tmp_path / "project", **answers)
    root = tmp_path / "root"
    result = subprocess.run(
        [require_tool("bash"), str(project / "deploy" / "install.sh"), "--root", str(root), "--os", os_family,
         "--join"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == "", result.stdout + result.stderr
    answers = {"supervisor": "systemd", "database": "sqlite", **answers}  # the defaults
    assert files_outside_the_code(root) == expected_system_files(answers, os_family, join=True)
    snippet = include.split()[-1].rstrip(";")
    shared = project / "deploy" / f"{answers['proxy']}-shared-site.conf"
    assert (root / snippet.lstrip("/")).read_text() == shared.read_text()
    domain = answers.get("domain_name", "localhost")
    assert f", inside its block, once: {include}\n" in result.stdout
    assert f"site of {domain}" in result.stdout
    test = "nginx -t" if answers["proxy"] == "nginx" else "apachectl configtest"
    assert f"install.sh: as root: {test}\n" in result.stdout
    # The certificate is the joined site's: no certificate step.
    assert "/etc/ssl/my-web-app" not in result.stdout


# ---------------------------------------------------------------- releases: --keep, --rollback (dry run)
# The real switch, health check and rollback under load run in tests/e2e (scenario_releases.py).
def run_with(project: Path, root: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [require_tool("bash"), str(project / "deploy" / "install.sh"), "--root", str(root), "--os", "debian",
         *arguments],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def test_keep_prunes_old_releases_and_rollback_switches_back(tmp_path):
    project = render_cookiecutter(tmp_path / "project", supervisor="systemd", database="none")
    root = tmp_path / "root"
    app = root / "srv" / SLUG
    for _ in range(3):
        result = run_with(project, root, "--keep", "2")
        assert result.returncode == 0 and result.stderr == "", result.stdout + result.stderr
    releases = sorted(path.name for path in (app / "releases").iterdir())
    assert len(releases) == 2 and "removed release " in result.stdout, result.stdout
    assert os.readlink(app / "current") == f"releases/{releases[1]}"

    back = run_with(project, root, "--rollback")
    assert back.returncode == 0 and back.stderr == "", back.stdout + back.stderr
    assert os.readlink(app / "current") == f"releases/{releases[0]}"
    assert f"would run: systemctl reload {SLUG}" in back.stdout and "/healthz" in back.stdout
    assert f"rolled back from {releases[1]} to {releases[0]}" in back.stdout
    assert "release " not in back.stdout.split("live release:")[0], "a rollback copies no code"

    forward = run_with(project, root, "--rollback", releases[1])
    assert forward.returncode == 0, forward.stdout + forward.stderr
    assert os.readlink(app / "current") == f"releases/{releases[1]}"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--keep", "0"], "--keep: the number of releases to keep, 1 or more, not '0'"),
        (["--rollback"], "--rollback: /srv/my-web-app/current is not a link to a release"),
        (["--rollback", "../etc"], "--rollback: no release '../etc' in /srv/my-web-app/releases"),
    ],
    ids=["keep-0", "nothing-installed", "bad-name"],
)
def test_release_options_are_refused_clearly(tmp_path, arguments, message):
    project = render_cookiecutter(tmp_path / "project", supervisor="systemd", database="none")
    root = tmp_path / "root"
    if "../etc" in arguments:
        assert run_with(project, root).returncode == 0
    result = run_with(project, root, *arguments)
    assert result.returncode != 0
    assert f"install.sh: error: {message}" in result.stderr, result.stdout + result.stderr
