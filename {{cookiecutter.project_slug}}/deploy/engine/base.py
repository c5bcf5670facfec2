"""What every project has: its account, its directories, its secrets, the Python its virtualenv is made from."""

from __future__ import annotations

import shlex
from io import StringIO
from pathlib import Path

from pyinfra.operations import files, server

from . import layout
from .context import Deploy
from .pieces import Packages

SOURCE_DIR = str(Path(__file__).resolve().parents[2])
PACKAGES = Packages(
    debian=("python3", "python3-venv", "curl"),
    rhel=(f"python{layout.PYTHON_VERSION[0]}.{layout.PYTHON_VERSION[1]}", "policycoreutils-python-utils"),
)
VERSION = ".".join(map(str, layout.PYTHON_VERSION))


def service_user(d: Deploy) -> str:
    """The account the app runs as: its own as root, the one running this with --user."""
    return d.account if d.user else layout.APP_NAME


def install_packages(d: Deploy, packages: list[Packages]) -> None:
    names = sorted({name for piece in packages for name in piece.of(d.family)})
    if d.family == "debian":
        d.run("apt-get update -q")
        d.run(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q", *names])
    else:
        d.run(["dnf", "install", "-y", *names])


# ---------------------------------------------------------------- the Python of the app's virtualenv
def new_enough(d: Deploy, python: str) -> bool:
    check = f"import sys; sys.exit(sys.version_info < {layout.PYTHON_VERSION})"
    return d.succeeds(f"{shlex.quote(python)} -c {shlex.quote(check)} 2>/dev/null")


def choose_python(d: Deploy) -> None:
    """--python PATH, or the first new enough Python on PATH: conda, pyenv and self-built ones work as well. As root, a
    Python is run (to ask its version) only once its path is known to be root's alone."""
    if d.options.python:
        python = d.options.python
        if not d.exists(python, "-x") or d.exists(python, "-d"):
            raise d.fail(f"--python: {python} is not an executable file")
        python = d.query(f"realpath -s {shlex.quote(python)}") or python
        if not runnable(d, python):
            raise d.fail(f"--python: {python} is not a Python >= {VERSION}")
    else:
        newer = (f"python3.{minor}" for minor in range(layout.PYTHON_VERSION[1] + 1, 31))
        candidates = [f"python{VERSION}", "python3", *newer]
        found = [path.strip() for path in (d.query(f"command -v {name}") for name in candidates) if path]
        python = next((path for path in found if runnable(d, path)), "")
        if not python:
            raise d.fail(f"no Python >= {VERSION} on PATH: install python{VERSION}, or name one with --python PATH")
    if d.root:
        root_may_run(d, python, with_library=True)
    d.python = python
    d.say(f"Python: {python} ({(d.query(f'{shlex.quote(python)} -V') or '').strip()})")


def runnable(d: Deploy, python: str) -> bool:
    """New enough; as root, checked to be root's alone before it is run."""
    if d.root:
        root_may_run(d, python, with_library=False)
    return new_enough(d, python)


def root_may_run(d: Deploy, python: str, with_library: bool) -> None:
    """Root runs the virtualenv's Python (pip, migrations): neither the interpreter nor (WITH_LIBRARY, once the path
    is known to be safe to run) its real executable and standard library, nor any directory above them, may be
    writable by an account other than root."""
    where = "import os, sys, sysconfig; print(os.path.realpath(sys.executable)); print(sysconfig.get_path('stdlib'))"
    paths = [python]
    if with_library:
        paths += (d.query(f"{shlex.quote(python)} -c {shlex.quote(where)}") or "").split()
    for path in paths:
        # Owned by another account, or writable by its group (unless root's) or by anyone (unless sticky: /tmp). POSIX
        # sh (pyinfra's shell, dash on Debian); each directory on the path as given (a link's too: -s), up to /.
        unsafe = d.query(
            f"p=$(realpath -ms {shlex.quote(path)}); while :; do "
            "set -- $(stat -L -c '%u %g %a' \"$p\"); m=$((0$3)); "
            'if [ "$1" != 0 ] || { [ "$2" != 0 ] && [ $((m & 16)) != 0 ]; } || '
            "{ [ $((m & 2)) != 0 ] && [ $((m & 512)) = 0 ]; }; "
            'then echo "$p"; break; fi; [ "$p" = / ] && break; p=$(dirname "$p"); done'
        )
        if unsafe is None:  # the check itself failed: nothing is known, nothing is run
            raise d.fail(f"--python: could not check which accounts can change {path}")
        if unsafe.strip():
            raise d.fail(
                f"--python: root would run {python}, but {unsafe.strip()} can be changed by an account other than root"
            )


# ---------------------------------------------------------------- the account and its directories
def ensure_account(d: Deploy) -> None:
    if d.user:
        d.say(f"running as {d.account}")
        return
    d.op(
        f"account {layout.APP_NAME}",
        server.user,
        user=layout.APP_NAME,
        system=True,
        home=layout.STATE_DIR,
        create_home=False,
        shell=d.by_family("/usr/sbin/nologin", "/sbin/nologin"),
        unchanged=f"user {layout.APP_NAME} exists",
    )


def tmpfiles_line(d: Deploy) -> str:
    """RUN_DIR, made at every boot (/run is emptied): the app's account owns it, its group is SERVICE_GROUP, which
    sockets made in it inherit (setgid), so the proxy's user reaches them as a member of that group."""
    return f"d {layout.RUN_DIR} 2750 {service_user(d)} {layout.SERVICE_GROUP} -\n"


def ensure_directories(d: Deploy, data_dirs: list[str], root_dirs: list[tuple[str, str, str]]) -> None:
    """STATE_DIR and the DATA_DIRS other modules need (2750, the account's, setgid: what the app writes stays in the
    group); ROOT_DIRS (path, mode, owner) as root only; RUN_DIR at every boot. With --user an administrator makes
    them."""
    if d.user:
        account_directories(d, data_dirs)
        return
    # The code's directory: root's, open to pass through (the release inside is the app group's alone).
    directory(d, layout.APP_DIR, "0755", "root")
    directory(d, layout.STATE_DIR, "0750", layout.APP_NAME)
    for path in data_dirs:
        directory(d, path, "2750", layout.APP_NAME)
    for path, mode, owner in root_dirs:
        directory(d, path, mode, owner)
    tmpfiles = f"/etc/tmpfiles.d/{layout.APP_NAME}.conf"
    d.install(StringIO(tmpfiles_line(d)), tmpfiles)
    d.run(["systemd-tmpfiles", "--create", tmpfiles])


def directory(d: Deploy, path: str, mode: str, owner: str) -> None:
    d.op(
        f"directory {path} (mode {mode}, owner {owner})",
        files.directory,
        path=path,
        mode=mode,
        user=owner,
        group=owner,
        unchanged=f"directory {path} (mode {mode}, owner {owner})",
    )


def account_directories(d: Deploy, data_dirs: list[str]) -> None:
    """--user: the layout's directories, the account's, in group SERVICE_GROUP (the proxy's user joins it); made once
    by an administrator. Until they are, the install stops here."""
    wanted = [layout.APP_DIR, layout.STATE_DIR, layout.LOG_DIR, layout.RUN_DIR, *data_dirs]
    quoted = " ".join(map(shlex.quote, wanted))
    ready = d.succeeds(
        f'for p in {quoted}; do test -d "$p" -a -w "$p" && [ "$(stat -c %G "$p")" = {layout.SERVICE_GROUP} ]'
        f" || exit 1; done; test -f /etc/tmpfiles.d/{layout.APP_NAME}.conf"
    )
    if ready:
        d.say(f"directories {', '.join(wanted)} are {d.account}'s")
        return
    owner = f"-o {d.account} -g {layout.SERVICE_GROUP}"
    d.say("the app's directories are made by an administrator, once, as root:")
    d.administrator(
        f"groupadd --force --system {layout.SERVICE_GROUP}",
        f"install -d {owner} -m 2750 {' '.join([layout.APP_DIR, *data_dirs])}",
        f"install -d {owner} -m 0750 {layout.STATE_DIR} {layout.LOG_DIR}",
        f"printf '%s\\n' '{tmpfiles_line(d).rstrip()}' > /etc/tmpfiles.d/{layout.APP_NAME}.conf",
        f"systemd-tmpfiles --create /etc/tmpfiles.d/{layout.APP_NAME}.conf",
    )
    raise d.fail("run this script again once an administrator has made the directories (the commands above)")


# ---------------------------------------------------------------- secrets
ENSURE_SECRETS = """
import importlib.util, sys
from pathlib import Path
spec = importlib.util.spec_from_file_location("envfile", sys.argv[1])
envfile = importlib.util.module_from_spec(spec)
spec.loader.exec_module(envfile)
path = Path(sys.argv[2])
added = envfile.ensure_secrets(path)
if not any(line.startswith("DATA_DIR=") for line in path.read_text().splitlines()):
    with path.open("a") as file:
        file.write(f"DATA_DIR={sys.argv[3]}\\n")
    added.append("DATA_DIR")
print("install.sh: .env: " + ("set " + ", ".join(added) if added else "every secret already set"))
"""


def ensure_env_file(d: Deploy) -> None:
    """Secrets are made on this server (never copied from a development machine) and kept on later runs; the names
    of those made are printed, never their values."""
    envfile = f"{SOURCE_DIR}/{layout.PACKAGE}/envfile.py"
    d.run([d.python, "-c", ENSURE_SECRETS, envfile, layout.ENV_FILE, layout.STATE_DIR])
    owner = service_user(d)
    d.op(
        f"{layout.ENV_FILE}: mode 0600, {owner}'s",
        files.file,
        path=layout.ENV_FILE,
        mode="600",
        user=owner,
        group=None if d.user else owner,
    )


ROTATION_SCRIPT = """
import importlib.util, sys
from pathlib import Path
spec = importlib.util.spec_from_file_location("envfile", sys.argv[1])
envfile = importlib.util.module_from_spec(spec)
spec.loader.exec_module(envfile)
envfile.rotate_secret_key(Path(sys.argv[2]))
"""


def rotate_secret_key(d: Deploy) -> None:
    """A new SECRET_KEY in .env, the old one kept as a fallback (envfile.py), by the account that owns .env; never
    printed."""
    command = [
        f"{layout.CODE_DIR}/.venv/bin/python",
        "-c",
        ROTATION_SCRIPT,
        f"{layout.CODE_DIR}/{layout.PACKAGE}/envfile.py",
        layout.ENV_FILE,
    ]
    d.run(command, as_user=None if d.user else layout.APP_NAME)
    d.flush()
    d.say(f"{layout.ENV_FILE}: a new SECRET_KEY (the previous one is in SECRET_KEY_FALLBACKS)")


def env_setting(d: Deploy, name: str) -> str:
    """A setting of .env as it is now (empty when unset or on a first install)."""
    text = d.read(layout.ENV_FILE) or ""
    values = [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{name}=")]
    return values[-1] if values else ""


def manage(d: Deploy, *arguments: str) -> None:
    """manage.py of the release being installed, as the account the server runs as, with the settings it runs with."""
    release = d.release_dir
    command = shlex.join([f"{release}/.venv/bin/python", f"{release}/manage.py", *arguments])
    if d.root:
        command = f"runuser -u {layout.APP_NAME} -- {command}"
    d.op(f"+ manage.py {' '.join(arguments)}", server.shell, commands=[f"cd {shlex.quote(release)} && {command}"])


def summary(d: Deploy) -> None:
    d.say(f"done: {layout.SCHEME}://{layout.DOMAIN}{layout.URL_PREFIX}/")
    mode = " --user" if d.user else ""
    d.say(f"live release: {layout.CODE_DIR} -> {d.release}; back to the one before: deploy/install.sh{mode} --rollback")
