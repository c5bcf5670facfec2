"""--user: the administrator's command that installs a root-owned copy of a file the account generated (the proxy's
site, the SELinux module's sources). It must check before anything is readable: a link is refused, a file that does
not match what was shown never becomes the target, and the copy is never readable by others before it matches."""

import os
import re
import stat
import subprocess
import sys

import pytest

from tests.ci import require_tool, skip_or_fail
from tests.render import render_cookiecutter, valid_for

ADMIN_COMMAND = re.compile(r"^install\.sh: as root: (.+)$", re.M)
SHOW = """
import sys
sys.path.insert(0, sys.argv[1])
from engine.context import Deploy, Options
from engine import proxy
proxy.hand_to_administrator(Deploy(Options(user=True)), sys.argv[2], sys.argv[3])
"""


@pytest.fixture(scope="module")
def deploy_dir(tmp_path_factory):
    answers = valid_for({"proxy": "nginx", "supervisor": "supervisord", "url_prefix": "/eegqc"})
    return render_cookiecutter(tmp_path_factory.mktemp("admin-copy"), **answers) / "deploy"


def administrator_command(deploy_dir, source, target) -> str:
    shown = subprocess.run([sys.executable, "-c", SHOW, str(deploy_dir), str(source), str(target)],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    commands = ADMIN_COMMAND.findall(shown)
    assert len(commands) == 1, shown
    return commands[0]


@pytest.fixture
def as_root():
    if os.geteuid() != 0:
        skip_or_fail("the administrator's command installs a root-owned file: run the tests as root")
    return require_tool("bash")


def test_a_matching_file_becomes_a_root_owned_copy(deploy_dir, tmp_path, as_root):
    source, target = tmp_path / "site.conf", tmp_path / "etc" / "site.conf"
    source.write_text("server_name lab;\n")
    command = administrator_command(deploy_dir, source, target)
    subprocess.run([as_root, "-c", command], check=True)
    assert target.read_text() == "server_name lab;\n"
    info = target.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o644)
    assert not target.with_name("site.conf.new").exists()


def test_a_link_is_refused_and_nothing_is_installed(deploy_dir, tmp_path, as_root):
    secret = tmp_path / "root-only"
    secret.write_text("SECRET=1\n")
    secret.chmod(0o600)
    source, target = tmp_path / "site.conf", tmp_path / "etc" / "site.conf"
    source.write_text("server_name lab;\n")
    command = administrator_command(deploy_dir, source, target)
    source.unlink()
    source.symlink_to(secret)  # swapped after it was shown
    # Refused before anything is copied: the command's first part (up to the check) leaves no copy of the secret.
    subprocess.run([as_root, "-c", command.split(" && {", 1)[0]], capture_output=True, check=False)
    assert not target.with_name("site.conf.new").exists(), "the link's target was copied before the check"
    result = subprocess.run([as_root, "-c", command], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert not target.exists() and not target.with_name("site.conf.new").exists()


def test_a_changed_file_never_becomes_the_target_nor_readable(deploy_dir, tmp_path, as_root):
    source, target = tmp_path / "site.conf", tmp_path / "etc" / "site.conf"
    source.write_text("server_name lab;\n")
    command = administrator_command(deploy_dir, source, target)
    source.write_text("server_name lab; include /etc/shadow;\n")  # changed after it was shown
    # The copy made before the check is root's alone: the command's first part (up to the check), run by itself.
    first_part = command.split(" && {", 1)[0]
    subprocess.run([as_root, "-c", first_part], check=True)
    new = target.with_name("site.conf.new")
    assert stat.S_IMODE(new.stat().st_mode) == 0o600 and new.stat().st_uid == 0, "the unchecked copy is readable"
    new.unlink()
    result = subprocess.run([as_root, "-c", command], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert not target.exists() and not new.exists()
