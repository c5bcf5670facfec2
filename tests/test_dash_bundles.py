"""A Dash project's bundles through real nginx with the generated app lines: a collected bundle comes from disk as its
gzip copy (a fingerprinted name kept for a year, a plain one answered 304 when unchanged), and one not collected goes
to the app (here: no app running, so the maintenance page says 503, never a 404 from disk)."""

import gzip
import http.client
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.ci import require_tool
from tests.render import render_cookiecutter

pytestmark = pytest.mark.deploy
PREFIX = "/eegqc"
MAIN = """\
{user}
pid {scratch}/nginx.pid;
error_log stderr;
daemon off;
events {{}}
http {{
    include mime.types;
    access_log off;
    client_body_temp_path {scratch}/tmp/body;
    proxy_temp_path {scratch}/tmp/proxy;
    fastcgi_temp_path {scratch}/tmp/fastcgi;
    uwsgi_temp_path {scratch}/tmp/uwsgi;
    scgi_temp_path {scratch}/tmp/scgi;
    gzip on;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        # A block someone else runs: its own header, and a regex location that must not take the app's bundles.
        add_header X-Host-Policy "the host's" always;
        location ~* \\.(js|css|png)$ {{ return 410; }}
        include snippets/app.conf;
    }}
}}
"""
REACT = "dash/deps/react@18.3.1.min.js"
REACT_URL = f"{PREFIX}/_dash-component-suites/dash/deps/react@18.v4_4_1m1796519547.3.1.min.js"
PLOTLY = "plotly/package_data/plotly.min.js"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Host": "localhost", "Accept-Encoding": "gzip", **(headers or {})})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    found = {name.lower(): value for name, value in response.getheaders()}
    found["x-host-policy count"] = sum(name.lower() == "x-host-policy" for name, _ in response.getheaders())
    return response.status, found, body


@pytest.fixture
def nginx_with_bundles(tmp_path):
    """nginx serving the generated app lines of a Dash project at /eegqc, its bundles collected (two of them)."""
    nginx = require_tool("nginx")
    code = tmp_path / "code"
    project = render_cookiecutter(
        tmp_path / "out",
        framework="dash",
        server="uwsgi",
        proxy="nginx",
        url_prefix=PREFIX,
        __code_dir=str(code),
        __run_dir=str(tmp_path / "run"),
    )
    for name, text in ((REACT, "react " * 400), (PLOTLY, "plotly " * 4000)):
        (code / "bundles" / name).parent.mkdir(parents=True, exist_ok=True)
        (code / "bundles" / name).write_text(text)
        (code / "bundles" / f"{name}.gz").write_bytes(gzip.compress(text.encode()))
    (code / "deploy").mkdir()
    (code / "deploy" / "maintenance.html").write_text((project / "deploy" / "maintenance.html").read_text())
    scratch = tmp_path / "nginx"
    (scratch / "snippets").mkdir(parents=True)
    (scratch / "tmp").mkdir()
    for name in ("mime.types", "uwsgi_params"):
        (scratch / name).write_bytes(Path("/etc/nginx", name).read_bytes())
    (scratch / "snippets" / "app.conf").write_text((project / "deploy" / "nginx-shared-site.conf").read_text())
    port = free_port()
    user = "user root root;" if os.geteuid() == 0 else ""  # the scratch tree is root's alone (mode 700)
    (scratch / "nginx.conf").write_text(MAIN.format(user=user, scratch=scratch, port=port))
    server = subprocess.Popen(
        [nginx, "-p", f"{scratch}/", "-c", str(scratch / "nginx.conf"), "-e", "stderr"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, f"nginx exited: {server.stderr.read()}"
                assert time.monotonic() < deadline, "nginx did not listen"
                time.sleep(0.1)
        yield port, code / "bundles"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_fingerprinted_bundle_comes_from_disk_gzipped_and_is_kept_for_a_year(nginx_with_bundles):
    port, bundles = nginx_with_bundles
    status, headers, body = get(port, REACT_URL)
    assert status == 200, body[:300]
    assert headers.get("content-encoding") == "gzip", headers
    assert gzip.decompress(body) == (bundles / REACT).read_bytes()
    assert headers["content-type"] == "application/javascript"
    assert headers["cache-control"] == "max-age=31536000"  # expires 1y: the server block's headers stay
    assert (headers["x-host-policy"], headers["x-host-policy count"]) == ("the host's", 1)


def test_a_plain_bundle_comes_from_disk_and_is_answered_304_when_unchanged(nginx_with_bundles):
    port, bundles = nginx_with_bundles
    status, headers, body = get(port, f"{PREFIX}/_dash-component-suites/{PLOTLY}")
    assert status == 200 and gzip.decompress(body) == (bundles / PLOTLY).read_bytes()
    assert "max-age=31536000" not in headers.get("cache-control", "")
    assert (headers["x-host-policy"], headers["x-host-policy count"]) == ("the host's", 1)
    status, _, body = get(port, f"{PREFIX}/_dash-component-suites/{PLOTLY}", {"If-None-Match": headers["etag"]})
    assert (status, body) == (304, b"")


def test_a_bundle_not_collected_goes_to_the_app(nginx_with_bundles):
    port, _ = nginx_with_bundles
    for path in ("dash/dcc/async-graph.js", "dash/dcc/dash_core_components.v4_4_1m1796519547.js"):
        status, _, body = get(port, f"{PREFIX}/_dash-component-suites/{path}")
        # The app's socket is missing: nginx's 502 becomes the maintenance page's 503, as for any app request.
        assert status == 503, (path, status, body[:300])
        assert b"<html" in gzip.decompress(body).lower() if body[:2] == b"\x1f\x8b" else b"<html" in body.lower()
