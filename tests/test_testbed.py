"""The systemd testbed itself: a container boots real systemd, runs a hardened unit, installs from the wheelhouse,
and leaves nothing behind. Prints its timings (pytest -rP shows them)."""

import os
import time

import pytest

from tests.nspawn import WHEELS_MOUNT, Testbed, extract_seconds, make_testbed_fixture, tarball_path, wheelhouse_path

pytestmark = [pytest.mark.slow, pytest.mark.systemd]

testbed = make_testbed_fixture(scope="module")

PORT = 8123
# A static page server with the hardening the generated units use most; DynamicUser= implies a throwaway uid,
# NoNewPrivileges= and a read-only view of most of the system.
HELLO_UNIT = f"""\
[Unit]
Description=Testbed smoke test: a static page on loopback

[Service]
ExecStart=/usr/bin/python3 -m http.server {PORT} --bind 127.0.0.1 --directory /srv/hello
DynamicUser=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
NoNewPrivileges=yes
"""


def wait_for_page(testbed: Testbed, url: str, started: float, timeout: float = 15) -> float:
    """Seconds from `started` until `url` answers 200 from inside the container."""
    while time.monotonic() - started < timeout:
        if testbed.curl(url, timeout=2, check=False).status == 200:
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"{url} not answering after {timeout} s\n{testbed.journal('hello.service')}")


def test_pid1_is_systemd_and_the_system_runs(testbed):
    assert testbed.run(["cat", "/proc/1/comm"]).stdout.strip() == "systemd"
    state = testbed.wait_until_booted()
    assert state in ("running", "degraded"), testbed.systemctl("--failed", check=False).stdout
    timings = testbed.timings
    print(f"extract {extract_seconds[tarball_path()]:.2f} s; PID 1 is systemd after {timings['pid1']:.2f} s;", end=" ")
    print(f"{state} after {timings['running']:.2f} s")
    # Loopback only.
    links = testbed.run(["ls", "/sys/class/net"]).stdout.split()
    assert links == ["lo"]


def test_hardened_unit_serves_on_loopback(testbed):
    testbed.write_file("/srv/hello/index.html", "hello from the testbed\n")
    testbed.write_file("/etc/systemd/system/hello.service", HELLO_UNIT)
    testbed.systemctl("daemon-reload")

    started = time.monotonic()
    testbed.systemctl("start", "hello.service")
    first_200 = wait_for_page(testbed, f"http://127.0.0.1:{PORT}/", started)
    response = testbed.curl(f"http://localhost:{PORT}/index.html")
    assert response.status == 200
    assert response.text == "hello from the testbed\n"
    assert response.headers["content-type"].startswith("text/html")

    # The hardening is in force on the running process, not just written in the file.
    pid = testbed.systemctl("show", "--property=MainPID", "--value", "hello.service").stdout.strip()
    status = testbed.run(["cat", f"/proc/{pid}/status"]).stdout
    assert "NoNewPrivs:\t1" in status
    uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
    assert uid != "0", "DynamicUser= should run it as a throwaway user"
    mounts = testbed.run(["cat", f"/proc/{pid}/mountinfo"]).stdout.splitlines()
    root_options = next(line.split()[5] for line in mounts if line.split()[4] == "/")
    assert root_options.split(",")[0] == "ro", "ProtectSystem=strict should make / read-only"
    assert any(line.split()[4] == "/tmp" for line in mounts), "PrivateTmp= should mount its own /tmp"

    started = time.monotonic()
    testbed.systemctl("stop", "hello.service")
    stopped = time.monotonic() - started
    assert testbed.systemctl("is-active", "hello.service", check=False).stdout.strip() == "inactive"
    assert testbed.curl(f"http://127.0.0.1:{PORT}/", check=False).status == 0
    print(f"unit start to first 200 {first_200:.2f} s; unit stop {stopped:.2f} s")


def test_pip_installs_from_the_wheelhouse(testbed):
    wheel = "hatchling"  # the generated project's build backend: scripts/build-systemd-testbed.sh always adds it
    assert any(wheelhouse_path().glob(f"{wheel}-*.whl")), f"no {wheel} wheel in {wheelhouse_path()}"
    testbed.run(["python3", "-m", "venv", "/opt/venv"])
    install = testbed.run(
        ["/opt/venv/bin/pip", "install", "--no-index", "--find-links", WHEELS_MOUNT, wheel], timeout=180
    )
    assert f"{WHEELS_MOUNT}/{wheel}-" in install.stdout, install.stdout
    testbed.run(["/opt/venv/bin/python", "-c", f"import {wheel}"])
    # Read-only: nothing a test does inside can change the host's wheelhouse.
    assert testbed.run(["touch", f"{WHEELS_MOUNT}/x"], check=False).returncode != 0


def test_stopping_leaves_nothing_behind(tmp_path):
    with Testbed(exchange=tmp_path) as booted:
        booted.run(["sh", "-c", "echo written inside > /exchange/note; echo scratch > /etc/testbed-scratch"])
        # A process outside any unit, as a test's stray command could leave.
        booted.run(["sh", "-c", "setsid sleep 600 >/dev/null 2>&1 &"])
        nspawn_pid, leader_pid, cgroups = booted.nspawn.pid, booted.leader_pid, booted.cgroups
        assert booted.leftover_pids()
    print(f"container stop {booted.timings['stop']:.2f} s")
    assert booted.nspawn.returncode == 0, "nspawn should exit cleanly after an orderly poweroff"
    assert not booted.leftover_pids()
    assert not any(cgroup.exists() for cgroup in cgroups)
    for pid in (nspawn_pid, leader_pid):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert (tmp_path / "note").read_text() == "written inside\n"
    # The overlay kept the base pristine: a new container does not see the last one's writes.
    with Testbed() as fresh:
        assert fresh.run(["test", "-e", "/etc/testbed-scratch"], check=False).returncode == 1
