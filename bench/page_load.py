"""The first page load a person waits for, in headless Chromium (Debian's chromium, driven with the DevTools protocol
by tests/e2e/browser.py): the generated Dash app under /eegqc/ through nginx against eeg-qc-dash's recipe, and the
Django admin's login page.

Each round starts each stack (alternating), asks for the page once so the workers have imported the app, then opens
the page in a new browser with an empty cache (cold) and again in the same browser (warm), on loopback and on an
emulated link (20 Mbit/s, 40 ms round trips: bytes cost time there, as they do for a real visitor). Measured: the
time from the navigation until the page is ready for the person (Dash: the graph the callback draws shows its title;
the admin: the load event, its stylesheets applied), the bytes that crossed the network (compressed size and headers),
and the CPU the stack's processes (app server and proxy) used for the load.
"""

import json
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.measure import median, process_tree_cpu, spread
from bench.served import Bench, Stack
from tests.e2e.browser import Browser
from tests.render import TEMPLATE_ROOT

PREFIX = "/eegqc"
LINKS = {
    "loopback": None,
    "20 Mbit/s, 40 ms": {"offline": False, "latency": 40, "downloadThroughput": 20e6 / 8, "uploadThroughput": 5e6 / 8},
}
# Set by a script that runs before the page's own: the moment (ms since the navigation started) the page is ready.
# (Not on about:blank, which the warm load passes through.)
DASH_READY = """if (location.protocol === 'http:') {
    const drawn = () => (document.querySelector('#wave .gtitle')?.textContent || '').includes('Hz');
    new MutationObserver((records, observer) => {
        if (drawn()) { window.__ready = performance.now(); observer.disconnect(); }
    }).observe(document, {subtree: true, childList: true, characterData: true});
}"""
LOAD_READY = """if (location.protocol === 'http:') {
    addEventListener('load', () => setTimeout(() => { window.__ready = performance.now(); }));
}"""
TIMEOUT = 60


@dataclass
class Page:
    name: str
    stack: Stack
    ready_script: str
    compare_to: str = ""
    # Dash behind nginx: whether the bundles collected by `manage.py collect-bundles` are in place (nginx sends them)
    # or set aside for the round (the app sends them, as without the collection).
    bundles: bool | None = None
    results: list[dict] = field(default_factory=list)


def page_stacks(work: Path) -> list[Page]:
    run = work / "run"
    uwsgi = ".venv/bin/uwsgi"
    dash_url = f"http://127.0.0.1{PREFIX}/"
    return [
        Page(
            "generated Dash: nginx → uWSGI",
            Stack(
                "page generated dash",
                "dash-uwsgi-nginx",
                "deploy/uwsgi.ini and deploy/nginx.conf as generated, url_prefix /eegqc",
                [[uwsgi, "--ini", "deploy/uwsgi.ini"]],
                site="generated",
                url=dash_url,
            ),
            DASH_READY,
            compare_to="eeg-qc-dash's socket recipe",
            bundles=True,
        ),
        Page(
            "generated Dash, bundles not collected",
            Stack(
                "page generated dash without bundles",
                "dash-uwsgi-nginx",
                "the same without `manage.py collect-bundles`: nginx passes the bundles' requests to the app",
                [[uwsgi, "--ini", "deploy/uwsgi.ini"]],
                site="generated",
                url=dash_url,
            ),
            DASH_READY,
            compare_to="eeg-qc-dash's socket recipe",
            bundles=False,
        ),
        Page(
            "eeg-qc-dash's socket recipe",
            Stack(
                "page eeg-qc-dash recipe",
                "dash-uwsgi-nginx",
                "`uwsgi --socket SOCK --master --processes 1 --chmod-socket=666`, nginx `location /eegqc/ { include"
                " uwsgi_params; uwsgi_pass unix://SOCK; }` in Debian's nginx.conf (gzip on, for text/html only)",
                [
                    [
                        uwsgi,
                        "--socket",
                        f"{run}/eegqc-page.sock",
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
                site=f"server {{ listen 80; server_name localhost; location {PREFIX}/ {{ include uwsgi_params; "
                f"uwsgi_pass unix://{run}/eegqc-page.sock; }} }}\n",
                url=dash_url,
            ),
            DASH_READY,
        ),
        Page(
            "generated Django admin login: nginx → uWSGI",
            Stack(
                "page generated django admin",
                "django-uwsgi-nginx",
                "deploy/uwsgi.ini and deploy/nginx.conf as generated, url_prefix /eegqc",
                [[uwsgi, "--ini", "deploy/uwsgi.ini"]],
                site="generated",
                url=f"http://127.0.0.1{PREFIX}/admin/login/",
            ),
            LOAD_READY,
            compare_to="CATMAID's recipe (Django admin login)",
        ),
        Page(
            "CATMAID's recipe (Django admin login)",
            Stack(
                "page catmaid recipe",
                "django-uwsgi-nginx",
                "uWSGI `socket`, `mount = /eegqc=...wsgi`, `manage-script-name`, `workers 2`, `threads 2`,"
                " `disable-logging`; nginx `location /eegqc/static/ { alias .../static/; }` and `location /eegqc/ {"
                " include uwsgi_params; uwsgi_pass unix:...; }` in Debian's nginx.conf",
                [
                    [
                        uwsgi,
                        "--socket",
                        f"{run}/catmaid.sock",
                        "--chmod-socket=666",
                        "--virtualenv",
                        ".venv",
                        "--mount",
                        f"{PREFIX}=wsgi.py",
                        "--manage-script-name",
                        "--master",
                        "--workers",
                        "2",
                        "--threads",
                        "2",
                        "--disable-logging",
                    ]
                ],
                site=f"server {{ listen 80; server_name localhost; location {PREFIX}/static/ {{ alias "
                f"{work}/django-uwsgi-nginx/bench-django-uwsgi-nginx/staticfiles/; }} "
                f"location {PREFIX}/ {{ include uwsgi_params; uwsgi_pass unix://{run}/catmaid.sock; }} }}\n",
                url=f"http://127.0.0.1{PREFIX}/admin/login/",
            ),
            LOAD_READY,
        ),
        Page(
            "generated Django admin login, static files precompressed (candidate)",
            Stack(
                "page generated django admin precompressed",
                "django-uwsgi-nginx",
                "the same with `gzip_static on` and a year's immutable caching in the static files' location: nginx"
                " sends the gzip copies collectstatic (whitenoise) wrote instead of compressing",
                [[uwsgi, "--ini", "deploy/uwsgi.ini"]],
                site="generated",
                url=f"http://127.0.0.1{PREFIX}/admin/login/",
                snippet_edit=(
                    "        expires 7d;\n",
                    "        gzip_static on;\n"
                    '        add_header Cache-Control "public, max-age=31536000, immutable";\n',
                ),
            ),
            LOAD_READY,
            compare_to="generated Django admin login: nginx → uWSGI",
        ),
    ]


PAGE_PROJECTS = {
    "dash-uwsgi-nginx": {"framework": "dash", "server": "uwsgi", "proxy": "nginx", "url_prefix": PREFIX},
    "django-uwsgi-nginx": {"framework": "django", "server": "uwsgi", "proxy": "nginx", "url_prefix": PREFIX},
}


def load(browser: Browser, url: str, processes: list) -> dict:
    """Open `url` in `browser`; seconds until the page said it is ready, bytes received, the stack's CPU seconds."""
    seen = len(browser.events)
    cpu_before = sum(process_tree_cpu(process.pid) for process in processes)
    browser.send("Page.navigate", {"url": url})
    ready = browser.wait_for("window.__ready", f"{url} ready", timeout=TIMEOUT)
    # The last network events may follow the page's own script: wait for them to stop.
    count = -1
    while count != len(browser.events):
        count = len(browser.events)
        time.sleep(0.3)
        browser.send("Browser.getVersion", browser=True)
    cpu = sum(process_tree_cpu(process.pid) for process in processes) - cpu_before
    finished = [e["params"] for e in browser.events[seen:] if e["method"] == "Network.loadingFinished"]
    failed = [e["params"] for e in browser.events[seen:] if e["method"] == "Network.loadingFailed"]
    if failed:
        raise RuntimeError(f"{url}: failed loads {failed}\n{browser.summary()}")
    return {
        "seconds": ready / 1000,
        "bytes": sum(params["encodedDataLength"] for params in finished),
        "requests": len(finished),
        "cpu": cpu,
    }


def measure_page(bench: Bench, page: Page) -> dict:
    """One round of `page`: for each link, a cold and a warm load."""
    url = page.stack.url.replace("127.0.0.1", "localhost")
    bundles = bench.projects[page.stack.project] / "bundles"
    aside = bundles.with_name("bundles.aside")
    if page.bundles is False:
        bundles.rename(aside)
    try:
        with bench.started(page.stack) as (processes, _):
            found = load_both_ways(page, url, processes)
    finally:
        if page.bundles is False:
            aside.rename(bundles)
    return found


def load_both_ways(page: Page, url: str, processes: list) -> dict:
    """For each link: a new browser's load (cold), then the same page again in it (warm)."""
    found = {}
    for link, conditions in LINKS.items():
        with Browser(None) as browser:
            browser.send("Page.addScriptToEvaluateOnNewDocument", {"source": page.ready_script})
            if conditions:
                browser.send("Network.emulateNetworkConditions", conditions)
            found[f"{link}, cold"] = load(browser, url, processes)
            browser.send("Page.navigate", {"url": "about:blank"})
            found[f"{link}, warm"] = load(browser, url, processes)
    return found


def serve_pages(work: Path, rounds: int, names: list[str]) -> dict:
    bench = Bench(work, 0)
    bench.projects = {name: work / name / f"bench-{name}" for name in PAGE_PROJECTS}
    chosen = [page for page in page_stacks(work) if page.name in names]
    for _ in range(rounds):
        for page in chosen:
            page.results.append(measure_page(bench, page))
    return {page.name: page.results for page in chosen}


def page_report(pages: list[Page], rounds: int) -> list[str]:
    lines = [
        "## The first page load, in headless Chromium",
        "",
        f"{rounds} round{'s' if rounds > 1 else ''}, the stacks alternating (bench/page_load.py): cold is a new browser"
        " with an empty cache, warm the same page opened again in it. Seconds until the page is ready (Dash: the graph"
        " drawn by the callback shows; the admin: its load event), bytes received (compressed, headers included),"
        " requests, and the CPU seconds the stack's processes used; medians, the lowest and highest in brackets.",
        "",
        "| page | load | ready s | bytes | requests | stack CPU s | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    by_name = {page.name: page for page in pages}
    for page in pages:
        for load_name in page.results[0]:
            values = [result[load_name] for result in page.results]
            seconds = [value["seconds"] for value in values]
            ratio = ""
            if page.compare_to in by_name:
                theirs = [result[load_name]["seconds"] for result in by_name[page.compare_to].results]
                ratio = f"{median(seconds) / median(theirs):.2f} x {page.compare_to}"
            lines.append(
                f"| {page.name} | {load_name} | {median(seconds):.2f} ({spread(seconds)}) | "
                f"{statistics.median(v['bytes'] for v in values):,.0f} | {values[0]['requests']} | "
                f"{median([v['cpu'] for v in values]):.2f} | {ratio} |"
            )
    return [*lines, ""]


def run_pages(work: Path, rounds: int, patterns: list[str]) -> list[Page]:
    """Prepare the projects here, load the pages in a private network namespace (root): the sites listen on port 80.
    With patterns, only the pages whose name contains one (and the recipes they are compared to)."""
    pages = page_stacks(work)
    if patterns:
        chosen = {page.name for page in pages if any(p.lower() in page.name.lower() for p in patterns)}
        chosen |= {page.compare_to for page in pages if page.name in chosen and page.compare_to}
        pages = [page for page in pages if page.name in chosen]
    if not pages:
        return []
    bench = Bench(work, 0)
    for name in {page.stack.project for page in pages}:
        bench.generate(name, **PAGE_PROJECTS[name])
    output = work / "pages.json"
    output.unlink(missing_ok=True)
    arguments = json.dumps({"rounds": rounds, "names": [page.name for page in pages]})
    inside = f"ip link set lo up && exec {sys.executable} -m bench.page_load {work} {output} {shlex.quote(arguments)}"
    subprocess.run(["unshare", "--net", "sh", "-c", inside], cwd=TEMPLATE_ROOT, check=True)
    results = json.loads(output.read_text())
    for page in pages:
        page.results = results[page.name]
    return pages


if __name__ == "__main__":
    # Run inside the namespace by bench/__main__.py: WORK OUTPUT ARGUMENTS (JSON).
    work_dir, output_, arguments_ = sys.argv[1:]
    Path(output_).write_text(json.dumps(serve_pages(Path(work_dir), **json.loads(arguments_))))
