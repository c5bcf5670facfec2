"""Servers as users have them, riding on existing stacks of tests/e2e/test_stacks.py (issue 11):

- PostgreSQL that stores md5 passwords (password_encryption = md5, as before PostgreSQL 14 and on RHEL 8/9's default
  streams) on one root and one --user stack; the other PostgreSQL stack keeps Debian's scram-sha-256. The install must
  log in with either (the stack's own checks: healthz, notes, the password rotation) and store the password the way
  its pg_hba.conf rule says.
- ufw enabled before install.sh runs, on one root and one --user stack. ufw never filters loopback, so a client in
  its own network namespace reaches the container over a veth pair: the site must answer there through the port the
  install opened (as root itself; with --user through the printed administrator command), while a port nobody opened
  stays filtered on the same path, which shows ufw does filter it.
"""

from __future__ import annotations

import shlex
import time

from tests.e2e.checks import Check, Step, named
from tests.e2e.stack import PREFIX, Stack

MD5_STACKS = {"flask-gunicorn-nginx-supervisord-postgresql", "dash-uwsgi-none-supervisord-postgresql"}
UFW_STACKS = {"flask-gunicorn-nginx-supervisord-postgresql", "django-uwsgi-apache-supervisord-postgresql"}
PACKAGE = "my_web_app"
# The veth pair: the container's end, and a client namespace's end.
SERVER_ADDRESS = "10.77.0.1"
CLIENT_ADDRESS = "10.77.0.2"
CLIENT_NAMESPACE = "client"
UNOPENED_PORT = 8081
SLUG = "my-web-app"
# One step of the installed deploy engine (the live release's deploy/engine/), run as install.sh runs the deploy: as
# root, in the deploy tools' virtualenv (install.sh made it under $HOME/.cache), on this machine. argv: the deploy
# directory, the module, the step.
ENGINE_STEP = """\
import importlib, sys
sys.path.insert(0, sys.argv[1])
from engine.context import Deploy, Options, quiet_pyinfra
from engine.main import detect_family
step = getattr(importlib.import_module("engine." + sys.argv[2]), sys.argv[3])
quiet_pyinfra()
deploy = Deploy(Options())
deploy.family = detect_family(deploy)
deploy.run_step(sys.argv[3], step)
"""


def prepare_md5(stack: Stack) -> None:
    """Before install.sh: PostgreSQL stores md5 passwords, as the user's server does."""
    setting = "password_encryption = md5"
    stack.run(["bash", "-c", f"for d in /etc/postgresql/*/main/conf.d; do echo '{setting}' >$d/md5.conf; done"])


def prepare_ufw(stack: Stack) -> None:
    """Before install.sh: ufw enabled, and a client namespace joined to the container by a veth pair."""
    stack.run(["ufw", "--force", "enable"])
    commands = [
        f"ip netns add {CLIENT_NAMESPACE}",
        f"ip link add veth-server type veth peer name veth-client netns {CLIENT_NAMESPACE}",
        f"ip addr add {SERVER_ADDRESS}/24 dev veth-server",
        "ip link set veth-server up",
        f"ip -n {CLIENT_NAMESPACE} addr add {CLIENT_ADDRESS}/24 dev veth-client",
        f"ip -n {CLIENT_NAMESPACE} link set veth-client up",
    ]
    stack.run(["bash", "-c", " && ".join(commands)])


def engine_step(stack: Stack, module: str, step: str) -> str:
    """The deploy engine's STEP (a function of deploy/engine/MODULE.py) run again, alone: what it printed."""
    script = (
        f'tools=(/root/.cache/{SLUG}-deploy/*/bin/python) && [ ${{#tools[@]}} = 1 ] && test -x "${{tools[0]}}" && '
        f'exec "${{tools[0]}}" -E -s -c {shlex.quote(ENGINE_STEP)} {stack.code_dir}/deploy {module} {step}'
    )
    result = stack.run(["bash", "-c", script], check=False)
    assert result.returncode == 0 and result.stderr == "", f"{module}.{step}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def postgres(stack: Stack, sql: str) -> str:
    return stack.run(["bash", "-c", f"cd / && runuser -u postgres -- psql -XtAc {sql!r}"]).stdout.strip()


def check_password_storage(stack: Stack) -> None:
    md5 = stack.report.name in MD5_STACKS
    assert postgres(stack, "SHOW password_encryption") == ("md5" if md5 else "scram-sha-256")
    stored = postgres(stack, f"SELECT rolpassword FROM pg_authid WHERE rolname = '{PACKAGE}'")
    assert stored.startswith("md5" if md5 else "SCRAM-SHA-256$"), f"stored as {stored[:14]}..."
    hba = stack.run(["cat", postgres(stack, "SHOW hba_file")]).stdout
    rules = [line.split() for line in hba.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    ours = [rule for rule in rules if rule[:4] == ["host", PACKAGE, PACKAGE, "127.0.0.1/32"]]
    if md5 or not stack.user_mode:
        # Root always writes the rule; --user asks for it only where the server's own rules refuse the password.
        assert ours == [["host", PACKAGE, PACKAGE, "127.0.0.1/32", "md5" if md5 else "scram-sha-256"]], ours
        first_host_rule = next(rule for rule in rules if rule[0] == "host")
        assert first_host_rule == ours[0], f"not the first host rule: {first_host_rule}"
    else:
        assert ours == [], f"a rule the server did not need: {ours}"


def check_switch_to_scram(stack: Stack) -> None:
    """The server moves from md5 to scram-sha-256 (as after an upgrade to PostgreSQL 14+): the deploy's database step,
    run again as every install runs it, replaces its md5 rule with a scram one and stores the password as SCRAM, and
    the app's role logs in with it. Run twice: the second run changes nothing."""
    stack.run(["bash", "-c", "rm /etc/postgresql/*/main/conf.d/md5.conf"])
    postgres(stack, "SELECT pg_reload_conf()")
    assert postgres(stack, "SHOW password_encryption") == "scram-sha-256"
    first = engine_step(stack, "database_postgresql", "ensure_database")
    assert f"pg_hba.conf: host {PACKAGE} {PACKAGE} 127.0.0.1/32 scram-sha-256" in first, first
    second = engine_step(stack, "database_postgresql", "ensure_database")
    assert f"pg_hba.conf lets {PACKAGE} in (scram-sha-256)" in second, second
    assert "pg_hba.conf: host" not in second, second
    stored = postgres(stack, f"SELECT rolpassword FROM pg_authid WHERE rolname = '{PACKAGE}'")
    assert stored.startswith("SCRAM-SHA-256$"), f"stored as {stored[:14]}..."
    hba = stack.run(["cat", postgres(stack, "SHOW hba_file")]).stdout
    ours = [line.split() for line in hba.splitlines() if line.split()[:3] == ["host", PACKAGE, PACKAGE]]
    assert ours == [["host", PACKAGE, PACKAGE, "127.0.0.1/32", "scram-sha-256"]], ours
    url = stack.run(["sed", "-n", "s/^DATABASE_URL=//p", f"{stack.app_dir}/.env"]).stdout.strip()
    connect = "import sys, psycopg; psycopg.connect(sys.argv[1], connect_timeout=5).close()"
    stack.run([f"{stack.code_dir}/.venv/bin/python", "-c", connect, url])


def client_curl(stack: Stack, port: int, path: str, seconds: float) -> str:
    result = stack.run(
        ["ip", "netns", "exec", CLIENT_NAMESPACE, "curl", "-s", "-m", str(seconds), "-o", "/dev/null",
         "-w", "%{http_code}", "-H", "Host: localhost", f"http://{SERVER_ADDRESS}:{port}{path}"],
        check=False,
    )  # fmt: skip
    return result.stdout.strip()


def check_through_ufw(stack: Stack) -> None:
    status = stack.run(["ufw", "status"]).stdout
    assert "Status: active" in status and "80/tcp" in status, status
    # The installed firewall step again (what every later install.sh run does): as root it finds the port open and
    # leaves the rules alone.
    if not stack.user_mode:
        again = engine_step(stack, "firewall", "open_ports")
        assert again == "install.sh: ufw: 80/tcp is open\n", again
        assert stack.run(["ufw", "status"]).stdout == status, "running the step again changed the ufw rules"
    assert client_curl(stack, 80, f"{PREFIX}/", 10) == "200", "the site does not answer through the firewall"
    # A listener on a port nobody opened, on the same path: ufw drops it (curl gives up, code 000).
    listener = "unopened-port-listener"
    stack.run(["systemd-run", f"--unit={listener}", "--quiet", "/usr/bin/python3", "-m", "http.server",
               str(UNOPENED_PORT), "--bind", SERVER_ADDRESS])  # fmt: skip
    try:
        local_curl = ["curl", "-s", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}",
                      f"http://{SERVER_ADDRESS}:{UNOPENED_PORT}/"]  # fmt: skip
        deadline = time.monotonic() + 10
        while (local := stack.run(local_curl, check=False).stdout.strip()) != "200" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert local == "200", f"the unopened port's listener does not answer locally ({local})"
        # Dropped, not refused: curl gives up after its time (the same path answered port 80 at once).
        assert client_curl(stack, UNOPENED_PORT, "/", 1) == "000", "ufw let a port nobody opened through"
    finally:
        stack.run(["systemctl", "stop", listener], check=False)


STEPS = [
    Step("prepare", "PostgreSQL stores md5 passwords", prepare_md5, named(*MD5_STACKS)),
    Step("prepare", "ufw enabled, a client namespace", prepare_ufw, named(*UFW_STACKS)),
]
CHECKS = [
    Check(
        "after_install",
        "PostgreSQL: password stored as pg_hba.conf's rule expects",
        check_password_storage,
        lambda spec: spec.database == "postgresql",
    ),
    Check(
        "after_install",
        "PostgreSQL: switched to scram-sha-256, the database step follows",
        check_switch_to_scram,
        lambda spec: spec.name in MD5_STACKS and not spec.user_mode,
    ),
    Check(
        "after_install",
        "ufw: the site answers from another host through the opened port",
        check_through_ufw,
        named(*UFW_STACKS),
    ),
]
