"""Joining a proxy someone else owns: the app added to a site the server's administrator already runs for the host.

Three stacks of tests/e2e/test_stacks.py install this way instead of with a site of their own (JOIN_STACKS in
tests/e2e/checks.py; their test ids end in -join):

- nginx, as root: a server block for the host (HTTP and HTTPS, self-signed certificate) serving the lab's pages. First
  the own-site install is tried and must be refused, because nginx would ignore a second server block of the same
  name and only warn about it: install.sh fails, and nginx's configuration is back as it was. Then `install.sh --join`.
- Apache, as root: an HTTP and an HTTPS <VirtualHost> for the host serving the lab's pages; `install.sh --join`.
- nginx, `install.sh --user --join`: the administrator's steps show the app's lines and install a root-owned copy.

After the install the test plays the administrator and does what install.sh printed: the one include line into the
site's block(s), then the printed commands. The stack's usual checks then run through that site, and CHECKS adds:
the other pages still answer (HTTP and HTTPS), the app answers under its prefix over HTTPS with its links, the proxy's
redirect keeps the request's scheme, and (Django) the app itself sees the scheme: its CSRF origin check accepts an
https:// origin only on an HTTPS request.
"""

import re
import time

from tests.e2e.checks import Check, Step
from tests.e2e.stack import PREFIX, local_links

INCLUDE_LINE = re.compile(r"^install\.sh: add to the \S+ site of \S+, inside its block, once: (.+)$", re.M)
HOME = "/var/www/lab-home"
HOME_MARK = "the lab's home page"
PEOPLE_MARK = "the lab's people"
CERTIFICATE = "/etc/ssl/certs/lab-home.pem"
KEY = "/etc/ssl/private/lab-home.key"
MARKER = "# the lab's apps"

# The institute's own headers and caching rule for its assets: under the prefix the app's files are still the app's
# (^~), and the responses carry these headers unchanged, each once.
INSTITUTE_HEADERS = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Content-Security-Policy": "frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
    "X-Served-By": "lab-home",
}
INSTITUTE_NGINX_HEADERS = "\n".join(
    f'    add_header {name} "{value}" always;' for name, value in INSTITUTE_HEADERS.items()
)
INSTITUTE_APACHE_HEADERS = "\n".join(
    [f'    Header always set {name} "{value}"' for name, value in INSTITUTE_HEADERS.items()]
    + ['    <LocationMatch "\\.(js|css|png)$">', '        Header set Cache-Control "max-age=2592000"']
    + ["    </LocationMatch>"]
)
NGINX_HOME_SITE = f"""\
server {{
    listen 80;
    listen 443 ssl;
    server_name localhost;
    ssl_certificate {CERTIFICATE};
    ssl_certificate_key {KEY};
    root {HOME};
{INSTITUTE_NGINX_HEADERS}
    location / {{
        try_files $uri $uri/ =404;
    }}
    location ~* \\.(js|css|png)$ {{
        expires 30d;
    }}
    {MARKER}
}}
"""
APACHE_HOME_SITE = f"""\
<VirtualHost *:80>
    ServerName localhost
    DocumentRoot {HOME}
{INSTITUTE_APACHE_HEADERS}
    {MARKER}
</VirtualHost>
<VirtualHost *:443>
    ServerName localhost
    DocumentRoot {HOME}
    SSLEngine on
    SSLCertificateFile {CERTIFICATE}
    SSLCertificateKeyFile {KEY}
{INSTITUTE_APACHE_HEADERS}
    {MARKER}
</VirtualHost>
"""


def home_site(proxy: str) -> str:
    return f"/etc/{'nginx' if proxy == 'nginx' else 'apache2'}/sites-available/lab-home.conf"


def curl(stack, scheme: str, path: str, *args: str):
    """A request to the host by name, over `scheme`, inside the container (the certificate is self-signed)."""
    port = 443 if scheme == "https" else 80
    return stack.testbed.curl(
        f"{scheme}://localhost{path}", "--resolve", f"localhost:{port}:127.0.0.1", "--insecure", *args, check=False
    )


# ---------------------------------------------------------------- before the install: the administrator's site
def prepare(stack) -> None:
    """The host's own site, running before the app arrives; for nginx, the own-site install refused beside it."""
    started = time.monotonic()
    proxy = stack.proxy
    run = stack.run
    run(["mkdir", "-p", f"{HOME}/people"])
    for page, mark in (("index.html", HOME_MARK), ("people/index.html", PEOPLE_MARK)):
        run(["bash", "-c", f"cat > {HOME}/{page}"], input=f"<p>{mark}</p>\n")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-keyout", KEY, "-out", CERTIFICATE])  # fmt: skip
    run(["bash", "-c", f"cat > {home_site(proxy)}"], input=NGINX_HOME_SITE if proxy == "nginx" else APACHE_HOME_SITE)
    if proxy == "nginx":
        run(["ln", "-s", home_site(proxy), "/etc/nginx/sites-enabled/lab-home.conf"])
        run(["systemctl", "enable", "--now", "nginx"])
    else:
        run(["a2enmod", "-q", "ssl", "headers"])
        run(["a2ensite", "-q", "lab-home"])
        run(["systemctl", "enable", "--now", "apache2"])
    assert_home_pages(stack)
    stack.report.metrics["join_setup_seconds"] = round(time.monotonic() - started, 2)
    if proxy == "nginx" and not stack.user_mode:
        refuse_own_site(stack)


def refuse_own_site(stack) -> None:
    """install.sh without --join: nginx would ignore the app's server block beside the host's (same name) and only
    warn; install.sh must fail, say why, and leave nginx's configuration as it was."""
    started = time.monotonic()
    before = stack.run(["nginx", "-T"]).stdout
    result = stack.run(stack.install_command()[:-1], timeout=600, check=False)  # the command without --join
    stack.report.metrics["own_site_refused_seconds"] = round(time.monotonic() - started, 2)
    output = result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode != 0, f"the own site was accepted beside a server block of the same name:\n{output}"
    assert 'conflicting server name "localhost"' in result.stderr, output
    assert "nginx rejected the new site" in result.stderr and "previous configuration is back" in result.stderr, output
    leftovers = stack.run(["ls", "/etc/nginx/sites-enabled", "/etc/nginx/sites-available", "/etc/nginx/snippets"],
                          check=False).stdout  # fmt: skip
    assert "my-web-app" not in leftovers, f"the refused site is still there:\n{leftovers}"
    assert stack.run(["nginx", "-T"]).stdout == before, "nginx's configuration changed"
    test = stack.run(["nginx", "-t"], check=False)
    assert test.returncode == 0 and "[warn]" not in test.stderr, test.stderr
    assert_home_pages(stack)


# ---------------------------------------------------------------- after the install: what it printed, done
def finish(stack) -> None:
    """The administrator adds the printed line to the host's site block(s), then runs the printed commands. (With
    --user, install_as_documented has already run them once, before the line was there: harmless, nothing served.)"""
    install_output = stack.install_output
    lines = INCLUDE_LINE.findall(install_output)
    assert len(lines) == 1, f"install.sh --join printed {len(lines)} include lines:\n{install_output[-3000:]}"
    if stack.user_mode:
        # The administrator is shown what they are asked to include, line by line.
        shown = "\n".join(line[6:] for line in install_output.splitlines() if line.startswith("    | "))
        copy = stack.run(["cat", f"{stack.code_dir}/deploy/nginx-shared-site.conf"]).stdout
        assert shown.strip() and shown.strip() == copy.strip(), "the snippet's content is not shown as installed"
    stack.report.metrics["join_include_line"] = lines[0]
    site = home_site(stack.proxy)
    stack.run(["sed", "-i", f"s|{MARKER}|{lines[0]}|", site])
    stack.run_admin_commands(install_output)


# ---------------------------------------------------------------- checks
def assert_home_pages(stack) -> None:
    for scheme in ("http", "https"):
        for path, mark in (("/", HOME_MARK), ("/people/", PEOPLE_MARK)):
            response = curl(stack, scheme, path)
            assert response.status == 200 and mark in response.text, f"{scheme} {path}: {response.status}"


def check_snippet_is_roots(stack) -> None:
    proxy = stack.proxy
    snippet = f"/etc/{'nginx' if proxy == 'nginx' else 'apache2'}/snippets/my-web-app.conf"
    owner = stack.run(["stat", "-c", "%U:%G %a", snippet]).stdout.strip()
    assert owner == "root:root 644", f"{snippet}: {owner}"
    found = stack.run(["bash", "-c", f"grep -rlF {snippet} /etc/nginx /etc/apache2"], check=False).stdout.split()
    included = [path for path in found if path != snippet]  # its own comment names it
    assert included == [home_site(proxy)], f"included from {included}: only the host's site should"
    # What later runs of install.sh look for to tell the app is served (nginx_includes, apache_includes).
    if proxy == "nginx":
        dump = stack.run(["nginx", "-T"], check=False).stdout.splitlines()
        assert f"# configuration file {snippet}:" in dump, "nginx -T does not list the app's lines"
    else:
        dump = stack.run(["apache2ctl", "-t", "-D", "DUMP_INCLUDES"], check=False).stdout.splitlines()
        assert any(line.split()[-1:] == [snippet] for line in dump), f"DUMP_INCLUDES does not list {snippet}: {dump}"


def check_app_over_https(stack) -> None:
    """The app under its prefix over HTTPS: the page, each of its links, and the proxy's redirect of the bare prefix
    (to an https:// address: the scheme of the request, not a fixed one; over HTTP, http://)."""
    page = curl(stack, "https", "/eegqc/")
    assert page.status == 200, f"https /eegqc/ -> {page.status}: {page.text[:300]}"
    links = local_links(page.text)
    assert links and all(link.startswith("/eegqc/") for link in links), links
    for link in links:
        assert curl(stack, "https", link).status == 200, link
    for scheme in ("http", "https"):
        redirect = curl(stack, scheme, "/eegqc")
        location = redirect.headers.get("location", "")
        assert redirect.status == 308 and location == f"{scheme}://localhost/eegqc/", (
            scheme,
            redirect.status,
            location,
        )


def check_host_headers(stack) -> None:
    """The page, a static file (which the host's regex location for .js/.css/.png would take without ^~) and the app's
    404 under the prefix: 200, 200, 404, each with every header of the host's block once, as the block sets it."""
    problems = []
    for path, status in ((f"{PREFIX}/", 200), (stack.static_path(), 200), (f"{PREFIX}/no-such-page", 404)):
        response = curl(stack, "https", path)
        if response.status != status:
            problems.append(f"{path}: {response.status}, want {status}")
        for name, value in INSTITUTE_HEADERS.items():
            values = [found for header, found in response.header_lines if header == name.lower()]
            if values != [value]:
                problems.append(f"{path}: {name} {values}")
    assert not problems, problems


def form_token(page: str, field: str) -> str:
    match = re.search(rf'name="{field}"[^>]*value="([^"]+)"', page) or re.search(
        rf'value="([^"]+)"[^>]*name="{field}"', page
    )
    assert match, f"no {field} in the form"
    return match[1]


def check_app_sees_the_scheme(stack) -> None:
    """Django trusts X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER), and its CSRF check depends on it: a form posted from
    an https:// origin is accepted over HTTPS, where the proxy says https, and refused over HTTP, where it says http
    (the origin then does not match). A proxy that forwarded a fixed scheme fails one of the two. (The Flask apps build
    no URL with a scheme and their CSRF check ignores it: nothing there to observe.)"""
    jar = "/root/join-cookies.txt"
    for scheme, expected in (("https", (302, 303)), ("http", (403,))):
        form = curl(stack, scheme, "/eegqc/notes", "-c", jar, "-b", jar)
        assert form.status == 200, f"{scheme} notes -> {form.status}"
        token = form_token(form.text, "csrfmiddlewaretoken")
        posted = curl(stack, scheme, "/eegqc/notes", "-c", jar, "-b", jar, "-H", "Origin: https://localhost",
                      "-H", "Referer: https://localhost/eegqc/notes", "--data-urlencode", "body=joined",
                      "--data-urlencode", f"csrfmiddlewaretoken={token}")  # fmt: skip
        assert posted.status in expected, f"POST over {scheme} from https:// -> {posted.status}, want {expected}"


def joins(spec) -> bool:
    return spec.join


STEPS = [
    Step("checkout", "join: the host's own site, running before the app arrives", prepare, joins),
    Step("installed", "join: the administrator adds the printed line and runs the printed commands", finish, joins),
]
CHECKS = [
    Check("after_install", "join: the host's other pages still answer, HTTP and HTTPS", assert_home_pages, joins),
    Check(
        "after_install",
        "join: the app's lines are root's and only the host's site includes them",
        check_snippet_is_roots,
        joins,
    ),
    Check(
        "after_install",
        "join: the app over HTTPS, links and redirect in the request's scheme",
        check_app_over_https,
        joins,
    ),
    Check(
        "after_install",
        "join: the host's headers on the app's responses, unchanged and once",
        check_host_headers,
        joins,
    ),
    Check(
        "after_install",
        "join: the app sees the request's scheme",
        check_app_sees_the_scheme,
        lambda spec: spec.join and spec.framework == "django",
    ),
]
