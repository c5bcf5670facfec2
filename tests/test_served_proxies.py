"""Generated projects behind real nginx and Apache on loopback (tests/served.py): what a client gets, as opposed to
what `nginx -t` and `apache2 -t` accept (tests/test_deploy_files.py).

- Joining a host's block (`install.sh --join`): the app's lines included in a server block / <VirtualHost> that has
  its own HSTS and Content-Security-Policy and a regular expression location (or <LocationMatch>) for .js, .css and
  .png, as an institute's site does. The app's page, its bundles and stylesheets (Dash) or static files (Django), the
  prefix's redirect, the app's 404 and, with the app stopped, the maintenance page answer as they should under the
  prefix, each with the host's headers unchanged and once, while the host's own files still answer.
- The request body limit (max_body_mb=1, not the default, so the answer is seen to drive it) in front of each
  framework, through the generated site: a note posted through the app's form (CSRF token and cookies as a browser
  sends them) padded to one byte under the limit and to the limit is saved (302), one byte over gets 413 from the
  proxy, with a Content-Length and chunked. Apache answers a chunked body 411 at any length: httpd cannot count one
  on its way to the app (see deploy/apache-shared-site.conf). Every response there names the proxy alone: "nginx" or
  "Apache", no version, no OS, never the app server.
- TLS (tls=certificate, a throwaway certificate authority's certificate): sslyze's check against Mozilla's
  "intermediate" profile passes for nginx and Apache (protocols, ciphers, curves, certificate, known weaknesses).
"""

import http.cookies
import re
import subprocess
import urllib.parse

import pytest

from tests import served
from tests.validators import python_tool
from tests.venvs import framework_venv

pytestmark = [pytest.mark.slow, pytest.mark.deploy]

HOST_HEADERS = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Content-Security-Policy": "frame-ancestors 'self'",
}
NGINX_HOST_BLOCK = """\
server {{
    listen 80;
    listen 443 ssl;
    server_name localhost;
    ssl_certificate /etc/ssl/my-web-app/fullchain.pem;
    ssl_certificate_key /etc/ssl/my-web-app/privkey.pem;
    root {www};
{headers}
    location / {{
        try_files $uri $uri/ =404;
    }}
    location ~* \\.(js|css|png)$ {{
        expires 30d;
    }}
    include snippets/my-web-app.conf;
}}
"""
APACHE_HOST_VHOST = """\
<VirtualHost *:{port}>
    ServerName localhost
    DocumentRoot "{www}"
{tls}{headers}
    <LocationMatch "\\.(js|css|png)$">
        Header set Cache-Control "max-age=2592000"
    </LocationMatch>
    Include snippets/my-web-app.conf
</VirtualHost>
"""
APACHE_TLS = """\
    SSLEngine on
    SSLCertificateFile "/etc/ssl/my-web-app/fullchain.pem"
    SSLCertificateKeyFile "/etc/ssl/my-web-app/privkey.pem"
"""
# tls=certificate on two: the app's answers then say HTTPS too, and its lines must still leave HSTS to the host.
JOIN_STACKS = [
    {"framework": "dash", "server": "gunicorn", "proxy": "nginx", "tls": "none"},
    {"framework": "django", "server": "uwsgi", "proxy": "nginx", "tls": "certificate"},
    {"framework": "dash", "server": "uwsgi", "proxy": "apache", "tls": "none"},
    {"framework": "django", "server": "gunicorn", "proxy": "apache", "tls": "certificate"},
]


@pytest.fixture(scope="session")
def venvs(tmp_path_factory):
    built = {}

    def venv_for(framework: str):
        if framework not in built:
            built[framework] = framework_venv(framework, tmp_path_factory.mktemp(f"venv-{framework}"))
        return built[framework]

    return venv_for


def host_site(proxy: str, www: str) -> str:
    if proxy == "nginx":
        headers = "\n".join(f'    add_header {name} "{value}" always;' for name, value in HOST_HEADERS.items())
        return NGINX_HOST_BLOCK.format(www=www, headers=headers)
    headers = "\n".join(f'    Header always set {name} "{value}"' for name, value in HOST_HEADERS.items())
    return APACHE_HOST_VHOST.format(port=80, www=www, tls="", headers=headers) + APACHE_HOST_VHOST.format(
        port=443, www=www, tls=APACHE_TLS, headers=headers
    )


def app_files(framework: str, page: str) -> list[str]:
    """The paths the app's page loads from under the prefix: Dash's bundles and stylesheet, Django's static files."""
    found = re.findall(r'(?:src|href)="(/eegqc/[^"?]+)', page)
    if framework == "dash":
        bundles = [path for path in found if "/_dash-component-suites/" in path and path.endswith(".js")]
        stylesheets = [path for path in found if path.endswith(".css")]
        assert bundles and stylesheets, f"no bundle or stylesheet in the page: {found}"
        return bundles[:3] + stylesheets
    static = [path for path in found if path.startswith("/eegqc/static/")]
    assert static, f"no static file in the page: {found}"
    return static


@pytest.mark.parametrize("answers", JOIN_STACKS, ids=lambda answers: "-".join(answers.values()))
def test_joined_app_keeps_its_files_and_the_hosts_headers(answers, venvs):
    with served.scratch_directory() as scratch:
        project = served.generate(scratch, venvs(answers["framework"]), **answers)
        (scratch / "www").mkdir(mode=0o755)
        (scratch / "www" / "site.css").write_text("body { color: black; }\n")
        proxy = served.nginx if answers["proxy"] == "nginx" else served.apache
        options = {} if answers["proxy"] == "nginx" else {"modules": sorted({*served.apache_modules(
            (project.path / "deploy" / "apache.conf").read_text()), "ssl"})}  # fmt: skip
        with proxy(project, host_site(answers["proxy"], str(scratch / "www")), **options) as ports:
            problems = []

            def expect(path: str, status: int, tls: bool = True) -> served.Response:
                response = served.request(ports.https if tls else ports.http, "GET", path, tls=tls)
                if response.status != status:
                    problems.append(f"{path}: {response.status}, want {status}")
                for name, value in HOST_HEADERS.items():
                    if response.header(name) != [value]:
                        problems.append(f"{path}: {name} {response.header(name)}, want [{value!r}] once")
                return response

            # the host's own file of a type its regex location matches: still the host's
            assert served.request(ports.https, "GET", "/site.css", tls=True).status == 200
            with project.app_server():
                page = expect("/eegqc/", 200)
                for path in app_files(answers["framework"], page.text):
                    expect(path, 200)
                expect("/eegqc", 308, tls=False)
                # Dash's page answers any path under its prefix (it routes in the browser)
                expect("/eegqc/no-such-page", 200 if answers["framework"] == "dash" else 404)
            down = expect("/eegqc/", 503)
            assert "back in a moment" in down.text, "not the maintenance page"
        assert not problems, problems


# Each framework behind each proxy, and each server behind each proxy.
BODY_STACKS = [
    {"framework": "flask", "server": "uwsgi", "proxy": "nginx"},
    {"framework": "django", "server": "gunicorn", "proxy": "nginx"},
    {"framework": "dash", "server": "gunicorn", "proxy": "nginx"},
    {"framework": "flask", "server": "gunicorn", "proxy": "apache"},
    {"framework": "django", "server": "uwsgi", "proxy": "apache"},
    {"framework": "dash", "server": "uwsgi", "proxy": "apache"},
]
MAX_BODY_MB = 1


class Browser:
    """Cookies kept across requests to one site, as a browser keeps them."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def send(self, method: str, path: str, body: bytes | None = None, chunked: bool = False) -> served.Response:
        cookies = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        headers = {"Cookie": cookies} if cookies else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        response = served.request(self.port, method, path, body, headers, chunked=chunked)
        for line in response.header("set-cookie"):
            for name, morsel in http.cookies.SimpleCookie(line).items():
                self.cookies[name] = morsel.value
        return response


def note_form(browser: Browser, framework: str) -> dict:
    """The notes form's hidden CSRF field, as the page gives it."""
    page = browser.send("GET", "/eegqc/notes")
    assert page.status == 200, page.status
    field = "csrfmiddlewaretoken" if framework == "django" else "csrf_token"
    token = re.search(rf'name="{field}"[^>]*value="([^"]+)"', page.text) or re.search(
        rf'value="([^"]+)"[^>]*name="{field}"', page.text
    )
    assert token, f"no {field} in the notes form"
    return {"body": "a note from a served test", field: token[1]}


def padded(fields: dict, size: int) -> bytes:
    """The form's fields plus a padding field, `size` bytes in all."""
    body = urllib.parse.urlencode(fields) + "&padding="
    return (body + "x" * (size - len(body))).encode()


@pytest.mark.parametrize("answers", BODY_STACKS, ids=lambda answers: "-".join(answers.values()))
def test_a_body_over_max_body_mb_gets_413_and_one_under_is_saved(answers, venvs):
    limit = MAX_BODY_MB * 1024 * 1024
    with served.scratch_directory() as scratch:
        project = served.generate(scratch, venvs(answers["framework"]), max_body_mb=str(MAX_BODY_MB), **answers)
        proxy = served.nginx if answers["proxy"] == "nginx" else served.apache
        with proxy(project) as ports, project.app_server():
            browser = Browser(ports.http)
            fields = note_form(browser, answers["framework"])
            seen, banners = {}, set()
            for chunked in (False, True):
                for size in (limit - 1, limit, limit + 1):
                    response = browser.send("POST", "/eegqc/notes", padded(fields, size), chunked=chunked)
                    seen[("chunked" if chunked else "content-length", size - limit)] = response.status
                    banners.update(response.header("server"))
            for path in ("/eegqc/healthz", "/eegqc/static/style.css" if answers["framework"] != "django" else
                         "/eegqc/about", "/eegqc/no-such-page"):  # fmt: skip
                banners.update(browser.send("GET", path).header("server"))
            assert browser.send("GET", "/eegqc/healthz").status == 200, "the stack no longer answers"
    assert banners == {"nginx" if answers["proxy"] == "nginx" else "Apache"}, banners
    chunked_under = 411 if answers["proxy"] == "apache" else 302
    chunked_over = 411 if answers["proxy"] == "apache" else 413
    assert seen == {
        ("content-length", -1): 302, ("content-length", 0): 302, ("content-length", 1): 413,
        ("chunked", -1): chunked_under, ("chunked", 0): chunked_under, ("chunked", 1): chunked_over,
    }  # fmt: skip


@pytest.mark.parametrize("proxy", ["nginx", "apache"])
def test_tls_passes_sslyze_mozilla_intermediate(proxy, venvs):
    with served.scratch_directory() as scratch:
        answers = {"framework": "flask", "server": "gunicorn", "proxy": proxy, "tls": "certificate"}
        project = served.generate(scratch, venvs("flask"), **answers)
        authority = served.certificate_authority(scratch / "certificates")
        start = served.nginx if proxy == "nginx" else served.apache
        with start(project) as ports, project.app_server():
            assert served.request(ports.https, "GET", "/eegqc/healthz", tls=True).status == 200
            command = [*python_tool("sslyze", "sslyze"), "--mozilla_config=intermediate",
                       f"--certinfo_ca_file={authority}", f"localhost:{ports.https}{{127.0.0.1}}"]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "OK - Compliant" in output, output[-4000:]
