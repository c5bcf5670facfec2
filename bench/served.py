"""Served throughput and latency: generated stacks against the hand-written recipes of the deployments this
template replaces, side by side.

Every stack serves the same generated Flask app's home page on loopback, through real nginx or Apache (or none),
and wrk loads it for a few seconds with 2 threads and 16 connections. Stacks are started, loaded and stopped one
after the other, in rounds, so noise from the shared machine spreads over all of them; the report gives medians,
spreads and ratios. Run inside a private network namespace (`make bench` does it): the sites listen on port 80.

The bench harness, not the template, decides how the proxies' main configuration looks (Debian's defaults: sendfile,
tcp_nopush, `worker_processes auto`), and points the generated layout at build/bench through cookiecutter's layout
answers, so the generated files are used as generated.
"""

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.floor import CPU, P99, RPS, Floor, floor_report
from bench.measure import median, process_tree_cpu, spread
from tests.render import TEMPLATE_ROOT, render_cookiecutter

WRK = ["wrk", "--threads", "2", "--connections", "16", "--latency"]
APACHE_MODULES = Path("/usr/lib/apache2/modules")


@dataclass
class Stack:
    name: str
    project: str  # which generated project's code it serves
    description: str
    commands: list[list[str]]  # server processes, started in the project directory
    site: str = ""  # proxy site text (for the recipes) or "generated"
    proxy: str = "nginx"
    url: str = "http://127.0.0.1/"
    compare_to: str = ""  # the recipe its ratios are given against
    # A variant of the generated app lines (nginx): (text, its replacement), for a candidate change.
    snippet_edit: tuple[str, str] | None = None
    # A line the server logs once per worker it recycles: counted during the measured load.
    recycle_line: str = ""
    # Recycling forced (FORCED_RECYCLING's server), at a limit from the rate of the stack it derives from.
    forced_recycling: str = ""
    derives_from: str = ""
    results: list[dict] = field(default_factory=list)

    @property
    def slug(self) -> str:
        """The name as a directory name the proxies' configuration can hold unquoted."""
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


class Bench:
    def __init__(self, work: Path, seconds: int):
        self.work = work
        self.seconds = seconds
        self.projects: dict[str, Path] = {}
        self.timings: dict[str, float] = {}

    # ---------------------------------------------------------------- the generated projects
    def generate(self, name: str, **answers) -> Path:
        """A project from this checkout whose layout lives under build/bench, with its own virtualenv."""
        slug = f"bench-{name}"
        output = self.work / name
        shutil.rmtree(output, ignore_errors=True)
        layout = {
            "__app_dir": str(output / slug),
            "__code_dir": str(output / slug),  # run in place, not from a release
            "__run_dir": str(self.work / "run" / name),
            "__data_dir": str(self.work / "data" / name),
            "__log_dir": str(self.work / "log" / name),
        }
        for directory in ("__run_dir", "__data_dir", "__log_dir"):
            Path(layout[directory]).mkdir(parents=True, exist_ok=True)
            os.chmod(layout[directory], 0o750)
        project = render_cookiecutter(output, project_name=slug, database="sqlite", **answers, **layout)
        subprocess.run(["python3", "-m", "venv", ".venv"], cwd=project, check=True)
        server = answers.get("server", "gunicorn")
        pip = [".venv/bin/pip", "install", "--quiet", "--disable-pip-version-check", "-e", ".", server]
        subprocess.run(pip, cwd=project, check=True)
        if answers.get("framework") == "django":
            setup = [["migrate", "--no-input", "--verbosity", "0"], ["collectstatic", "--no-input", "--verbosity", "0"]]
        else:
            setup = [["db", "upgrade"]]
        if answers.get("framework") == "dash" and answers.get("proxy") == "nginx":
            setup.append(["collect-bundles"])  # as the deploy does (for the engine: not in install.sh yet)
        for command in setup:
            subprocess.run([".venv/bin/python", "manage.py", *command], cwd=project, env=self.env(name), check=True)
        self.projects[name] = project
        return project

    def env(self, project: str) -> dict:
        return {**os.environ, "DATA_DIR": str(self.work / "data" / project)}

    # ---------------------------------------------------------------- proxies
    def nginx_config(self, stack: Stack, project: Path) -> list[str]:
        directory = self.work / "nginx" / stack.slug
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        for name in ("mime.types", "uwsgi_params", "proxy_params"):
            shutil.copy(f"/etc/nginx/{name}", directory / name)
        site = project / "deploy" / "nginx.conf" if stack.site == "generated" else directory / "site.conf"
        install_app_lines(project, "nginx", directory)
        if stack.snippet_edit:
            snippet = directory / "snippets" / f"{project.name}.conf"
            old, new = stack.snippet_edit
            if old not in snippet.read_text():
                raise RuntimeError(f"{stack.name}: the generated app lines no longer say {old!r}")
            snippet.write_text(snippet.read_text().replace(old, new))
        if stack.site != "generated":
            site.write_text(stack.site)
        # Debian's nginx.conf, reduced to what a site relies on.
        (directory / "nginx.conf").write_text(
            f"""user nobody root;
worker_processes auto;
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 768; }}
http {{
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include mime.types;
    default_type application/octet-stream;
    access_log {directory}/access.log;
    gzip on;
    include {site};
}}
"""
        )
        return ["nginx", "-p", f"{directory}/", "-c", str(directory / "nginx.conf")]

    def apache_config(self, stack: Stack, project: Path) -> list[str]:
        directory = self.work / "apache" / stack.slug
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        if stack.site == "generated":
            install_app_lines(project, "apache", directory)
            site = project / "deploy" / "apache.conf"
            wanted = re.search(r"# Modules to enable: (.*)", site.read_text()).group(1).split()
        else:
            site = directory / "site.conf"
            site.write_text(stack.site)
            wanted = ["authz_core", "proxy", "proxy_http"]
        modules = dict.fromkeys(["mpm_event", "authz_core", "mime", *wanted])  # unixd, log_config: built in
        load = "\n".join(f"LoadModule {name}_module {APACHE_MODULES}/mod_{name}.so" for name in modules)
        # Debian's apache2.conf, reduced to what a site relies on.
        (directory / "httpd.conf").write_text(
            f"""ServerRoot {directory}
ServerName localhost
Listen 80
PidFile {directory}/httpd.pid
ErrorLog {directory}/error.log
LogLevel warn
User nobody
Group root
Define APACHE_LOG_DIR {directory}
{load}
TypesConfig /etc/mime.types
LogFormat "%h %l %u %t \\"%r\\" %>s %O" common
CustomLog {directory}/access.log common
KeepAlive On
Include {site}
"""
        )
        return ["apache2", "-d", str(directory), "-f", str(directory / "httpd.conf"), "-DFOREGROUND"]

    # ---------------------------------------------------------------- one run
    @contextlib.contextmanager
    def started(self, stack: Stack):
        """The stack's processes (the proxy last), once its URL answers 200; stopped on leaving. Their output goes to
        logs/<slug>.log: the path is yielded with them."""
        project = self.projects[stack.project]
        logs = self.work / "logs"
        logs.mkdir(exist_ok=True)
        commands = list(stack.commands)
        if stack.proxy == "nginx":
            commands.append(self.nginx_config(stack, project))
        elif stack.proxy == "apache":
            commands.append(self.apache_config(stack, project))
        processes = []
        log_path = logs / f"{stack.slug}.log"
        with open(log_path, "ab") as log:
            try:
                for command in commands:
                    processes.append(
                        subprocess.Popen(command, cwd=project, env=self.env(stack.project), stdout=log, stderr=log)
                    )
                wait_for_200(stack.url, processes)
                yield processes, log_path
            finally:
                for process in reversed(processes):
                    # uWSGI without die-on-term (the recipes) takes SIGTERM for a reload: SIGINT stops it.
                    process.send_signal(signal.SIGINT if process.args[0].endswith("uwsgi") else signal.SIGTERM)
                for process in reversed(processes):
                    try:
                        process.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()

    def run(self, stack: Stack) -> dict:
        with self.started(stack) as (processes, log_path):
            # Warm up (workers import lazily, caches fill), then measure.
            subprocess.run([*WRK, "--duration", "2s", stack.url], capture_output=True, check=True)
            cpu_before = [process_tree_cpu(process.pid) for process in processes]
            log_before = log_path.stat().st_size
            result = subprocess.run(
                [*WRK, "--duration", f"{self.seconds}s", "--header", "Host: localhost", stack.url],
                capture_output=True,
                text=True,
                check=True,
            )
            cpu = [
                process_tree_cpu(process.pid) - before for process, before in zip(processes, cpu_before, strict=True)
            ]
            with open(log_path, "rb") as written:
                written.seek(log_before)
                during_load = written.read().decode(errors="replace")
        measured = parse_wrk(result.stdout)
        # The proxy, when there is one, is the last process started.
        proxy_cpu = cpu[-1] if stack.proxy != "none" else 0.0
        per_request = 1e6 / measured["requests"] if measured["requests"] else 0.0
        measured["cpu_us"] = sum(cpu) * per_request
        measured["proxy_cpu_us"] = proxy_cpu * per_request
        if stack.recycle_line:
            measured["recycles"] = during_load.count(stack.recycle_line)
        return measured


def install_app_lines(project: Path, proxy: str, config_dir: Path) -> None:
    """The generated site includes the app's lines from snippets/<slug>.conf, relative to the proxy's configuration
    directory (deploy/install.sh installs them there)."""
    snippets = config_dir / "snippets"
    snippets.mkdir(exist_ok=True)
    shutil.copy(project / "deploy" / f"{proxy}-shared-site.conf", snippets / f"{project.name}.conf")


def wait_for_200(url: str, processes: list[subprocess.Popen], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if exited := [process.args for process in processes if process.poll() is not None]:
            raise RuntimeError(f"exited before {url} answered: {exited} (logs in build/bench/served/logs)")
        try:
            request = urllib.request.Request(url, headers={"Host": "localhost"})
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer 200 within {timeout} s")
        time.sleep(0.2)


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(output: str) -> dict:
    """Requests per second, latency percentiles in ms, and the errors wrk counted."""

    def latency(percent: str) -> float:
        value, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
        return float(value) * UNITS[unit]

    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        errors += sum(int(number) for number in match.groups())
    return {
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": errors,
    }


# The generated gunicorn, run as its unit or program runs it.
GUNICORN_AS_GENERATED = [[".venv/bin/gunicorn", "--config", "deploy/gunicorn.conf.py", "wsgi:application"]]

CPUS = len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class ForcedRecycling:
    """Recycling forced during the load: a copy of the generated configuration whose request limit is lowered to what
    each worker serves in `seconds` at the rate the generated stack had just before in the same round, so that each
    worker reaches it about once during the warm-up and load whatever the machine's speed. The rest of the file, the
    rule that spreads the workers' limits included, is as generated."""

    source: str
    copy: str
    line: str  # the limit's line, "{}" for the number
    generated: int  # the limit as generated
    workers: int  # as many as the generated configuration starts on this machine
    seconds: float

    def limit(self, requests_per_second: float) -> int:
        return max(100, round(requests_per_second / self.workers * self.seconds))

    def write(self, project: Path, limit: int) -> None:
        text = (project / self.source).read_text()
        if self.line.format(self.generated) not in text:
            raise RuntimeError(f"{self.source} no longer says `{self.line.format(self.generated)}`: update bench/")
        (project / self.copy).write_text(text.replace(self.line.format(self.generated), self.line.format(limit)))


FORCED_RECYCLING = {
    # uWSGI: worker N's limit is max-requests + (N-1) x max-requests / processes, so 5 s puts the last of 2 x CPUs
    # workers before 9 s. uWSGI holds back recycling until a worker has lived min-worker-lifetime (10 s, longer than
    # the warm-up and most of the load): the row lowers it to 2 s, or every worker would wait for the same moment.
    # With the generated limit (50,000) no worker gets there that fast below 5,000 requests per second per worker.
    "uwsgi": ForcedRecycling(
        "deploy/uwsgi.ini", "deploy/uwsgi-recycling-forced.ini", "max-requests = {}", 50000, 2 * CPUS, 5.0
    ),
    # gunicorn: each worker's limit is drawn between max_requests and twice that: 4 s puts them between 4 and 8 s.
    "gunicorn": ForcedRecycling(
        "deploy/gunicorn.conf.py",
        "deploy/gunicorn-recycling-forced.conf.py",
        "max_requests = {}",
        10000,
        2 * CPUS + 1,
        4.0,
    ),
}


def stacks(work: Path) -> list[Stack]:
    run = work / "run"
    gunicorn = ".venv/bin/gunicorn"
    uwsgi = ".venv/bin/uwsgi"
    return [
        Stack(
            "generated nginx → gunicorn",
            "gunicorn-nginx",
            "deploy/gunicorn.conf.py and deploy/nginx.conf as generated (unix socket)",
            GUNICORN_AS_GENERATED,
            site="generated",
            compare_to="BrainPainter's recipe",
        ),
        Stack(
            "generated nginx → gunicorn, 3 workers",
            "gunicorn-nginx",
            "the same, with WEB_CONCURRENCY=3 (the recipe's worker count; the default is 2 x CPUs + 1)",
            [["env", "WEB_CONCURRENCY=3", *GUNICORN_AS_GENERATED[0]]],
            site="generated",
            compare_to="BrainPainter's recipe",
        ),
        Stack(
            "generated nginx → gunicorn, recycling forced",
            "gunicorn-nginx",
            "the same with max_requests lowered from 10000 to what each worker served in 4 s in the row above"
            " (the limit in brackets; the jitter as generated: each worker's limit between it and twice it)",
            [[".venv/bin/gunicorn", "--config", FORCED_RECYCLING["gunicorn"].copy, "wsgi:application"]],
            site="generated",
            compare_to="BrainPainter's recipe",
            recycle_line="Autorestarting worker",
            forced_recycling="gunicorn",
            derives_from="generated nginx → gunicorn",
        ),
        Stack(
            "BrainPainter's recipe",
            "gunicorn-nginx",
            "gunicorn --workers 3 on a unix socket, nginx `proxy_pass http://unix:...` with proxy_params",
            [[gunicorn, "--workers", "3", "--bind", f"unix:{run}/brainpainter.sock", "-m", "007", "wsgi:application"]],
            site=f"server {{ listen 80; server_name localhost; location / {{ include proxy_params; "
            f"proxy_pass http://unix:{run}/brainpainter.sock; }} }}\n",
        ),
        Stack(
            "generated nginx → uWSGI",
            "uwsgi-nginx",
            "deploy/uwsgi.ini and deploy/nginx.conf as generated (unix socket)",
            [[uwsgi, "--ini", "deploy/uwsgi.ini"]],
            site="generated",
            compare_to="eeg-qc-dash's socket recipe",
        ),
        Stack(
            "generated nginx → uWSGI, recycling forced",
            "uwsgi-nginx",
            "the same with max-requests lowered from 50000 to what each worker served in 5 s in the row above (the"
            " limit in brackets; the deltas as generated: the workers' limits spread over one period) and"
            " min-worker-lifetime 2",
            [[uwsgi, "--ini", FORCED_RECYCLING["uwsgi"].copy, "--min-worker-lifetime", "2"]],
            site="generated",
            compare_to="eeg-qc-dash's socket recipe",
            recycle_line="Respawned uWSGI worker",
            forced_recycling="uwsgi",
            derives_from="generated nginx → uWSGI",
        ),
        Stack(
            "eeg-qc-dash's HTTP recipe",
            "uwsgi-nginx",
            "`uwsgi --http :8050 --master --processes 1 --threads 1`, nginx `proxy_pass http://localhost:8050/`",
            [
                [
                    uwsgi,
                    "--http",
                    ":8050",
                    "--wsgi-file",
                    "wsgi.py",
                    "--master",
                    "--processes",
                    "1",
                    "--threads",
                    "1",
                    "--virtualenv",
                    ".venv",
                ]
            ],
            site="server { listen 80; server_name localhost; location / { proxy_pass http://localhost:8050/; } }\n",
        ),
        Stack(
            "eeg-qc-dash's socket recipe",
            "uwsgi-nginx",
            "`uwsgi --socket SOCK --master --processes 1 --chmod-socket=666`, nginx `uwsgi_pass unix://SOCK`",
            [
                [
                    uwsgi,
                    "--socket",
                    f"{run}/eegqc.sock",
                    "--wsgi-file",
                    "wsgi.py",
                    "--master",
                    "--processes",
                    "1",
                    "--chmod-socket=666",
                    "--virtualenv",
                    ".venv",
                ]
            ],
            site=f"server {{ listen 80; server_name localhost; location / {{ include uwsgi_params; "
            f"uwsgi_pass unix://{run}/eegqc.sock; }} }}\n",
        ),
        Stack(
            UWSGI_SAFE_RECIPE,
            "uwsgi-nginx",
            "the socket recipe plus the generated uWSGI's safety: `--threads 2` (lossless reloads) and `--harakiri 30`",
            [
                [
                    uwsgi,
                    "--socket",
                    f"{run}/eegqc-safe.sock",
                    "--wsgi-file",
                    "wsgi.py",
                    "--master",
                    "--processes",
                    "1",
                    "--threads",
                    "2",
                    "--harakiri",
                    "30",
                    "--chmod-socket=666",
                    "--virtualenv",
                    ".venv",
                ]
            ],
            site=f"server {{ listen 80; server_name localhost; location / {{ include uwsgi_params; "
            f"uwsgi_pass unix://{run}/eegqc-safe.sock; }} }}\n",
        ),
        Stack(
            "generated Apache → gunicorn",
            "gunicorn-apache",
            "deploy/gunicorn.conf.py and deploy/apache.conf as generated (unix socket)",
            GUNICORN_AS_GENERATED,
            site="generated",
            proxy="apache",
            compare_to="eco's recipe",
        ),
        Stack(
            "eco's recipe",
            "gunicorn-apache",
            "gunicorn --workers 2 --bind localhost:8000, Apache `ProxyPass / http://localhost:8000/`",
            [[gunicorn, "--workers", "2", "--bind", "localhost:8000", "wsgi:application"]],
            site='<VirtualHost *:80>\n    ProxyPass "/" "http://localhost:8000/"\n'
            '    ProxyPassReverse "/" "http://localhost:8000/"\n</VirtualHost>\n',
            proxy="apache",
        ),
        Stack(
            "generated gunicorn alone",
            "gunicorn-none",
            "deploy/gunicorn.conf.py as generated with proxy=none, bind=tcp (the proxies' overhead)",
            GUNICORN_AS_GENERATED,
            proxy="none",
            url="http://127.0.0.1:8000/",
        ),
    ]


UWSGI_SAFE_RECIPE = "eeg-qc-dash's socket recipe, with threads and a timeout"
# Which recipe each generated stack must hold its floor against (bench/floor.py): requests/s against every recipe for
# the same server behind the same proxy; CPU per request against the one with the same server and the same safety
# (gunicorn's sync workers have their timeout in the recipes too; uWSGI's threads and harakiri are added to a copy of
# eeg-qc-dash's); p99 against the recipe, recycling forced or not.
FLOORS = [
    Floor("generated nginx → gunicorn", "BrainPainter's recipe", (RPS, CPU, P99)),
    Floor("generated nginx → gunicorn, 3 workers", "BrainPainter's recipe", (RPS, CPU, P99)),
    Floor("generated nginx → gunicorn, recycling forced", "BrainPainter's recipe", (P99,)),
    Floor("generated nginx → uWSGI", "eeg-qc-dash's HTTP recipe", (RPS, P99)),
    Floor("generated nginx → uWSGI", "eeg-qc-dash's socket recipe", (RPS, P99)),
    Floor("generated nginx → uWSGI", UWSGI_SAFE_RECIPE, (RPS, CPU, P99)),
    Floor("generated nginx → uWSGI, recycling forced", "eeg-qc-dash's socket recipe", (P99,)),
    Floor("generated Apache → gunicorn", "eco's recipe", (RPS, CPU, P99)),
]

FIRST_200 = "first-200"
PROJECTS = {
    "gunicorn-nginx": {"server": "gunicorn", "proxy": "nginx"},
    "uwsgi-nginx": {"server": "uwsgi", "proxy": "nginx"},
    "gunicorn-apache": {"server": "gunicorn", "proxy": "apache"},
    "gunicorn-none": {"server": "gunicorn", "proxy": "none", "bind": "tcp"},
}


def select(all_stacks: list[Stack], patterns: list[str]) -> list[Stack]:
    """The stacks whose name contains one of `patterns` (case-insensitive; all of them without patterns), with the
    recipes they are compared to, in the usual order."""
    if not patterns:
        return all_stacks
    chosen = {stack.name for stack in all_stacks if any(p.lower() in stack.name.lower() for p in patterns)}
    for floor in FLOORS:
        if floor.generated in chosen:
            chosen.add(floor.recipe)
    chosen |= {stack.derives_from for stack in all_stacks if stack.name in chosen and stack.derives_from}
    chosen |= {stack.compare_to for stack in all_stacks if stack.name in chosen and stack.compare_to}
    return [stack for stack in all_stacks if stack.name in chosen]


def prepare(work: Path, projects: set[str], first_200: bool) -> dict[str, float]:
    """Generate the projects and install them (this needs the package index, so it runs outside the namespace).
    The last one is timed: generate, virtualenv, install with a warm package cache, tables."""
    bench = Bench(work, 0)
    for name, answers in PROJECTS.items():
        if name in projects:
            bench.generate(name, **answers)
    if not first_200:
        return {}
    start = time.monotonic()
    bench.generate(FIRST_200, server="gunicorn", proxy="nginx")
    return {"generate, virtualenv, install, tables": time.monotonic() - start}


def time_first_200(bench: Bench) -> float:
    """Start the freshly generated project's gunicorn and nginx; seconds until nginx answers 200."""
    first = Stack(FIRST_200, FIRST_200, "", GUNICORN_AS_GENERATED, site="generated")
    started = time.monotonic()
    processes = [
        subprocess.Popen(
            command,
            cwd=bench.projects[FIRST_200],
            env=bench.env(FIRST_200),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for command in [*first.commands, bench.nginx_config(first, bench.projects[FIRST_200])]
    ]
    try:
        wait_for_200(first.url, processes)
        return time.monotonic() - started
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=60)


def serve(work: Path, rounds: int, seconds: int, names: list[str], first_200: bool) -> dict:
    """In the private network namespace: time the first project's start to its first 200 through nginx, then load
    the stacks named, round after round. Returns the results as plain data."""
    bench = Bench(work, seconds)
    bench.projects = {name: work / name / f"bench-{name}" for name in [*PROJECTS, FIRST_200]}
    served = {"results": {}}
    if first_200:
        served["start gunicorn and nginx, first 200"] = time_first_200(bench)
    chosen = [stack for stack in stacks(work) if stack.name in names]
    by_name = {stack.name: stack for stack in chosen}
    for _ in range(rounds):
        for stack in chosen:
            limit = 0
            if stack.forced_recycling:
                forced = FORCED_RECYCLING[stack.forced_recycling]
                limit = forced.limit(by_name[stack.derives_from].results[-1]["rps"])
                forced.write(bench.projects[stack.project], limit)
            stack.results.append(bench.run(stack) | ({"forced_limit": limit} if limit else {}))
    served["results"] = {stack.name: stack.results for stack in chosen}
    return served


def run_served(work: Path, rounds: int, seconds: int, names: list[str]) -> tuple[list[Stack], dict]:
    """Prepare here, serve in a private network namespace (`unshare --net`, root): the sites listen on port 80.
    Only the stacks named run; the first 200 is timed when they all do."""
    chosen = [stack for stack in stacks(work) if stack.name in names]
    first_200 = len(chosen) == len(stacks(work))
    timings = prepare(work, {stack.project for stack in chosen}, first_200)
    output = work / "served.json"
    output.unlink(missing_ok=True)
    arguments = json.dumps(
        {"rounds": rounds, "seconds": seconds, "names": [s.name for s in chosen], "first_200": first_200}
    )
    inside = f"ip link set lo up && exec {sys.executable} -m bench.served {work} {output} {shlex.quote(arguments)}"
    subprocess.run(["unshare", "--net", "sh", "-c", inside], cwd=TEMPLATE_ROOT, check=True)
    served = json.loads(output.read_text())
    if first_200:
        timings["start gunicorn and nginx, first 200"] = served["start gunicorn and nginx, first 200"]
        timings["total"] = sum(timings.values())
    for stack in chosen:
        stack.results = served["results"][stack.name]
    return chosen, timings


def served_report(chosen: list[Stack], first_200: dict, rounds: int, seconds: int) -> tuple[list[str], list[str]]:
    """The report's served sections, and one line per broken floor (bench/floor.py)."""
    by_name = {stack.name: stack for stack in chosen}
    rps = {stack.name: median([result["rps"] for result in stack.results]) for stack in chosen}
    cpu = {stack.name: median([result["cpu_us"] for result in stack.results]) for stack in chosen}
    p99 = {stack.name: median([result["p99"] for result in stack.results]) for stack in chosen}
    lines = [
        "## Served: generated stacks against the hand-written recipes",
        "",
        f"The same generated Flask app's home page, wrk with 2 threads and 16 connections for {seconds} s after a 2 s"
        f" warm-up, {rounds} round{'s' if rounds > 1 else ''} with the stacks alternating; medians, with the lowest and"
        " highest in brackets. CPU per request is what the stack's own processes (app server and proxy, workers"
        " included, recycled ones too) used during the load, divided by the requests served (then the proxy's share of"
        " it): it hardly moves when other work shares the machine, where requests per second do. wrk corrects its"
        " latencies for coordinated omission, so a stall of every worker weighs in p99 as the requests it held back."
        " Recycled: workers the server replaced during the measured load, each round (rows that force recycling; the"
        " request limit forced in brackets). Ratios:"
        " generated over recipe, medians.",
        "",
        "| stack | what runs | requests/s | CPU µs per request | p50 ms | p99 ms | errors | recycled | ratios |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for stack in chosen:
        results = stack.results
        ratio = ""
        if stack.compare_to in by_name:
            ratio = (
                f"against {stack.compare_to}: requests/s {rps[stack.name] / rps[stack.compare_to]:.2f} x, CPU "
                f"{cpu[stack.name] / cpu[stack.compare_to]:.2f} x, p99 {p99[stack.name] / p99[stack.compare_to]:.2f} x"
            )
        elif stack.proxy == "none" and (proxied := "generated nginx → gunicorn") in by_name:
            ratio = f"nginx → gunicorn is {rps[proxied] / rps[stack.name]:.2f} x this"
        recycled = ", ".join(f"{r['recycles']} ({r['forced_limit']})" for r in results) if stack.recycle_line else ""
        lines.append(
            f"| {stack.name} | {stack.description} | {rps[stack.name]:.0f} ({spread([r['rps'] for r in results])}) | "
            f"{cpu[stack.name]:.0f} ({spread([r['cpu_us'] for r in results])}); proxy "
            f"{median([r.get('proxy_cpu_us', 0.0) for r in results]):.0f} | "
            f"{median([r['p50'] for r in results]):.1f} | {p99[stack.name]:.1f} ({spread([r['p99'] for r in results])})"
            f" | {sum(r['errors'] for r in results)} | {recycled} | {ratio} |"
        )
    floor_lines, broken = floor_report(FLOORS, {stack.name: stack.results for stack in chosen})
    lines += ["", *floor_lines]
    if first_200:
        lines += ["## From the generate command to the first 200 through nginx", "", "| phase | seconds |", "|---|---|"]
        lines += [f"| {phase} | {seconds_:.1f} |" for phase, seconds_ in first_200.items()]
        lines.append("")
    return lines, broken


if __name__ == "__main__":
    # The serving half, run by run_served inside the namespace: WORK OUTPUT ARGUMENTS (JSON).
    work_dir, output_, arguments_ = sys.argv[1:]
    Path(output_).write_text(json.dumps(serve(Path(work_dir), **json.loads(arguments_))))
