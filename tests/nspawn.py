"""Real systemd for tests: a Debian container booted with systemd-nspawn from the cached testbed tarball.

`scripts/build-systemd-testbed.sh` (as root) builds the tarball and the wheelhouse. A test boots a container with

    with Testbed(project=rendered_project) as testbed:
        testbed.run(["/project/deploy/install.sh", "--no-packages"])
        testbed.systemctl("reload", "myapp")

or takes a fixture made by `make_testbed_fixture()`. Each container boots from the same pristine tree (extracted once
per test process) with --volatile=overlay, so nothing it writes survives it and several can run at once. It has
loopback only (--private-network): pip installs from the wheelhouse, mounted read-only at /wheels. The project is
mounted read-only at /project, and a writable exchange directory (`testbed.exchange` on the host) at /exchange.

There is no systemd-machined on the host, so the container is driven with nsenter into its namespaces, and stopped by
PID. Skips when the testbed cannot run here; fails instead under CI=true.
"""

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.ci import require_tool, skip_or_fail

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build-systemd-testbed.sh"
BUILD_HINT = "run scripts/build-systemd-testbed.sh as root"

WHEELS_MOUNT = "/wheels"
PROJECT_MOUNT = "/project"
EXCHANGE_MOUNT = "/exchange"

# What commands run inside see: nothing from the host's environment (its PATH points at pyenv and the test venv).
# pip has no index in there, only the wheelhouse, as on an offline server.
CONTAINER_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
    "PIP_NO_INDEX": "1",
    "PIP_FIND_LINKS": WHEELS_MOUNT,
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_ROOT_USER_ACTION": "ignore",
}

BASE_PREFIX = "wsgi-deploy-testbed-"
POLL_SECONDS = 0.05


class TestbedError(Exception):
    """The container misbehaved, or a command in it failed or timed out."""

    __test__ = False  # not a test class, whatever its name


def testbed_dir() -> Path:
    return Path(os.environ.get("TESTBED_DIR", REPO_ROOT / "build" / "testbed"))


def wheelhouse_path() -> Path:
    return testbed_dir() / "wheels"


def tarball_path() -> Path:
    """The tarball for the build script's current package list (its name carries the list's hash)."""
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--print-tarball"], capture_output=True, text=True, check=True, timeout=30
    )
    return Path(result.stdout.strip())


def require_testbed() -> Path:
    """The tarball, after checking that a container can boot here; skips (fails under CI=true) otherwise."""
    if os.geteuid() != 0:
        skip_or_fail("systemd-nspawn needs root")
    require_tool("systemd-nspawn", "systemd-container")
    require_tool("nsenter", "util-linux")
    require_tool("zstd")
    tarball = tarball_path()
    if not tarball.is_file():
        skip_or_fail(f"testbed root filesystem {tarball.name} not built: {BUILD_HINT}")
    return tarball


# ---------------------------------------------------------------- the base tree, extracted once per test process

_bases: dict[Path, Path] = {}
extract_seconds: dict[Path, float] = {}


def scratch_root() -> Path:
    """RAM when there is room: writing the tree's 20,000 files to a busy disk takes 15-30 s, to tmpfs 1-3 s."""
    shm = Path("/dev/shm")
    if shm.is_dir() and shutil.disk_usage(shm).free > 4 * 1024**3:
        return shm
    return Path(tempfile.gettempdir())


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_bases(root: Path) -> None:
    """Trees left by test processes that were killed before their atexit cleanup ran (their PID is in the name)."""
    for stale in root.glob(f"{BASE_PREFIX}*"):
        owner = stale.name.removeprefix(BASE_PREFIX).split("-", 1)[0]
        if owner.isdigit() and not pid_alive(int(owner)):
            shutil.rmtree(stale, ignore_errors=True)


def base_rootfs(tarball: Path) -> Path:
    """The tarball extracted into a scratch directory, once per process; removed when the process exits."""
    if tarball in _bases:
        return _bases[tarball]
    root = scratch_root()
    remove_stale_bases(root)
    base = Path(tempfile.mkdtemp(prefix=f"{BASE_PREFIX}{os.getpid()}-", dir=root))
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    started = time.monotonic()
    subprocess.run(
        ["tar", "--numeric-owner", "--use-compress-program=zstd", "-xf", str(tarball), "-C", str(base)],
        check=True,
        timeout=300,
    )
    extract_seconds[tarball] = time.monotonic() - started
    _bases[tarball] = base
    return base


# ---------------------------------------------------------------- cgroups


def cgroup_roots() -> list[Path]:
    """The hierarchies systemd inside uses: the unified one alone, or (hybrid host) name=systemd and unified."""
    top = Path("/sys/fs/cgroup")
    if (top / "cgroup.controllers").exists():
        return [top]
    return [top / name for name in ("systemd", "unified") if (top / name).is_dir()]


def cgroup_pids(cgroup: Path) -> set[int]:
    pids: set[int] = set()
    for procs in cgroup.rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            pids.update(int(line) for line in procs.read_text().split())
    return pids


def remove_cgroup(cgroup: Path) -> None:
    """rmdir bottom-up: a cgroup directory goes only once its children are gone and no process is in it."""
    if not cgroup.is_dir():
        return
    for directory in sorted((path for path in cgroup.rglob("*") if path.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            directory.rmdir()
    with contextlib.suppress(OSError):
        cgroup.rmdir()


# ---------------------------------------------------------------- the container


@dataclass
class HttpResponse:
    status: int  # 0: no HTTP response at all (refused, timed out); see `error`
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names; a repeated header keeps its last value
    header_lines: list[tuple[str, str]] = field(default_factory=list)  # every header line, in order (lower-case names)
    body: bytes = b""
    error: str = ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def parse_curl_include(output: bytes) -> HttpResponse:
    """Split `curl -i` output: skip interim 1xx responses, then the status line, headers and body."""
    while True:
        head, _, rest = output.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        if 100 <= status < 200 and rest.startswith(b"HTTP/"):
            output = rest
            continue
        header_lines = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            header_lines.append((name.strip().lower(), value.strip()))
        return HttpResponse(status=status, headers=dict(header_lines), body=rest, header_lines=header_lines)


class Testbed:
    """One booted container. Use as a context manager: it boots on entry and is stopped, by PID, on exit."""

    __test__ = False  # not a test class, whatever its name

    def __init__(
        self,
        *,
        project: Path | None = None,
        wheelhouse: Path | None = None,
        exchange: Path | None = None,
        use_wheelhouse: bool = True,
        boot_timeout: float = 60,
        stop_timeout: float = 30,
        nspawn_args: Sequence[str] = (),
    ):
        self.name = f"testbed-{secrets.token_hex(4)}"
        self.project = project
        self.wheelhouse = (wheelhouse or wheelhouse_path()) if use_wheelhouse else None
        self.exchange = exchange
        self.boot_timeout = boot_timeout
        self.stop_timeout = stop_timeout
        self.nspawn_args = list(nspawn_args)
        self.timings: dict[str, float] = {}
        self.nspawn: subprocess.Popen | None = None
        self.leader_pid: int | None = None  # the container's PID 1 (systemd), as the host sees it
        self.pid_namespace: int | None = None  # inode of its PID namespace: finds any process left in it
        self.cgroups: list[Path] = []
        self.workdir: Path | None = None
        self.console_log: Path | None = None
        self._started = 0.0
        self._nsenter = ""

    def __enter__(self) -> "Testbed":
        try:
            self.start()
            self.wait_until_booted()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # ------------------------------------------------------------ boot

    def start(self) -> None:
        tarball = require_testbed()
        for path in (self.project, self.wheelhouse):
            if path is not None and not path.is_dir():
                skip_or_fail(f"{path} is not a directory" + (f": {BUILD_HINT}" if path == self.wheelhouse else ""))
        self._nsenter = require_tool("nsenter", "util-linux")
        base = base_rootfs(tarball)
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
        self.console_log = self.workdir / "console.log"
        if self.exchange is None:
            self.exchange = self.workdir / "exchange"
            self.exchange.mkdir()

        binds = [f"--bind={self.exchange}:{EXCHANGE_MOUNT}"]
        if self.wheelhouse is not None:
            binds.append(f"--bind-ro={self.wheelhouse}:{WHEELS_MOUNT}")
        if self.project is not None:
            binds.append(f"--bind-ro={self.project}:{PROJECT_MOUNT}")
        if any(bind.count(":") > 1 for bind in binds):
            raise ValueError(f"a ':' in a mounted path would be read as a mount option: {binds}")
        command = [
            require_tool("systemd-nspawn", "systemd-container"),
            f"--directory={base}",
            "--boot",
            f"--machine={self.name}",
            # No machined here; --keep-unit keeps nspawn away from the host's bus ("Failed to open system bus").
            "--register=no",
            "--keep-unit",
            "--private-network",
            "--volatile=overlay",
            "--console=read-only",
            "--link-journal=no",
            *binds,
            *self.nspawn_args,
        ]
        # With --keep-unit the container's systemd takes over nspawn's own cgroup: give each container its own, or
        # parallel ones share (and fight over) the same payload cgroup.
        self.cgroups = [root / f"nspawn-{self.name}" for root in cgroup_roots()]
        for cgroup in self.cgroups:
            cgroup.mkdir()
        move_then_exec = 'for procs in $CGROUP_PROCS; do echo $$ > "$procs"; done; exec "$@"'
        environment = {**os.environ, "CGROUP_PROCS": " ".join(str(c / "cgroup.procs") for c in self.cgroups)}
        started = time.monotonic()
        with self.console_log.open("wb") as console:
            self.nspawn = subprocess.Popen(
                ["sh", "-c", move_then_exec, "sh", *command],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                env=environment,
                start_new_session=True,  # its own process group, so a forced stop reaches everything it forked
            )
        self.leader_pid = self._wait_for_leader(started)
        self.pid_namespace = os.stat(f"/proc/{self.leader_pid}/ns/pid").st_ino
        self.timings["pid1"] = time.monotonic() - started
        self._started = started

    def _wait_for_leader(self, started: float) -> int:
        """nspawn's child in a new PID namespace, once it has exec'd systemd (before that, its mounts may not be
        set up for nsenter)."""
        own_namespace = os.stat("/proc/self/ns/pid").st_ino
        children_file = Path(f"/proc/{self.nspawn.pid}/task/{self.nspawn.pid}/children")
        while time.monotonic() - started < self.boot_timeout:
            if self.nspawn.poll() is not None:
                raise TestbedError(f"systemd-nspawn exited with {self.nspawn.returncode}\n{self.console_tail()}")
            with contextlib.suppress(OSError, ValueError):
                for child in map(int, children_file.read_text().split()):
                    in_container = os.stat(f"/proc/{child}/ns/pid").st_ino != own_namespace
                    if in_container and Path(f"/proc/{child}/comm").read_text().strip() == "systemd":
                        return child
            time.sleep(POLL_SECONDS)
        raise TestbedError(f"no systemd in the container after {self.boot_timeout} s\n{self.console_tail()}")

    def wait_until_booted(self, timeout: float | None = None) -> str:
        """Wait until `systemctl is-system-running` says running or degraded; returns which."""
        timeout = self.boot_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = self.run(["systemctl", "is-system-running"], check=False, timeout=10).stdout.strip()
            if state in ("running", "degraded"):
                self.timings.setdefault("running", time.monotonic() - self._started)
                return state
            if state in ("maintenance", "stopping"):
                break
            if self.nspawn.poll() is not None:
                break
            time.sleep(POLL_SECONDS)
        raise TestbedError(f"system state {state!r}, not running, after {timeout} s\n{self.console_tail()}")

    def console_tail(self, lines: int = 40) -> str:
        if self.console_log is None or not self.console_log.exists():
            return ""
        text = self.console_log.read_text(errors="replace")
        return "console:\n" + "\n".join(text.splitlines()[-lines:])

    # ------------------------------------------------------------ commands inside

    def run(
        self,
        command: str | Sequence[str],
        *,
        check: bool = True,
        timeout: float = 120,
        input: str | bytes | None = None,
        env: dict[str, str] | None = None,
        text: bool = True,
    ) -> subprocess.CompletedProcess:
        """Run `command` (a list, or a string for sh -c) as root inside the container; returns stdout, stderr and
        returncode. check=True raises TestbedError on a non-zero exit; the command is killed after `timeout` s."""
        if self.leader_pid is None:
            raise TestbedError("the container is not running")
        argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
        nsenter = [self._nsenter, f"--target={self.leader_pid}", "--all", "--"]
        process = subprocess.Popen(
            [*nsenter, *argv],
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**CONTAINER_ENV, **(env or {})},
            text=text,
            start_new_session=True,  # nsenter forks into the PID namespace: kill the whole group on a timeout
        )
        try:
            stdout, stderr = process.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            raise TestbedError(f"{argv} timed out after {timeout} s\nstdout: {stdout}\nstderr: {stderr}") from None
        result = subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
        if check and result.returncode != 0:
            raise TestbedError(f"{argv} exited with {result.returncode}\nstdout: {stdout}\nstderr: {stderr}")
        return result

    def systemctl(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        return self.run(["systemctl", "--no-pager", *args], check=check, timeout=timeout)

    def journal(self, unit: str | None = None, lines: int = 100) -> str:
        """The last `lines` of the journal (of `unit`), for assertion messages."""
        selector = ["--unit", unit] if unit else []
        return self.run(["journalctl", "--no-pager", "--lines", str(lines), *selector], check=False).stdout

    def write_file(self, path: str, content: str, mode: str = "0644") -> None:
        """Write `content` to `path` inside the container (parents created)."""
        script = 'mkdir -p "$(dirname "$1")" && cat >"$1" && chmod "$2" "$1"'
        self.run(["sh", "-c", script, "sh", path, mode], input=content)

    def curl(self, url: str, *args: str, timeout: float = 10, check: bool = True) -> HttpResponse:
        """An HTTP request from inside the container (so to its loopback). Extra curl options go in `args`.
        Without an HTTP response, raises TestbedError, or with check=False returns status 0 and curl's error."""
        result = self.run(
            ["curl", "--silent", "--show-error", "--include", "--max-time", str(timeout), *args, url],
            check=False,
            timeout=timeout + 10,
            text=False,
        )
        if result.returncode != 0 or not result.stdout.startswith(b"HTTP/"):
            error = result.stderr.decode(errors="replace").strip()
            if check:
                raise TestbedError(f"curl {url}: exit {result.returncode}: {error}")
            return HttpResponse(status=0, error=error)
        return parse_curl_include(result.stdout)

    # ------------------------------------------------------------ stop

    def leftover_pids(self) -> set[int]:
        """Host PIDs of processes still in the container's PID namespace or cgroups."""
        pids = set()
        if self.pid_namespace is not None:
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    with contextlib.suppress(OSError):
                        if os.stat(entry / "ns" / "pid").st_ino == self.pid_namespace:
                            pids.add(int(entry.name))
        for cgroup in self.cgroups:
            pids |= cgroup_pids(cgroup)
        return pids

    def stop(self) -> None:
        """Orderly poweroff (nspawn turns SIGTERM into SIGRTMIN+3 for systemd), then SIGKILL whatever is left."""
        started = time.monotonic()
        try:
            if self.nspawn is not None and self.nspawn.poll() is None:
                self.nspawn.send_signal(signal.SIGTERM)
                try:
                    self.nspawn.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    # Killing the namespace's PID 1 kills every process in it.
                    if self.leader_pid is not None:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(self.leader_pid, signal.SIGKILL)
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.nspawn.pid, signal.SIGKILL)
                    self.nspawn.wait(timeout=10)
            deadline = time.monotonic() + 10
            while (leftover := self.leftover_pids()) and time.monotonic() < deadline:
                for pid in leftover:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(POLL_SECONDS)
            if self.nspawn is not None:
                self.timings.setdefault("stop", time.monotonic() - started)
        finally:
            for cgroup in self.cgroups:
                remove_cgroup(cgroup)
            if self.workdir is not None:
                shutil.rmtree(self.workdir, ignore_errors=True)
                self.workdir = None
            self.leader_pid = None


def make_testbed_fixture(
    scope: str = "function", project: Path | None = None, project_fixture: str | None = None, **options
) -> object:
    """A pytest fixture that boots a Testbed (one per test, or per `scope`) and stops it even when a test fails.

    Assign it at module level; tests take it by that name. The project directory mounted at /project is `project`,
    or the value of the fixture named `project_fixture` (e.g. a rendered project); `options` go to Testbed.
    """

    @pytest.fixture(scope=scope)
    def testbed(request) -> Iterator[Testbed]:
        mounted = request.getfixturevalue(project_fixture) if project_fixture else project
        with Testbed(project=mounted, **options) as booted:
            yield booted

    return testbed
