"""Skipping rules: a missing tool skips a test on a developer's machine but fails it in CI."""

import os
import shutil

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> None:
    """Skip with `reason`; under CI=true (where scripts/install-system-packages.sh has run) fail instead."""
    if in_ci():
        pytest.fail(f"{reason} -- required when CI=true")
    pytest.skip(reason)


def require_tool(name: str, package: str | None = None) -> str:
    """Absolute path of command `name`, or skip/fail naming the Debian package that provides it."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        skip_or_fail(f"{name} not installed (Debian package {package or name}): run scripts/install-system-packages.sh")
    return path
