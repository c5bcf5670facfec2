"""websockets=channels end to end, on three stacks of test_stacks.py generated with it (WEBSOCKETS_STACKS there):
Django with gunicorn behind nginx under systemd as root, joined into the administrator's server block (install.sh
--join: the app's lines inside someone else's block, where no `map` can be added), Django with gunicorn behind
Apache under the account's own supervisord (install.sh --user: Apache's two ProxyPass lines to unix sockets, the
app's and Daphne's, each reach their own server), and Django with uWSGI behind nginx under the account's own systemd
(install.sh --user: Daphne a unit of the account's manager; tests/e2e/scenario_user.py checks its hardening).

- Daphne runs under the stack's supervisor (unit or program active), on its socket in RUN_DIR, mode 0660;
- a websocket through the proxy to ws://localhost<prefix>/ws/echo/ (the handshake's 101 and accept key) gets each
  message back: text, non-ASCII text, every byte value, a 60,000-byte text; then a clean close (1000);
- a page of another site (a foreign Origin) is refused (403), and so is a client without an Origin;
- a plain request for the path (no upgrade) gets Django's 404 from Daphne, not a proxy error;
- after the stack's redeploy (install.sh again, in its reload-under-load check), Daphne is a new process (restarted
  after the switch) and the echo works.

The client is tests/e2e/ws_client.py, standard library only, run inside the container (loopback only).
"""

import json
import time
from pathlib import Path

from tests.e2e.checks import Check
from tests.e2e.stack import EXCHANGE_MOUNT, HOST, PREFIX, SLUG, USER_CONF_DIR

CLIENT = "ws_client.py"
DAPHNE = f"{SLUG}-daphne"
SOCKET = f"/run/{SLUG}/daphne.sock"
ORIGIN = f"http://{HOST}"


def control(stack, *arguments: str) -> list[str]:
    """supervisorctl for Daphne's program (the account's own with --user)."""
    if stack.user_mode:
        supervisorctl = f"{stack.code_dir}/.venv/bin/supervisorctl"
        return stack.as_user(supervisorctl, "-c", f"{USER_CONF_DIR}/supervisord.conf", *arguments)
    return ["supervisorctl", *arguments]


def daphne_pid(stack) -> int:
    if stack.supervisor == "systemd":
        out = stack.run(stack.systemctl("show", "--property=MainPID", "--value", DAPHNE)).stdout
    else:
        out = stack.run(control(stack, "pid", DAPHNE), check=False).stdout
    return int(out.strip()) if out.strip().isdigit() else 0


def connect(stack, origin: str = ORIGIN) -> dict:
    (stack.testbed.exchange / CLIENT).write_text(Path(__file__).with_name(CLIENT).read_text())
    url = f"{stack.base}{PREFIX}/ws/echo/"
    result = stack.run(["/usr/bin/python3", f"{EXCHANGE_MOUNT}/{CLIENT}", url, HOST, origin], timeout=60, check=False)
    assert result.returncode == 0, f"ws_client.py failed: {result.stdout[-1000:]}{result.stderr[-2000:]}"
    return json.loads(result.stdout)


def wait_for_socket(stack, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while stack.run(["test", "-S", SOCKET], check=False).returncode != 0:
        assert time.monotonic() < deadline, f"no {SOCKET} {timeout} s after the start\n{stack.app_log()[-2000:]}"
        time.sleep(0.2)


def assert_echo(stack, timeout: float = 0) -> None:
    """The echo works (within `timeout` seconds: Daphne may still be starting after a restart)."""
    deadline = time.monotonic() + timeout
    result = connect(stack)
    while result["status"] != 101 and time.monotonic() < deadline:
        time.sleep(0.5)
        result = connect(stack)
    assert result["status"] == 101 and result["accept_ok"], f"handshake through the {stack.proxy} proxy: {result}"
    assert result["echoed"] == [True] * result["sent"], f"messages not echoed: {result}"
    assert result["close"] == 1000, f"close: {result}"


def check_daphne_running(stack) -> None:
    if stack.supervisor == "systemd":
        state = stack.run(stack.systemctl("is-active", DAPHNE), check=False).stdout.strip()
        assert state == "active", f"{DAPHNE}.service: {state}"
    else:
        status = stack.run(control(stack, "status", DAPHNE), check=False).stdout
        assert "RUNNING" in status, f"program {DAPHNE}: {status}"
    pid = daphne_pid(stack)
    assert pid > 0, "no Daphne process"
    stack.report.metrics["daphne_pid_before_redeploy"] = pid
    wait_for_socket(stack)
    mode = stack.run(["stat", "-c", "%a %G", SOCKET]).stdout.split()
    assert mode == ["660", SLUG], f"{SOCKET}: mode and group {mode}"


def check_echo_and_origin(stack) -> None:
    assert_echo(stack)
    for origin in ("http://elsewhere.example.org", "-"):
        refused = connect(stack, origin)
        assert refused["status"] == 403, f"Origin {origin}: {refused}"
    plain = stack.get(f"{PREFIX}/ws/echo/")
    assert plain.status == 404, f"a plain request for the websocket path: {plain.status} {plain.text[:300]}"


def check_restarted_by_redeploy(stack) -> None:
    before = stack.report.metrics.get("daphne_pid_before_redeploy")
    assert before, "no Daphne process recorded before the redeploy"
    after = daphne_pid(stack)
    assert after and after != before, f"Daphne not restarted by the redeploy: pid {before} -> {after}"
    started = time.monotonic()
    wait_for_socket(stack)
    assert_echo(stack, timeout=30)
    stack.report.metrics["websockets_echo_after_redeploy_seconds"] = round(time.monotonic() - started, 2)


def channels(spec) -> bool:
    return spec.channels


CHECKS = [
    Check(
        "after_install", "websockets: Daphne runs under the supervisor, its socket 0660", check_daphne_running, channels
    ),
    Check(
        "after_install",
        "websockets: echo through the proxy under the prefix; foreign origin refused",
        check_echo_and_origin,
        channels,
    ),
    # After the stack's reload under load, whose install.sh switched to a new release.
    Check(
        "after_redeploy",
        "websockets: Daphne restarted by the redeploy, echo again",
        check_restarted_by_redeploy,
        channels,
    ),
]
