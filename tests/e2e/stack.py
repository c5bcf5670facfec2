"""One generated stack, booted for real: a project rendered with the stack's answers, installed into a fresh Debian
container (tests/nspawn.py) by its own `deploy/install.sh` as a user runs it on a new server, then driven through the
proxy with supervisorctl or systemctl. Nothing in the generated files is edited: the container *is* the server, so
/srv, /run, /var/lib and port 80 are the ones the files name.

supervisord stacks install the way a user without root does (`deploy/install.sh --user` as the ordinary account
USER, in the same directories as root's, with that account's own supervisord); the test then plays the administrator
and runs, as root, exactly the commands the installer printed for one ("as root: ..."). tests/e2e/checks.py says
which stacks install as root instead, under the distribution's supervisord, and which systemd stacks install with
--user, as units of the account's own systemd manager (tests/e2e/scenario_user.py adds their checks).

Every HTTP request is made inside the container (its loopback is private): single requests with curl, load, crash
and start timing with tests/e2e/client.py under the container's /usr/bin/python3.

Stack has the checks every stack shares; the scenario modules import it and add their own. Which checks run, in which
order, is tests/e2e/sequence.py's list: this module imports no scenario module.
"""

import hashlib
import html
import json
import re
import secrets
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from tests.e2e.checks import Spec
from tests.nspawn import BUILD_SCRIPT, EXCHANGE_MOUNT, HttpResponse, Testbed, require_testbed, wheelhouse_path
from tests.render import TEMPLATE_ROOT, render_cookiecutter, valid_for

SLUG = "my-web-app"
PACKAGE = "my_web_app"
PREFIX = "/eegqc"
HOST = "localhost"  # the sites' server_name (the domain_name default)
CHECKOUT = "/root/checkout"  # where the "git clone" of the project sits on the server
USER = "alice"  # the ordinary account of a --user install
USER_HOME = f"/home/{USER}"
USER_CONF_DIR = f"{USER_HOME}/.config/{SLUG}"  # the account's own supervisord's configuration (install.sh --user)
ADMIN_COMMAND = re.compile(r"^install\.sh: as root: (.+)$", re.M)
CLIENT = Path(__file__).with_name("client.py")
MAINTENANCE_MARK = "is back in a moment"
REPORT_DIR = TEMPLATE_ROOT / "build" / "reports" / "e2e"
# A migration v1 of a Django project ships and v2 drops (check_redeploy_removes_stale_files).
OBSOLETE_DJANGO_MIGRATION = f"""from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("{PACKAGE}", "0001_initial")]
    operations = [migrations.RunSQL("SELECT 1", migrations.RunSQL.noop)]
"""

# Bounds: every wait below ends.
INSTALL_TIMEOUT = 600
START_TIMEOUT = 60
STOP_TIMEOUT = 45  # TimeoutStopSec= / stopwaitsecs= of the generated files
RECOVERY_TIMEOUT = 30
LOAD_CLIENTS = 16
LOAD_SECONDS = 10
LOAD_MAX_SECONDS = 120
LOAD_MAX_REQUESTS = 500_000


def head_and_tail(text: str, limit: int = 4000) -> str:
    """A failure's text for the report: its start and its end (where an installer says what failed)."""
    return text if len(text) <= limit else f"{text[: limit // 3]}\n[...]\n{text[-(limit - limit // 3) :]}"


def stack_answers(framework: str, server: str, proxy: str, supervisor: str, database: str = "sqlite") -> dict:
    return valid_for(
        {
            "framework": framework,
            "server": server,
            "proxy": proxy,
            "supervisor": supervisor,
            "database": database,
            "url_prefix": PREFIX,
        }
    )


# ---------------------------------------------------------------- the wheelhouse the containers install from


def wheel_projects(workdir: Path) -> list[Path]:
    """One project per framework x server x database: together they need every wheel a stack installs."""
    projects = []
    for framework in ("flask", "django", "dash"):
        for server in ("gunicorn", "uwsgi"):
            for database in ("sqlite", "postgresql"):
                # task_queue=celery: its dependencies too.
                answers = {**stack_answers(framework, server, "nginx", "systemd", database), "task_queue": "celery"}
                if framework == "django":  # websockets=channels: its dependencies too.
                    answers["websockets"] = "channels"
                projects.append(render_cookiecutter(workdir / f"{framework}-{server}-{database}", **answers))
    return projects


def dependencies(project: Path) -> list[str]:
    import tomllib

    return tomllib.loads((project / "pyproject.toml").read_text())["project"]["dependencies"]


def deploy_tools(project: Path) -> list[str]:
    lines = (project / "deploy" / "requirements.txt").read_text().splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def ensure_wheelhouse(workdir: Path) -> None:
    """Wheels for every stack's dependencies, built once (scripts/build-systemd-testbed.sh --wheels) and reused
    until the template's dependency lists change."""
    require_testbed()
    projects = wheel_projects(workdir)
    # supervisor: what install.sh --user puts into the virtualenv (the account's own supervisord).
    wanted = sorted({requirement for project in projects for requirement in dependencies(project)} | {"supervisor"})
    # The deploy tools' own virtualenv (deploy/install.sh): pyinfra and what it needs, pinned, resolved on their own.
    tools = deploy_tools(projects[0])
    digest = hashlib.sha256("\n".join(wanted + tools).encode()).hexdigest()[:12]
    wheelhouse = wheelhouse_path()
    wheelhouse.mkdir(parents=True, exist_ok=True)
    marker = wheelhouse / f".e2e-{digest}"
    with FileLock(str(wheelhouse) + ".lock"):
        if marker.exists():
            return
        requirements = workdir / "requirements.txt"
        requirements.write_text("\n".join(wanted) + "\n")
        subprocess.run(["bash", str(BUILD_SCRIPT), "--wheels", "-r", str(requirements)], check=True, timeout=900)
        tools_requirements = workdir / "deploy-tools.txt"
        tools_requirements.write_text("\n".join(tools) + "\n")
        subprocess.run(["bash", str(BUILD_SCRIPT), "--wheels", "-r", str(tools_requirements)], check=True, timeout=900)
        marker.write_text("\n".join(wanted) + "\n")


# ---------------------------------------------------------------- results


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class StackReport:
    name: str
    answers: dict
    metrics: dict = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def write(self) -> Path:
        REPORT_DIR.mkdir(parents=True, exist_ok=True)
        path = REPORT_DIR / f"{self.name}.json"
        data = {
            "name": self.name,
            "answers": self.answers,
            "metrics": self.metrics,
            "checks": [check.__dict__ for check in self.checks],
            "written": time.time(),
        }
        path.write_text(json.dumps(data, indent=2) + "\n")
        return path


# ---------------------------------------------------------------- the stack


LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")


def local_links(page: str) -> list[str]:
    return sorted({html.unescape(link) for link in LINK.findall(page) if link.startswith("/")})


class Stack:
    """A booted container with one installed stack. `report` collects metrics and check results."""

    def __init__(self, testbed: Testbed, project: Path, answers: dict):
        self.testbed = testbed
        self.project = project
        self.answers = answers
        self.framework = answers["framework"]
        self.server = answers["server"]
        self.proxy = answers["proxy"]
        self.supervisor = answers["supervisor"]
        self.port = 80 if self.proxy != "none" else int(answers.get("port", 8000))
        self.base = f"http://127.0.0.1:{self.port}"
        self.spec = Spec(answers)
        self.report = StackReport(self.spec.name, answers)
        self.user_mode = self.spec.user_mode
        self.install_arguments: list[str] = []  # more install.sh arguments (tests/e2e/scenario_user.py)
        self.install_output = ""  # what the first install.sh printed (tests/e2e/scenario_join.py reads it)
        self.join = self.spec.join  # the app joins a site the administrator runs (install.sh --join)
        self.note: str | None = None  # the note keep_note wrote, read by later checks
        mode = "--user" if self.user_mode else "root"
        self.report.metrics["install_mode"] = f"{mode} --join" if self.join else mode
        self.checkout = f"{USER_HOME}/checkout" if self.user_mode else CHECKOUT
        # The same layout as root and with --user.
        self.app_dir = f"/srv/{SLUG}"
        # The live release (a link install.sh switches; tests/e2e/scenario_releases.py); .env stays in app_dir.
        self.code_dir = f"{self.app_dir}/current"
        self.log_dir = f"/var/log/{SLUG}"
        self.client = f"{EXCHANGE_MOUNT}/client.py"
        (testbed.exchange / "client.py").write_text(CLIENT.read_text())

    # ------------------------------------------------------------ running things inside

    def run(self, command, **options) -> subprocess.CompletedProcess:
        return self.testbed.run(command, **options)

    def get(self, path: str, *args: str, timeout: float = 15) -> HttpResponse:
        return self.testbed.curl(self.base + path, "-H", f"Host: {HOST}", *args, timeout=timeout, check=False)

    def client_json(self, *args: str, timeout: float) -> dict:
        result = self.run(["/usr/bin/python3", self.client, *args], timeout=timeout)
        return json.loads(result.stdout)

    def check(self, name: str, function, *args) -> object:
        """Run one check; an AssertionError is recorded (and the stack goes on to its other checks)."""
        started = time.monotonic()
        try:
            value = function(*args)
        except AssertionError as error:
            self.report.checks.append(Check(name, False, head_and_tail(str(error))))
            return None
        self.report.checks.append(Check(name, True, f"{time.monotonic() - started:.2f} s"))
        return value

    # ------------------------------------------------------------ install, as on a fresh server

    def as_user(self, *command: str) -> list[str]:
        # XDG_RUNTIME_DIR: where systemctl --user finds the account's manager (runuser opens no login session).
        return ["runuser", "-u", USER, "--", "env", f"HOME={USER_HOME}", f"USER={USER}",
                f"XDG_RUNTIME_DIR=/run/user/{self.user_uid()}", *command]  # fmt: skip

    def user_uid(self) -> str:
        if not hasattr(self, "_uid"):
            self._uid = self.run(["id", "-u", USER]).stdout.strip()
        return self._uid

    def systemctl(self, *args: str) -> list[str]:
        """systemctl for the stack's units: the system's, or the account's own manager's (--user)."""
        return self.as_user("systemctl", "--user", *args) if self.user_mode else ["systemctl", *args]

    def install_command(self) -> list[str]:
        """deploy/install.sh as its user runs it (packages are in the image already: the container has no network,
        hence --no-packages for root; --user installs no packages)."""
        join = ["--join"] if self.join else []
        if self.user_mode:
            return self.as_user(f"{self.checkout}/deploy/install.sh", "--user", *self.install_arguments, *join)
        return [f"{self.checkout}/deploy/install.sh", "--no-packages", *join]

    def install(self, at_checkout: Sequence[Callable] = (), when_installed: Sequence[Callable] = ()) -> None:
        """Copy the project to a checkout on the server and run its installer. A --user install may stop and ask an
        administrator for the database; the test runs what it printed for them, and the installer again. The
        scenarios' setup runs in between: `at_checkout(self)` once the checkout is there, `when_installed(self)` after
        install.sh succeeded (tests/e2e/sequence.py gives them)."""
        if self.user_mode:
            self.run(["useradd", "--create-home", "--shell", "/bin/bash", USER])
        self.run(["cp", "-a", "/project", self.checkout])
        if self.user_mode:
            self.run(["chown", "-R", f"{USER}:{USER}", self.checkout])
        for step in at_checkout:
            step(self)
        started = time.monotonic()
        result = self.install_as_documented()
        self.report.metrics["install_seconds"] = round(time.monotonic() - started, 2)
        assert result.returncode == 0, f"install.sh failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        self.install_output = result.stdout
        for step in when_installed:
            step(self)
        self.report.metrics["first_install_log"] = result.stdout[-1500:]

    def install_as_documented(self) -> subprocess.CompletedProcess:
        """install.sh; with --user, the administrator runs what it printed for them, and install.sh runs again if it
        stopped to ask (for the app's directories, the database)."""
        result = self.run(self.install_command(), timeout=INSTALL_TIMEOUT, check=False)
        if self.user_mode:
            self.run_admin_commands(result.stdout)
            # It stops at most four times: for the app's directories, then for the database: to start PostgreSQL, for
            # the roles and database, then for a pg_hba.conf rule where the server's own rules refuse the password.
            for _ in range(4):
                if result.returncode == 0 or not ADMIN_COMMAND.search(result.stdout):
                    break
                result = self.run(self.install_command(), timeout=INSTALL_TIMEOUT, check=False)
                self.run_admin_commands(result.stdout)
        return result

    def run_admin_commands(self, install_output: str) -> None:
        """What a --user install asked an administrator to run, run as root, word for word."""
        commands = ADMIN_COMMAND.findall(install_output)
        self.report.metrics.setdefault("administrator_commands", []).extend(commands)
        for command in commands:
            result = self.run(["bash", "-c", command], timeout=INSTALL_TIMEOUT, check=False)
            assert result.returncode == 0, f"as root: {command}\n{result.stdout[-2000:]}{result.stderr[-2000:]}"

    # ------------------------------------------------------------ the supervisor

    def control(self, *action: str) -> list[str]:
        if self.user_mode and self.supervisor == "supervisord":
            supervisorctl = f"{self.code_dir}/.venv/bin/supervisorctl"
            return self.as_user(supervisorctl, "-c", f"{USER_CONF_DIR}/supervisord.conf", *action, SLUG)
        if self.supervisor == "systemd":
            # Taking the site down means stopping the socket too: with only the service stopped, the next request
            # starts it again (check_socket_activation).
            return (
                self.systemctl(*action, f"{SLUG}.socket", SLUG)
                if action == ("stop",)
                else self.systemctl(*action, SLUG)
            )
        return ["supervisorctl", *action, SLUG]

    def master_pid(self) -> int:
        if self.supervisor == "systemd":
            out = self.run(self.systemctl("show", "--property=MainPID", "--value", SLUG)).stdout
        else:
            out = self.run(self.control("pid")).stdout
        pid = int(out.strip() or 0)
        assert pid > 0, f"no running server: {out!r}"
        return pid

    def user_pids(self) -> list[int]:
        """The server's master and workers: the processes of the service user (of USER, but its supervisord)."""
        result = self.run(["ps", "-u", USER if self.user_mode else SLUG, "-o", "pid=,comm="], check=False)
        # Not the server's: the account's own systemd manager and its PAM helper, Celery's worker and beat, the app's
        # own Redis, Daphne.
        pids = [
            int(line.split()[0])
            for line in result.stdout.splitlines()
            if line.split()[1:] not in (["systemd"], ["(sd-pam)"], ["celery"], ["redis-server"], ["daphne"])
        ]
        if self.user_mode:
            supervisord = self.run(["cat", f"/run/{SLUG}/supervisord.pid"], check=False).stdout.strip()
            pids = [pid for pid in pids if str(pid) != supervisord]
        return pids

    def journal(self, unit: str) -> str:
        """What a unit of the stack's systemd (the system's, or the account's own with --user) logged."""
        self.run(["journalctl", "--sync"], check=False)
        match = [f"_SYSTEMD_USER_UNIT={unit}.service"] if self.user_mode else ["-u", unit]
        return self.run(["journalctl", "--no-pager", "-o", "cat", *match], check=False).stdout

    def app_log(self) -> str:
        if self.supervisor == "systemd":
            return self.journal(SLUG)
        return self.run(["cat", f"{self.log_dir}/{self.server}.log"], check=False).stdout

    def wait_for_200(self, path: str = "/", timeout: float = START_TIMEOUT) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.get(PREFIX + path, timeout=5).status == 200:
                return time.monotonic() - started
            time.sleep(0.1)
        raise AssertionError(f"{PREFIX}{path} not 200 after {timeout} s\n{self.app_log()[-3000:]}")

    # ------------------------------------------------------------ pages

    def check_pages(self) -> None:
        home = self.get(f"{PREFIX}/")
        assert home.status == 200, f"{PREFIX}/ -> {home.status}: {home.text[:500]}"
        links = local_links(home.text)
        assert links, f"no links on {PREFIX}/"
        outside = [link for link in links if not link.startswith(f"{PREFIX}/")]
        assert not outside, f"links without the prefix: {outside}"
        for link in links:
            response = self.get(link)
            assert response.status == 200, f"link {link} -> {response.status}"
        self.report.metrics["links_checked"] = len(links)
        redirect = self.get(PREFIX)
        assert redirect.status in (301, 302, 307, 308), f"{PREFIX} -> {redirect.status}"
        location = redirect.headers.get("location", "")
        assert location.endswith(f"{PREFIX}/"), f"{PREFIX} redirects to {location!r}"

    def static_path(self) -> str:
        return f"{PREFIX}/static/style.css"

    def static_file_on_disk(self) -> str:
        if self.framework == "django":
            return f"{self.code_dir}/staticfiles/style.css"
        return f"{self.code_dir}/{PACKAGE}/static/style.css"

    def check_static(self) -> None:
        """Served from disk: same bytes as the file, and cache headers from the proxy. That the app never sees a
        static request is checked while it is stopped (check_stop: the proxy still serves the file)."""
        token = secrets.token_hex(6)
        response = self.get(f"{self.static_path()}?static-{token}")
        assert response.status == 200, f"static -> {response.status}"
        on_disk = self.run(["cat", self.static_file_on_disk()], text=False).stdout
        assert response.body == on_disk, "the static file differs from the one on disk"
        if self.proxy == "none":
            return
        cache = response.headers.get("cache-control", "")
        age = re.search(r"max-age=(\d+)", cache)
        assert age and int(age[1]) >= 86400, f"static Cache-Control {cache!r}: no max-age of a day or more"
        self.report.metrics["static_cache_control"] = cache

    def check_dash(self) -> None:
        home = self.get(f"{PREFIX}/").text
        for endpoint in ("_dash-layout", "_dash-dependencies"):
            response = self.get(f"{PREFIX}/{endpoint}")
            assert response.status == 200, f"{endpoint} -> {response.status}"
            json.loads(response.body)
        suites = [link for link in local_links(home) if "/_dash-component-suites/" in link]
        assert suites, "no component-suite scripts on the page"
        self.assert_assets_served(suites, f"{PREFIX}/_dash-component-suites/", "javascript")
        callback = {
            "output": "wave.figure",
            "outputs": {"id": "wave", "property": "figure"},
            "inputs": [{"id": "frequency", "property": "value", "value": 7}],
            "changedPropIds": ["frequency.value"],
            "state": [],
        }
        response = self.get(
            f"{PREFIX}/_dash-update-component",
            "-X", "POST", "-H", "Content-Type: application/json", "--data", json.dumps(callback),
        )  # fmt: skip
        assert response.status == 200, f"callback POST -> {response.status}: {response.text[:300]}"
        assert "7 Hz" in response.text, response.text[:300]

    def check_django_admin(self) -> None:
        login = self.get(f"{PREFIX}/admin/login/")
        assert login.status == 200, f"admin login -> {login.status}"
        css = [link for link in local_links(login.text) if link.endswith(".css")]
        assert css, "no stylesheet on the admin login page"
        self.assert_assets_served(css, f"{PREFIX}/static/", "text/css")

    def assert_assets_served(self, links: list[str], under: str, content_type: str) -> None:
        """Each link lies under `under` and answers 200 with a content type containing `content_type`."""
        for link in links:
            assert link.startswith(under), link
            response = self.get(link)
            assert response.status == 200, f"{link} -> {response.status}"
            assert content_type in response.headers.get("content-type", ""), response.headers

    def check_healthz(self) -> None:
        response = self.get(f"{PREFIX}/healthz")
        assert response.status == 200, f"healthz -> {response.status}: {response.text[:300]}"
        assert json.loads(response.body).get("database") == "ok", response.text

    def check_outside_prefix(self) -> None:
        response = self.get("/somewhere-else/page")
        assert 0 < response.status < 500, f"/somewhere-else/page -> {response.status or response.error}"
        self.report.metrics["outside_prefix_status"] = response.status

    def check_security_headers_once(self) -> None:
        """A page, a static file and a 404 carry each security header at most once; behind a proxy, exactly once
        (the proxy owns them, deploy/<proxy>.conf)."""
        headers = ("x-content-type-options", "x-frame-options", "referrer-policy", "strict-transport-security")
        problems = []
        for path in (f"{PREFIX}/", self.static_path(), f"{PREFIX}/no-such-page"):
            response = self.get(path)
            for header in headers:
                values = [value for name, value in response.header_lines if name == header]
                wanted = (0, 1) if self.proxy == "none" or header == "strict-transport-security" else (1,)
                if len(values) not in wanted:
                    problems.append(f"{path}: {header} x{len(values)} {values}")
        assert not problems, problems

    # ------------------------------------------------------------ data

    def open_form(self, jar: str) -> tuple[str, str]:
        """GET the notes form as a browser with cookie jar `jar`: (the CSRF field's name, its token)."""
        form = self.get(f"{PREFIX}/notes", "-c", jar, "-b", jar)
        assert form.status == 200, f"notes -> {form.status}"
        field_name = "csrfmiddlewaretoken" if self.framework == "django" else "csrf_token"
        match = re.search(rf'name="{field_name}"[^>]*value="([^"]+)"', form.text) or re.search(
            rf'value="([^"]+)"[^>]*name="{field_name}"', form.text
        )
        assert match, f"no {field_name} in the notes form"
        return field_name, match[1]

    def post_note(self, jar: str, form: tuple[str, str]) -> tuple[int, str]:
        """POST a new note with the form's token and the jar's cookies: (status, the note's text)."""
        note = f"e2e-note-{secrets.token_hex(6)}"
        fields = ("--data-urlencode", f"body={note}", "--data-urlencode", f"{form[0]}={form[1]}")
        return self.get(f"{PREFIX}/notes", "-c", jar, "-b", jar, *fields).status, note

    def write_note(self) -> str:
        """POST a note through the form (CSRF token and cookie as a browser sends them); returns its text."""
        jar = "/root/cookies.txt"
        status, note = self.post_note(jar, self.open_form(jar))
        assert status in (302, 303), f"POST notes -> {status}"
        assert note in self.get(f"{PREFIX}/notes").text, "the note is not listed after the POST"
        return note

    def keep_note(self) -> str:
        """write_note, and keep the note for the checks that look for it later (self.note)."""
        self.note = self.write_note()
        return self.note

    def check_note_persists(self, note: str) -> None:
        assert note in self.get(f"{PREFIX}/notes").text, "the note did not survive the restart"

    # ------------------------------------------------------------ stop, start, crash

    def check_stop(self) -> None:
        pids = self.user_pids()
        assert pids, "no server processes before the stop"
        started = time.monotonic()
        result = self.run(self.control("stop"), timeout=STOP_TIMEOUT + 30, check=False)
        seconds = time.monotonic() - started
        self.report.metrics["stop_seconds"] = round(seconds, 2)
        assert result.returncode == 0, f"stop failed: {result.stdout}{result.stderr}"
        assert seconds < STOP_TIMEOUT, (
            f"stop took {seconds:.1f} s, the stop timeout is {STOP_TIMEOUT} s\n{self.app_log()[-3000:]}"
        )
        left = self.user_pids()
        assert not left, f"processes left after the stop: {self.run(['ps', '-fp', ','.join(map(str, left))]).stdout}"
        if self.proxy != "none":
            down = self.get(f"{PREFIX}/")
            assert down.status == 503, f"while stopped: {down.status} {down.text[:200]}"
            assert MAINTENANCE_MARK in down.text, f"while stopped, not the maintenance page: {down.text[:200]}"
            # No app to answer: the proxy serves static files itself, from disk.
            static = self.get(self.static_path())
            on_disk = self.run(["cat", self.static_file_on_disk()], text=False).stdout
            assert static.status == 200 and static.body == on_disk, f"static while the app is stopped: {static.status}"

    def check_start(self) -> None:
        url = f"{self.base}{PREFIX}/"
        result = self.client_json("first200", url, "--timeout", str(START_TIMEOUT), "--", *self.control("start"),
                                  timeout=START_TIMEOUT * 2 + 30)  # fmt: skip
        assert result["seconds"] is not None, f"no 200 within {START_TIMEOUT} s of start: {result}"
        assert result["returncode"] == 0, f"start failed: {result['output']}"
        self.report.metrics["first_200_seconds"] = result["seconds"]
        self.check_not_bad_gateway(result["seen"], "while starting")

    def check_not_bad_gateway(self, seen: dict, when: str) -> None:
        if self.proxy == "nginx":
            allowed = {"503 maintenance"}  # error_page 502 =503
        elif self.proxy == "apache":
            # Apache keeps the status of the errors it makes (see the ErrorDocument lines in deploy/apache.conf).
            allowed = {"503 maintenance", "502 maintenance", "500 maintenance"}
        else:  # nothing in front: the client sees the server go away
            allowed = {"ConnectionRefusedError", "ConnectionResetError", "RemoteDisconnected"}
        # A response cut short: the request was in flight in a worker when the server died (kill -9).
        allowed |= {"IncompleteRead"}
        bad = {kind: count for kind, count in seen.items() if kind not in allowed}
        assert not bad, f"{when}: answers other than {sorted(allowed)}: {bad}"

    def check_kill_master(self) -> None:
        """kill -9 the master: the supervisor starts a new one. Measured: the first 200 (orphaned workers of the
        killed master may still answer on the old socket), and the first 200 once all of them are gone (the new
        master's). Meanwhile the proxy must answer with the maintenance page, never a bare 502."""
        master = self.master_pid()
        workers = [pid for pid in self.user_pids() if pid != master]
        result = self.client_json("watch", f"{self.base}{PREFIX}/", "--kill", str(master), "--old-pids",
                                  ",".join(map(str, workers)), "--timeout", str(RECOVERY_TIMEOUT),
                                  timeout=RECOVERY_TIMEOUT + 30)  # fmt: skip
        self.report.metrics["kill9_first_200_seconds"] = result["first_200"]
        self.report.metrics["kill9_orphans_gone_seconds"] = result["orphans_gone"]
        self.report.metrics["kill9_recovery_seconds"] = result["seconds"]
        self.report.metrics["kill9_answers"] = result["seen"]
        assert result["seconds"] is not None, f"no 200 from a new master within {RECOVERY_TIMEOUT} s: {result}"
        self.check_not_bad_gateway(result["seen"], "after kill -9")
        if self.supervisor == "systemd":
            # systemd holds the socket (deploy/<slug>.socket): requests wait in its queue for the new master. At
            # most one, in flight in a worker of the killed master, can be cut.
            failed = sum(result["seen"].values())
            assert failed <= 1, f"with socket activation requests should wait, not fail: {result['seen']}"
        new_master = self.master_pid()
        assert new_master != master, "the supervisor reports the killed master"

    def check_socket_activation(self) -> None:
        """Only the service stopped: systemd still listens on its socket, and the next request starts the service
        and gets its answer (not the maintenance page)."""
        self.run(self.systemctl("stop", SLUG))
        state = self.run(self.systemctl("is-active", SLUG), check=False).stdout.strip()
        assert state == "inactive", f"after systemctl stop: {state}"
        started = time.monotonic()
        response = self.get(f"{PREFIX}/", timeout=START_TIMEOUT)
        self.report.metrics["socket_activation_first_200_seconds"] = round(time.monotonic() - started, 3)
        assert response.status == 200, f"first request to the stopped service: {response.status} {response.text[:200]}"
        state = self.run(self.systemctl("is-active", SLUG), check=False).stdout.strip()
        assert state == "active", f"the request did not start the service: {state}"

    # ------------------------------------------------------------ reload under load

    def about_template(self) -> str:
        if self.framework == "django":
            return f"{self.checkout}/{PACKAGE}/templates/pages/about.html"
        return f"{self.checkout}/{PACKAGE}/templates/about.html"

    def under_load(self, action, at_least: float = 0.0) -> tuple[dict, object]:
        """Run action() while LOAD_CLIENTS clients fetch the about page; the load starts a second before it and goes
        on for 3 s after it, and for `at_least` seconds in all. Returns the load generator's result and action's."""
        url = f"{self.base}{PREFIX}/about"
        ready, stop = "/exchange/load.ready", "/exchange/load.stop"
        outcome: dict = {}

        def run_load():
            try:
                outcome["load"] = self.client_json(
                    "load", url, "--clients", str(LOAD_CLIENTS), "--seconds", str(LOAD_MAX_SECONDS),
                    "--max-requests", str(LOAD_MAX_REQUESTS), "--ready-file", ready, "--stop-file", stop,
                    timeout=LOAD_MAX_SECONDS + 60,
                )  # fmt: skip
            except Exception as error:  # reported below
                outcome["error"] = error

        self.run(["rm", "-f", ready, stop])
        thread = threading.Thread(target=run_load, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while self.run(["test", "-e", ready], check=False).returncode and time.monotonic() < deadline:
                time.sleep(0.05)
            load_started = time.monotonic()
            time.sleep(1)
            result = action()
            time.sleep(max(3.0, at_least - (time.monotonic() - load_started)))
        finally:
            self.run(["touch", stop], check=False)
            thread.join(LOAD_MAX_SECONDS + 90)
        assert "error" not in outcome, f"load generator: {outcome.get('error')}"
        load = outcome["load"]
        assert load["hung_clients"] == 0, f"{load['hung_clients']} clients still waiting at the end"
        return load, result

    def check_reload_under_load(self, count_failures: bool = False) -> dict:
        """16 clients on a page while the code changes and install.sh runs again (the documented way to deploy a
        change: it reloads the server gracefully); zero failed requests, and the new code is served after. Returns
        the load generator's result; with count_failures, failed requests are left to the caller to count."""
        marker = f"e2e-reload-{secrets.token_hex(6)}"

        def deploy():
            self.run(["sed", "-i", f"s|</h1>|</h1><p>{marker}</p>|", self.about_template()])
            started = time.monotonic()
            result = self.run(self.install_command(), timeout=INSTALL_TIMEOUT, check=False)
            self.report.metrics["reinstall_seconds"] = round(time.monotonic() - started, 2)
            output = result.stdout[-3000:] + result.stderr[-3000:]
            assert result.returncode == 0, f"install.sh (update) failed:\n{output}"

        # Keep the load on for a while after the reload, and for LOAD_SECONDS at least.
        load, _ = self.under_load(deploy, at_least=LOAD_SECONDS)
        self.report.metrics["reload"] = {k: load[k] for k in ("requests", "failed", "stale_retries", "max_latency")}
        self.report.metrics["reload_failed_requests"] = load["failed"]
        failed = f"{load['failed']} of {load['requests']} requests failed: {load['failures']}"
        assert count_failures or load["failed"] == 0, failed
        # A server that closes connections says so (Connection: close): requests sent into a connection it closed
        # unannounced are rare (an idle one closed by a reload), not the rule.
        stale = load["stale_retries"]
        assert stale <= LOAD_CLIENTS + load["requests"] // 100, (
            f"{stale} of {load['requests']} requests had to be resent"
        )
        # The new code is served once the reload is over.
        deadline = time.monotonic() + 30
        while marker not in (page := self.get(f"{PREFIX}/about")).text and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker in page.text, "the old code is still served after the reload"
        return load

    # ------------------------------------------------------------ secret rotation

    def as_service_account(self, *command: str) -> list[str]:
        return self.as_user(*command) if self.user_mode else ["runuser", "-u", SLUG, "--", *command]

    def reload_and_wait(self) -> None:
        """The generated supervisor's graceful reload, then wait until every worker is a new one."""
        master = self.master_pid()
        old_workers = set(self.user_pids()) - {master}
        if self.supervisor == "systemd":
            self.run(self.systemctl("reload", SLUG))
        elif self.server == "gunicorn":
            self.run(self.control("signal", "HUP"))
        else:
            self.run(self.as_service_account("touch", f"/run/{SLUG}/uwsgi.reload"))
        deadline = time.monotonic() + 60
        while old_workers & set(self.user_pids()) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = old_workers & set(self.user_pids())
        if left:
            processes = self.run(["ps", "-o", "pid,ppid,etime,args", "-p", ",".join(map(str, left))], check=False)
            raise AssertionError(
                f"old workers still running 60 s after the reload:\n{processes.stdout}\n{self.app_log()[-3000:]}"
            )
        self.wait_for_200()

    def session_cookie(self, jar: str) -> str:
        """The session cookie curl keeps in `jar` (Netscape format: the name is the sixth field, the value the 7th)."""
        name = "sessionid" if self.framework == "django" else "session"
        lines = self.run(["cat", jar], check=False).stdout.splitlines()
        return next(
            (line.split("\t")[6] for line in lines if line.count("\t") == 6 and line.split("\t")[5] == name), ""
        )

    def check_secret_rotation(self) -> None:
        """`manage.py init-config --rotate`, then the graceful reload it names: a session signed with the old key is
        still accepted (SECRET_KEY_FALLBACKS) and its forms still post; a session started after the rotation is signed
        with the new key: once the fallback is removed it is still accepted while the old one is not. (Flask and Dash
        sign their session cookie with the key; Django keeps sessions in the database and its CSRF cookie is not signed,
        so for Django the forms must keep working and the key must change, and that is what is checked.)"""
        old_jar, new_jar = "/root/rotation-old.txt", "/root/rotation-new.txt"
        self.open_form(old_jar)
        old_session = self.session_cookie(old_jar)
        manage = [f"{self.code_dir}/.venv/bin/python", f"{self.code_dir}/manage.py"]
        env_file = f"{self.app_dir}/.env"
        key_before = self.run(["grep", "^SECRET_KEY=", env_file]).stdout
        rotate = self.as_service_account(*manage, "init-config", "--rotate")
        rotated = self.run(["bash", "-c", f"cd {self.code_dir} && {shlex.join(rotate)}"])
        assert "SECRET_KEY (rotated" in rotated.stdout and "reload it gracefully" in rotated.stdout, rotated.stdout
        assert self.run(["grep", "^SECRET_KEY=", env_file]).stdout != key_before, "init-config --rotate kept the key"
        self.reload_and_wait()

        form = self.open_form(old_jar)
        assert self.session_cookie(old_jar) == old_session, "the session signed with the old key was replaced"
        status, _ = self.post_note(old_jar, form)
        assert status in (302, 303), f"POST in a session from before the rotation -> {status}"
        self.open_form(new_jar)
        new_session = self.session_cookie(new_jar)

        self.run(["sed", "-i", "s/^SECRET_KEY_FALLBACKS=.*/SECRET_KEY_FALLBACKS=/", env_file])
        self.reload_and_wait()
        form = self.open_form(new_jar)
        assert self.session_cookie(new_jar) == new_session, "the session started after the rotation was replaced"
        status, _ = self.post_note(new_jar, form)
        assert status in (302, 303), f"POST in a session from after the rotation -> {status}"
        if self.framework != "django":
            assert old_session, "no session cookie before the rotation"
            self.open_form(old_jar)
            assert self.session_cookie(old_jar) != old_session, "a session signed with the removed key was accepted"
        self.check_healthz()

    def check_database_password_rotation(self) -> None:
        """`manage.py init-config --rotate-database-password`, then install.sh as it says: PostgreSQL takes the new
        password, the app reloads with it, and the database pages work (a note written after, the old ones kept)."""
        notes_before = self.get(f"{PREFIX}/notes").text
        url_before = self.run(["grep", "^DATABASE_URL=", f"{self.app_dir}/.env"]).stdout
        manage = [f"{self.code_dir}/.venv/bin/python", f"{self.code_dir}/manage.py"]
        rotate = self.as_service_account(*manage, "init-config", "--rotate-database-password")
        rotated = self.run(["bash", "-c", f"cd {self.code_dir} && {shlex.join(rotate)}"])
        assert "DATABASE_URL (a new password)" in rotated.stdout and "deploy/install.sh" in rotated.stdout, (
            rotated.stdout
        )
        assert self.run(["grep", "^DATABASE_URL=", f"{self.app_dir}/.env"]).stdout != url_before
        result = self.install_as_documented()
        assert result.returncode == 0, f"install.sh after the rotation:\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
        self.check_healthz()
        note = self.write_note()
        notes_after = self.get(f"{PREFIX}/notes").text
        kept = re.findall(r"e2e-note-[0-9a-f]{12}", notes_before)
        assert kept and all(old in notes_after for old in kept) and note in notes_after, "notes lost or not written"

    # ------------------------------------------------------------ redeploy without stale files

    def check_redeploy_removes_stale_files(self, note: str | None) -> None:
        """v1 ships a module and a page template more than v2 (and, for Django, a migration that v1's install applies):
        after v2's install.sh they are gone from the server, the data (the note written before) is kept, and the site
        still serves. (An Alembic revision that was applied cannot simply be dropped: `db upgrade` then stops at the
        unknown revision, as it should; that needs a downgrade first, so Flask's part is a module and a template.)"""
        extra = {f"{PACKAGE}/obsolete_helper.py": "ANSWER = 42\n", f"{PACKAGE}/templates/obsolete.html": "<p>old</p>\n"}
        if self.framework == "django":
            extra[f"{PACKAGE}/migrations/0002_obsolete.py"] = OBSOLETE_DJANGO_MIGRATION
        for name, text in extra.items():
            self.run(["bash", "-c", f"cat > {self.checkout}/{name}"], input=text)
        if self.user_mode:
            self.run(["chown", "-R", f"{USER}:{USER}", self.checkout])
        for version in ("v1", "v2"):
            result = self.run(self.install_command(), timeout=INSTALL_TIMEOUT, check=False)
            assert result.returncode == 0, (
                f"install.sh ({version}) failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
            )
            on_server = [
                name
                for name in extra
                if self.run(["test", "-e", f"{self.code_dir}/{name}"], check=False).returncode == 0
            ]
            if version == "v1":
                assert on_server == list(extra), f"v1 not installed: {on_server}"
                self.run(["rm", "-f", *(f"{self.checkout}/{name}" for name in extra)])
            else:
                assert on_server == [], f"still on the server after v2: {on_server}"
        self.wait_for_200()
        if note:
            self.check_note_persists(note)

    # ------------------------------------------------------------ systemd hardening

    def check_hardening(self) -> None:
        pid = self.master_pid()
        status = self.run(["cat", f"/proc/{pid}/status"]).stdout
        assert "NoNewPrivs:\t1" in status, "NoNewPrivileges is not in force"
        uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
        assert uid != "0", "the server runs as root"
        assert re.search(r"^CapEff:\s+0+$", status, re.M), "the server holds capabilities"
        assert re.search(r"^Seccomp:\s+2$", status, re.M), "no system call filter in force"
        mounts = self.run(["cat", f"/proc/{pid}/mountinfo"]).stdout.splitlines()
        options = {line.split()[4]: line.split()[5] for line in mounts}
        assert options.get("/", "").startswith("ro"), "ProtectSystem=strict: / should be read-only"
        assert options.get(f"/run/{SLUG}", "").startswith("rw"), "the RuntimeDirectory should be writable"
        assert options.get(f"/var/lib/{SLUG}", "").startswith("rw"), "the StateDirectory should be writable"
        assert "/tmp" in options, "PrivateTmp= should mount its own /tmp"
        denied = self.run(["nsenter", "-t", str(pid), "-m", "-S", SLUG, "--", "ls", "/root"], check=False)
        assert denied.returncode != 0, "the service can read /root (ProtectHome=)"
        security = self.run(["systemd-analyze", "security", "--no-pager", SLUG], check=False).stdout
        exposure = re.search(r"Overall exposure level for \S+: ([\d.]+)", security)
        assert exposure, security[-500:]
        self.report.metrics["systemd_exposure"] = float(exposure[1])
        assert float(exposure[1]) <= 2.0, f"exposure {exposure[1]}"
