"""deploy/selinux/: the SELinux policy module of every stack with a proxy, through the real SELinux tools.

There is no SELinux kernel here (nor in CI): nothing is enforced. What runs is everything short of that: each distinct
module is compiled (checkmodule, semodule_package: install.sh's commands) and built by the reference policy's own
Makefile; `semodule -i` installs it into a copy of Debian's whole policy store (relinked, its file contexts checked);
sesearch then reads the resulting binary policy and must find the rules that let httpd_t reach the app; `setfiles -c`
checks every distinct file-contexts file against that policy. Debian's reference policy stands in for RHEL's, with
RHEL's unconfined_service_t declared (tests/validators.py, RHEL_TYPES).
"""

import re
import subprocess
from pathlib import Path

import pytest

from tests import validators
from tests.deploy_support import UniqueFile, params, rendered_matrix, unique_files
from tests.render import render_cookiecutter

pytestmark = pytest.mark.deploy

SLUG = "my-web-app"
NAME = SLUG.replace("-", "_")
MODULE = f"selinux/{NAME}_proxy"


def sources(unique: UniqueFile, directory: Path, te: str | None = None) -> tuple[Path, Path]:
    """The module's .te and .fc of the unique file's first combination, written to `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    te_path, fc_path = directory / f"{NAME}_proxy.te", directory / f"{NAME}_proxy.fc"
    te_path.write_text(te if te is not None else unique.companion[f"{MODULE}.te"])
    fc_path.write_text(unique.companion[f"{MODULE}.fc"])
    return te_path, fc_path


def policy_with(te: str, fc: str, scratch: Path) -> Path:
    """The reference policy with this module installed by semodule -i (about 6 s of CPU: the whole policy is
    relinked, so each test builds one)."""
    directory = scratch / "policy"
    directory.mkdir()
    te_path, fc_path = directory / f"{NAME}_proxy.te", directory / f"{NAME}_proxy.fc"
    te_path.write_text(te)
    fc_path.write_text(fc)
    package = validators.selinux_package(te_path, fc_path, directory)
    assert package.ok, package
    installed, policy = validators.selinux_policy_with([directory / f"{NAME}_proxy.pp"], directory)
    assert installed.ok, installed
    return policy


def assert_contexts_pass_setfiles(policy: Path, fc: str, scratch: Path) -> None:
    contexts = scratch / "file_contexts"
    contexts.write_text(fc)
    check = validators.setfiles_check(policy, contexts)
    assert check.ok, check


def test_every_stack_with_a_proxy_has_a_module_and_no_other_stack_has_one():
    for answers, files in rendered_matrix():
        names = sorted(name for name in files if name.startswith("selinux/"))
        expected = [f"{MODULE}.fc", f"{MODULE}.te"] if answers["proxy"] in ("nginx", "apache") else []
        assert names == expected, answers


@pytest.mark.parametrize("unique", params("selinux-module"))
def test_module_compiles_and_builds_against_the_reference_policy(unique, tmp_path):
    te, fc = sources(unique, tmp_path / "src")
    compiled = validators.selinux_package(te, fc, tmp_path)
    assert compiled.ok, compiled
    built = validators.selinux_refpolicy_build(te, fc, tmp_path)
    assert built.ok, built


def test_checkmodule_rejects_a_misspelt_permission(tmp_path):
    unique = params("selinux-module")[0].values[0]
    # In the rules, not in the require block: a module declares the permissions it uses, and checkmodule checks the
    # rules against that declaration (the declaration itself is checked when the module is linked, by semodule).
    broken = re.sub(r"^(allow .*) (connectto|name_connect);$", r"\1 \2x;", unique.content, flags=re.M)
    assert broken != unique.content
    te, fc = sources(unique, tmp_path / "src", te=broken)
    assert not validators.selinux_package(te, fc, tmp_path).ok


def required_rules(te: str) -> list[tuple[str, str, str, str]]:
    """What the proxy needs, by the module's bind: (source, target, class, permission)."""
    rules = [("httpd_t", f"{NAME}_app_path_t", "dir", "search")]
    if f"{NAME}_app_socket_t" in te:
        domain = "unconfined_t" if "type unconfined_t;" in te else "unconfined_service_t"
        rules += [
            ("httpd_t", f"{NAME}_app_socket_t", "dir", "search"),
            ("httpd_t", f"{NAME}_app_socket_t", "sock_file", "write"),
            ("httpd_t", domain, "unix_stream_socket", "connectto"),
        ]
    else:
        rules += [("httpd_t", f"{NAME}_app_port_t", "tcp_socket", "name_connect")]
    return rules


@pytest.mark.parametrize("unique", params("selinux-module"))
def test_the_policy_lets_httpd_reach_the_app_and_every_file_context_passes_setfiles(unique, tmp_path):
    """One policy per distinct module: sesearch finds each rule the proxy needs; every distinct file-contexts file
    rendered with this module passes `setfiles -c` against it (and a misspelt type does not)."""
    policy = policy_with(unique.content, unique.companion[f"{MODULE}.fc"], tmp_path)
    for rule in required_rules(unique.content):
        found = validators.sesearch_allows(policy, *rule)
        assert found.ok, found
    # Nothing wider: not every socket under /run, not every port.
    assert not validators.sesearch_allows(policy, "httpd_t", "var_run_t", "sock_file", "write").ok
    assert not validators.sesearch_allows(policy, "httpd_t", "unreserved_port_t", "tcp_socket", "name_connect").ok
    if "_app_port_t" in unique.content:
        # Without the unix-socket module, httpd_t may not connect to the app's domain: that rule is the module's.
        assert not validators.sesearch_allows(
            policy, "httpd_t", "unconfined_service_t", "unix_stream_socket", "connectto"
        ).ok
    contexts = [fc for fc in unique_files()["selinux-contexts"] if fc.companion[f"{MODULE}.te"] == unique.content]
    assert contexts
    for fc in contexts:
        assert_contexts_pass_setfiles(policy, fc.content, tmp_path)
    broken = contexts[0].content.replace(f"{NAME}_app_path_t", f"{NAME}_app_pth_t")
    with pytest.raises(AssertionError):
        assert_contexts_pass_setfiles(policy, broken, tmp_path)


# ---------------------------------------------------------------- install.sh --user: the administrator's copy
USER_SOURCES = """\
set -euo pipefail
STEPS_DIR=$1/steps
source "$STEPS_DIR/project.sh"
source "$STEPS_DIR/common.sh"
for step in "$STEPS_DIR"/*.sh; do
    case ${step##*/} in project.sh | common.sh) ;; *) source "$step" ;; esac
done
SYSTEM_LAYOUT=("$APP_DIR" "$STATE_DIR" "$RUN_DIR" "$LOG_DIR")
PREFIX=$2
APP_DIR=$PREFIX/app STATE_DIR=$PREFIX/data RUN_DIR=$PREFIX/run LOG_DIR=$PREFIX/log CONF_DIR=$PREFIX/etc
USER_LAYOUT=("$APP_DIR" "$STATE_DIR" "$RUN_DIR" "$LOG_DIR")
USER_MODE=1
selinux_user_sources "$1/selinux/${APP_NAME//-/_}_proxy"
"""


def user_sources(unique: UniqueFile, scratch: Path, prefix: Path) -> tuple[str, str]:
    """install.sh's own selinux_user_sources (steps/proxy.sh) run on the rendered files; its .te and .fc."""
    deploy = scratch / "deploy"
    for name, content in unique.companion.items():
        (deploy / name).parent.mkdir(parents=True, exist_ok=True)
        (deploy / name).write_text(content)
    subprocess.run(
        ["bash", "-c", USER_SOURCES, "user-sources", str(deploy), str(prefix)], check=True, capture_output=True
    )
    written = prefix / "etc" / "selinux"
    return (written / f"{NAME}_proxy.te").read_text(), (written / f"{NAME}_proxy.fc").read_text()


def test_user_install_module_names_the_accounts_domain_and_prefix(tmp_path):
    """--user: the app runs as the account (unconfined_t) under a prefix with a dot in it; the copy the administrator
    loads builds, links, and gives httpd_t the socket and the way through the prefix."""
    unix = next(unique for unique in unique_files()["selinux-module"] if "_app_socket_t" in unique.content)
    prefix = tmp_path / "home" / "alice.b" / SLUG
    te, fc = user_sources(unix, tmp_path, prefix)
    assert "allow httpd_t unconfined_t:unix_stream_socket connectto;" in te and "unconfined_service_t;" not in te
    escaped = str(prefix).replace(".", r"\.")
    assert re.search(rf"^{re.escape(escaped)} -d system_u:object_r:{NAME}_app_path_t:s0$", fc, re.M), fc
    assert f"{escaped}/run/.* system_u:object_r:{NAME}_app_socket_t:s0" in fc
    assert "/srv/" not in fc and "/run/my-web-app" not in fc
    policy = policy_with(te, fc, tmp_path)
    for rule in required_rules(te):
        found = validators.sesearch_allows(policy, *rule)
        assert found.ok, found
    assert_contexts_pass_setfiles(policy, fc, tmp_path)


# ---------------------------------------------------------------- the RHEL path, as far as this machine goes
# Which RHEL package ships each program the SELinux step runs (Fedora/RHEL spec files: checkpolicy for checkmodule;
# policycoreutils for semodule, semodule_package, restorecon, setsebool; policycoreutils-python-utils for semanage).
RHEL_PACKAGE_OF = {
    "checkmodule": "checkpolicy",
    "semodule_package": "policycoreutils",
    "semodule": "policycoreutils",
    "restorecon": "policycoreutils",
    "setsebool": "policycoreutils",
    "semanage": "policycoreutils-python-utils",
}
SEMANAGE_PARSE = """\
import runpy, sys
semanage = runpy.run_path("/usr/sbin/semanage", run_name="semanage_syntax")
arguments = semanage["createCommandParser"]().parse_args(semanage["make_args"](["semanage", *sys.argv[1:]]))
print(arguments.subcommand, arguments.action, arguments.type, arguments.proto, arguments.port)
"""
RHEL_STACKS = [
    {"framework": "flask", "server": "gunicorn", "proxy": "nginx", "supervisor": "systemd", "bind": "unix"},
    {"framework": "django", "server": "uwsgi", "proxy": "apache", "supervisor": "supervisord", "bind": "tcp",
     "port": "8123"},
]  # fmt: skip


def dry_run(project: Path, root: Path, family: str) -> list[str]:
    result = subprocess.run(
        ["bash", str(project / "deploy" / "install.sh"), "--root", str(root), "--os", family],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == "", result
    return result.stdout.splitlines()


@pytest.mark.parametrize("answers", RHEL_STACKS, ids=["nginx-unix-systemd", "apache-tcp-supervisord"])
def test_rhel_dry_run_prints_the_selinux_commands_and_installs_their_packages(answers, tmp_path):
    project = render_cookiecutter(tmp_path, **answers)
    lines = dry_run(project, tmp_path / "root", "rhel")
    commands = [line.removeprefix("would run: ") for line in lines if line.startswith("would run: ")]
    packages = next(command for command in commands if command.startswith("dnf install -y ")).split()[3:]
    start = lines.index("install.sh: SELinux: when it is enabled on the server:")
    selinux = [line.removeprefix("would run: ") for line in lines[start + 1 :] if line.startswith("would run: ")]
    selinux = [command for command in selinux if command.split()[0] in RHEL_PACKAGE_OF]
    module = f"/usr/local/share/selinux/{SLUG}/{NAME}_proxy"
    assert selinux[:3] == [
        f"checkmodule -M -m -o {module}.mod {module}.te",
        f"semodule_package -o {module}.pp -m {module}.mod -f {module}.fc",
        f"semodule -i {module}.pp",
    ]
    for command in selinux:
        for part in command.split(" || "):
            assert RHEL_PACKAGE_OF[part.split()[0]] in packages, (part, packages)
    # The module is loaded before the app starts (the app's domain comes from the labels).
    starts = [i for i, line in enumerate(lines) if re.search(r"systemctl (restart|enable --now) \S+$", line)]
    assert lines.index(f"would run: semodule -i {module}.pp") < min(starts)
    # What root builds from is its own copy of the rendered sources.
    for suffix in ("te", "fc"):
        copy = (tmp_path / "root" / module.lstrip("/")).with_suffix(f".{suffix}")
        assert copy.read_text() == (project / "deploy" / f"{MODULE}.{suffix}").read_text()
    labels = [command for command in selinux if command.startswith("semanage port ")]
    if answers["bind"] == "tcp":
        validators.require_tool("semanage", "policycoreutils-python-utils")
        assert len(labels) == 1 and f"type {NAME}_app_port_t;" in (project / "deploy" / f"{MODULE}.te").read_text()
        for part in labels[0].split(" || "):
            parsed = subprocess.run(
                ["/usr/bin/python3", "-Es", "-c", SEMANAGE_PARSE, *part.split()[1:]],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            assert parsed.returncode == 0 and parsed.stderr == "", parsed
            assert parsed.stdout.split()[2:] == [f"{NAME}_app_port_t", "tcp", answers["port"]], parsed.stdout
    else:
        assert labels == []
    assert f"would run: restorecon -R /srv/{SLUG}" in lines


def test_debian_dry_run_skips_selinux_in_one_line(tmp_path):
    project = render_cookiecutter(tmp_path, **RHEL_STACKS[0])
    lines = dry_run(project, tmp_path / "root", "debian")
    assert [line for line in lines if "SELinux" in line] == [
        "install.sh: SELinux: the policy module is for RHEL-family systems; skipped"
    ]
    assert not any(line.split()[2:3] and line.split()[2] in RHEL_PACKAGE_OF for line in lines)
