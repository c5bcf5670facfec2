"""The commands the documentation gives work when copied, in order, into a shell in a scratch directory.

What runs, each set in one bash script (`set -euo pipefail`, so the first failing command fails the test):

- docs/getting-started.md, twice: the "cookiecutter" tab's block, then every other shell block of the page; and the
  "copier" tab's block, then the same blocks. The template's location (`{{ template }}` on the page, a git URL on the
  site) is a git repository made from this working tree and tagged, as a clone of a release is.
- the generated README.md's development sections, "Run it on your machine" and "Tests", in a project generated with
  the default answers (Flask, SQLite), with Django under /eegqc (SQLite), and with Django and PostgreSQL (a scratch
  PostgreSQL server; DATABASE_URL points the project at it and DATABASE_ADMIN_URL names its superuser, as the README
  says a developer whose server is elsewhere does).

A command that starts a development or production server (`manage.py run`, `runserver`, `serve`) runs until it
answers: its home page must answer 200 and every stylesheet the page links must answer 200 as CSS, then the server is
stopped. Its port is a free one instead of the documented 8000, the only change made to a command.

Not run: getting-started's deploy block (`sudo deploy/install.sh`, on a server as root: tests/e2e runs the
installer in a booted Debian container).
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.render import TEMPLATE_ROOT, render_cookiecutter
from tests.services import free_port, postgres_cluster

pytestmark = pytest.mark.slow

TEMPLATE_TOKEN = "{{ template }}"  # scripts/mkdocs_hooks.py shows it as the published location
SHELL_BLOCK = re.compile(r"^(?P<indent>[ \t]*)```sh\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.MULTILINE | re.DOTALL)
SERVER_COMMAND = re.compile(r"\bmanage\.py (run|runserver|serve)\b")
DOCUMENTED_PORT = "8000"
SERVER_ONLY = "sudo deploy/install.sh"

PROBE = '''\
"""probe URL -- COMMAND...: start the server, wait for URL, check the page and its stylesheets, stop the server."""
import re, signal, subprocess, sys, time, urllib.request

url, command = sys.argv[1], sys.argv[3:]
server = subprocess.Popen(command, start_new_session=True)
try:
    deadline = time.monotonic() + 120
    while True:
        try:
            page = urllib.request.urlopen(url, timeout=5)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"{url} never answered (server exit status: {server.poll()})")
            time.sleep(0.3)
    html = page.read().decode()
    assert page.status == 200, page.status
    links = re.findall(r'<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"', html)
    assert links, f"{url} links no stylesheet"
    origin = re.match(r"https?://[^/]+", url)[0]
    for link in links:
        with urllib.request.urlopen(origin + link if link.startswith("/") else link, timeout=10) as sheet:
            assert sheet.status == 200 and sheet.headers.get_content_type() == "text/css", (link, sheet.status)
    print(f"probe: {url} and its stylesheets {links} answered")
finally:
    import os
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)
'''

PRELUDE = """\
set -euo pipefail
serve_and_probe() { "$TEST_PYTHON" "$PROBE" "$@"; }
"""


def shell_blocks(markdown: str) -> list[str]:
    """The ```sh blocks of a page, in order, without the indentation of a tab."""
    return [textwrap.dedent(match["indent"] + match["body"].replace("\n" + match["indent"], "\n")).strip() + "\n"
            for match in SHELL_BLOCK.finditer(markdown)]  # fmt: skip


def section(markdown: str, heading: str) -> str:
    """The text of a `## heading` section, up to the next one."""
    start = markdown.index(f"\n## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


def runnable(block: str, prefix: str) -> str:
    """The block with each server command made a probe on a free port (see the module's docstring)."""
    lines = []
    for line in block.splitlines():
        if not SERVER_COMMAND.search(line):
            lines.append(line)
            continue
        port = str(free_port())
        documented = re.compile(rf"(^|:){DOCUMENTED_PORT}$")
        words = [documented.sub(rf"\g<1>{port}", word) for word in shlex.split(line, comments=True)]
        if port not in words and not any(word.endswith(f":{port}") for word in words):
            assert words[-1] == "serve", f"a server command without the documented port: {line}"
            words += ["--bind", f"127.0.0.1:{port}"]
        lines.append(f"serve_and_probe http://127.0.0.1:{port}{prefix}/ -- {shlex.join(words)}")
    return "\n".join(lines) + "\n"


def run_script(blocks: list[str], workdir: Path, prefix: str, environment: dict | None = None):
    probe = workdir / "probe.py"
    probe.write_text(PROBE)
    script = PRELUDE + "".join(runnable(block, prefix) for block in blocks)
    (workdir / "commands.sh").write_text(script)
    tools = str(Path(sys.executable).parent)  # cookiecutter and copier, as `pipx install` would put them on PATH
    env = {**os.environ, **(environment or {}), "TEST_PYTHON": sys.executable, "PROBE": str(probe)}
    env["PATH"] = os.pathsep.join([tools, env.get("PATH", "")])
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "DATABASE_URL", "TEST_DATABASE_URL", "SECRET_KEY", "DATA_DIR"):
        if name not in (environment or {}):
            env.pop(name, None)
    result = subprocess.run(
        ["bash", str(workdir / "commands.sh")],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, f"{script}\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
    return result


@pytest.fixture(scope="module")
def template_release(tmp_path_factory) -> Path:
    """This working tree as a tagged git repository: what a clone of a release is (copier takes its newest tag)."""
    release = tmp_path_factory.mktemp("template") / "cookiecutter-wsgi-deploy"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=TEMPLATE_ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = TEMPLATE_ROOT / name
        if source.is_file():
            (release / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, release / name)
    git = ["git", "-c", "user.name=docs test", "-c", "user.email=docs@example.org", "-C", str(release)]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "release"], ["tag", "v99.0.0"]):
        subprocess.run([*git, *command], check=True, capture_output=True)
    return release


def getting_started_blocks(template: Path) -> tuple[dict[str, str], list[str]]:
    """The page's generate block of each tool, and the blocks both paths run next (the server-only one left out)."""
    text = (TEMPLATE_ROOT / "docs" / "getting-started.md").read_text().replace(TEMPLATE_TOKEN, str(template))
    blocks = shell_blocks(text)
    generate = {block.split()[0]: block for block in blocks if block.split()[0] in ("cookiecutter", "copier")}
    server_only = [block for block in blocks if block.startswith(SERVER_ONLY)]
    rest = [block for block in blocks if block not in generate.values() and block not in server_only]
    assert sorted(generate) == ["cookiecutter", "copier"], "a generate block for each tool"
    assert len(server_only) == 1 and rest, "the deploy block, and the blocks that run the project"
    return generate, rest


@pytest.mark.parametrize("tool", ["cookiecutter", "copier"])
def test_getting_started_runs_as_written(tmp_path, template_release, tool):
    generate, rest = getting_started_blocks(template_release)
    result = run_script([generate[tool], *rest], tmp_path, prefix="/eegqc")
    assert "probe: http://127.0.0.1:" in result.stdout
    assert (tmp_path / "eeg-qc" / "manage.py").is_file()


README_PROJECTS = {
    "flask-sqlite": ({}, ""),
    "django-sqlite-prefix": ({"framework": "django", "url_prefix": "/eegqc"}, "/eegqc"),
    "django-postgresql": ({"framework": "django", "database": "postgresql"}, ""),
}


def readme_blocks(project: Path) -> list[str]:
    readme = project.joinpath("README.md").read_text()
    blocks = [*shell_blocks(section(readme, "Run it on your machine")), *shell_blocks(section(readme, "Tests"))]
    assert blocks
    return blocks


@pytest.mark.parametrize("name", README_PROJECTS)
def test_generated_readme_development_sections_run_as_written(request, tmp_path, name):
    answers, prefix = README_PROJECTS[name]
    project = render_cookiecutter(tmp_path / "generated", **answers)
    environment = {}
    if answers.get("database") == "postgresql":
        admin_url = request.getfixturevalue("postgres_admin_url")
        port = re.search(r":(\d+)/", admin_url)[1]
        database_url = re.search(r"^DATABASE_URL=(\S+)$", (project / ".env").read_text(), re.MULTILINE)[1]
        environment = {
            "DATABASE_URL": database_url.replace(":5432/", f":{port}/"),
            "DATABASE_ADMIN_URL": admin_url,
        }
    result = run_script([f"cd {shlex.quote(str(project))}\n", *readme_blocks(project)], tmp_path, prefix, environment)
    assert "probe: http://127.0.0.1:" in result.stdout
    assert re.search(r"\d+ passed", result.stdout), result.stdout[-2000:]
    if environment:
        assert "TEST_DATABASE_URL=" in (project / ".env").read_text(), "create-database names the test database"


@pytest.fixture(scope="module")
def postgres_admin_url():
    with postgres_cluster() as url:
        yield url
