"""Celery workers on a second server (README, "Workers on a second server"), on the Dash celery stack of
test_stacks.py (WORKERHOST_STACKS), after tests/e2e/scenario_celery.py's checks.

A second container boots from the same image and project, and a veth pair the test creates joins the two network
namespaces (each container otherwise has loopback only): a private link between the web server and the worker server,
nothing on the host's side to clean up (the pair goes with the containers). Then, as the README says:

- the web server's administrator lets Redis listen on the private address with a password (two lines at the end of
  redis.conf), and the web server's .env names the broker with that password (the web app and its workers
  restarted, the README's systemctl command);
- on the worker server, `/srv/<slug>/.env` is written before the first install.sh run, naming that broker and
  `CELERY_BEAT=no`: install.sh installs the worker, no beat and no local Redis;
- with the web server's own worker stopped, a job started over HTTP through the web server's proxy completes: its
  status endpoint there says SUCCESS, the worker server's journal has the job's task id, the PNG is on the worker
  server's disk (and not on the web server's, whose proxy answers 404 for it: media stay where the worker made them);
- beat runs on the web server only, and its periodic task is run by the worker server's worker.
"""

from __future__ import annotations

import secrets
import subprocess
import time

from tests.ci import require_tool
from tests.e2e import scenario_celery
from tests.e2e.checks import Check, named
from tests.e2e.stack import CHECKOUT, INSTALL_TIMEOUT, SLUG, Stack
from tests.nspawn import Testbed

WORKERHOST_STACKS = {"dash-uwsgi-nginx-systemd-sqlite"}
# The private link: its name in both containers, the web server's end and the worker server's. Each end lives in its
# container's own network namespace, so parallel tests cannot collide.
LINK = "private0"
WEB_ADDRESS = "10.78.0.1"
WORKER_ADDRESS = "10.78.0.2"
REDIS_CONF = "/etc/redis/redis.conf"  # Debian's (RHEL 9 too; RHEL 8: /etc/redis.conf)
DATA_DIR = scenario_celery.DATA_DIR
ENV_FILE = f"/srv/{SLUG}/.env"


def link_containers(web: Testbed, worker: Testbed) -> None:
    """A veth pair from the web container's network namespace to the worker container's, addressed and up."""
    ip = require_tool("ip", "iproute2")
    nsenter = require_tool("nsenter", "util-linux")

    def in_namespace(testbed: Testbed, *arguments: str) -> None:
        subprocess.run([nsenter, f"--target={testbed.leader_pid}", "--net", ip, *arguments], check=True, timeout=30)

    in_namespace(web, "link", "add", LINK, "type", "veth", "peer", "name", LINK, "netns", str(worker.leader_pid))
    for testbed, address in ((web, WEB_ADDRESS), (worker, WORKER_ADDRESS)):
        in_namespace(testbed, "address", "add", f"{address}/24", "dev", LINK)
        in_namespace(testbed, "link", "set", LINK, "up")


def replace_setting(testbed: Testbed, file: str, name: str, value: str) -> None:
    """NAME=value in a .env file: any earlier line for it removed, the new one at the end (value on stdin, never in
    a command line)."""
    script = 'sed -i "/^$2=/d" "$1" && { printf "%s=" "$2"; cat; echo; } >>"$1"'
    testbed.run(["bash", "-c", script, "bash", file, name], input=value)


def open_redis(stack: Stack, password: str) -> str:
    """The web server's administrator's part: Redis on the private address too, with a password (two lines at the end
    of redis.conf: later lines win). Returns the URL the worker server uses."""
    settings = f"\n# A worker on a second server (README)\nbind 127.0.0.1 -::1 {WEB_ADDRESS}\nrequirepass {password}\n"
    stack.run(["bash", "-c", f"cat >>{REDIS_CONF}"], input=settings)
    stack.run(["systemctl", "restart", "redis-server"], timeout=60)
    return f"redis://:{password}@{WEB_ADDRESS}:6379/0"


def restart_web_host(stack: Stack, password: str) -> None:
    """The web app sends tasks and reads results through the broker: .env gets the password, and the app and its
    workers restart with it (the README's command for systemd)."""
    replace_setting(stack.testbed, ENV_FILE, "CELERY_BROKER_URL", f"redis://:{password}@127.0.0.1:6379/0")
    stack.run(["systemctl", "restart", SLUG, f"{SLUG}-worker", f"{SLUG}-beat"], timeout=120)
    stack.wait_for_200()
    scenario_celery.wait_for_worker(stack)


def restore_web_host(stack: Stack) -> None:
    """The web server as installed again, for the stack's later checks (install.sh runs again there): the
    distribution's Redis as packaged and stopped, the app and its workers back on the app's own Redis."""
    stack.run(["sed", "-i", "/^# A worker on a second server (README)$/,$d", REDIS_CONF])
    stack.run(["systemctl", "disable", "--now", "redis-server"], timeout=60)
    replace_setting(stack.testbed, ENV_FILE, "CELERY_BROKER_URL", f"redis+socket:///run/{SLUG}/redis.sock")
    stack.run(["systemctl", "restart", SLUG, f"{SLUG}-worker", f"{SLUG}-beat"], timeout=120)
    stack.wait_for_200()
    scenario_celery.wait_for_worker(stack)


def redis_ping(testbed: Testbed, password: str | None) -> str:
    """PING from the worker server to the web server's Redis (the password in the environment, not the argv)."""
    env = {"REDISCLI_AUTH": password} if password else {}
    command = ["redis-cli", "-h", WEB_ADDRESS, "-p", "6379", "--no-auth-warning", "ping"]
    result = testbed.run(command, env=env, check=False, timeout=30)
    return (result.stdout + result.stderr).strip()


def install_worker_host(worker: Testbed, broker_url: str) -> str:
    """As the README says: .env before the first install.sh run, then install.sh as on the web server."""
    worker.run(["cp", "-a", "/project", CHECKOUT])
    worker.run(["install", "-d", "-m", "0755", f"/srv/{SLUG}"])
    settings = f"CELERY_BROKER_URL={broker_url}\nCELERY_BEAT=no\n"
    worker.run(["bash", "-c", f"umask 077 && cat >{ENV_FILE}"], input=settings)
    result = worker.run([f"{CHECKOUT}/deploy/install.sh", "--no-packages"], timeout=INSTALL_TIMEOUT, check=False)
    assert result.returncode == 0, f"install.sh on the worker server:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
    assert "CELERY_BEAT=no: no beat on this server" in result.stdout, result.stdout[-3000:]
    assert "CELERY_BROKER_URL names a broker elsewhere" in result.stdout, result.stdout[-3000:]
    return result.stdout


def unit_state(testbed: Testbed, unit: str) -> str:
    return testbed.run(["systemctl", "is-active", unit], check=False).stdout.strip()


def processes(testbed: Testbed, pattern: str) -> str:
    return testbed.run(["pgrep", "-a", "-f", pattern], check=False).stdout.strip()


def wait_for_file_lines(testbed: Testbed, path: str, at_least: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        count = len(testbed.run(["cat", path], check=False).stdout.splitlines())
        if count >= at_least:
            break
        time.sleep(0.5)
    return count


def check_worker_host(stack: Stack) -> None:
    password = secrets.token_hex(16)
    phases: dict[str, float] = {}
    stack.report.metrics["worker_host_seconds"] = phases
    started = time.monotonic()

    def phase(name: str) -> None:
        nonlocal started
        phases[name] = round(time.monotonic() - started, 2)
        started = time.monotonic()

    with Testbed(project=stack.project, boot_timeout=60, stop_timeout=60) as worker:
        phase("boot")
        link_containers(stack.testbed, worker)
        broker_url = open_redis(stack, password)
        # Reachable over the private link, and only with the password.
        assert "NOAUTH" in redis_ping(worker, None), "the web server's Redis answers without a password"
        assert redis_ping(worker, password) == "PONG", "the worker server cannot reach the web server's Redis"
        phase("link and redis")

        restart_web_host(stack, password)
        phase("web server restarted")
        install_worker_host(worker, broker_url)
        phase("worker server installed")
        assert unit_state(worker, f"{SLUG}-worker") == "active", worker.journal(f"{SLUG}-worker", 40)
        assert unit_state(worker, "redis-server") != "active", "install.sh started a Redis on the worker server"
        assert unit_state(worker, f"{SLUG}-redis") != "active", "the app's Redis runs on the worker server"
        assert unit_state(worker, f"{SLUG}-beat") != "active", "a beat runs on the worker server"
        assert not processes(worker, r"celery .* beat"), processes(worker, "celery")
        assert unit_state(stack.testbed, f"{SLUG}-beat") == "active", "no beat on the web server"

        # Only the worker server's worker is left to take the job.
        stack.run(["systemctl", "stop", f"{SLUG}-worker"], timeout=120)
        try:
            job = scenario_celery.start_job(stack, scenario_celery.SMALL)
            status = scenario_celery.wait_for(stack, job, lambda status: status["state"] in ("SUCCESS", "FAILURE"))
            assert status["state"] == "SUCCESS" and status["done"] == status["total"], status
            worker.run(["journalctl", "--sync"], check=False)
            journal = worker.run(["journalctl", "--no-pager", "-o", "cat", "-u", f"{SLUG}-worker"]).stdout
            assert f"[{job['id']}]" in journal, f"not in the worker server's journal:\n{journal[-2000:]}"
            png = f"{DATA_DIR}/media/{status['file']}"
            header = worker.run(["head", "-c", "8", png], text=False, check=False).stdout
            assert header == b"\x89PNG\r\n\x1a\n", f"no PNG on the worker server's disk: {header!r}"
            on_web = stack.run(["test", "-e", png], check=False).returncode
            assert on_web != 0, "the PNG is on the web server's disk too: which worker made it?"
            # Media stay where the worker made them (README): the web server's proxy has no such file.
            assert stack.get(status["url"]).status == 404, status["url"]
            phase("job")

            # Beat on the web server sends its periodic task (every PRUNE_INTERVAL s, scenario_celery.configure);
            # only the worker server's worker is running to run it.
            runs = wait_for_file_lines(worker, f"{DATA_DIR}/prune.log", 1, timeout=5 * scenario_celery.PRUNE_INTERVAL)
            assert runs >= 1, "the web server's beat sent no periodic task the worker server ran"
            phase("beat")
        finally:
            stack.run(["systemctl", "start", f"{SLUG}-worker"], timeout=120)
        scenario_celery.wait_for_worker(stack)
        started = time.monotonic()
    phase("stop")
    restore_web_host(stack)
    phase("web server restored")


CHECKS = [
    Check(
        "after_redeploy",
        "celery: a worker on a second server does the web server's jobs; beat on the first",
        check_worker_host,
        named(*WORKERHOST_STACKS),
    )
]
