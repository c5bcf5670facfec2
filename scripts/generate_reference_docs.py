"""Write the two reference pages that describe a generated project, from generated projects themselves:

- docs/reference/project-tree.md: every path of the default project, described by the file's own opening (a Python
  module's docstring, a configuration file's first comment), or by DESCRIPTIONS for the files that cannot say it;
- docs/reference/settings.md: every setting of `.env` (each project's `.env.example`: its comment, for which answers)
  and what reads it (the Python files that read it from the environment; the deploy files that name it), then the
  variables the code reads from the environment that are not `.env` settings (ENVIRONMENT_ONLY).

Nothing on them is typed by hand but the two tables below, and the generator stops when a new file or variable is
not in them, so the pages cannot drift (tests/test_docs.py fails when either is stale). Run
`make docs/reference` or `python scripts/generate_reference_docs.py` after changing the template's files.
"""

import ast
import re
import sys
import tempfile
from pathlib import Path

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TEMPLATE_ROOT))
from tests.render import render_cookiecutter  # noqa: E402

REFERENCE = TEMPLATE_ROOT / "docs" / "reference"
TREE_PAGE = REFERENCE / "project-tree.md"
SETTINGS_PAGE = REFERENCE / "settings.md"

# The files whose opening does not describe them (no comments in the format, or a first line that is code).
DESCRIPTIONS = {
    ".editorconfig": "editor settings: UTF-8, LF, the indentation of each file type",
    ".github/workflows/ci.yml": "GitHub Actions: ruff and the tests on every push and pull request",
    ".pre-commit-config.yaml": "pre-commit hooks: ruff (lint and format) and the usual file checks before each commit",
    "README.md": "how to run, test and deploy this project, written for its answers",
    "deploy/maintenance.html": "the page the proxy shows, with status 503, while the app is down",
    "pyproject.toml": "the package, exactly the dependencies the answers need, and the settings of pytest and ruff",
    "<package>/templates/base.html": "the pages' layout: the stylesheet and the links, all built by the framework",
    "<package>/templates/index.html": "the home page",
    "<package>/templates/about.html": "the second page",
    "<package>/templates/notes.html": "the page that writes and reads the database",
    "<package>/migrations/script.py.mako": "the template Alembic writes new migrations from",
    "<package>/templates/head.html": "what every page's head holds: language, description, icon, stylesheet",
    "<package>/templates/dashboard.html": "the dashboard's page around Dash's own parts, with the same head",
    "<package>/templates/admin/base_site.html": "the admin's pages with the same head",
    "<package>/templates/pages/head.html": "what every page's head holds: language, description, icon, stylesheet",
    "<package>/assets/label_controls.js": "names the dashboard's controls after their labels, for screen readers",
    "<package>/static/favicon.svg": "the site's icon, linked under the URL prefix by every page",
    ".env": "this machine's secrets and local settings (mode 0600, ignored by git; never copied to a server)",
}
DIRECTORIES = {
    ".github": "GitHub's settings",
    ".github/workflows": "continuous integration",
    "deploy": "everything production needs, generated for this stack",
    "deploy/selinux": "the SELinux policy module for RHEL",
    "<package>": "the app (the package_name answer)",
    "<package>/migrations": "the database migrations (Flask-Migrate, Alembic)",
    "<package>/migrations/versions": "one file per migration",
    "<package>/static": "the static files",
    "<package>/templates": "the pages' templates",
    "tests": "the project's tests: `manage.py test`",
}
# The installer is described by what it does for the user; its internals (the deploy's Python on pyinfra, its pinned
# tools, and their file names) are its own.
INSTALLER = "deploy/install.sh"
INSTALLER_INTERNALS = ("deploy/deploy.py", "deploy/requirements.txt", "deploy/engine")
INSTALLER_DESCRIPTION = (
    "the installer: `sudo deploy/install.sh` (or `--user`) sets the server up and deploys each new release "
    "([getting started](../getting-started.md#deploy-it), [releases](../guides/releases.md)); the code it runs "
    "beside it is its own"
)

# The projects whose settings the page lists: together they have every setting (both families, both databases, Celery,
# Channels).
SETTINGS_PROJECTS = {
    "flask, sqlite": {},
    "flask, postgresql, celery": {"database": "postgresql", "task_queue": "celery"},
    "django, postgresql, celery, channels": {
        "framework": "django",
        "database": "postgresql",
        "task_queue": "celery",
        "websockets": "channels",
        "url_prefix": "/eegqc",
    },
}
# Read from the environment but not `.env` settings: set by the service manager, the deploy files or a command line.
ENVIRONMENT_ONLY = {
    "DJANGO_SETTINGS_MODULE": "Django's settings module; manage.py, wsgi.py and asgi.py set it",
    "CODE_DIR": "the live release (`/srv/<slug>/current`); the systemd unit or supervisord program sets it",
    "RUN_DIR": "the socket directory (`/run/<slug>`); the systemd unit or supervisord program sets it",
    "RUNTIME_DIRECTORY": "systemd's name for the same directory, when the unit has one",
    "WEB_CONCURRENCY": "the number of server workers (default: from the CPUs); set it in the unit's or program's "
    "environment: the server reads it before the app reads `.env`",
    "DATABASE_ADMIN_URL": "a PostgreSQL superuser's URL for `manage.py create-database` (its `--admin-url`)",
}
# os.environ.get("X"), os.environ["X"], os.getenv("X"), and the settings' env.str("X") (environs, django-environ).
ENV_READ = re.compile(
    r"(?:os\.environ(?:\.get|\.setdefault)?[(\[]\s*|os\.getenv\(\s*|\benv\.[a-z_]+\(\s*)\"([A-Z_]+)\""
)
EXAMPLE_LINE = re.compile(r"([A-Z_][A-Z0-9_]*)=")


def rendered(workdir: Path, answers: dict) -> Path:
    return render_cookiecutter(workdir, **answers)


def shown(project: Path, path: Path) -> str:
    """The path as the page names it: the package directory as <package>."""
    relative = path.relative_to(project).as_posix()
    package = next(child.name for child in project.iterdir() if (child / "envfile.py").is_file())
    return re.sub(rf"^{package}(?=/|$)", "<package>", relative)


def first_paragraph(lines: list[str]) -> str:
    paragraph = []
    for line in lines:
        if not line.strip():
            if paragraph:
                break
            continue
        paragraph.append(line.strip())
    return " ".join(paragraph)


def opening(path: Path) -> str:
    """What a file says about itself first: a module docstring, or its first comment paragraph."""
    text = path.read_text()
    if path.suffix == ".py":
        docstring = ast.get_docstring(ast.parse(text)) or ""
        return first_paragraph(docstring.splitlines())
    comments = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#!") or stripped.startswith("# shellcheck"):
            continue
        match = re.match(r"^(?:#|;|/\*)\s?(.*?)(?:\s*\*/)?$", stripped)
        if not match:
            break
        comments.append(match[1])
    return first_paragraph(comments)


def escaped(text: str) -> str:
    return text.replace("|", "\\|")


def tree_rows(project: Path) -> list[str]:
    rows = []
    for path in sorted(project.rglob("*"), key=lambda p: p.relative_to(project).parts):
        name = shown(project, path)
        if name.startswith(INSTALLER_INTERNALS):
            continue
        if name == INSTALLER:
            description = INSTALLER_DESCRIPTION
        elif path.is_dir():
            description = DIRECTORIES.get(name)
        else:
            description = DESCRIPTIONS.get(name) or opening(path)
        if not description:
            raise SystemExit(f"{name}: no description: add one to DESCRIPTIONS or DIRECTORIES ({Path(__file__).name})")
        rows.append(f"| `{name}{'/' if path.is_dir() else ''}` | {escaped(description)} |")
    return rows


def tree_page(project: Path) -> str:
    lines = [
        "# A generated project, file by file",
        "",
        "<!-- GENERATED by scripts/generate_reference_docs.py from a project generated with the default answers;",
        "do not edit (make docs/reference). -->",
        "",
        "The project the default answers make (Flask, gunicorn, nginx, systemd, SQLite, at the site root), each path",
        "described by the file's own first lines. Other answers add or swap files: [the questions](../questions.md)",
        "lists the files each value brings. `<package>` is the `package_name` answer.",
        "",
        "| path | what it is |",
        "|---|---|",
        *tree_rows(project),
    ]
    return "\n".join(lines) + "\n"


def example_settings(project: Path) -> dict[str, str]:
    """Each variable of `.env.example` with the comment above it."""
    settings, comment = {}, []
    for line in (project / ".env.example").read_text().splitlines():
        if line.startswith("#"):
            comment.append(line.lstrip("# ").rstrip())
        elif match := EXAMPLE_LINE.match(line):
            settings[match[1]] = " ".join(comment)
            comment = []
        else:
            comment = []
    return settings


def readers(project: Path) -> dict[str, set[str]]:
    """Variable -> the Python files that read it from the environment, and `deploy/` where a deploy file names it."""
    found: dict[str, set[str]] = {}
    for path in project.rglob("*"):
        if not path.is_file() or path.name == ".env.example":
            continue
        name = shown(project, path)
        text = path.read_text(errors="replace")
        internal = name.startswith(INSTALLER_INTERNALS)  # its own environment is not the app's settings
        if path.suffix == ".py" and not internal:
            for variable in ENV_READ.findall(text):
                found.setdefault(variable, set()).add(f"`{name}`")
        if name.startswith("deploy/") and (path.suffix != ".py" or internal):
            for variable in set(re.findall(r"\b[A-Z][A-Z0-9_]{2,}\b", text)):
                found.setdefault(variable, set()).add("the deploy files")
    return found


def settings_page(projects: dict[str, Path]) -> str:
    described: dict[str, dict[str, list[str]]] = {}  # variable -> comment -> the projects that have it
    read_by: dict[str, set[str]] = {}
    for label, project in projects.items():
        for variable, comment in example_settings(project).items():
            described.setdefault(variable, {}).setdefault(comment, []).append(label)
        for variable, files in readers(project).items():
            read_by.setdefault(variable, set()).update(files)
    rows = []
    for variable, comments in described.items():
        texts = [
            comment if len(labels) == len(projects) else f"{comment} ({'; '.join(labels)})"
            for comment, labels in comments.items()
        ]
        files = ", ".join(sorted(read_by.get(variable, set()))) or "nothing in the project: see its description"
        rows.append(f"| `{variable}` | {escaped(' '.join(texts))} | {escaped(files)} |")
    environment_rows = []
    for variable in sorted(read_by):
        if variable in described or not any(reader.startswith("`") for reader in read_by[variable]):
            continue
        if variable not in ENVIRONMENT_ONLY:
            raise SystemExit(f"{variable}: read from the environment, in no .env.example and not in ENVIRONMENT_ONLY")
        files = ", ".join(sorted(reader for reader in read_by[variable] if reader.startswith("`")))
        environment_rows.append(f"| `{variable}` | {escaped(ENVIRONMENT_ONLY[variable])} | {escaped(files)} |")
    lines = [
        "# Settings in `.env`",
        "",
        "<!-- GENERATED by scripts/generate_reference_docs.py from the .env.example of generated projects;",
        "do not edit (make docs/reference). -->",
        "",
        "The app reads its settings from the environment and from `.env` in the project's directory (the environment",
        "wins); `.env.example` in each project lists the ones its answers use. On a server the installer writes",
        "`/srv/<slug>/.env` with fresh secrets at the first install and keeps it afterwards; on your machine the",
        "generator wrote one and `manage.py init-config` adds what is missing. Secrets are never printed.",
        "",
        f"Listed from projects with these answers: {'; '.join(projects)}. A setting some of them have names them.",
        "`<package>` is the `package_name` answer.",
        "",
        "| setting | what it is | read by (Python), named by (deploy files) |",
        "|---|---|---|",
        *rows,
        "",
        "## Read from the environment only",
        "",
        "Not `.env` settings: set by the service manager, a command line or the deploy files.",
        "",
        "| variable | what it is | read by |",
        "|---|---|---|",
        *environment_rows,
    ]
    return "\n".join(lines) + "\n"


def render_pages() -> dict[Path, str]:
    with tempfile.TemporaryDirectory() as workdir:
        default = rendered(Path(workdir) / "default", {})
        projects = {
            label: rendered(Path(workdir) / str(index), answers)
            for index, (label, answers) in enumerate(SETTINGS_PROJECTS.items())
        }
        return {TREE_PAGE: tree_page(default), SETTINGS_PAGE: settings_page(projects)}


if __name__ == "__main__":
    REFERENCE.mkdir(parents=True, exist_ok=True)
    for page, text in render_pages().items():
        page.write_text(text)
        print(f"wrote {page.relative_to(TEMPLATE_ROOT)}")
