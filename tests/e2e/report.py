"""Gather the per-stack results (build/reports/e2e/*.json) into build/reports/e2e.json and e2e.md."""

import json
from pathlib import Path

from tests.e2e.browser import FAILING_IMPACTS
from tests.e2e.stack import REPORT_DIR

SUMMARY_JSON = REPORT_DIR.parent / "e2e.json"
SUMMARY_MD = REPORT_DIR.parent / "e2e.md"


def seconds(value) -> str:
    return "-" if value is None else f"{value:.2f} s"


def row(result: dict) -> str:
    metrics = result["metrics"]
    failed = [check["name"] for check in result["checks"] if not check["ok"]]
    reload = metrics.get("reload", {})
    cells = [
        result["name"],
        metrics.get("install_mode", "-"),
        seconds(metrics.get("first_200_seconds")),
        seconds(metrics.get("kill9_recovery_seconds")),
        ", ".join(f"{kind} x{count}" for kind, count in metrics.get("kill9_answers", {}).items()) or "-",
        f"{metrics['reload_failed_requests']} / {reload['requests']}" if "reload_failed_requests" in metrics else "-",
        str(reload.get("stale_retries", "-")),
        seconds(metrics.get("stop_seconds")),
        seconds(metrics.get("install_seconds")),
        "all passed" if not failed and result["checks"] else ("FAILED: " + "; ".join(failed) if failed else "not run"),
    ]
    if metrics.get("skipped"):
        cells[-1] += " (skipped: " + "; ".join(metrics["skipped"]) + ")"
    return "| " + " | ".join(cells) + " |"


def screenshots(results: list[dict]) -> list[str]:
    """Links to the pages headless Chromium saw (tests/e2e/browser.py), next to this file in e2e/."""
    shots = [(result["name"], name) for result in results for name in result["metrics"].get("screenshots", [])]
    if not shots:
        return []
    lines = ["## What a browser saw", "", "Headless Chromium through the stack's proxy (tests/e2e/browser.py).", ""]
    for stack, name in shots:
        lines += [f"### {stack}: [{name}]({REPORT_DIR.name}/{name})", "", f"![{name}]({REPORT_DIR.name}/{name})", ""]
    return lines


def audits(results: list[dict]) -> list[str]:
    """Each audited page's findings (tests/e2e/browser.py): what failed it, what did not, what it logged."""
    audited = [
        (result["name"], result["metrics"]["browser_audit"])
        for result in results
        if "browser_audit" in result["metrics"]
    ]
    if not audited:
        return []
    tools = sorted({audit["tools"] for _, audit in audited if "tools" in audit})
    lines = [
        "## Accessibility and the console",
        "",
        f"Every page of the browser stacks audited in the page: {'; '.join(tools)}. A violation of"
        f" {' or '.join(FAILING_IMPACTS)} impact fails the page, as does any error logged to its console.",
        "",
        "| stack | page | failing | other violations | console errors | screenshot |",
        "|---|---|---|---|---|---|",
    ]
    for stack, audit in audited:
        for page, findings in audit.get("pages", {}).items():
            failing = [f"{r['impact']}: {r['id']}" for r in findings["violations"] if r["impact"] in FAILING_IMPACTS]
            other = [f"{r['impact']}: {r['id']}" for r in findings["violations"] if r["impact"] not in FAILING_IMPACTS]
            console = [problem.replace("|", "\\|") for problem in findings["console"]]
            shot = f"[{findings['screenshot']}]({REPORT_DIR.name}/{findings['screenshot']})"
            cells = [
                stack,
                page,
                ", ".join(failing) or "none",
                ", ".join(other) or "none",
                "; ".join(console) or "none",
                shot,
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def write_summary(since: float = 0.0) -> Path | None:
    """The table for the stacks whose results were written after `since` (this session's); None if there are none."""
    results = []
    for path in sorted(REPORT_DIR.glob("*.json")) if REPORT_DIR.is_dir() else []:
        result = json.loads(path.read_text())
        if result.get("written", 0) >= since:
            results.append(result)
    if not results:
        return None
    SUMMARY_JSON.write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# End-to-end stacks",
        "",
        "framework-server-proxy-supervisor-database. install: as root, or `install.sh --user` (an ordinary account"
        " with its own supervisord). first 200: from the start command to the first 200 through the"
        " proxy; kill -9: from SIGKILL of the server's master to the next 200 from a new master (systemd stacks take"
        " their socket from a .socket unit, so requests wait rather than fail), and what answered meanwhile; reload:"
        " failed / total requests of 16 keep-alive clients while install.sh deployed a code change (stale: requests"
        " resent once on a new connection after the server closed an idle keep-alive one, RFC 9112 9.3.1).",
        "",
        "| stack | install | first 200 | kill -9 recovery | answers while down | reload failed / requests | stale"
        " | stop | install time | checks |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(row(result) for result in results),
        "",
        *audits(results),
        *screenshots(results),
    ]
    SUMMARY_MD.write_text("\n".join(lines))
    return SUMMARY_MD
