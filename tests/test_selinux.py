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
from tests.fake_deploy import fake_deploy
from tests.render import render_cookiecutter

pytestmark = pytest.mark.deploy

SLUG = "my-web-app"
NAME = SLUG.replace("-", "_")
MODULE = f"selinux/{NAME}_proxy"
REDIS = f"selinux/{NAME}_redis"  # the app's own Redis, with task_queue=celery
# RHEL's name for the type of Redis's runtime files; Debian's policy has it as an alias of redis_runtime_t, the name
# sesearch prints.
REDIS_RUNTIME = "redis_runtime_t"


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


def test_every_stack_with_a_proxy_or_celery_has_its_module_and_no_other_stack_has_one():
    for answers, files in rendered_matrix():
        names = sorted(name for name in files if name.startswith("selinux/"))
        expected = [f"{MODULE}.fc", f"{MODULE}.te"] if answers["proxy"] in ("nginx", "apache") else []
        expected += [f"{REDIS}.fc", f"{REDIS}.te"] if answers["task_queue"] == "celery" else []
        assert names == sorted(expected), answers


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
        # The listening socket's owner: systemd (a .socket unit) or a system service as root; with --user the
        # account's own processes.
        system = "init_t" if "type init_t;" in te else "unconfined_service_t"
        rules += [
            ("httpd_t", f"{NAME}_app_socket_t", "dir", "search"),
            ("httpd_t", f"{NAME}_app_socket_t", "sock_file", "write"),
            ("httpd_t", system, "unix_stream_socket", "connectto"),
            ("httpd_t", "unconfined_t", "unix_stream_socket", "connectto"),
        ]
        if "Daphne" in te:  # websockets=channels: Daphne binds its own socket, as a system service
            rules.append(("httpd_t", "unconfined_service_t", "unix_stream_socket", "connectto"))
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
    # The file contexts rendered beside a module of the same bind (the modules differ by supervisor, the contexts not).
    bind = "_app_socket_t" in unique.content
    contexts = [fc for fc in unique_files()["selinux-contexts"] if ("_app_socket_t" in fc.content) == bind]
    assert contexts
    for fc in contexts:
        assert_contexts_pass_setfiles(policy, fc.content, tmp_path)
    broken = contexts[0].content.replace(f"{NAME}_app_path_t", f"{NAME}_app_pth_t")
    with pytest.raises(AssertionError):
        assert_contexts_pass_setfiles(policy, broken, tmp_path)


# ---------------------------------------------------------------- the app's own Redis (task_queue=celery)
def redis_policy(unique: UniqueFile, directory: Path, with_redis: bool = True) -> Path:
    """The reference policy with this stack's modules installed together, as install.sh loads them: the proxy's (when
    the stack has one) and, with `with_redis`, the Redis one."""
    directory.mkdir(parents=True)
    modules = [MODULE] * (f"{MODULE}.te" in unique.companion) + [REDIS] * with_redis
    packages = []
    for module in modules:
        te, fc = directory / f"{Path(module).name}.te", directory / f"{Path(module).name}.fc"
        te.write_text(unique.companion[f"{module}.te"])
        fc.write_text(unique.companion[f"{module}.fc"])
        package = validators.selinux_package(te, fc, directory)
        assert package.ok, package
        packages.append(directory / f"{Path(module).name}.pp")
    installed, policy = validators.selinux_policy_with(packages, directory)
    assert installed.ok, installed
    return policy


def socket_directory_type(unique: UniqueFile) -> str:
    """The type of the run directory Redis makes its socket in: the proxy module's own with bind=unix, else /run's."""
    return f"{NAME}_app_socket_t" if f"type {NAME}_app_socket_t;" in unique.content else "var_run_t"


@pytest.mark.parametrize("unique", params("selinux-redis-module"))
def test_redis_module_builds_and_lets_redis_write_its_queue_and_socket(unique, tmp_path):
    """Each distinct Redis module: compiled as install.sh does and by the reference policy's Makefile, loaded with the
    proxy's module; redis_t (the domain systemd starts /usr/bin/redis-server in) may then make its socket in the run
    directory, where it is labelled a Redis runtime file, and write its queue where the .fc labels it; the file
    contexts pass `setfiles -c`."""
    te, fc = tmp_path / "src" / f"{NAME}_redis.te", tmp_path / "src" / f"{NAME}_redis.fc"
    te.parent.mkdir()
    te.write_text(unique.content)
    fc.write_text(unique.companion[f"{REDIS}.fc"])
    assert validators.selinux_package(te, fc, tmp_path / "src").ok
    built = validators.selinux_refpolicy_build(te, fc, tmp_path)
    assert built.ok, built
    policy = redis_policy(unique, tmp_path / "policy")
    directory = socket_directory_type(unique)
    for rule in [("redis_t", directory, "dir", "add_name"), ("redis_t", directory, "dir", "remove_name"),
                 ("redis_t", REDIS_RUNTIME, "sock_file", "create"), ("redis_t", "redis_var_lib_t", "dir", "add_name"),
                 ("redis_t", "redis_var_lib_t", "file", "write")]:  # fmt: skip
        found = validators.sesearch_allows(policy, *rule)
        assert found.ok, found
    transition = validators.run([validators.require_tool("sesearch", "setools"), "-T", "-s", "redis_t", "-t", directory,
                                 "-c", "sock_file", str(policy)])  # fmt: skip
    assert f"type_transition redis_t {directory}:sock_file {REDIS_RUNTIME};" in transition.stdout, transition
    contexts = tmp_path / "redis_file_contexts"
    contexts.write_text(unique.companion[f"{REDIS}.fc"])
    check = validators.setfiles_check(policy, contexts)
    assert check.ok, check
    assert "/redis(/.*)? system_u:object_r:redis_var_lib_t:s0" in contexts.read_text()
    assert "/redis\\.sock -s system_u:object_r:redis_var_run_t:s0" in contexts.read_text()


def test_without_the_redis_module_redis_cannot_make_its_socket(tmp_path):
    """The rule the module adds is not in the policy without it (the proxy's module alone, bind=unix)."""
    unique = next(param.values[0] for param in params("selinux-redis-module")
                  if socket_directory_type(param.values[0]) != "var_run_t")  # fmt: skip
    policy = redis_policy(unique, tmp_path / "policy", with_redis=False)
    assert not validators.sesearch_allows(policy, "redis_t", f"{NAME}_app_socket_t", "dir", "add_name").ok


# ---------------------------------------------------------------- which domain owns the socket
def test_the_socket_owner_follows_the_supervisor():
    """systemd makes the socket itself (init_t); supervisord's programs run as unconfined_service_t. Both modules
    also name unconfined_t, the domain of an account's own processes (install.sh --user installs the same files)."""
    modules = {unique.combos[0]["supervisor"]: unique.content for unique in unique_files()["selinux-module"]
               if "_app_socket_t" in unique.content and "Daphne" not in unique.content}  # fmt: skip
    assert "type init_t;" in modules["systemd"] and "unconfined_service_t" not in modules["systemd"].split("require")[1]
    assert "type unconfined_service_t;" in modules["supervisord"] and "type init_t;" not in modules["supervisord"]
    for te in modules.values():
        assert "type unconfined_t;" in te
    # websockets=channels under systemd: Daphne binds its socket itself, in a service's domain.
    daphne = [unique for unique in unique_files()["selinux-module"] if "Daphne" in unique.content]
    assert {unique.combos[0]["supervisor"] for unique in daphne} == {"systemd"}
    assert all("type init_t;" in unique.content and "type unconfined_service_t;" in unique.content for unique in daphne)


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


@pytest.mark.parametrize("answers", RHEL_STACKS, ids=["nginx-unix-systemd", "apache-tcp-supervisord"])
def test_rhel_install_runs_the_selinux_commands_and_installs_their_packages(answers, tmp_path):
    """A first install on a RHEL server with SELinux enabled (pyinfra's @fake host: tests/fake_deploy.py)."""
    project = render_cookiecutter(tmp_path, **answers)
    run = fake_deploy(project, "rhel")
    assert run.returncode == 0 and run.stderr == "", run
    lines, commands = run.lines(), run.ran()
    packages = next(command for command in commands if command.startswith("dnf install -y ")).split()[3:]
    selinux = [command for command in commands if command.split()[0] in RHEL_PACKAGE_OF]
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
    assert lines.index(f"+ semodule -i {module}.pp") < min(starts)
    # What root builds from is its own copy of the rendered sources.
    for suffix in ("te", "fc"):
        assert run.uploads[f"{module}.{suffix}"] == (project / "deploy" / f"{MODULE}.{suffix}").read_text()
    labels = [command for command in selinux if command.startswith("semanage port ")]
    if answers["bind"] == "tcp":
        validators.require_tool("semanage", "policycoreutils-python-utils")
        assert len(labels) == 1 and f"type {NAME}_app_port_t;" in (project / "deploy" / f"{MODULE}.te").read_text()
        for part in labels[0].split(" || "):
            words = [word for word in part.split() if not word.startswith("2>")]  # the redirection is the shell's
            parsed = subprocess.run(
                ["/usr/bin/python3", "-Es", "-c", SEMANAGE_PARSE, *words[1:]],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            assert parsed.returncode == 0 and parsed.stderr == "", parsed
            assert parsed.stdout.split()[2:] == [f"{NAME}_app_port_t", "tcp", answers["port"]], parsed.stdout
    else:
        assert labels == []
    assert f"+ restorecon -R /srv/{SLUG} /run/{SLUG} /var/lib/{SLUG}/media /var/lib/{SLUG}/protected" in lines


def test_debian_install_skips_selinux_in_one_line(tmp_path):
    project = render_cookiecutter(tmp_path, **RHEL_STACKS[0])
    run = fake_deploy(project, "debian")
    assert run.returncode == 0 and run.stderr == "", run
    assert [line for line in run.lines() if "SELinux" in line] == [
        "install.sh: SELinux: the policy module is for RHEL-family systems; skipped"
    ]
    assert not any(command.split()[0] in RHEL_PACKAGE_OF for command in run.commands)
    assert not any("selinux" in destination for destination in run.uploads)
