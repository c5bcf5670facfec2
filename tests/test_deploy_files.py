"""deploy/ for every accepted combination, each distinct file checked by the real tool that reads it.

The matrix is framework x server x proxy x supervisor x database x bind x tls x task_queue x url_prefix ("/" and
"/eegqc"), plus websockets=channels on the axes it meets, less the combinations the hooks refuse (2,832 today),
rendered in memory (tests/deploy_support.py) and validated once per distinct content. The deploy's own code
(install.sh, deploy.py, deploy/engine/) is linted in tests/test_deploy_code.py.
Tests named *_rejects_* prove each check bites on a deliberately broken file.
"""

import ast
import math
import re
from pathlib import Path

import pytest

from hooks.wsgi_hooks.plugins.proxy_apache import site_modules
from hooks.wsgi_hooks.validate import BACKUP_SCHEDULES
from tests import validators
from tests.deploy_support import (
    MATRIX_KEYS,
    PREFIXES,
    DeployRenderer,
    UniqueFile,
    apache_modules,
    deploy_matrix,
    full_deploy_matrix,
    kind_of,
    label,
    layout_constants,
    layout_problems,
    make_scratch_tree,
    params,
    relocate,
    rendered_matrix,
    self_signed_certificate,
    unique_files,
)
from tests.render import CHOICES, hook_answers, refusals, render_cookiecutter
from tests.services import postgres_cluster

pytestmark = pytest.mark.deploy

SLUG = "my-web-app"  # every combination keeps the default project name
PACKAGE = "my_web_app"


@pytest.fixture(scope="session")
def certificates(tmp_path_factory):
    return self_signed_certificate(tmp_path_factory.mktemp("certificates"))


@pytest.fixture
def scratch(tmp_path):
    make_scratch_tree(tmp_path, SLUG)
    return tmp_path


def relocated(unique_or_text, scratch: Path, certificates: Path) -> str:
    text = unique_or_text.content if isinstance(unique_or_text, UniqueFile) else unique_or_text
    return relocate(text, SLUG, scratch, certificates)


def write(scratch: Path, name: str, text: str) -> Path:
    path = scratch / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def first_file(kind: str) -> UniqueFile:
    return sorted(unique_files()[kind], key=lambda unique: unique.example)[0]


# ---------------------------------------------------------------- the matrix itself
def test_matrix_covers_every_accepted_combination():
    every = full_deploy_matrix()
    assert len({label(answers) for answers in every}) == len(every), "each combination once"
    websockets = [answers for answers in every if answers.get("websockets") == "channels"]
    product = math.prod(len(CHOICES[key]) for key in MATRIX_KEYS) * len(PREFIXES)
    assert len(every) == product + len(websockets)
    # channels on every server x proxy x supervisor x prefix it meets (proxy=none refuses it).
    assert len(websockets) == len(CHOICES["server"]) * 2 * len(CHOICES["supervisor"]) * len(PREFIXES)
    assert all(not refusals(answers) for answers in websockets)
    matrix = deploy_matrix()
    assert matrix == [answers for answers in every if not refusals(answers)]
    assert 0 < len(matrix) < len(every), "the hooks' rule refuses some combinations, not all"
    assert {answers["url_prefix"] for answers in matrix} == {"/", "/eegqc"}
    kinds = {kind: len(files) for kind, files in unique_files().items()}
    assert set(kinds) == {
        "gunicorn", "uwsgi", "nginx", "nginx-shared", "apache", "apache-shared", "systemd", "systemd-socket",
        "systemd-system-drop-in", "systemd-timer", "supervisord", "install", "deploy-python", "deploy-requirements",
        "postgresql", "maintenance", "selinux-module", "selinux-contexts", "selinux-redis-module",
        "selinux-redis-contexts",
    }  # fmt: skip


RENDER_SAMPLES = [
    {"framework": "flask", "server": "gunicorn", "proxy": "nginx", "url_prefix": "/eegqc"},
    {"framework": "django", "server": "uwsgi", "proxy": "apache", "supervisor": "supervisord",
     "database": "postgresql", "bind": "tcp", "tls": "certbot", "domain_name": "qc.eeg-lab.org",
     "author_email": "webmaster@eeg-lab.org"},
    {"framework": "dash", "server": "uwsgi", "proxy": "none", "supervisor": "none", "database": "none",
     "bind": "tcp", "url_prefix": "/eegqc/"},
]  # fmt: skip


@pytest.mark.parametrize("answers", RENDER_SAMPLES, ids=["flask", "django", "dash"])
def test_fast_render_matches_cookiecutter(tmp_path, answers):
    project = render_cookiecutter(tmp_path, **answers)
    deploy = project / "deploy"
    on_disk = {str(path.relative_to(deploy)): path.read_text() for path in deploy.rglob("*") if path.is_file()}
    assert DeployRenderer().render(answers) == on_disk


# ---------------------------------------------------------------- one answer drives proxy, server and app
def listen_address(answers: dict) -> str:
    if answers["bind"] == "unix":
        return f"/run/{SLUG}/{answers['server']}.sock"
    return f"127.0.0.1:{answers.get('port', '8000')}"


def consistency_problems(answers: dict, files: dict[str, str]) -> list[str]:
    prefix = answers["url_prefix"].rstrip("/")
    address = listen_address(answers)
    problems = []

    def expect(condition: bool, what: str) -> None:
        if not condition:
            problems.append(what)

    if answers["server"] == "gunicorn":
        server = files["gunicorn.conf.py"]
        # Behind a proxy gunicorn splits off the prefix; facing clients, the app does (redirect, 404 outside).
        split_by_gunicorn = f'os.environ.get("URL_PREFIX", "{prefix}")' in server and "raw_env = " in server
        expect(split_by_gunicorn == (answers["proxy"] != "none"), "gunicorn: SCRIPT_NAME from the prefix")
        if answers["bind"] == "unix":  # /run/<slug> unless RUN_DIR moves it
            run_dir = f'run_dir = os.environ.get("RUN_DIR", "/run/{SLUG}")\n'
            expect(run_dir in server and 'bind = [f"unix:{run_dir}/gunicorn.sock"]' in server, "gunicorn: bind")
        else:
            expect(f'bind = ["{address}"]' in server, "gunicorn: bind")
    else:
        server = files["uwsgi.ini"]
        # /run/<slug> unless RUN_DIR moves it
        expect(f"set-placeholder = run_dir=/run/{SLUG}\n" in server, "uwsgi: run_dir placeholder")
        server = server.replace("%(run_dir)", f"/run/{SLUG}")
        expect((f"mount = {prefix}=wsgi:application" in server) == bool(prefix), "uwsgi: mount for the prefix")
        expect(re.search(rf"^(http-)?socket = {re.escape(address)}$", server, re.M) is not None, "uwsgi: socket")
        expect(("http-socket = 127.0.0.1" in server) == (answers["proxy"] == "none"), "uwsgi: HTTP only without proxy")
    timeout = answers.get("request_timeout", "30")
    graceful = max(int(timeout), 30)  # a reload or stop gives requests at least 30 s, or the timeout if longer
    if answers["server"] == "gunicorn":
        gunicorn = files["gunicorn.conf.py"]
        expect(f"\ntimeout = {timeout}\ngraceful_timeout = {graceful}\n" in gunicorn, "gunicorn: request_timeout")
    else:
        uwsgi = files["uwsgi.ini"]
        expect(f"\nharakiri = {timeout}\n" in uwsgi and f"\nworker-reload-mercy = {graceful}\n" in uwsgi,
               "uwsgi: harakiri = request_timeout")  # fmt: skip
    # The websocket lines (websockets=channels) have timeouts of their own: checked in websocket_problems.
    app_lines = {name: without_websockets(files[name]) for name in files if name.endswith("-shared-site.conf")}
    for name in ("nginx-shared-site.conf", "apache-shared-site.conf"):
        if name in files:
            found = set(re.findall(r"(?:_read_timeout |_send_timeout | timeout=)(\d+)", app_lines[name]))
            expect(found == {timeout}, f"{name}: every timeout is request_timeout ({found})")
    megabytes = answers.get("max_body_mb", "16")
    if "nginx-shared-site.conf" in files:
        limits = set(re.findall(r"client_max_body_size (\S+);", files["nginx-shared-site.conf"]))
        expect(limits == {f"{megabytes}m"}, f"nginx: every body limit is max_body_mb ({limits})")
    if "apache-shared-site.conf" in files:
        limits = set(re.findall(r"%\{HTTP:Content-Length\} -gt (\d+)", files["apache-shared-site.conf"]))
        expect(limits == {str(int(megabytes) * 1024 * 1024)}, f"apache: the body limit is max_body_mb ({limits})")
        expect("LimitRequestBody" not in files["apache-shared-site.conf"].replace("no LimitRequestBody", ""),
               "apache: no LimitRequestBody, which httpd never applies to a proxied request")  # fmt: skip
    # manage.py check looks for "<prefix>/" in each server and proxy file.
    for name in ("gunicorn.conf.py", "uwsgi.ini", "nginx-shared-site.conf", "apache-shared-site.conf"):
        if prefix and name in files:
            expect(f"{prefix}/" in files[name], f"{name}: names {prefix}/ for manage.py check")

    code = f"/srv/{SLUG}/current"  # the live release
    static = f"{code}/staticfiles/" if answers["framework"] == "django" else f"{code}/my_web_app/static/"
    if answers["proxy"] == "nginx":
        site, lines = files["nginx.conf"], app_lines["nginx-shared-site.conf"]
        expect(f"\n    include snippets/{SLUG}.conf;\n" in site, "nginx: the site includes the app's lines")
        expect(re.search(r"^\s*(location|upstream|proxy_pass|uwsgi_pass|alias)\b", site, re.M) is None
               or "location / {\n        return 404;" in site or "acme-challenge" in site,
               "nginx: the app's locations are in the included file only")  # fmt: skip
        expect(f"location ^~ {prefix}/ {{" in lines, "nginx: location for the prefix")
        # Top-level locations (4 spaces in); a regular expression only nested in one of them (8), where nginx looks
        # for it once the ^~ location has won.
        kinds = re.findall(r"^    location (\S+) ", lines, re.M)
        expect(all(kind in ("^~", "=") or kind.startswith("@") for kind in kinds),
               "nginx: every location of the app is ^~, exact or named: no regex location of a block wins")  # fmt: skip
        expect(set(re.findall(r"^( *)location ", lines, re.M)) <= {"    ", "        "}, "nginx: locations nest once")
        expect(f"location ^~ {prefix}/static/ {{\n        alias {static};" in lines, "nginx: static alias")
        address_in_file = f"unix:{address}" if answers["bind"] == "unix" else address
        if answers["server"] == "gunicorn":
            # No URI after the address: the prefix stays in the path.
            expect(f"proxy_pass http://{address_in_file};" in lines, "nginx: proxy_pass to the address, no URI")
        expect(("proxy_pass http://" in lines) == (answers["server"] == "gunicorn"), "nginx: proxy_pass for gunicorn")
        expect((f"uwsgi_pass {address_in_file};" in lines) == (answers["server"] == "uwsgi"), "nginx: uwsgi_pass")
        expect("error_page 502 =503 @my_web_app_maintenance;" in lines, "nginx: maintenance page")
        expect("X-Forwarded-Proto $scheme;" in lines or "X_FORWARDED_PROTO $scheme;" in lines, "nginx: the scheme")
        # A block with add_header lines of its own inherits none of the server block's: only the media and protected
        # files (their sandbox policy) and CORS may have some, and those repeat the whole set.
        blocks = nginx_blocks(lines)
        own_headers = {block.split("{", 1)[0].strip() for block in blocks if "add_header " in block}
        expected = {f"location ^~ {prefix}/media/", f"location ^~ {prefix}/_protected/"}
        if answers.get("cors_origins"):
            expected |= {f"location ^~ {prefix}{path}" for path in answers["cors_paths"].split()}
            expected.add("if ($request_method = OPTIONS)")
        expect(own_headers == expected, f"nginx: add_header only where the app's own header is needed: {own_headers}")
        expect(all("add_header X-Frame-Options" in block for block in blocks if "add_header " in block),
               "nginx: a block with add_header repeats the security headers")  # fmt: skip
        expect("_hide_header" not in lines, "nginx: the app sends no security header behind a proxy: nothing to hide")
        expect(re.search(r"^\s*(listen|server_name|server_tokens|gzip)\b", lines, re.M) is None,
               "nginx: nothing of the whole server in the app's lines")  # fmt: skip
        if prefix:
            redirect = f"location = {prefix} {{\n        return 308 {prefix}/$is_args$args;"
            expect(redirect in lines, "nginx: slash redirect")
    if answers["proxy"] == "apache":
        site = files["apache.conf"]
        shared = files["apache-shared-site.conf"]
        expect(apache_modules(site) == site_modules(answers), "apache: module list = the plugin's next step")
        expect(f"\n    Include snippets/{SLUG}.conf\n" in site, "apache: the site includes the app's lines")
        expect('ProxyPass "' not in site and "/static/" not in site, "apache: the app's lines are in the include")
        expect(f'Alias "{prefix}/static/" "{static}"' in shared, "apache: static alias")
        scheme = "http" if answers["server"] == "gunicorn" else "uwsgi"
        module = "proxy_http" if scheme == "http" else "proxy_uwsgi"
        passes = re.findall(rf'^ProxyPass "{re.escape(prefix)}/" "(.+?)"', shared, re.M)
        expect(len(passes) == 1 and f"{scheme}://" in passes[0] and module in apache_modules(site), "apache: ProxyPass")
        expect(len(passes) == 1 and (address in passes[0]), "apache: ProxyPass address")
        if answers["server"] == "gunicorn" and passes:
            expect(passes[0].endswith(f"{prefix}/"), "apache: the prefix stays in the path for gunicorn")
        expect('RequestHeader set X-Forwarded-Proto "expr=%{REQUEST_SCHEME}"' in shared, "apache: the request's scheme")
        outside = [line for line in shared.splitlines() if re.match(r"(Header|LimitRequestBody|ServerName)\b", line)]
        paths = re.findall(r'^(?:Alias|ProxyPass|<Location) "([^"]*)"', shared, re.M)
        expect(all(path.startswith(f"{prefix}/") for path in paths), f"apache: every path under the prefix: {paths}")
        security = r"(X-Frame-Options|X-Content-Type-Options|Referrer-Policy|Strict-Transport-Security)"
        expect(not re.search(rf"Header \w+ (set|unset) {security}", shared), "apache: security headers are the host's")
        expect(not outside, f"apache: nothing of the whole virtual host in the app's lines: {outside}")
    if answers["proxy"] in ("nginx", "apache"):
        lines = files[f"{answers['proxy']}-shared-site.conf"]
        media = f"/var/lib/{SLUG}/media/"
        if answers["proxy"] == "nginx":
            expect(f"location ^~ {prefix}/media/ {{\n        alias {media};" in lines, "nginx: media from disk")
            expect(f"location ^~ {prefix}/_protected/ {{\n        internal;\n        alias /var/lib/{SLUG}/protected/;"
                   in lines, "nginx: protected files only through X-Accel-Redirect")  # fmt: skip
        else:
            expect(f'Alias "{prefix}/media/" "{media}"' in lines and f'ProxyPass "{prefix}/media/" "!"' in lines,
                   "apache: media from disk, not proxied")  # fmt: skip
            expect(f'<Directory "{media}">\n    Require all granted\n    Options None\n' in lines,
                   "apache: media never listed")  # fmt: skip
        cors = answers.get("cors_origins", "").split()
        expect(("Access-Control-Allow-Origin" in lines) == bool(cors), "CORS headers exactly when cors_origins is set")
        if cors:
            paths = answers["cors_paths"].split()
            expect(all(f"{prefix}{path}" in lines for path in paths), "CORS: each path named")
            expect(lines.count("return 204;") + lines.count("Redirect 204") == len(paths),
                   "CORS: one preflight answer per path")  # fmt: skip
    if answers["tls"] != "none":
        site = files.get("nginx.conf") or files["apache.conf"]
        expect("max-age=63072000" in site and "TLSv1.2" in site and "TLSv1.3" in site, "TLS: HSTS, TLS 1.2/1.3")
        expect("acme-challenge" in site and "https://" in site, "TLS: HTTP->HTTPS except ACME")

    if answers["supervisor"] == "systemd":
        unit = files[f"{SLUG}.service"]
        system = files[f"{SLUG}-system.conf"]
        writable = f"ReadWritePaths=/var/lib/{SLUG} /run/{SLUG}\n"
        expect(writable in system, "system drop-in: DATA_DIR and RUN_DIR writable")
        expect(f"User={SLUG}\n" in system and "ProtectSystem=strict\n" in system, "system drop-in: account, sandbox")
        expect(not re.search(r"^(User|Group|Protect\w+|Private\w+|ReadWritePaths)=", unit, re.M),
               "unit: only what a user manager applies too")  # fmt: skip
        expect(f"Environment=DATA_DIR=/var/lib/{SLUG}\n" in unit, "unit: DATA_DIR")
        expect(
            not re.search(r"^EnvironmentFile=", unit, re.M),
            "unit: the app reads .env itself (a reload takes new values)",
        )
        expect("KillSignal=SIGTERM\n" in unit, "unit: KillSignal=SIGTERM")
        stop_timeout = int(re.search(r"^TimeoutStopSec=(\d+)$", unit, re.M)[1])
        expect(stop_timeout > graceful, "unit: TimeoutStopSec above the graceful timeout")
        expect(f"deploy/{answers['server']}." in unit, "unit: runs the chosen server's config")
        socket = files[f"{SLUG}.socket"]
        expect(f"ListenStream={address}\n" in socket, "socket unit: listens where the server and the proxy expect")
        expect(f"Requires={SLUG}.socket\n" in unit, "unit: requires its socket")
        expect(not re.search(r"^(SocketUser|SocketGroup)=", socket, re.M), "socket: group from the setgid RUN_DIR")
    if answers["supervisor"] == "supervisord":
        program = files["supervisord.conf"]
        expect("stopsignal=TERM\n" in program, "supervisord: stopsignal=TERM")
        expect(int(re.search(r"^stopwaitsecs=(\d+)$", program, re.M)[1]) > graceful,
               "supervisord: stopwaitsecs > the graceful timeout")  # fmt: skip
        group_stop = "stopasgroup=true" if answers["server"] == "gunicorn" else "stopasgroup=false"
        expect(group_stop in program, f"supervisord: {group_stop}")
        expect("killasgroup=true" in program and "autorestart=true" in program, "supervisord: group kill, restart")
    if answers["task_queue"] == "celery":
        limit = int(hook_answers(answers)["__task_time_limit"])
        stop = {
            "systemd": lambda: files[f"{SLUG}-worker.service"],
            "supervisord": lambda: files["supervisord.conf"].split(f"[program:{SLUG}-worker]")[1].split("[program:")[0],
        }.get(answers["supervisor"])
        if stop:
            worker = stop()
            waits = re.findall(r"^(?:TimeoutStopSec|stopwaitsecs)=(\d+)$", worker, re.M)
            expect(len(waits) == 1 and int(waits[0]) > limit, "celery worker: stop timeout above the task time limit")
            expect(re.search(r"^(KillSignal=SIGTERM|stopsignal=TERM)$", worker, re.M) is not None,
                   "celery worker: TERM, Celery's warm shutdown")  # fmt: skip
            expect(f"--app {PACKAGE}.worker worker " in worker, "celery worker: the worker module")
    problems += websocket_problems(answers, files)
    problems += layout_problems(files)
    return problems


def test_layout_check_rejects_a_value_that_needs_quoting_and_a_missing_constant():
    files = DeployRenderer().render({})
    assert layout_problems(files) == []
    layout = files["engine/layout.py"]
    domain = f'DOMAIN: Final = "{layout_constants(files)["DOMAIN"]}"'
    assert domain in layout
    spaced = {**files, "engine/layout.py": layout.replace(domain, 'DOMAIN: Final = "lab example.org"')}
    assert layout_problems(spaced) == ["layout.py: DOMAIN = 'lab example.org' needs quoting in a shell command"]
    typed = {**files, "engine/layout.py": layout.replace(domain, 'DOMAIN: Final[str] = "localhost"')}
    assert layout_problems(typed) == ['layout.py: no constant DOMAIN = "..."']


def python_strings(source: str, constants: dict[str, str]) -> list[str]:
    """Every string a Python module spells out, an f-string's `{layout.NAME}` replaced with the constant's value
    (other expressions stay `{...}`): what it prints, as far as its text says."""

    def text(node: ast.expr) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.FormattedValue):
            value = node.value
            if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.value.id == "layout":
                return constants.get(value.attr, "{...}")
            return "{...}"
        if isinstance(node, ast.JoinedStr):
            return "".join(text(part) for part in node.values)
        return ""

    return [text(node) for node in ast.walk(ast.parse(source)) if isinstance(node, ast.JoinedStr | ast.Constant)]


def nginx_blocks(lines: str) -> list[str]:
    """The app's location blocks and the blocks nested in them (CORS preflights), each from its opening line to its
    closing brace."""
    blocks, open_blocks = [], []
    for line in lines.splitlines(keepends=True):
        for text in open_blocks:
            text.append(line)
        stripped = line.strip()
        if stripped.endswith("{") and not stripped.startswith("#"):
            open_blocks.append([line])
        elif stripped == "}" and open_blocks:
            blocks.append("".join(open_blocks.pop()))
    return blocks


WEBSOCKET_LINES = re.compile(r"^ *# Websockets \(Django Channels\).*?^ *(?:\}|ProxyPass [^\n]*)\n", re.M | re.S)


def without_websockets(lines: str) -> str:
    """The proxy's app lines less the websocket location (nginx) or ProxyPass (Apache)."""
    return WEBSOCKET_LINES.sub("", lines)


def websocket_problems(answers: dict, files: dict[str, str]) -> list[str]:
    """websockets=channels: the proxy sends <prefix>/ws/ with the upgrade to the socket Daphne listens on, run by the
    chosen supervisor; websockets=none: none of it."""
    prefix = answers["url_prefix"].rstrip("/")
    socket = f"/run/{SLUG}/daphne.sock"
    channels = answers.get("websockets") == "channels"
    proxy = answers["proxy"]
    lines = files.get(f"{proxy}-shared-site.conf", "")
    blocks = WEBSOCKET_LINES.findall(lines)
    problems = []

    def expect(condition: bool, what: str) -> None:
        if not condition:
            problems.append(f"websockets: {what}")

    expect(len(blocks) == (1 if channels else 0), f"one websocket block in the {proxy} lines exactly with channels")
    expect(("daphne" in "".join(files.values())) == channels, "Daphne named exactly with channels")
    if not channels or len(blocks) != 1:
        return problems
    block = blocks[0]
    if proxy == "nginx":
        expect(f"location ^~ {prefix}/ws/ {{\n" in block, "nginx: location <prefix>/ws/")
        for line in (f"proxy_pass http://unix:{socket};", "proxy_http_version 1.1;",
                     "proxy_set_header Upgrade $http_upgrade;", 'proxy_set_header Connection "upgrade";',
                     "proxy_read_timeout 120s;"):  # fmt: skip
            expect(line in block, f"nginx: {line}")
    else:
        expect(block.rstrip().endswith(
            f'ProxyPass "{prefix}/ws/" "unix:{socket}|http://localhost{prefix}/ws/" upgrade=websocket timeout=120'),
            "apache: ProxyPass <prefix>/ws/ to Daphne with upgrade=websocket")  # fmt: skip
        expect(lines.index(block) < lines.index(f'ProxyPass "{prefix}/" '), "apache: before the app's ProxyPass")
        expect("proxy_http" in apache_modules(files["apache.conf"]), "apache: mod_proxy_http enabled")
    endpoint = f"--endpoint unix:{socket}:mode=660:lockfile=1 --proxy-headers --access-log - asgi:application"
    program = {
        "systemd": files.get(f"{SLUG}-daphne.service", ""),
        "supervisord": files.get("supervisord.conf", "").partition(f"[program:{SLUG}-daphne]")[2],
        # supervisor=none: the command its summary prints
        "none": "\n".join(python_strings(files.get("engine/websockets_channels.py", ""), layout_constants(files))),
    }[answers["supervisor"]]
    expect(endpoint in program, f"{answers['supervisor']}: Daphne listens where the proxy connects")
    if answers["supervisor"] == "systemd":
        expect("WorkingDirectory=/srv/my-web-app/current\n" in program, "systemd: runs the live release")
    return problems


def test_websocket_checks_reject_a_missing_upgrade_a_late_proxypass_and_another_socket():
    renderer = DeployRenderer()
    base = {"framework": "django", "server": "gunicorn", "bind": "unix", "url_prefix": "/eegqc",
            "websockets": "channels"}  # fmt: skip
    nginx = {**base, "proxy": "nginx", "supervisor": "systemd"}
    apache = {**base, "proxy": "apache", "supervisor": "supervisord"}
    files = {"nginx": renderer.render(nginx), "apache": renderer.render(apache)}
    assert websocket_problems(nginx, files["nginx"]) == [] and websocket_problems(apache, files["apache"]) == []
    lines = files["nginx"]["nginx-shared-site.conf"].replace("proxy_set_header Upgrade $http_upgrade;", "")
    no_upgrade = {**files["nginx"], "nginx-shared-site.conf": lines}
    assert websocket_problems(nginx, no_upgrade)
    shared = files["apache"]["apache-shared-site.conf"]
    websocket = WEBSOCKET_LINES.search(shared)[0]
    late = shared.replace(websocket, "") + websocket
    assert websocket_problems(apache, {**files["apache"], "apache-shared-site.conf": late})
    other_socket = files["nginx"][f"{SLUG}-daphne.service"].replace("daphne.sock", "asgi.sock")
    assert websocket_problems(nginx, {**files["nginx"], f"{SLUG}-daphne.service": other_socket})
    assert websocket_problems({**nginx, "websockets": "none"}, files["nginx"]), "Daphne's files without channels"
    # supervisor=none: the command deploy/engine/websockets_channels.py prints, read from its strings.
    printed = {**base, "proxy": "nginx", "supervisor": "none"}
    files["none"] = renderer.render(printed)
    assert websocket_problems(printed, files["none"]) == []
    module = files["none"]["engine/websockets_channels.py"].replace("daphne.sock", "asgi.sock")
    assert websocket_problems(printed, {**files["none"], "engine/websockets_channels.py": module})


def test_one_answer_set_drives_every_file():
    """Prefix, socket, static path, signals and timeouts agree across all files of each combination."""
    problems = {}
    for answers, files in rendered_matrix():
        found = consistency_problems(answers, files)
        if found:
            problems[label(answers)] = found
    assert problems == {}, f"{len(problems)} combinations, e.g. {next(iter(problems.items()), None)}"


# ---------------------------------------------------------------- proxies
def app_lines(unique: UniqueFile, scratch: Path, certificates: Path) -> dict[str, str]:
    """The app's lines a site includes (snippets/<slug>.conf), relocated, for a site's validation."""
    name = {"nginx": "nginx-shared-site.conf", "apache": "apache-shared-site.conf"}[unique.kind]
    return {f"snippets/{SLUG}.conf": relocated(unique.companion[name], scratch, certificates)}


def joinable(kind: str) -> list:
    """The app's lines of every combination with a URL prefix: `install.sh --join` refuses the site root."""
    return [param for param in params(kind) if param.values[0].combos[0]["url_prefix"] != "/"]


@pytest.mark.parametrize("unique", params("nginx"))
def test_nginx_site_passes_nginx_t(unique, scratch, certificates):
    site = relocated(unique, scratch, certificates)
    check = validators.nginx_test(site, scratch, app_lines(unique, scratch, certificates))
    assert check.ok, check


@pytest.mark.parametrize("unique", joinable("nginx-shared"))
def test_nginx_app_lines_pass_nginx_t_inside_a_foreign_server(unique, scratch, certificates):
    """deploy/nginx-shared-site.conf included, as `install.sh --join` prints, in an HTTP and an HTTPS server block of
    a host someone else runs."""
    include = f"include {scratch}/snippets/{SLUG}.conf;"
    host = validators.nginx_host_servers(include, scratch, certificates)
    check = validators.nginx_test(host, scratch, {f"snippets/{SLUG}.conf": relocated(unique, scratch, certificates)})
    assert check.ok, check


@pytest.mark.parametrize("unique", params("nginx-shared"))
def test_nginx_app_lines_pass_nginx_t_inside_their_own_site(unique, scratch, certificates):
    """Every distinct deploy/nginx-shared-site.conf (the site root included, which --join refuses) inside the own
    site generated with it: the sites are fewer than their app lines, so the site test alone misses some."""
    site = relocated(unique.companion["nginx.conf"], scratch, certificates)
    lines = {f"snippets/{SLUG}.conf": relocated(unique, scratch, certificates)}
    check = validators.nginx_test(site, scratch, lines)
    assert check.ok, check


def test_nginx_t_rejects_the_app_at_the_root_of_a_foreign_server(scratch, certificates):
    """Why --join needs a URL prefix: the app's `location /` is the host's own."""
    unique = next(param.values[0] for param in params("nginx-shared") if param.values[0].combos[0]["url_prefix"] == "/")
    include = f"include {scratch}/snippets/{SLUG}.conf;"
    host = validators.nginx_host_servers(include, scratch, certificates)
    check = validators.nginx_test(host, scratch, {f"snippets/{SLUG}.conf": relocated(unique, scratch, certificates)})
    assert check.returncode != 0 and "duplicate location" in check.stderr, check


def test_nginx_t_only_warns_about_a_second_server_of_the_same_name(scratch, certificates):
    """The own site beside another server block for the same name: nginx ignores one of them, and says so only in a
    warning (exit status 0). install.sh (publish_site) treats that warning as a refusal; tests/e2e proves the
    rollback on a real server."""
    unique = first_file("nginx")
    site = relocated(unique, scratch, certificates)
    domain = re.search(r"server_name (\S+);", site)[1]
    other = f"server {{\n    listen 80;\n    server_name {domain};\n    root {scratch};\n}}\n"
    alone = validators.nginx_test(site, scratch, app_lines(unique, scratch, certificates))
    assert alone.ok, alone
    check = validators.nginx_test(other + site, scratch, app_lines(unique, scratch, certificates))
    assert check.returncode == 0 and not check.ok, check
    assert f'conflicting server name "{domain}" on 0.0.0.0:80, ignored' in check.stderr, check


def test_nginx_t_rejects_a_broken_site(scratch, certificates):
    unique = first_file("nginx")
    site = relocated(unique, scratch, certificates)
    broken = site.replace("    server_tokens off;", "    server_tokens off;\n    proxy_pass_everything on;", 1)
    assert not validators.nginx_test(broken, scratch, app_lines(unique, scratch, certificates)).ok
    (scratch / "snippets" / f"{SLUG}.conf").unlink()
    assert not validators.nginx_test(site, scratch).ok, "the site without the app's lines it includes"


def test_nginx_t_rejects_a_missing_certificate(scratch, tmp_path_factory, certificates):
    tls_site = next(unique for unique in unique_files()["nginx"] if "ssl_certificate " in unique.content)
    empty = tmp_path_factory.mktemp("no-certificates")
    site = relocate(tls_site.content, SLUG, scratch, empty)
    assert not validators.nginx_test(site, scratch, app_lines(tls_site, scratch, certificates)).ok


@pytest.mark.parametrize("unique", params("apache"))
def test_apache_site_passes_apache2_t(unique, scratch, certificates):
    site = relocated(unique, scratch, certificates)
    lines = app_lines(unique, scratch, certificates)
    check = validators.apache_test(site, apache_modules(unique.content), scratch, lines)
    assert check.ok, check


@pytest.mark.parametrize("unique", joinable("apache-shared"))
def test_apache_app_lines_pass_apache2_t_inside_a_foreign_site(unique, scratch, certificates):
    """deploy/apache-shared-site.conf included, as `install.sh --join` prints, in an HTTP and an HTTPS <VirtualHost>
    someone else runs."""
    modules = apache_modules(unique.companion["apache.conf"])
    lines = relocated(unique, scratch, certificates)
    check = validators.apache_test(lines, modules, scratch, host_certificates=certificates)
    assert check.ok, check


@pytest.mark.parametrize("unique", params("apache-shared"))
def test_apache_app_lines_pass_apache2_t_inside_their_own_site(unique, scratch, certificates):
    """Every distinct deploy/apache-shared-site.conf (the site root included) inside the own site generated with it."""
    own_site = unique.companion["apache.conf"]
    site = relocated(own_site, scratch, certificates)
    lines = {f"snippets/{SLUG}.conf": relocated(unique, scratch, certificates)}
    check = validators.apache_test(site, apache_modules(own_site), scratch, lines)
    assert check.ok, check


def test_apache2_t_rejects_a_broken_site_and_a_short_module_list(scratch, certificates):
    unique = first_file("apache")
    site = relocated(unique, scratch, certificates)
    modules = apache_modules(unique.content)
    lines = app_lines(unique, scratch, certificates)
    assert validators.apache_test(site, modules, scratch, lines).ok
    assert not validators.apache_test(site.replace("ServerSignature Off", "ServerSignature Of", 1), modules, scratch,
                                      lines).ok  # fmt: skip
    assert not validators.apache_test(site, [module for module in modules if module != "headers"], scratch, lines).ok
    (scratch / "snippets" / f"{SLUG}.conf").unlink()
    assert not validators.apache_test(site, modules, scratch).ok, "the site without the app's lines it includes"


# ---------------------------------------------------------------- systemd
def write_units(unique, scratch: Path, certificates: Path) -> Path:
    """The unit and its companions (the .service and the .socket name each other, the timer its service), relocated,
    with the drop-in where a root install puts it for each service (<name>.service.d/system.conf; systemd-analyze
    reads it there); returns the unit."""
    drop_in = next((content for name, content in unique.companion.items() if kind_of(name) == "systemd-system-drop-in"))
    for name, content in unique.companion.items():
        if kind_of(name) in ("systemd", "systemd-socket", "systemd-timer") and name != unique.name:
            write(scratch, name, relocated(content, scratch, certificates))
        if kind_of(name) == "systemd":
            write(scratch, f"{name}.d/system.conf", relocated(drop_in, scratch, certificates))
    return write(scratch, unique.name, relocated(unique, scratch, certificates))


@pytest.mark.parametrize("unique", params("systemd"))
def test_systemd_unit_passes_verify(unique, scratch, certificates):
    check = validators.systemd_verify(write_units(unique, scratch, certificates))
    assert check.ok, check


@pytest.mark.parametrize("unique", params("systemd-socket"))
def test_systemd_socket_passes_verify(unique, scratch, certificates):
    check = validators.systemd_verify(write_units(unique, scratch, certificates))
    assert check.ok, check


@pytest.mark.parametrize("unique", params("systemd-timer"))
def test_systemd_timer_passes_verify(unique, scratch, certificates):
    check = validators.systemd_verify(write_units(unique, scratch, certificates))
    assert check.ok, check


@pytest.mark.parametrize("schedule", BACKUP_SCHEDULES)
def test_every_backup_schedule_is_a_calendar_systemd_reads(scratch, schedule):
    """The backup_schedule answers the hooks accept: each a calendar systemd reads, with a next run (cron reads
    them as @NAME; tests/e2e/scenario_backups.py runs a crontab with one)."""
    systemd_analyze = validators.require_tool("systemd-analyze", "systemd")
    check = validators.run([systemd_analyze, "calendar", schedule])
    assert check.ok and "Next elapse:" in check.stdout, check
    assert not validators.run([systemd_analyze, "calendar", "dayly"]).ok


def test_systemd_verify_rejects_a_misspelt_timer_key(scratch, certificates):
    timer = write_units(first_file("systemd-timer"), scratch, certificates)
    timer.write_text(timer.read_text().replace("Persistent=", "Persistant=", 1))
    assert not validators.systemd_verify(timer).ok


def test_systemd_verify_rejects_a_misspelt_socket_key(scratch, certificates):
    unique = first_file("systemd-socket")
    socket = write_units(unique, scratch, certificates)
    socket.write_text(socket.read_text().replace("Backlog=", "Backlogg=", 1))
    assert not validators.systemd_verify(socket).ok


@pytest.mark.parametrize("unique", params("systemd-system-drop-in"))
def test_systemd_system_drop_in_passes_verify(unique, scratch, certificates):
    """Read as a root install reads it: beside its unit, in <slug>.service.d/."""
    service = next(name for name in unique.companion if kind_of(name) == "systemd")
    write_units(UniqueFile("systemd", service, unique.companion[service], unique.combos, unique.companion), scratch,
                certificates)  # fmt: skip
    write(scratch, f"{SLUG}.service.d/system.conf", relocated(unique, scratch, certificates))
    check = validators.systemd_verify(scratch / service)
    assert check.ok, check
    misspelt = unique.content.replace("ProtectSystem=", "ProtectSystm=", 1)
    broken = write(scratch, f"{SLUG}.service.d/system.conf", misspelt)
    assert broken.exists() and not validators.systemd_verify(scratch / service).ok, "the drop-in is not read"


@pytest.mark.parametrize("unique", params("systemd"))
def test_systemd_unit_is_hardened_to_at_most_1_5(unique, scratch, certificates):
    """As a root install runs it: the unit and its system drop-in."""
    unit = write_units(unique, scratch, certificates)
    check = validators.systemd_security(unit, threshold=15)
    assert check.ok, check
    exposure = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", check.stdout)[1])
    assert exposure <= 1.5


def test_systemd_verify_rejects_a_misspelt_key(scratch, certificates):
    unique = first_file("systemd")
    unit = write_units(unique, scratch, certificates)
    broken = unit.read_text().replace("Restart=on-failure", "Restart=on-failur", 1)
    check = validators.systemd_verify(write(scratch, unique.name, broken.replace("KillMode=", "KilMode=", 1)))
    assert check.returncode == 0 and not check.ok, "systemd only warns: the stderr rule must catch it"


def test_systemd_security_rejects_an_unhardened_unit(scratch):
    """The unit alone, as a user manager runs it (install.sh --user), is not rated "OK": the drop-in is what hardens
    a root install."""
    unique = first_file("systemd")
    assert not validators.systemd_security(write(scratch, unique.name, unique.content), threshold=15).ok


# ---------------------------------------------------------------- app servers
@pytest.mark.parametrize("unique", params("gunicorn"))
def test_gunicorn_config_passes_check_config(unique, scratch):
    check = validators.gunicorn_check_config(write(scratch, "gunicorn.conf.py", unique.content), scratch)
    assert check.ok, check


def test_gunicorn_check_config_rejects_a_wrong_setting(scratch):
    broken = first_file("gunicorn").content.replace("timeout = 30", 'timeout = "half a minute"', 1)
    assert not validators.gunicorn_check_config(write(scratch, "gunicorn.conf.py", broken), scratch).ok


@pytest.mark.parametrize("unique", params("uwsgi"))
def test_uwsgi_ini_passes_strict_parsing(unique, scratch):
    ini = write(scratch, "uwsgi.ini", unique.content)
    production = validators.uwsgi_strict(ini, "socket")
    assert production.ok, production
    serving = validators.uwsgi_strict(ini, "http-socket", {"SERVE_BIND": "127.0.0.1:8123"})
    assert serving.ok, serving
    assert serving.stdout.strip() == "127.0.0.1:8123", "manage.py serve --bind: HTTP on the given address"
    if "\nsocket = " in unique.content:
        served_socket = validators.uwsgi_strict(ini, "socket", {"SERVE_BIND": "127.0.0.1:8123"})
        assert served_socket.stdout.strip() == "", "manage.py serve must not open the production socket too"


def test_uwsgi_strict_rejects_an_unknown_option(scratch):
    broken = first_file("uwsgi").content.replace("harakiri = 30", "harakiri = 30\nharakiri-graceful = yes", 1)
    assert not validators.uwsgi_strict(write(scratch, "uwsgi.ini", broken)).ok


# ---------------------------------------------------------------- supervisord
@pytest.mark.parametrize("unique", params("supervisord"))
def test_supervisord_program_passes_supervisord_parser(unique, scratch, certificates):
    check = validators.supervisord_parse(relocated(unique, scratch, certificates), scratch)
    assert check.ok, check


def test_supervisord_parser_rejects_a_bad_signal_and_an_unknown_key(scratch, certificates):
    program = relocated(first_file("supervisord"), scratch, certificates)
    bad_signal = re.sub(r"^stopsignal=\w+$", "stopsignal=GRACEFUL", program, flags=re.M)
    assert not validators.supervisord_parse(bad_signal, scratch).ok
    assert not validators.supervisord_parse(program.replace("stopasgroup=", "stop_as_group="), scratch).ok


# ---------------------------------------------------------------- postgresql.sql
@pytest.fixture(scope="module")
def postgres():
    with postgres_cluster() as server_url:
        yield server_url


@pytest.mark.parametrize("unique", params("postgresql"))
def test_postgresql_script_is_idempotent_against_a_real_server(unique, scratch, postgres):
    script = write(scratch, "postgresql.sql", unique.content)
    first = validators.psql_script(postgres, script, {"db_password": "first-password"})
    assert first.ok, first
    # The second run goes the way install.sh runs it: the password on standard input, not on the command line.
    second = validators.psql_script(postgres, script, stdin="\\set db_password second-password\n")
    assert second.ok, second
    owner = validators.run(
        [validators.require_tool("psql"), postgres, "-XtAc",
         "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'my_web_app'"]
    )  # fmt: skip
    assert owner.stdout.strip() == "my_web_app"


def test_psql_rejects_the_script_without_a_password_and_a_broken_script(scratch, postgres):
    script = write(scratch, "postgresql.sql", first_file("postgresql").content)
    missing = validators.psql_script(postgres, script)
    assert missing.returncode == 3 and "db_password" in missing.stdout + missing.stderr
    broken = write(scratch, "broken.sql", script.read_text().replace("ALTER ROLE", "ALTER ROLL", 1))
    assert validators.psql_script(postgres, broken, {"db_password": "x"}).returncode == 3
