"""What a person sees: Debian's headless Chromium opens the stack's pages through its real proxy and waits for them.

Chromium runs on the host, from the host's package, but inside the container's network namespace (nsenter --net):
the container has loopback only (--private-network), so its 127.0.0.1:80 is the proxy and nothing else is. This keeps
the testbed image free of a browser (some 300 MB) and needs no network between host and container. Chromium runs as
`nobody`, with its own sandbox, never as root.

It is driven with the DevTools protocol over --remote-debugging-pipe (JSON messages ending in NUL on its file
descriptors 3 and 4): no websocket library, no driver. The checks wait for conditions in the rendered page, not for a
fixed time:
- Dash: the page's own requests (layout, dependencies, component suites, the callback's POST) answer under the prefix,
  and the graph drawn by the callback shows the slider's value; then a key press on the slider makes the browser call
  the callback again and the graph shows the new value.
- Django admin: the login page's stylesheets arrive as text/css and are parsed, and the header has the background
  colour that only the admin's CSS gives it (without the CSS it is transparent and the check fails).
- Every page the stack serves (home, about, notes with a database, the Celery job page, Django's admin login): axe-core
  (npm, pinned in tests/e2e/node/package-lock.json, installed by scripts/install-node-packages.sh) audits it in the
  page, and the check fails on a violation of serious or critical impact and on anything the page logged as an
  error (console.error, an uncaught exception, a failed or 4xx/5xx load, which Chromium logs, such as the
  /favicon.ico a page that names no icon makes it ask the site's root for). The job page also runs its job.
A screenshot of each page goes to build/reports/e2e/<stack>-<page>.png (linked from build/reports/e2e.md), and the
audit's findings, every impact, to the report's metrics ("browser_audit").

`python -m tests.e2e.browser URL...` runs the same audit on pages served on this machine (e.g. `manage.py serve`).
"""

import argparse
import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.e2e.checks import Check
from tests.e2e.stack import PREFIX, REPORT_DIR

# One stack per framework: Dash and Django installed as root, Flask with Celery (the job page) as the account's own
# systemd units (install.sh --user): about a minute added to each.
BROWSER_STACKS = {
    "dash-gunicorn-nginx-systemd-sqlite",
    "django-uwsgi-apache-systemd-sqlite",
    "flask-uwsgi-nginx-systemd-sqlite",
}
# axe-core as npm installs it from tests/e2e/node/package-lock.json (scripts/install-node-packages.sh).
AXE = Path(__file__).with_name("node") / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")
JOB_TIMEOUT = 90
# Debian's /usr/bin/chromium is a launcher script that sources /etc/chromium.d (desktop settings); run the browser.
CHROMIUM = ("/usr/lib/chromium/chromium", "chromium")
ACCOUNT = "nobody"
PAGE_TIMEOUT = 30
WINDOW = (1280, 900)


def find_chromium() -> str | None:
    for name in CHROMIUM:
        if path := shutil.which(name):
            return path
    return None


class Browser:
    """One headless Chromium (in a container's network namespace) and one page (a DevTools session) in it."""

    def __init__(self, leader_pid: int | None):
        """In the network namespace of the container whose leader is `leader_pid`, or the host's (None)."""
        # Root's directory (its log) holding the browser account's home: root reads nothing the account can replace.
        self.workdir = Path(tempfile.mkdtemp(prefix="e2e-chromium-"))
        self.workdir.chmod(0o711)
        self.profile = self.workdir / "home"
        self.profile.mkdir(mode=0o700)
        # As root (the e2e run), Chromium runs as ACCOUNT: its sandbox does not start as root. Otherwise as oneself.
        as_account = []
        if os.geteuid() == 0:
            shutil.chown(self.profile, ACCOUNT)
            as_account = ["setpriv", f"--reuid={ACCOUNT}", "--regid=nogroup", "--clear-groups", "--"]
        to_browser_read, self.to_browser = os.pipe()
        self.from_browser, from_browser_write = os.pipe()
        # Chromium reads commands from fd 3 and writes to fd 4; bash puts the pipe ends there (dash, /bin/sh, takes
        # single-digit descriptors only), from copies above 9 so that neither lands on the other's number.
        child_ends = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_read, from_browser_write)]
        os.close(to_browser_read)
        os.close(from_browser_write)
        width, height = WINDOW
        namespace = ["nsenter", f"--target={leader_pid}", "--net", "--"] if leader_pid else []
        command = [
            *namespace,
            *as_account,
            "env", f"HOME={self.profile}",
            find_chromium(),
            "--headless", "--remote-debugging-pipe", f"--user-data-dir={self.profile}/data",
            "--no-first-run", "--no-default-browser-check", "--disable-gpu", "--hide-scrollbars",
            "--disable-extensions", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--window-size={width},{height}", "about:blank",
        ]  # fmt: skip
        self.log = (self.workdir / "chromium.log").open("w+b")
        self.process = subprocess.Popen(
            ["bash", "-c", 'exec 3<&"$1" 4>&"$2"; shift 2; exec "$@"', "bash", *map(str, child_ends), *command],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            pass_fds=child_ends,
            start_new_session=True,
        )
        for fd in child_ends:
            os.close(fd)
        self.buffer = b""
        self.next_id = 0
        self.session = ""
        self.events: list[dict] = []

    def __enter__(self) -> "Browser":
        try:
            target = self.send("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
            attached = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, browser=True)
            self.session = attached["sessionId"]
            # Log: what Chromium itself reports to the console (failed loads, blocked content).
            for domain in ("Page", "Network", "Runtime", "Log"):
                self.send(f"{domain}.enable")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.to_browser)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=10)
        with contextlib.suppress(OSError):
            os.close(self.from_browser)
        self.log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def stderr_tail(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-1500:]

    # ------------------------------------------------------------ the protocol

    def send(self, method: str, params: dict | None = None, *, browser: bool = False, timeout: float = 30) -> dict:
        """One command; its result. Events that arrive meanwhile are kept in self.events."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if not browser:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self.receive(deadline, method)
            if reply.get("id") == self.next_id:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return reply["result"]
            if "method" in reply:
                self.events.append(reply)

    def receive(self, deadline: float, waiting_for: str) -> dict:
        while b"\0" not in self.buffer:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"chromium did not answer {waiting_for} in time\n{self.stderr_tail()}"
            ready, _, _ = select.select([self.from_browser], [], [], remaining)
            if ready:
                chunk = os.read(self.from_browser, 1 << 20)
                assert chunk, f"chromium exited ({self.process.poll()})\n{self.stderr_tail()}"
                self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)

    def evaluate(self, expression: str, *, wait: bool = False) -> object:
        """The value of `expression` in the page; with `wait`, of the promise it returns, once settled."""
        params = {"expression": expression, "returnByValue": True, "awaitPromise": wait}
        result = self.send("Runtime.evaluate", params, timeout=PAGE_TIMEOUT + 60 if wait else 30)
        assert "exceptionDetails" not in result, f"{expression}: {result['exceptionDetails']}"
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str, timeout: float = PAGE_TIMEOUT) -> object:
        """Poll `expression` in the page until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while not (value := self.evaluate(expression)):
            assert time.monotonic() < deadline, f"{what}: not seen after {timeout} s\n{self.summary()}"
            time.sleep(0.2)
        return value

    def open(self, url: str, timeout: float = PAGE_TIMEOUT) -> None:
        """Navigate and wait for the page's load event (its stylesheets, scripts and images are in)."""
        seen = len(self.events)
        result = self.send("Page.navigate", {"url": url})
        assert not result.get("errorText"), f"{url}: {result['errorText']}"
        deadline = time.monotonic() + timeout
        while not any(event["method"] == "Page.loadEventFired" for event in self.events[seen:]):
            assert time.monotonic() < deadline, f"{url}: no load event after {timeout} s\n{self.summary()}"
            time.sleep(0.1)
            self.send("Browser.getVersion", browser=True)  # reads the events that arrived meanwhile

    def wait_for_responses(self, path: str, count: int, timeout: float = PAGE_TIMEOUT) -> list[dict]:
        """The page's answered requests to `path`, once there are at least `count`. Network events come from
        another Chromium process than the page's script, so they may arrive after the page has already used the
        answer: poll for them rather than read them once."""
        deadline = time.monotonic() + timeout
        while len(found := [r for r in self.responses() if urlsplit(r["url"]).path == path and r["status"]]) < count:
            assert time.monotonic() < deadline, f"{count} answers to {path} after {timeout} s?\n{self.summary()}"
            time.sleep(0.1)
            self.send("Browser.getVersion", browser=True)  # reads the events that arrived meanwhile
        return found

    def wait_for_answers(self, timeout: float = PAGE_TIMEOUT) -> None:
        """Wait until every request of the page has its answer or its failure. The load event does not wait for
        all of them: Chromium fetches the page's icon after it, so it may still be in flight when a check reads."""
        deadline = time.monotonic() + timeout
        while any(not r["status"] and not r["failed"] for r in self.responses()) and time.monotonic() < deadline:
            time.sleep(0.1)
            self.send("Browser.getVersion", browser=True)  # reads the events that arrived meanwhile

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    # ------------------------------------------------------------ what the page did

    def responses(self) -> list[dict]:
        """Every HTTP request of the page, in order: method, url, status, mime type (status 0: no response; a
        response Chromium refused, a stylesheet sent as text/html, has its status from the ExtraInfo event only)."""
        requests: dict[str, dict] = {}
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Network.requestWillBeSent":
                request = {"method": params["request"]["method"], "url": params["request"]["url"], "status": 0}
                requests[params["requestId"]] = {**request, "mime": "", "failed": ""}
            elif (request := requests.get(params.get("requestId"))) is None:
                continue
            elif event["method"] == "Network.responseReceived":
                request.update(status=params["response"]["status"], mime=params["response"]["mimeType"])
            elif event["method"] == "Network.responseReceivedExtraInfo" and not request["status"]:
                request["status"] = params.get("statusCode", 0)
            elif event["method"] == "Network.loadingFailed":
                request["failed"] = params.get("errorText", "failed")
        return list(requests.values())

    def problems(self) -> list[str]:
        """Failed loads, uncaught exceptions, console errors of the page and errors Chromium logged for it."""
        found = [f"{r['method']} {r['url']}: {r['failed']}" for r in self.responses() if r["failed"]]
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                found.append(f"console ({entry['source']}): {entry['text']} {entry.get('url', '')}".rstrip())
            elif event["method"] == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
            elif event["method"] == "Runtime.consoleAPICalled" and params.get("type") == "error":
                words = (str(arg.get("value", arg.get("description"))) for arg in params["args"])
                found.append("console.error: " + " ".join(words))
        return found

    def summary(self) -> str:
        lines = [f"{r['method']} {r['url']} -> {r['status']} {r['mime']} {r['failed']}" for r in self.responses()]
        return "responses:\n" + "\n".join(lines) + "\nproblems:\n" + "\n".join(self.problems())


def page_url(stack, path: str) -> str:
    # Chromium resolves localhost with the host's /etc/hosts, to the namespace's loopback: the stack's server_name.
    port = "" if stack.port == 80 else f":{stack.port}"
    return f"http://localhost{port}{path}"


def screenshot_path(stack, page: str) -> Path:
    return REPORT_DIR / f"{stack.report.name}-{page}.png"


def record_screenshot(stack, browser: Browser, page: str) -> None:
    path = screenshot_path(stack, page)
    browser.screenshot(path)
    stack.report.metrics.setdefault("screenshots", []).append(path.name)


def assert_same_origin_answers(browser: Browser, origin: str, prefix: str) -> list[dict]:
    """The page's requests to the stack: all under the prefix, none answered with an error (one still unanswered
    after the wait counts as failed)."""
    browser.wait_for_answers()
    own = [r for r in browser.responses() if urlsplit(r["url"]).netloc == origin]
    assert own, f"no responses from {origin}\n{browser.summary()}"
    outside = [r["url"] for r in own if not urlsplit(r["url"]).path.startswith(prefix + "/")]
    assert not outside, f"requests outside {prefix}/: {outside}"
    failed = [f"{r['method']} {r['url']} -> {r['status']} {r['failed']}" for r in own if not 200 <= r["status"] < 400]
    assert not failed, f"failed requests: {failed}\n{browser.summary()}"
    return own


# The Dash graph's title as Plotly drew it in the page (SVG text), and the value the slider shows.
GRAPH_TITLE = "document.querySelector('#wave .gtitle')?.textContent || ''"
SLIDER = "document.querySelector('#frequency [role=slider]')"


def check_dash_page(stack) -> None:
    url = page_url(stack, f"{PREFIX}/")
    with Browser(stack.testbed.leader_pid) as browser:
        browser.open(url)
        value = browser.wait_for(f"{SLIDER}?.getAttribute('aria-valuenow')", "the frequency slider")
        # Drawn by the callback once the browser has the layout and dependencies and has POSTed the slider's value.
        title = browser.wait_for(f"(t => t.includes(' {value} Hz') && t)({GRAPH_TITLE})", f"a graph of {value} Hz")
        callbacks = browser.wait_for_responses(f"{PREFIX}/_dash-update-component", 1)
        own = assert_same_origin_answers(browser, urlsplit(url).netloc, PREFIX)
        paths = [(r["method"], urlsplit(r["url"]).path) for r in own]
        for wanted in (("GET", f"{PREFIX}/_dash-layout"), ("GET", f"{PREFIX}/_dash-dependencies")):
            assert wanted in paths, f"the page did not request {wanted}: {paths}"
        assert ("POST", f"{PREFIX}/_dash-update-component") in paths, f"the callback was not a POST: {paths}"
        assert any("/_dash-component-suites/" in path for _, path in paths), f"no component suites loaded: {paths}"
        # A person moves the slider (keyboard: focus its handle, one step right); the browser calls the callback again.
        browser.evaluate(f"{SLIDER}.focus()")
        for kind in ("keyDown", "keyUp"):
            browser.send(
                "Input.dispatchKeyEvent",
                {"type": kind, "key": "ArrowRight", "code": "ArrowRight", "windowsVirtualKeyCode": 39},
            )
        now = f"{SLIDER}.getAttribute('aria-valuenow')"
        moved = browser.wait_for(f"{now} !== '{value}' && {now}", "the slider moved")
        browser.wait_for(f"{GRAPH_TITLE}.includes(' {moved} Hz')", f"the graph redrawn at {moved} Hz")
        # The redraw needs the callback's answer, so the request happened; this checks it went through the proxy
        # under the prefix and was answered.
        browser.wait_for_responses(f"{PREFIX}/_dash-update-component", len(callbacks) + 1)
        assert not browser.problems(), browser.summary()
        stack.report.metrics["browser_dash"] = {"graph_title": title, "requests": len(browser.responses())}


# Only Django's admin CSS sets these: the --secondary colour on :root and the header's background from it.
ADMIN_STYLE = """(() => {
    const header = document.querySelector('#header');
    const sheets = [...document.querySelectorAll('link[rel=stylesheet]')].map(link => {
        let rules = -1;
        try { rules = link.sheet ? link.sheet.cssRules.length : -1; } catch (error) { rules = -2; }
        return {href: link.href, rules};
    });
    return {
        secondary: getComputedStyle(document.documentElement).getPropertyValue('--secondary').trim(),
        header: header ? getComputedStyle(header).backgroundColor : null,
        form: !!document.querySelector('#login-form #id_username'),
        sheets,
    };
})()"""
TRANSPARENT = "rgba(0, 0, 0, 0)"
CSS_OK = (200, "text/css")


def check_admin_login(stack) -> None:
    url = page_url(stack, f"{PREFIX}/admin/login/")
    with Browser(stack.testbed.leader_pid) as browser:
        browser.open(url)
        style = browser.evaluate(ADMIN_STYLE)
        assert style["form"], f"no login form on the page\n{browser.summary()}"
        assert style["sheets"], "no stylesheet linked from the admin login page"
        unparsed = [sheet["href"] for sheet in style["sheets"] if sheet["rules"] <= 0]
        assert not unparsed, f"stylesheets not applied (missing, empty, not CSS): {unparsed}\n{browser.summary()}"
        css = [r for r in browser.responses() if urlsplit(r["url"]).path.endswith(".css")]
        wrong = [f"{r['url']} -> {r['status']} {r['mime']}" for r in css if (r["status"], r["mime"]) != CSS_OK]
        assert css and not wrong, f"stylesheets: {wrong or 'none requested'}"
        assert style["secondary"], f"the admin's CSS variables are not defined: {style}"
        assert style["header"] not in (None, TRANSPARENT), f"the admin header is not styled: {style}"
        assert_same_origin_answers(browser, urlsplit(url).netloc, PREFIX)
        assert not browser.problems(), browser.summary()
        stack.report.metrics["browser_admin"] = {"header_background": style["header"], "stylesheets": len(css)}


# ---------------------------------------------------------------- the audit: axe-core and the console

# Every rule axe-core runs by default (WCAG 2.0-2.2 A and AA, best practices); the violations, with where they are.
AXE_RUN = """axe.run(document, {resultTypes: ['violations']}).then(results => ({
    version: axe.version,
    violations: results.violations.map(rule => ({
        id: rule.id,
        impact: rule.impact,
        help: rule.help,
        nodes: rule.nodes.map(node => node.target.join(' ')),
    })),
}))"""
JOB_FORM = "document.getElementById('start-job')"
JOB_RESULT = "document.querySelector('#job-status a')?.href"


def settle(browser: Browser) -> None:
    """Wait until the page shows what it is for: a Dash page its graph (drawn by a callback after the load event)."""
    if browser.evaluate("!!document.getElementById('react-entry-point')"):
        browser.wait_for(f"{GRAPH_TITLE}.includes('Hz')", "the Dash graph drawn by its callback")


def run_job(browser: Browser) -> None:
    """Start the background job as a person does (the form's button) and wait for the link to its image."""
    browser.evaluate(f"{JOB_FORM}.querySelector('button[type=submit]').click()")
    deadline = time.monotonic() + JOB_TIMEOUT
    while not browser.evaluate(JOB_RESULT) and not browser.problems():  # problems: the audit reports them
        assert time.monotonic() < deadline, f"the job's image link: not seen after {JOB_TIMEOUT} s\n{browser.summary()}"
        time.sleep(0.2)


def audit(browser: Browser) -> dict:
    """axe-core's violations on the page as it is now, and every error the page logged so far."""
    browser.evaluate(AXE.read_text())
    result = browser.evaluate(AXE_RUN, wait=True)
    return {"axe-core": result["version"], "violations": result["violations"], "console": browser.problems()}


def audit_page(browser: Browser, url: str, *, run_jobs: bool = True) -> dict:
    """Open `url`, let it settle, audit it; on the job page (with `run_jobs`), run the job too and audit the page
    showing its result (violations of both states, once each)."""
    browser.open(url)
    settle(browser)
    findings = audit(browser)
    if run_jobs and browser.evaluate(f"!!{JOB_FORM}"):
        run_job(browser)
        after = audit(browser)
        seen = {(rule["id"], tuple(rule["nodes"])) for rule in findings["violations"]}
        findings["violations"] += [r for r in after["violations"] if (r["id"], tuple(r["nodes"])) not in seen]
        findings["console"] = after["console"]
    return findings


def failures(findings: dict) -> list[str]:
    """What fails the audit: violations of serious or critical impact, and any error logged."""
    failing = [rule for rule in findings["violations"] if rule["impact"] in FAILING_IMPACTS]
    return [f"axe {r['impact']}: {r['id']} ({r['help']}): {'; '.join(r['nodes'])}" for r in failing] + [
        f"console: {problem}" for problem in findings["console"]
    ]


def audit_check(page: str, path: str):
    """The check of one page: its findings and screenshot go to the report, its failures fail it."""

    def check(stack) -> None:
        with Browser(stack.testbed.leader_pid) as browser:
            findings = audit_page(browser, page_url(stack, PREFIX + path))
            record_screenshot(stack, browser, page)
            chromium = browser.send("Browser.getVersion", browser=True)["product"]
        audits = stack.report.metrics.setdefault("browser_audit", {})
        audits.setdefault("pages", {})[PREFIX + path] = {"screenshot": screenshot_path(stack, page).name, **findings}
        audits["tools"] = f"axe-core {findings['axe-core']}, {chromium} (headless)"
        failed = failures(findings)
        assert not failed, "\n".join(failed)

    return check


def chromium_missing() -> str:
    """Why the browser checks cannot run here, or "". Without Chromium the stack records the reason
    (report.metrics["skipped"]) instead: its test skips after its other checks ran, or fails under CI=true
    (tests/e2e/test_stacks.py)."""
    if find_chromium() is None:
        return "browser checks: chromium not installed (Debian package chromium): run install-system-packages.sh"
    return ""


def axe_missing() -> str:
    if not AXE.is_file():
        return f"browser audit: axe-core not installed ({AXE}): run scripts/install-node-packages.sh"
    return chromium_missing()


def browser_stack(framework: str = ""):
    return lambda spec: spec.name in BROWSER_STACKS and framework in ("", spec.framework)


# Every page a browser stack serves to a person: (name, path below the prefix, which stacks have it).
PAGES = [
    ("home", "/", lambda spec: True),
    ("about", "/about", lambda spec: True),
    ("notes", "/notes", lambda spec: spec.database != "none"),
    ("jobs", "/jobs", lambda spec: spec.celery),
    ("admin-login", "/admin/login/", lambda spec: spec.framework == "django" and spec.database != "none"),
]


def page_of_browser_stack(has_page):
    return lambda spec: browser_stack()(spec) and has_page(spec)


CHECKS = [
    Check(
        "after_install",
        "browser: dash page drawn by its callback",
        check_dash_page,
        browser_stack("dash"),
        unavailable=chromium_missing,
    ),
    Check(
        "after_install",
        "browser: django admin login styled",
        check_admin_login,
        browser_stack("django"),
        unavailable=chromium_missing,
    ),
    *(
        Check(
            "after_install",
            f"browser: {page} page passes axe-core, no console errors",
            audit_check(page, path),
            page_of_browser_stack(has_page),
            unavailable=axe_missing,
        )
        for page, path, has_page in PAGES
    ),
]


def main(argv: list[str] | None = None) -> int:
    """The audit on pages served on this machine; exits 1 if one fails."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.e2e.browser",
        description="Audit pages with axe-core in headless Chromium, as the end-to-end stacks do: a violation of"
        " serious or critical impact or any error logged to the console fails.",
    )
    parser.add_argument("urls", nargs="+", metavar="URL")
    parser.add_argument("--no-jobs", action="store_true", help="do not run the job of the Celery job page")
    parser.add_argument("--screenshots", type=Path, metavar="DIR", help="save a screenshot of each page here")
    arguments = parser.parse_args(argv)
    if find_chromium() is None or not AXE.is_file():
        parser.error("needs chromium (scripts/install-system-packages.sh), axe-core (install-node-packages.sh)")
    failed = False
    for number, url in enumerate(arguments.urls, 1):
        with Browser(None) as browser:
            findings = audit_page(browser, url, run_jobs=not arguments.no_jobs)
            if arguments.screenshots:
                browser.screenshot(arguments.screenshots / f"page-{number}.png")
        failing = failures(findings)
        failed = failed or bool(failing)
        print(f"{url}: {'FAILED' if failing else 'passed'} (axe-core {findings['axe-core']})")
        for rule in findings["violations"]:
            print(f"  axe {rule['impact']}: {rule['id']} ({rule['help']}): {'; '.join(rule['nodes'])}")
        for problem in findings["console"]:
            print(f"  console: {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
