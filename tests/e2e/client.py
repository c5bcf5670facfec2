"""HTTP client the end-to-end tests run inside the stack's container (standard library only: the container's
/usr/bin/python3 runs it). Every loop is bounded in time and in requests; results are printed as one JSON object.

    client.py load URL --clients 16 --seconds 10 --max-requests 100000
    client.py watch URL --kill PID --timeout 30         kill -9 PID, then poll until URL answers 200
    client.py first200 URL --timeout 60 -- COMMAND...   start COMMAND, poll until URL answers 200, wait for COMMAND

URL is http://127.0.0.1:PORT/path; --host sets the Host header the proxy's site answers to.
"""

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

MAINTENANCE_MARK = b"is back in a moment"
POLL_SECONDS = 0.01
REQUEST_TIMEOUT = 10
# Under load a request may wait for the new workers to import the app: give it the servers' own request timeout.
LOAD_REQUEST_TIMEOUT = 30


def split(url: str) -> tuple[str, int, str]:
    parts = urllib.parse.urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, parts.port or 80, path or "/"


def one_request(url: str, host: str, timeout: float = REQUEST_TIMEOUT) -> tuple[int, bytes, str]:
    """A request on a fresh connection: (status, body, error); status 0 when there was no HTTP response."""
    address, port, path = split(url)
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": host, "Connection": "close"})
        response = connection.getresponse()
        return response.status, response.read(), ""
    except (OSError, http.client.HTTPException) as error:
        return 0, b"", f"{type(error).__name__}: {error}"
    finally:
        connection.close()


def describe(status: int, body: bytes, error: str) -> str:
    if status == 0:
        return error.split(":")[0]
    return f"{status} maintenance" if MAINTENANCE_MARK in body else str(status)


# ---------------------------------------------------------------- load


class Worker(threading.Thread):
    """One client: a keep-alive connection, GET after GET until the deadline or the request budget runs out.

    A request that meets a connection the server closed while it was idle (no byte of a response came back) is
    sent once more on a new connection, as browsers and HTTP libraries do for idempotent requests (RFC 9112
    section 9.3.1); those are counted apart, as stale_retries. Anything else that is not a 200 is a failure.
    """

    def __init__(self, url: str, host: str, deadline: float, budget: "Budget", started: float, stop: threading.Event):
        super().__init__(daemon=True)
        self.address, self.port, self.path = split(url)
        self.host, self.deadline, self.budget, self.started, self.stop = host, deadline, budget, started, stop
        self.ok = 0
        self.stale_retries = 0
        self.failures: list[dict] = []
        self.max_latency = 0.0
        self.bodies: dict[str, int] = {}
        self.connection: http.client.HTTPConnection | None = None
        self.used = False  # has the current connection carried a complete response?

    def connect(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.connection = http.client.HTTPConnection(self.address, self.port, timeout=LOAD_REQUEST_TIMEOUT)
        self.used = False

    def attempt(self) -> tuple[int, bytes]:
        self.connection.request("GET", self.path, headers={"Host": self.host})
        response = self.connection.getresponse()
        body = response.read()
        if response.will_close:
            self.connect()
        else:
            self.used = True
        return response.status, body

    def run(self) -> None:
        self.connect()
        while not self.stop.is_set() and time.monotonic() < self.deadline and self.budget.take():
            sent = time.monotonic()
            try:
                try:
                    status, body = self.attempt()
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    if not self.used:
                        raise
                    self.stale_retries += 1
                    self.connect()
                    status, body = self.attempt()
            except (OSError, http.client.HTTPException) as error:
                self.fail(sent, f"{type(error).__name__}: {error}")
                self.connect()
                continue
            self.max_latency = max(self.max_latency, time.monotonic() - sent)
            if status == 200:
                self.ok += 1
                marker = body[-200:].decode("utf-8", "replace")
                self.bodies[marker] = self.bodies.get(marker, 0) + 1
            else:
                self.fail(sent, describe(status, body, ""))

    def fail(self, sent: float, reason: str) -> None:
        self.failures.append({"at": round(sent - self.started, 3), "reason": reason})


class Budget:
    def __init__(self, requests: int):
        self.left = requests
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            self.left -= 1
            return self.left >= 0


def load(args) -> dict:
    started = time.monotonic()
    deadline = started + args.seconds
    budget = Budget(args.max_requests)
    stop = threading.Event()
    workers = [Worker(args.url, args.host, deadline, budget, started, stop) for _ in range(args.clients)]
    for worker in workers:
        worker.start()
    if args.ready_file:
        with open(args.ready_file, "w") as ready:
            ready.write("started\n")
    # Until the deadline, or until the stop file appears (the test's signal that the reload is over).
    while time.monotonic() < deadline and any(worker.is_alive() for worker in workers):
        if args.stop_file and os.path.exists(args.stop_file):
            stop.set()
            break
        time.sleep(0.05)
    for worker in workers:
        worker.join(args.seconds + LOAD_REQUEST_TIMEOUT + 5)
    failures = sorted((f for w in workers for f in w.failures), key=lambda f: f["at"])
    return {
        "clients": args.clients,
        "seconds": round(time.monotonic() - started, 2),
        "requests": sum(w.ok for w in workers) + len(failures),
        "ok": sum(w.ok for w in workers),
        "failed": len(failures),
        "failures": failures[:20],
        "stale_retries": sum(w.stale_retries for w in workers),
        "max_latency": round(max(w.max_latency for w in workers), 3),
        "hung_clients": sum(w.is_alive() for w in workers),
        "markers_seen": sorted({m for w in workers for m in w.bodies}),
    }


# ---------------------------------------------------------------- crash and start


def poll_until_200(url: str, host: str, started: float, timeout: float) -> dict:
    """Poll on fresh connections until a 200; every other answer is recorded, by kind."""
    seen: dict[str, int] = {}
    first_seen: dict[str, float] = {}
    while time.monotonic() - started < timeout:
        status, body, error = one_request(url, host, timeout=REQUEST_TIMEOUT)
        if status == 200:
            return {"seconds": round(time.monotonic() - started, 3), "seen": seen, "first_seen": first_seen}
        kind = describe(status, body, error)
        seen[kind] = seen.get(kind, 0) + 1
        first_seen.setdefault(kind, round(time.monotonic() - started, 3))
        time.sleep(POLL_SECONDS)
    return {"seconds": None, "seen": seen, "first_seen": first_seen}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def watch(args) -> dict:
    """kill -9 the master, then poll until a 200 comes from the new generation: one that arrives once every process
    of the old one (--old-pids: the master's workers) is gone, since orphaned workers may still answer for a while.
    Records the first 200 of any kind, when the old workers were gone, and every other answer by kind."""
    old = [int(pid) for pid in args.old_pids.split(",") if pid]
    started = time.monotonic()
    os.kill(args.kill, signal.SIGKILL)
    seen: dict[str, int] = {}
    first_seen: dict[str, float] = {}
    first_200 = orphans_gone = None
    while time.monotonic() - started < args.timeout:
        gone = not any(alive(pid) for pid in [args.kill, *old])
        status, body, error = one_request(args.url, args.host, timeout=REQUEST_TIMEOUT)
        now = round(time.monotonic() - started, 3)
        if gone and orphans_gone is None:
            orphans_gone = now
        if status == 200:
            first_200 = now if first_200 is None else first_200
            if gone:
                return {"first_200": first_200, "orphans_gone": orphans_gone, "seconds": now, "seen": seen,
                        "first_seen": first_seen}  # fmt: skip
        else:
            kind = describe(status, body, error)
            seen[kind] = seen.get(kind, 0) + 1
            first_seen.setdefault(kind, now)
        time.sleep(POLL_SECONDS)
    alive_now = [pid for pid in old if alive(pid)]
    return {"first_200": first_200, "orphans_gone": orphans_gone, "seconds": None, "seen": seen,
            "first_seen": first_seen, "still_alive": alive_now}  # fmt: skip


def first200(args) -> dict:
    started = time.monotonic()
    command = subprocess.Popen(args.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    result = poll_until_200(args.url, args.host, started, args.timeout)
    try:
        output, _ = command.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        command.kill()
        output, _ = command.communicate()
    result.update(command_seconds=round(time.monotonic() - started, 3), returncode=command.returncode, output=output)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="action", required=True)
    for name in ("load", "watch", "first200"):
        action = sub.add_parser(name)
        action.add_argument("url")
        action.add_argument("--host", default="localhost")
        action.add_argument("--timeout", type=float, default=30)
    sub.choices["load"].add_argument("--clients", type=int, default=16)
    sub.choices["load"].add_argument("--seconds", type=float, default=10)
    sub.choices["load"].add_argument("--max-requests", type=int, default=200_000)
    sub.choices["load"].add_argument("--ready-file")
    sub.choices["load"].add_argument("--stop-file")
    sub.choices["watch"].add_argument("--kill", type=int, required=True)
    sub.choices["watch"].add_argument("--old-pids", default="")
    sub.choices["first200"].add_argument("command", nargs="+")
    args = parser.parse_args(argv)
    result = {"load": load, "watch": watch, "first200": first200}[args.action](args)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
