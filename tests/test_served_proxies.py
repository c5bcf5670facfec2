"""Generated projects behind real nginx and Apache on loopback (tests/served.py): what a client gets, as opposed to
what `nginx -t` and `apache2 -t` accept (tests/test_deploy_files.py).

- Joining a host's block (`install.sh --join`): the app's lines included in a server block / <VirtualHost> that has
  its own HSTS and Content-Security-Policy and a regular expression location (or <LocationMatch>) for .js, .css and
  .png, as an institute's site does. The app's page, its bundles and stylesheets (Dash) or static files (Django), the
  prefix's redirect, the app's 404 and, with the app stopped, the maintenance page answer as they should under the
  prefix, each with the host's headers unchanged and once, while the host's own files still answer.
"""

import re

import pytest

from tests import served
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
