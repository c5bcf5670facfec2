"""`install.sh --user` on a server the account does not own: no privilege leak, the app back after a reboot without
anyone logging in, and a Python that is not the system's. Rides on the --user stacks (tests/e2e/checks.py; their test
ids end in -user):

- BOOT_STACKS (one behind Apache, one behind nginx): every file root's proxy loads (and every directory above it)
  belongs to root and the account cannot write it; the account editing its own copy of the site changes nothing the
  proxy loads; and the boot path, run as boot runs it (the container's state lives in a volatile overlay that a real
  reboot would drop): cron's @reboot jobs for the supervisord stack (cron started again with its once-per-boot
  marker gone: it runs the account's crontab line as the account), logind starting the lingering account's systemd
  manager for the systemd one;
- OPT_PYTHON_STACKS: the virtualenv made from a CPython that lives under /opt (see opt_python).
"""

import re
import shlex
import time

from tests.e2e.checks import Check, Spec, Step
from tests.e2e.scenario_celery import worker_pid
from tests.e2e.scenario_websockets import daphne_pid
from tests.e2e.stack import SLUG, USER, USER_CONF_DIR, USER_HOME, Stack

BOOT_STACKS = {"flask-gunicorn-apache-supervisord-sqlite", "flask-uwsgi-nginx-systemd-sqlite"}
OPT_PYTHON_STACKS = {"flask-uwsgi-nginx-systemd-sqlite"}
OPT_PREFIX = "/opt/python3.11"
OPT_PYTHON = f"{OPT_PREFIX}/bin/python3.11"
BOOT_TIMEOUT = 60


# ---------------------------------------------------------------- a Python outside /usr/bin


def opt_python(stack: Stack, headers: bool) -> None:
    """A relocated CPython: the container's own 3.11 interpreter and standard library copied under /opt, as a
    self-built (`./configure --prefix=/opt/...`), pyenv or conda Python is laid out. CPython finds its prefix from where
    its executable is (the lib/python3.11/os.py landmark), so this one runs with sys.prefix = /opt/python3.11 and
    its headers, if any, in /opt/python3.11/include: a real prefix install, and no download (the container has
    no network). The server's Debian Python stays, as it would on a real server."""
    stack.run(["install", "-d", f"{OPT_PREFIX}/bin", f"{OPT_PREFIX}/lib", f"{OPT_PREFIX}/include"])
    stack.run(["cp", "-a", "/usr/bin/python3.11", f"{OPT_PREFIX}/bin/"])
    stack.run(["cp", "-a", "/usr/lib/python3.11", f"{OPT_PREFIX}/lib/"])
    if headers:
        stack.run(["cp", "-a", "/usr/include/python3.11", f"{OPT_PREFIX}/include/"])
    where = stack.run([OPT_PYTHON, "-c", "import sys, sysconfig; print(sys.prefix, sysconfig.get_path('include'))"])
    assert where.stdout.split() == [OPT_PREFIX, f"{OPT_PREFIX}/include/python3.11"], where.stdout


def before_user_install(stack: Stack) -> None:
    """For OPT_PYTHON_STACKS: a Python under /opt without its headers first (uWSGI cannot be built: install.sh must
    say so, naming what is missing, before it installs anything), then with them: the install proper uses it."""
    opt_python(stack, headers=False)
    started = time.monotonic()
    refused = stack.run(stack.as_user(f"{stack.checkout}/deploy/install.sh", "--user", "--python", OPT_PYTHON),
                        check=False, timeout=120)  # fmt: skip
    stack.report.metrics["missing_headers_refusal_seconds"] = round(time.monotonic() - started, 2)
    assert refused.returncode != 0, f"install.sh went on without Python.h:\n{refused.stdout[-2000:]}"
    assert f"{OPT_PREFIX}/include/python3.11/Python.h" in refused.stderr, refused.stderr
    assert "--python" in refused.stderr, refused.stderr
    for path in (stack.app_dir, USER_CONF_DIR):
        left = stack.run(["test", "-e", path], check=False)
        assert left.returncode != 0, f"the refused install left {path} behind"
    opt_python(stack, headers=True)
    stack.install_arguments = ["--python", OPT_PYTHON]


def check_venv_python(stack: Stack) -> None:
    config = stack.run(["cat", f"{stack.code_dir}/.venv/pyvenv.cfg"]).stdout
    assert re.search(rf"^home = {re.escape(OPT_PREFIX)}/bin$", config, re.M), config
    base = stack.run([f"{stack.code_dir}/.venv/bin/python", "-c", "import sys; print(sys.base_prefix)"]).stdout
    assert base.strip() == OPT_PREFIX, base


# ---------------------------------------------------------------- what root loads


def proxy_files(stack: Stack) -> list[str]:
    """Every file the proxy (run by root) loads, as the proxy lists them."""
    if stack.proxy == "nginx":
        dump = stack.run(["nginx", "-T"]).stdout
        return re.findall(r"^# configuration file (\S+):$", dump, re.M)
    dump = stack.run(["apache2ctl", "-t", "-D", "DUMP_INCLUDES"]).stdout
    return re.findall(r"^\s*\(\*?\d*\*?\)\s+(/\S+)$", dump, re.M)


# For each path: the path itself, its target and every directory above either, owned by root and not writable by the
# account (test -w as the account: owner, group and ACLs as the kernel sees them).
OWNERSHIP_SCRIPT = r"""
declare -A seen=()
for file in "$@"; do
    for path in "$file" "$(realpath "$file")"; do
        while [[ $path != / && -z ${seen[$path]-} ]]; do
            seen[$path]=1
            path=$(dirname "$path")
        done
    done
done
for path in "${!seen[@]}"; do
    owner=$(stat -c %U "$path")
    [[ $owner == root ]] || echo "$path is owned by $owner"
    runuser -u "$ACCOUNT" -- test -w "$path" && echo "$path is writable by $ACCOUNT"
done
true
"""


def check_root_loads_only_root_files(stack: Stack) -> None:
    """The proxy's files (the site a --user install asked the administrator for, and everything else the proxy
    loads), the account's lingering flag and anything under /etc named after the app: root's, out of the account's
    reach, and none under its home."""
    files = proxy_files(stack)
    assert files, "the proxy lists no configuration files"
    site = [path for path in files if SLUG in path]
    assert site, f"the site is not among the proxy's files: {files}"
    named = stack.run(["find", "/etc", "/var/lib/systemd", "-name", f"*{SLUG}*", "-o", "-path", f"*/linger/{USER}"])
    paths = sorted(set(files) | set(named.stdout.split()))
    stack.report.metrics["root_loaded_files_checked"] = len(paths)
    inside = [path for path in paths if path.startswith(USER_HOME)]
    assert not inside, f"root loads files from the account's home: {inside}"
    problems = stack.run(["env", f"ACCOUNT={USER}", "bash", "-c", OWNERSHIP_SCRIPT, "check", *paths]).stdout
    assert not problems.strip(), f"files root loads that the account controls:\n{problems}"


def check_own_edits_change_nothing_root_runs(stack: Stack) -> None:
    """The account changes its site file (deploy/, which install.sh --user showed the administrator): after the
    proxy reloads, nothing of it is in what the proxy runs, and the site still serves."""
    copy = f"{stack.code_dir}/deploy/{stack.proxy}.conf"
    marker = "# e2e: written by the account"
    before = stack.run(["cat", *proxy_files(stack)]).stdout
    stack.run(stack.as_user("bash", "-c", f"printf '%s\\n' {shlex.quote(marker)} >> {copy}"))
    service = "nginx" if stack.proxy == "nginx" else "apache2"
    stack.run(["systemctl", "reload", service])
    after = stack.run(["cat", *proxy_files(stack)]).stdout
    dump = stack.run(["nginx", "-T"] if stack.proxy == "nginx" else ["apache2ctl", "-S"]).stdout
    assert marker not in after and marker not in dump, "the account's edit reached the proxy"
    assert after == before, "the proxy's files changed when the account edited its own"
    stack.wait_for_200()


# ---------------------------------------------------------------- boot


def check_crontab_line(stack: Stack) -> None:
    """Exactly one @reboot line, the command install.sh starts supervisord with, after the several install.sh runs
    of the stack (install, reload under load, redeploys)."""
    crontab = stack.run(["crontab", "-u", USER, "-l"]).stdout
    expected = f"@reboot {stack.code_dir}/.venv/bin/supervisord -c {USER_CONF_DIR}/supervisord.conf"
    lines = [line for line in crontab.splitlines() if line.startswith("@reboot")]
    assert lines == [expected], f"crontab of {USER}:\n{crontab}"


def server_gone(stack: Stack) -> None:
    deadline = time.monotonic() + 30
    while stack.user_pids() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not stack.user_pids(), f"still running: {stack.user_pids()}"


def check_boot_path(stack: Stack) -> None:
    """Power off the account's processes, then run what boot runs; the app must answer without a login."""
    if stack.supervisor == "supervisord":
        # A crash, not a stop: the pid file and the sockets stay in /run/<slug>, as after a power cut.
        stack.run(["systemctl", "stop", "cron"])
        pids = stack.run(["pgrep", "-u", USER], check=False).stdout.split()
        stack.run(["kill", "-KILL", *pids], check=False)
        server_gone(stack)
        # Debian's cron runs @reboot jobs once per boot, marked by /run/crond.reboot (gone after a reboot: /run is
        # a tmpfs).
        stack.run(["rm", "-f", "/run/crond.reboot"])
        started = time.monotonic()
        stack.run(["systemctl", "start", "cron"])
    else:
        stack.run(["systemctl", "stop", f"user@{stack.user_uid()}.service"])
        server_gone(stack)
        # At boot systemd-logind starts the manager of every account with lingering enabled.
        started = time.monotonic()
        stack.run(["systemctl", "restart", "systemd-logind"])
    stack.wait_for_200(timeout=BOOT_TIMEOUT)
    stack.report.metrics["boot_path_first_200_seconds"] = round(time.monotonic() - started, 2)
    if stack.answers.get("task_queue") == "celery":  # the worker, beat and Redis come back with the app
        assert stack.supervisor == "systemd", "supervisord's programs: read their states with supervisorctl status"
        is_active = stack.systemctl("is-active", f"{SLUG}-redis", f"{SLUG}-worker", f"{SLUG}-beat")
        deadline = time.monotonic() + BOOT_TIMEOUT
        while (states := stack.run(is_active, check=False).stdout.split()) != ["active"] * 3:
            assert time.monotonic() < deadline, f"Redis, worker, beat after the boot: {states}"
            time.sleep(0.2)
    sessions = stack.run(["loginctl", "list-sessions", "--no-legend"], check=False).stdout
    assert USER not in sessions, f"a login session of {USER}: {sessions}"


def check_user_hardening(stack: Stack) -> None:
    """The user unit keeps what a user manager can apply: no new privileges, a system-call filter, no capabilities,
    and it runs as the account."""
    processes = {"the server": stack.master_pid()}
    # The worker's and Daphne's units take the web unit's hardening too.
    if stack.answers.get("task_queue") == "celery":
        processes["the Celery worker"] = worker_pid(stack)
    if stack.answers.get("websockets") == "channels":
        processes["Daphne"] = daphne_pid(stack)
    for name, pid in processes.items():
        status = stack.run(["cat", f"/proc/{pid}/status"]).stdout
        assert "NoNewPrivs:\t1" in status, f"{name}: NoNewPrivileges is not in force"
        assert re.search(r"^Seccomp:\s+2$", status, re.M), f"{name}: no system call filter in force"
        assert re.search(r"^CapEff:\s+0+$", status, re.M), f"{name} holds capabilities"
        uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
        assert uid == stack.user_uid(), f"{name} runs as uid {uid}"
    security = stack.run(stack.as_user("systemd-analyze", "--user", "security", "--no-pager", SLUG), check=False)
    exposure = re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout)
    assert exposure, security.stdout[-500:] + security.stderr[-500:]
    stack.report.metrics["systemd_user_exposure"] = float(exposure[1])


def user_unit_files(stack: Stack) -> list[str]:
    """Every unit install.sh --user gave the account's manager: the web app's socket and service, and the backup
    timer, the Celery worker, beat and Redis, Daphne where the answers have them."""
    unit_dir = f"{USER_HOME}/.config/systemd/user"
    listing = stack.run(["find", unit_dir, "-maxdepth", "1", "-name", f"{SLUG}*"]).stdout.split()
    return sorted(path for path in listing if path.endswith((".service", ".socket", ".timer")))


def check_user_units_verify(stack: Stack) -> None:
    units = user_unit_files(stack)
    expected = {f"{SLUG}.socket", f"{SLUG}.service"}
    if stack.answers.get("task_queue") == "celery":
        expected |= {f"{SLUG}-worker.service", f"{SLUG}-beat.service", f"{SLUG}-redis.service"}
    if stack.answers.get("websockets") == "channels":
        expected.add(f"{SLUG}-daphne.service")
    assert expected <= {unit.rsplit("/", 1)[1] for unit in units}, units
    stack.report.metrics["user_units_verified"] = [unit.rsplit("/", 1)[1] for unit in units]
    result = stack.run(stack.as_user("systemd-analyze", "--user", "verify", *units), check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stdout + result.stderr


def on(condition):
    """The condition on the stacks installed with --user."""
    return lambda spec: spec.user_mode and condition(spec)


def user_systemd(spec: Spec) -> bool:
    return spec.supervisor == "systemd"


def opt_python_stack(spec: Spec) -> bool:
    return spec.name in OPT_PYTHON_STACKS


def boot_stack(spec: Spec) -> bool:
    return spec.name in BOOT_STACKS


STEPS = [
    Step("checkout", "a Python under /opt, refused without its headers", before_user_install, on(opt_python_stack))
]
# Last but the final stop: the boot path reboots the container.
CHECKS = [
    Check("final", "user units pass systemd-analyze --user verify", check_user_units_verify, on(user_systemd)),
    Check("final", "user unit hardening in force", check_user_hardening, on(user_systemd)),
    Check("final", "virtualenv from the Python under /opt", check_venv_python, on(opt_python_stack)),
    Check(
        "final",
        "one @reboot line in the crontab",
        check_crontab_line,
        on(lambda spec: spec.supervisor == "supervisord" and boot_stack(spec)),
    ),
    Check("final", "boot path: the app answers without a login", check_boot_path, on(boot_stack)),
    Check(
        "final",
        "root loads only root's files",
        check_root_loads_only_root_files,
        on(lambda spec: boot_stack(spec) and spec.proxy != "none"),
    ),
    Check(
        "final",
        "the account's edits change nothing root runs",
        check_own_edits_change_nothing_root_runs,
        on(lambda spec: boot_stack(spec) and spec.proxy != "none"),
    ),
]
