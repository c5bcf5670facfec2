"""Real services on loopback for tests: a scratch PostgreSQL cluster, started and stopped by PID."""

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.ci import skip_or_fail


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_bin() -> Path | None:
    """Directory of Debian's PostgreSQL server binaries (initdb, pg_ctl are not on PATH there)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def as_postgres_user(command: list[str]) -> list[str]:
    """initdb refuses to run as root: drop to the 'postgres' account the Debian package creates."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """A throwaway cluster on 127.0.0.1 with trust auth; yields a superuser URL. Stopped and removed afterwards.

    Its directory is made directly under the system temp dir: pytest's own (mode 0700, owned by root) is out of reach
    for the 'postgres' account.
    """
    bin_dir = postgres_bin()
    if bin_dir is None:
        skip_or_fail(
            "PostgreSQL server not installed (Debian package postgresql): run scripts/install-system-packages.sh"
        )
    workdir = Path(tempfile.mkdtemp(prefix="wsgi-deploy-postgres-"))
    data, sockets = workdir / "data", workdir / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()

    def run(*command: str) -> None:
        result = subprocess.run(as_postgres_user(list(command)), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {result.stdout}{result.stderr}")

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-N", "-E", "UTF8")
    options = f"-k {sockets} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(workdir / "log"), "-w", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(workdir, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """A fresh database on the cluster; returns its URL."""
    psql = shutil.which("psql")
    subprocess.run([psql, server_url, "-v", "ON_ERROR_STOP=1", "-c", f'CREATE DATABASE "{name}"'], check=True,
                   capture_output=True)  # fmt: skip
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway Redis on 127.0.0.1 (no persistence), the broker of the generated projects' Celery tests; yields
    its URL. Stopped by its PID afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        skip_or_fail("Redis not installed (Debian package redis-server): run scripts/install-system-packages.sh")
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)
