"""The end-to-end report: each stack test writes build/reports/e2e/<stack>.json; when the session ends (on the xdist
controller, or the only process) the results of this session are gathered into build/reports/e2e.json and the
Markdown table build/reports/e2e.md."""

import time

from tests.e2e.report import write_summary

SESSION_STARTED = {"at": 0.0}


def pytest_sessionstart(session):
    SESSION_STARTED["at"] = time.time()


def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller writes the summary once all are done
    path = write_summary(since=SESSION_STARTED["at"])
    if path is not None:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"end-to-end report: {path}")
            reporter.write_line(path.read_text())
