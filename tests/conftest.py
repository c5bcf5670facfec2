"""Shared fixtures for the template's tests."""

import time

import pytest

from tests.e2e.report import write_summary
from tests.render import render_cookiecutter


@pytest.fixture(scope="session")
def default_project(tmp_path_factory):
    """One project with every default answer, generated once per test process (read-only for tests)."""
    return render_cookiecutter(tmp_path_factory.mktemp("default"))


# The end-to-end report. Each stack test writes build/reports/e2e/<stack>.json; when the session ends (on the xdist
# controller, or the only process) this session's results are gathered into build/reports/e2e.json and the table
# build/reports/e2e.md. The hooks live here, not in tests/e2e/: an xdist controller never loads that directory's
# conftest.py when the whole suite runs.
SESSION_STARTED = {"at": 0.0}


def pytest_sessionstart(session):
    SESSION_STARTED["at"] = time.time()


def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller writes the summary once all are done
    path = write_summary(since=SESSION_STARTED["at"])
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if path is not None and reporter is not None:
        reporter.write_line(f"end-to-end report: {path}")
        reporter.write_line(path.read_text())
