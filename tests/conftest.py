"""Shared fixtures for the template's tests."""

import pytest

from tests.render import render_cookiecutter


@pytest.fixture(scope="session")
def default_project(tmp_path_factory):
    """One project with every default answer, generated once per test process (read-only for tests)."""
    return render_cookiecutter(tmp_path_factory.mktemp("default"))
