"""The plan of a deploy: a rendered project's deploy/install.sh run on pyinfra's @fake host, whose answers (facts) are
scripted here: a fresh Debian or RHEL server, and variants of it. Nothing on this machine is touched; what the deploy
prints and every command it sends to the host are the plan (tests/fake_host.py runs it).

On @fake a command nobody scripted succeeds with no output: a scripted host answers every question the deploy asks
whose answer matters (what exists, what runs, what is enabled).
"""

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from tests.render import render_cookiecutter

SLUG = "my-web-app"
PACKAGE = "my_web_app"
APP_DIR = f"/srv/{SLUG}"
OS_RELEASE = {
    "debian": 'NAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="12"\n',
    "rhel": 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n',
}
PROXY_USER = {("nginx", "debian"): "www-data", ("nginx", "rhel"): "nginx", ("apache", "debian"): "www-data",
              ("apache", "rhel"): "apache"}  # fmt: skip
DATABASE_URL = f"postgresql://{PACKAGE}:S3cret-password.only-in.env@127.0.0.1:5432/{PACKAGE}"


@dataclass(frozen=True)
class Host:
    """What the server answers. The default: a fresh server of FAMILY, nothing of the app on it, no firewall active,
    one Python 3 on PATH (/usr/bin/python3, with its headers), every tool the deploy calls installed, SELinux enabled
    on RHEL; the app, once started, answers on its own socket and through the proxy."""

    family: str = "debian"
    # Releases on disk, oldest first: those that went live and passed the health check, and those that did not; the
    # live one (CODE_DIR links it), its server running.
    releases: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    live: str = ""
    ufw: str = ""  # "enabled", or "open" (enabled, and the site's ports allowed already)
    firewalld: bool = False
    selinux: bool | None = None  # enabled: by default on RHEL (as it ships), not on Debian
    password_encryption: str = "scram-sha-256"
    hba: str = "local all postgres peer\nhost all all 127.0.0.1/32 ident\n"  # pg_hba.conf as the server has it
    env: str = ""  # .env as the deploy reads it once its secrets are set
    certificate: bool = False  # /etc/ssl/APP_NAME holds a certificate and its key
    # --user: an administrator has done their part once (the app's directories, lingering); the proxy passes requests
    # to the app (its /healthz answers the way clients come in).
    administrator: bool = True
    proxied: bool = True
    app_answers: bool = True
    # Answers that win over the ones above: (kind, matcher, response), kind "substring" or "regex".
    answers: tuple[tuple[str, str, object], ...] = ()

    def responses(self) -> list[list]:
        failing = {"success": False}
        scripted: list[tuple[str, str, object]] = [*self.answers]
        if self.ufw:
            scripted.append(("substring", "grep -qsx 'ENABLED=yes' /etc/ufw/ufw.conf", ""))
            scripted.append(("substring", "ufw status", "" if self.ufw == "open" else failing))
        if self.firewalld:
            scripted.append(("substring", "systemctl is-active --quiet firewalld", ""))
        if self.selinux or (self.selinux is None and self.family == "rhel"):
            scripted.append(("regex", r"^selinuxenabled$", ""))
        if self.certificate:
            scripted.append(("regex", rf"^test -e /etc/ssl/{SLUG}/(fullchain|privkey)\.pem$", ""))
            # A certificate for the domain, its key, not expiring: the public keys the same, the host matched.
            scripted.append(("regex", r"^openssl (x509 .*-pubkey|pkey .*-pubout)", "-----BEGIN PUBLIC KEY-----\n"))
            scripted.append(("regex", r"^openssl x509 .* -checkhost (\S+)$", "Hostname does match certificate\n"))
            scripted.append(("regex", r"^openssl x509 .* -checkend \d+$", ""))
        if self.administrator:
            scripted.append(("regex", r"^test -e /var/lib/systemd/linger/", ""))
        else:
            scripted.append(("regex", r"^for p in .*; do test -d", failing))
        if not self.proxied:
            scripted.append(("regex", r"^curl .*--resolve ", failing))
        if not self.app_answers:
            scripted += [("regex", r"^curl --silent --fail ", failing), ("substring", "import socket, struct", failing)]
        listing = f"cd {APP_DIR}/releases 2>/dev/null && for r in *; do ! test "
        scripted += [
            ("substring", listing + "-f", "".join(f"{name}\n" for name in self.releases)),
            ("substring", listing + "-d", "".join(f"{name}\n" for name in sorted(self.releases + self.failed))),
        ]
        if self.live:
            scripted += [
                ("regex", rf"^readlink {APP_DIR}/current$", f"releases/{self.live}\n"),
                ("regex", rf"^test -d {APP_DIR}/releases/{self.live}$", ""),
                ("regex", rf"^systemctl (--user )?is-active --quiet {SLUG}$", ""),
                ("regex", r"^pgrep -P ", ""),
            ]
        scripted += [
            ("substring", "ls -pdL *-release", f"/etc/os-release\n{OS_RELEASE[self.family]}---\n"),
            ("substring", "uname -s", "Linux"),
            ("substring", f"cat {APP_DIR}/.env", self.env or failing),
            ("substring", "SHOW password_encryption", self.password_encryption),
            ("substring", "SHOW hba_file", "/etc/pg_hba.conf"),
            ("substring", "cat /etc/pg_hba.conf", self.hba),
            # One Python 3 on PATH, new enough, with its headers (uWSGI compiles against them).
            ("regex", r"^command -v python3$", "/usr/bin/python3\n"),
            ("regex", r"^command -v python", failing),
            ("regex", r"^\S+ -V$", "Python 3.13.5\n"),
            ("substring", 'print(sysconfig.get_path("include"))', "/usr/include/python3.13\n"),
            ("substring", "test -e /usr/include/python3.13/Python.h", ""),
            ("regex", r"^command -v \S+ \|\| true$", "/usr/bin/found\n"),  # pyinfra's Which fact: every tool is there
            # Nothing else exists, runs, or is set up: no file, no release, no firewall, no SELinux.
            ("regex", r"^test -[edfx] ", failing),
            ("regex", r"^readlink ", failing),
            (
                "regex",
                r"^(grep -qsx|systemctl is-active|systemctl --user is-active|selinuxenabled|semodule -l)\b",
                failing,
            ),
            ("regex", r"^(firewall-cmd --quiet --query|semanage port -l|nginx -T|\S+ -t -D DUMP_INCLUDES)", failing),
            ("regex", r"^id -nG ", "users\n"),
        ]
        return [[kind, matcher, response] for kind, matcher, response in scripted]


@dataclass(frozen=True)
class Plan:
    """What install.sh printed, the commands it sent to the host in order, and the files it uploaded."""

    returncode: int
    stdout: str
    stderr: str
    commands: list[str] = field(default_factory=list)
    uploads: dict[str, str] = field(default_factory=dict)  # where each uploaded file went: its text

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    @property
    def ran(self) -> list[str]:
        """The commands the narration shows as run (`+ CMD`)."""
        return [line[2:] for line in self.lines if line.startswith("+ ")]

    @property
    def administrator(self) -> list[str]:
        """What --user prints for an administrator to run as root, in order."""
        return [
            line.removeprefix("install.sh: as root: ")
            for line in self.lines
            if line.startswith("install.sh: as root: ")
        ]

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def first(self, pattern: str) -> int:
        """The index of the first narration line matching the regular expression PATTERN (fails if none)."""
        found = [index for index, line in enumerate(self.lines) if re.search(pattern, line)]
        assert found, f"no line matches {pattern!r} in:\n{self.stdout}"
        return found[0]

    def sent(self, pattern: str) -> list[str]:
        """The commands sent to the host matching the regular expression PATTERN."""
        return [command for command in self.commands if re.search(pattern, command)]

    def __str__(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


@dataclass(frozen=True)
class Scenario:
    """install.sh's ARGUMENTS on HOST; or, with LOCAL_EUID, only the checks main() makes of who runs it on this
    machine, as that user (the deploy itself raises if it starts)."""

    arguments: tuple[str, ...] = ()
    host: Host = Host()
    local_euid: int | None = None


def run_plans(project: Path, scenarios: list[Scenario]) -> list[Plan]:
    """Each scenario's deploy of PROJECT on @fake, in one process of the test tools' Python (pyinfra pinned there)."""
    payload = [
        {
            "arguments": list(scenario.arguments),
            "responses": scenario.host.responses(),
            "local_euid": scenario.local_euid,
        }
        for scenario in scenarios
    ]
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("fake_host.py")), str(project)],
        input=json.dumps(payload), capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0 and not result.stderr, result.stderr
    return [Plan(**plan) for plan in json.loads(result.stdout)]


def shared_plans(base: Path, name: str, answers: dict, scenarios: dict[str, Scenario]) -> tuple[Path, dict[str, Plan]]:
    """PROJECT rendered from ANSWERS and its SCENARIOS' plans, made once under BASE for every test process (xdist's
    workers share BASE): (the project, the plans by scenario name)."""
    project_dir, plans_file = base / name, base / f"{name}.plans.json"
    with FileLock(str(base / f"{name}.lock")):
        if not plans_file.exists():
            project = render_cookiecutter(project_dir, **answers)
            plans = run_plans(project, list(scenarios.values()))
            plans_file.write_text(json.dumps({key: plan.__dict__ for key, plan in zip(scenarios, plans, strict=True)}))
    return project_dir / SLUG, {key: Plan(**plan) for key, plan in json.loads(plans_file.read_text()).items()}
