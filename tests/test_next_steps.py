"""The next steps both tools print start with a `cd` that reaches the project from where the command ran: copier's
destination as typed (which need not be the slug), cookiecutter's output directory and slug."""

import os
import re
import shlex
import subprocess
import sys

import pytest

from tests.render import TEMPLATE_ROOT

COMMANDS = {
    # (command after `python -m`, where the project is, relative to the directory the command ran in)
    "copier": (["copier", "copy", "--trust", "--defaults", "--vcs-ref", "HEAD", "-d", "project_name=EEG-QC",
                str(TEMPLATE_ROOT), "eegqc"], "eegqc"),
    "cookiecutter": (["cookiecutter", "--no-input", str(TEMPLATE_ROOT), "project_name=EEG-QC"], "eeg-qc"),
    "cookiecutter -o": (["cookiecutter", "--no-input", "-o", "build", str(TEMPLATE_ROOT), "project_name=EEG-QC"],
                        "build/eeg-qc"),
}  # fmt: skip


@pytest.mark.parametrize("tool", COMMANDS)
def test_the_printed_cd_reaches_the_project(tmp_path, tool):
    command, where = COMMANDS[tool]
    result = subprocess.run(
        [sys.executable, "-m", *command],
        cwd=tmp_path,
        env={**os.environ, "PWD": str(tmp_path)},  # as the user's shell sets it
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    cd = re.search(r"^  cd (.+)$", result.stdout, re.MULTILINE)
    assert cd, result.stdout
    assert shlex.split(cd.group(1)) == [where]
    assert (tmp_path / where / "manage.py").is_file()
