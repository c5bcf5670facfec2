"""Each deploy file checked by the real program that reads it.

A check passes only with exit status 0 AND nothing on stderr: several of these tools report problems as warnings
with status 0 (systemd unknown keys and bad values, nginx deprecations). The only stderr lines accepted are each
tool's own success message, listed in SUCCESS_LINES. A missing tool skips the test, or fails it when CI=true.
"""

import getpass
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.ci import require_tool, skip_or_fail

SUCCESS_LINES = {
    "apache2": {"Syntax OK"},
    "uwsgi": set(),  # plus "[uWSGI] getting INI configuration from <file>", see uwsgi_strict()
}
APACHE_MODULE_DIR = Path("/usr/lib/apache2/modules")
SUPERVISOR_PROGRAM_KEYS = {
    "command", "process_name", "numprocs", "numprocs_start", "priority", "autostart", "startsecs", "startretries",
    "autorestart", "exitcodes", "stopsignal", "stopwaitsecs", "stopasgroup", "killasgroup", "user",
    "redirect_stderr", "stdout_logfile", "stdout_logfile_maxbytes", "stdout_logfile_backups", "stdout_capture_maxbytes",
    "stdout_events_enabled", "stdout_syslog", "stderr_logfile", "stderr_logfile_maxbytes", "stderr_logfile_backups",
    "stderr_capture_maxbytes", "stderr_events_enabled", "stderr_syslog", "environment", "directory", "umask",
    "serverurl",
}  # fmt: skip


@dataclass
class Check:
    """What a validator said: `ok` is exit status 0 with no unexpected output on stderr."""

    command: str
    returncode: int
    stdout: str
    stderr: str
    ok: bool

    def __str__(self) -> str:
        return f"$ {self.command}\nexit {self.returncode}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


def run(command: list[str], accepted_stderr: set[str] = frozenset(), quiet_stdout=False, **kwargs) -> Check:
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120, **kwargs)
    unexpected = [line for line in result.stderr.splitlines() if line.strip() and line not in accepted_stderr]
    ok = result.returncode == 0 and not unexpected and not (quiet_stdout and result.stdout.strip())
    return Check(" ".join(map(str, command)), result.returncode, result.stdout, result.stderr, ok)


def python_tool(module: str, package: str) -> list[str]:
    """Run a Python tool with this interpreter; the template's dev dependencies provide it."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        skip_or_fail(f"{package} not installed in the test environment: pip install -e '.[dev]'")
    return [sys.executable, "-m", module]


# ---------------------------------------------------------------- proxies
NGINX_MAIN = """\
pid {scratch}/nginx.pid;
error_log stderr;
events {{}}
http {{
    include mime.types;
    access_log off;
    client_body_temp_path {scratch}/tmp/body;
    proxy_temp_path {scratch}/tmp/proxy;
    fastcgi_temp_path {scratch}/tmp/fastcgi;
    uwsgi_temp_path {scratch}/tmp/uwsgi;
    scgi_temp_path {scratch}/tmp/scgi;
    include site.conf;
}}
"""


def write_snippets(scratch: Path, snippets: dict[str, str] | None) -> None:
    """The files a site includes by a path relative to the proxy's configuration directory (snippets/<slug>.conf),
    where the scratch main configuration makes the proxy look: nginx's directory of -c, Apache's ServerRoot."""
    for name, text in (snippets or {}).items():
        (scratch / name).parent.mkdir(parents=True, exist_ok=True)
        (scratch / name).write_text(text)


def nginx_test(site: str, scratch: Path, snippets: dict[str, str] | None = None) -> Check:
    """`nginx -t` on a scratch main configuration that includes the site, as the distribution's nginx.conf does."""
    nginx = require_tool("nginx")
    for name in ("mime.types", "uwsgi_params"):
        shutil.copy(Path("/etc/nginx") / name, scratch / name)
    (scratch / "tmp").mkdir(exist_ok=True)
    write_snippets(scratch, snippets)
    (scratch / "site.conf").write_text(site)
    (scratch / "nginx.conf").write_text(NGINX_MAIN.format(scratch=scratch))
    return run([nginx, "-t", "-q", "-p", f"{scratch}/", "-c", str(scratch / "nginx.conf"), "-e", "stderr"])


# A server someone else runs for the host, HTTP and HTTPS, with its own pages and headers; --join adds one line.
NGINX_HOST_SERVERS = """\
server {{
    listen 80 default_server;
    server_name shared.example.org;
    root {scratch}/www;
    add_header X-Owner "the host's" always;
    location / {{
        try_files $uri $uri/ =404;
    }}
    location /people/ {{
        autoindex on;
    }}
    {include}
}}

server {{
    listen 443 ssl default_server;
    server_name shared.example.org;
    ssl_certificate {certificates}/fullchain.pem;
    ssl_certificate_key {certificates}/privkey.pem;
    root {scratch}/www;
    add_header Strict-Transport-Security "max-age=31536000" always;
    location / {{
        try_files $uri $uri/ =404;
    }}
    {include}
}}
"""


def nginx_host_servers(include: str, scratch: Path, certificates: Path) -> str:
    (scratch / "www").mkdir(exist_ok=True)
    return NGINX_HOST_SERVERS.format(include=include, scratch=scratch, certificates=certificates)


APACHE_HOST_VHOSTS = """\
<VirtualHost *:80>
    ServerName shared.example.org
    DocumentRoot "{scratch}/www"
    Header always set X-Owner "the host's"
    {include}
</VirtualHost>
<VirtualHost *:443>
    ServerName shared.example.org
    DocumentRoot "{scratch}/www"
    SSLEngine on
    SSLCertificateFile "{certificates}/fullchain.pem"
    SSLCertificateKeyFile "{certificates}/privkey.pem"
    {include}
</VirtualHost>
"""


def apache_test(
    site: str, modules: list[str], scratch: Path, snippets: dict[str, str] | None = None,
    host_certificates: Path | None = None,
) -> Check:  # fmt: skip
    """`apache2 -t` on a scratch server that loads only `modules` (plus an MPM) and includes the site.

    Loading just the modules the site lists proves the list is complete. With `host_certificates`, `site` is the
    lines of deploy/apache-shared-site.conf, included (as `install.sh --join` prints) in an HTTP and an HTTPS
    <VirtualHost> someone else runs.
    """
    apache = require_tool("apache2")
    if host_certificates is not None:
        (scratch / "www").mkdir(exist_ok=True)
        snippets = {**(snippets or {}), "snippets/joined.conf": site}
        site = APACHE_HOST_VHOSTS.format(
            include=f"Include {scratch}/snippets/joined.conf", scratch=scratch, certificates=host_certificates
        )
        modules = sorted({*modules, "ssl"})
    loads = [f"LoadModule mpm_event_module {APACHE_MODULE_DIR}/mod_mpm_event.so"]
    loads += [f"LoadModule {module}_module {APACHE_MODULE_DIR}/mod_{module}.so" for module in modules]
    write_snippets(scratch, snippets)
    (scratch / "site.conf").write_text(site)
    main = [
        f'ServerRoot "{scratch}"', "ServerName localhost", f"PidFile {scratch}/httpd.pid",
        f"ErrorLog {scratch}/error.log", "Listen 80", *(["Listen 443"] if "ssl" in modules else []), *loads,
        "TypesConfig /etc/mime.types", f"Include {scratch}/site.conf",
    ]  # fmt: skip
    (scratch / "httpd.conf").write_text("\n".join(main) + "\n")
    return run([apache, "-t", "-f", str(scratch / "httpd.conf")], accepted_stderr=SUCCESS_LINES["apache2"])


# ---------------------------------------------------------------- systemd
def systemd_verify(unit: Path) -> Check:
    systemd_analyze = require_tool("systemd-analyze", "systemd")
    return run([systemd_analyze, "verify", str(unit)])


def systemd_security(unit: Path, threshold: int = 15) -> Check:
    """Exposure at most threshold/10 (15: 1.5, "OK")."""
    systemd_analyze = require_tool("systemd-analyze", "systemd")
    return run([systemd_analyze, "security", "--offline=true", f"--threshold={threshold}", "--no-pager", str(unit)])


# ---------------------------------------------------------------- app servers
STUB_APP = "def application(environ, start_response):\n    return []\n"


def gunicorn_check_config(config: Path, scratch: Path) -> Check:
    """gunicorn loads the configuration and a stub app, validating every setting's type, then exits."""
    gunicorn = python_tool("gunicorn", "gunicorn")
    (scratch / "stub_wsgi.py").write_text(STUB_APP)
    return run([*gunicorn, "--check-config", "--config", str(config), "--chdir", str(scratch), "stub_wsgi:application"])


def uwsgi_binary() -> str:
    found = shutil.which("uwsgi", path=str(Path(sys.executable).parent)) or shutil.which("uwsgi")
    if found is None:
        skip_or_fail("uwsgi not installed in the test environment: pip install -e '.[dev]' (builds with gcc)")
    return found


def uwsgi_strict(ini: Path, option: str = "socket", environment: dict | None = None) -> Check:
    """uWSGI parses the ini (strict = true makes an unknown option fatal) and prints one option's value.

    `--get` exits after parsing: nothing is bound, no app is loaded, no file is touched.
    """
    accepted = {f"[uWSGI] getting INI configuration from {ini}"}
    env = {key: value for key, value in os.environ.items() if key not in {"SERVE_BIND", "WEB_CONCURRENCY"}}
    env.update(environment or {})
    return run([uwsgi_binary(), "--ini", str(ini), "--get", option], accepted_stderr=accepted, env=env)


# ---------------------------------------------------------------- supervisord
SUPERVISORD_MAIN = """\
[supervisord]
logfile={scratch}/supervisord.log
pidfile={scratch}/supervisord.pid

[include]
files = {scratch}/program.conf
"""
SUPERVISORD_PARSE = """\
import sys
from supervisor.options import ServerOptions

options = ServerOptions()
options.realize(["-c", sys.argv[1]])
if not options.process_group_configs:
    sys.exit("no program defined")
"""


def supervisord_parse(program: str, scratch: Path) -> Check:
    """supervisord's own parser on a main config that includes the program, as /etc/supervisor/supervisord.conf does.

    The parser ignores unknown keys silently, so they are reported here. `user=` must exist on this machine: the
    service user is replaced by the current one.
    """
    python_tool("supervisor", "supervisor")
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(program)
    unknown = [
        f"[{section}] {key}" for section in parser.sections() for key in parser[section]
        if section.startswith("program:") and key not in SUPERVISOR_PROGRAM_KEYS
    ]  # fmt: skip
    user_line = [line for line in program.splitlines() if line.startswith("user=")]
    program = program.replace(user_line[0], f"user={getpass.getuser()}") if user_line else program
    (scratch / "program.conf").write_text(program)
    (scratch / "supervisord.conf").write_text(SUPERVISORD_MAIN.format(scratch=scratch))
    check = run([sys.executable, "-c", SUPERVISORD_PARSE, str(scratch / "supervisord.conf")])
    if unknown:
        check.ok = False
        check.stderr += f"unknown program keys: {unknown}\n"
    return check


# ---------------------------------------------------------------- shell, SQL
def shellcheck(script: Path) -> Check:
    """Every finding, style level included; shellcheck prints them on stdout. Files the script sources (with a
    `shellcheck source=` directive, relative to the script) are read too."""
    command = [require_tool("shellcheck"), "--severity=style", "-f", "gcc", "--external-sources", script.name]
    return run(command, quiet_stdout=True, cwd=script.parent)


def psql_script(server_url: str, script: Path, variables: dict[str, str] | None = None, stdin: str = "") -> Check:
    """The script run the way deploy/install.sh runs it: no psqlrc, stop at the first error."""
    command = [require_tool("psql", "postgresql-client"), server_url, "-X", "--quiet", "-v", "ON_ERROR_STOP=1"]
    for name, value in (variables or {}).items():
        command += ["-v", f"{name}={value}"]
    if stdin:
        return run(command, input=stdin + script.read_text())
    return run([*command, "-f", str(script)])


# ---------------------------------------------------------------- SELinux
# No SELinux kernel here: the module is compiled, linked into a whole policy and queried, never enforced. Debian's
# reference policy stands in for RHEL's (same language, the same httpd_t, file and port attributes); it lacks RHEL's
# unconfined_service_t, the domain systemd runs unconfined services in, which RHEL_TYPES declares for the link.
REFPOLICY_DEVEL_MAKEFILE = Path("/usr/share/selinux/devel/Makefile")
REFPOLICY_STORE = Path("/var/lib/selinux/default")
RHEL_TYPES = """\
module rhel_types 1.0;
require { role system_r; }
type unconfined_service_t;
role system_r types unconfined_service_t;
"""
# Debian's policy names a user of a desktop package this machine does not have; libsemanage says so while building.
SEMODULE_ACCEPTED = {"libsemanage.add_user: user sddm not in password file"}


def selinux_package(te: Path, fc: Path, scratch: Path) -> Check:
    """checkmodule -M -m, then semodule_package with the file contexts: what install.sh runs. Writes NAME.pp."""
    checkmodule = require_tool("checkmodule", "checkpolicy")
    semodule_package = require_tool("semodule_package", "semodule-utils")
    module = scratch / te.stem
    compiled = run([checkmodule, "-M", "-m", "-o", f"{module}.mod", str(te)])
    if not compiled.ok:
        return compiled
    return run([semodule_package, "-o", f"{module}.pp", "-m", f"{module}.mod", "-f", str(fc)])


def selinux_refpolicy_build(te: Path, fc: Path, scratch: Path) -> Check:
    """make -f /usr/share/selinux/devel/Makefile NAME.pp: the reference policy's own build (m4, then the same tools)."""
    if not REFPOLICY_DEVEL_MAKEFILE.exists():
        skip_or_fail("no reference policy build files (Debian package selinux-policy-dev)")
    build = scratch / "refpolicy-build"
    build.mkdir(exist_ok=True)
    for source in (te, fc):
        shutil.copy(source, build / source.name)
    return run([require_tool("make"), "-f", str(REFPOLICY_DEVEL_MAKEFILE), f"{te.stem}.pp"], cwd=build)


def selinux_policy_with(packages: list[Path], scratch: Path) -> tuple[Check, Path]:
    """A copy of Debian's policy store with the modules installed by `semodule -i`: the whole policy is linked again,
    the file contexts are checked against it, and the binary policy sesearch reads is written. Returns that path."""
    if not REFPOLICY_STORE.is_dir():
        skip_or_fail("no reference policy store (Debian package selinux-policy-default)")
    semodule = require_tool("semodule", "policycoreutils")
    root = scratch / "policy-root"
    shutil.copytree(REFPOLICY_STORE, root / "var/lib/selinux/default", symlinks=True)
    shutil.copytree("/etc/selinux", root / "etc/selinux", symlinks=True)
    rhel_types = scratch / "rhel_types.te"
    rhel_types.write_text(RHEL_TYPES)
    (scratch / "rhel_types.fc").write_text("")
    shim = selinux_package(rhel_types, scratch / "rhel_types.fc", scratch)
    if not shim.ok:
        return shim, Path()
    command = [semodule, "-p", str(root), "-n"]
    for package in [scratch / "rhel_types.pp", *packages]:
        command += ["-i", str(package)]
    check = run(command, accepted_stderr=SEMODULE_ACCEPTED)
    return check, root / "etc/selinux/default/policy/policy.33"


def sesearch_allows(policy: Path, source: str, target: str, klass: str, permission: str) -> Check:
    """sesearch finds an allow rule giving `source` `permission` on `target`:`klass`; ok only if it printed one."""
    sesearch = require_tool("sesearch", "setools")
    check = run([sesearch, "-A", "-s", source, "-t", target, "-c", klass, "-p", permission, str(policy)])
    rule = f"allow {source} {target}:{klass} "
    check.ok = check.ok and any(line.startswith(rule) for line in check.stdout.splitlines())
    return check


def setfiles_check(policy: Path, file_contexts: Path) -> Check:
    """setfiles -c: every line of the file contexts parses and names a context valid in the policy."""
    return run([require_tool("setfiles", "policycoreutils"), "-c", str(policy), str(file_contexts)])
