"""Generated projects served for real on loopback, outside any container: the app server its deploy files name, behind
real nginx or Apache running the generated site, or the app's lines included in a host's own block (`--join`).

The project's layout answers point into a scratch directory (as bench/served.py does), so the generated files are used
as generated; only what the machine decides is changed: the ports the proxies listen on (free ones instead of 80 and
443), the certificate's directory (a throwaway certificate) and the ACME directory. Every process is started and
stopped by its PID. Running as root, the proxies' workers run as `nobody`, as they would not under a real account: the
scratch directory is world-readable for them.
"""

import contextlib
import grp
import http.client
import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.ci import require_tool
from tests.deploy_support import self_signed_certificate
from tests.render import render_cookiecutter
from tests.services import free_port
from tests.validators import APACHE_MODULE_DIR
from tests.venvs import venv_python

SLUG = "my-web-app"
PREFIX = "/eegqc"
STARTUP_SECONDS = 60


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]  # lowercase names, every line as sent
    body: bytes

    def header(self, name: str) -> list[str]:
        return [value for found, value in self.headers if found == name.lower()]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def request(port: int, method: str, path: str, body=None, headers: dict | None = None, tls: bool = False,
            chunked: bool = False) -> Response:  # fmt: skip
    """One request on a fresh connection (Host: localhost). `chunked`: the body goes as chunked transfer coding, with no
    Content-Length. A proxy that answers before reading the whole body may close the connection: what it answered is
    still returned."""
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=60, context=context)
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Host": "localhost", **(headers or {})}
    try:
        if chunked:
            pieces = [body[start : start + 65536] for start in range(0, len(body), 65536)]
            connection.request(method, path, body=iter(pieces), headers=headers, encode_chunked=True)
        else:
            connection.request(method, path, body=body, headers=headers)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the proxy answered and closed before the whole body went out: read its answer
    response = connection.getresponse()
    headers = [(name.lower(), value) for name, value in response.getheaders()]
    answer = Response(response.status, headers, response.read())
    connection.close()
    return answer


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def running(command: list[str], port: int, log: Path, **kwargs) -> Iterator[subprocess.Popen]:
    """`command` started in the background until `port` answers; stopped by its PID afterwards."""
    with open(log, "ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, **kwargs)
    try:
        wait_for_port(port, process, log)
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def scratch_directory() -> Iterator[Path]:
    """Under the system temp dir, world-readable (pytest's own is 0700 root's, out of reach for `nobody`)."""
    path = Path(tempfile.mkdtemp(prefix="wsgi-deploy-served-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def worker_account() -> tuple[str, str] | None:
    """(user, group) the proxies' workers run as when the test runs as root; None otherwise."""
    if os.geteuid() != 0:
        return None
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_name, grp.getgrgid(nobody.pw_gid).gr_name


# ---------------------------------------------------------------- the project and its app server
@dataclass
class Project:
    path: Path
    answers: dict
    venv: Path
    scratch: Path

    @property
    def port(self) -> int:
        return int(self.answers["port"])

    def environment(self) -> dict:
        """What the supervisor's unit or program sets, pointed into the scratch directory."""
        drop = {"DATABASE_URL", "SECRET_KEY", "URL_PREFIX", "DJANGO_SETTINGS_MODULE", "CODE_DIR", "SERVE_BIND"}
        env = {name: value for name, value in os.environ.items() if name not in drop}
        env.update(DATA_DIR=str(self.scratch / "data"), RUN_DIR=str(self.scratch / "run"), WEB_CONCURRENCY="2")
        return env

    def manage(self, *arguments: str) -> None:
        command = [str(venv_python(self.venv)), "manage.py", *arguments]
        subprocess.run(command, cwd=self.path, env=self.environment(), check=True, capture_output=True, timeout=300)

    def server_command(self) -> list[str]:
        bin_dir = self.venv / "bin"
        if self.answers["server"] == "gunicorn":
            return [str(bin_dir / "gunicorn"), "--config", "deploy/gunicorn.conf.py", "wsgi:application"]
        return [str(bin_dir / "uwsgi"), "--ini", "deploy/uwsgi.ini"]

    @contextlib.contextmanager
    def app_server(self) -> Iterator[subprocess.Popen]:
        with running(self.server_command(), self.port, self.scratch / "app.log", cwd=self.path,
                     env=self.environment()) as process:  # fmt: skip
            yield process


def generate(scratch: Path, venv: Path, **answers) -> Project:
    """A project from this checkout whose server layout lives in `scratch`, run in place with `venv`, its database
    made and (Django) its static files collected."""
    layout = {
        "__app_dir": str(scratch / "app"),
        "__code_dir": str(scratch / SLUG),  # run in place, not from a release
        "__run_dir": str(scratch / "run"),
        "__data_dir": str(scratch / "data"),
        "__log_dir": str(scratch / "log"),
    }
    for name in ("run", "data", "log", "certificates", "acme"):
        (scratch / name).mkdir(mode=0o755, exist_ok=True)
    answers = {"url_prefix": PREFIX, "bind": "tcp", "port": str(free_port()), **answers}
    path = render_cookiecutter(scratch, **answers, **layout)
    (path / ".venv").symlink_to(venv)
    project = Project(path, answers, venv, scratch)
    if answers["framework"] == "django":
        project.manage("collectstatic", "--no-input")
    if answers.get("database", "sqlite") != "none":
        project.manage(*(("migrate", "--no-input") if answers["framework"] == "django" else ("db", "upgrade")))
    return project


def certificate_authority(directory: Path) -> Path:
    """A throwaway certificate authority (ca.pem) and a certificate it signed for localhost, as the site expects it
    (fullchain.pem, privkey.pem): ECDSA P-256, SHA-256, 90 days, what Mozilla's profiles ask of a certificate. Returns
    the authority's certificate, for a client to trust."""
    openssl = require_tool("openssl")
    directory.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-sha256"]

    def run(*arguments: str) -> None:
        subprocess.run([openssl, *arguments], cwd=directory, check=True, capture_output=True)

    run("req", "-x509", *ec, "-days", "90", "-subj", "/CN=Served test CA", "-keyout", "ca.key", "-out", "ca.pem",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run("req", *ec, "-subj", "/CN=localhost", "-keyout", "privkey.pem", "-out", "site.csr")
    (directory / "site.ext").write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectAltName=DNS:localhost\n"
    )
    run("x509", "-req", "-in", "site.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "90",
        "-sha256", "-extfile", "site.ext", "-out", "site.pem")  # fmt: skip
    (directory / "fullchain.pem").write_text((directory / "site.pem").read_text() + (directory / "ca.pem").read_text())
    return directory / "ca.pem"


# ---------------------------------------------------------------- the proxies
@dataclass
class Ports:
    http: int
    https: int


def localise(text: str, project: Project, ports: Ports) -> str:
    """What the machine decides: the ports, the certificate (a throwaway one) and the ACME directory."""
    certificates = self_signed_certificate(project.scratch / "certificates")
    text = re.sub(r"^(\s*)listen \[::\]:\d+[^;]*;\n", "", text, flags=re.M)  # loopback is IPv4 here
    text = re.sub(r"listen 80;", f"listen 127.0.0.1:{ports.http};", text)
    text = re.sub(r"listen 443 ssl;", f"listen 127.0.0.1:{ports.https} ssl;", text)
    text = text.replace("<VirtualHost *:80>", f"<VirtualHost *:{ports.http}>")
    text = text.replace("<VirtualHost *:443>", f"<VirtualHost *:{ports.https}>")
    text = text.replace(f"/etc/ssl/{SLUG}", str(certificates))
    return text.replace("/var/www/letsencrypt", str(project.scratch / "acme"))


NGINX_MAIN = """\
{user}daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 64; }}
http {{
    include mime.types;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {directory}/tmp/body;
    proxy_temp_path {directory}/tmp/proxy;
    fastcgi_temp_path {directory}/tmp/fastcgi;
    uwsgi_temp_path {directory}/tmp/uwsgi;
    scgi_temp_path {directory}/tmp/scgi;
    include site.conf;
}}
"""


@contextlib.contextmanager
def nginx(project: Project, site: str | None = None) -> Iterator[Ports]:
    """Real nginx with `site` (default: the generated deploy/nginx.conf) and the app's lines as snippets/<slug>.conf,
    where the site names them; yields the ports it listens on."""
    binary = require_tool("nginx")
    directory = project.scratch / "nginx"
    (directory / "tmp").mkdir(parents=True, exist_ok=True)
    (directory / "snippets").mkdir(exist_ok=True)
    for name in ("mime.types", "uwsgi_params"):
        shutil.copy(Path("/etc/nginx") / name, directory / name)
    ports = Ports(free_port(), free_port())
    shutil.copy(project.path / "deploy" / "nginx-shared-site.conf", directory / "snippets" / f"{SLUG}.conf")
    site = site if site is not None else (project.path / "deploy" / "nginx.conf").read_text()
    (directory / "site.conf").write_text(localise(site, project, ports))
    account = worker_account()
    user = f"user {account[0]} {account[1]};\n" if account else ""
    (directory / "nginx.conf").write_text(NGINX_MAIN.format(user=user, directory=directory))
    command = [binary, "-p", f"{directory}/", "-c", str(directory / "nginx.conf"), "-e", "stderr"]
    with running(command, ports.http, directory / "nginx.log"):
        yield ports


def apache_modules(site: str) -> list[str]:
    return re.search(r"^# Modules to enable: (.*)$", site, re.M)[1].split()


@contextlib.contextmanager
def apache(project: Project, site: str | None = None, modules: list[str] | None = None) -> Iterator[Ports]:
    """Real Apache with `site` (default: the generated deploy/apache.conf, with the modules it lists) and the app's
    lines as snippets/<slug>.conf under ServerRoot, where the site names them; yields the ports it listens on."""
    binary = require_tool("apache2")
    directory = project.scratch / "apache"
    (directory / "snippets").mkdir(parents=True, exist_ok=True)
    ports = Ports(free_port(), free_port())
    shutil.copy(project.path / "deploy" / "apache-shared-site.conf", directory / "snippets" / f"{SLUG}.conf")
    own_site = (project.path / "deploy" / "apache.conf").read_text()
    modules = modules or apache_modules(own_site)
    site = site if site is not None else own_site
    (directory / "site.conf").write_text(localise(site, project, ports))
    loads = [f"LoadModule {name}_module {APACHE_MODULE_DIR}/mod_{name}.so" for name in ("mpm_event", "mime", *modules)]
    account = worker_account()
    main = [
        f'ServerRoot "{directory}"', "ServerName localhost", f"PidFile {directory}/httpd.pid",
        f"ErrorLog {directory}/error.log", "LogLevel warn", f"Listen 127.0.0.1:{ports.http}",
        *([f"Listen 127.0.0.1:{ports.https}"] if "ssl" in modules else []),
        *([f"User {account[0]}", f"Group {account[1]}"] if account else []), *loads,
        "TypesConfig /etc/mime.types", f"Include {directory}/site.conf",
    ]  # fmt: skip
    (directory / "httpd.conf").write_text("\n".join(main) + "\n")
    command = [binary, "-d", str(directory), "-f", str(directory / "httpd.conf"), "-DFOREGROUND"]
    with running(command, ports.http, directory / "apache.log"):
        yield ports
