"""The deploy matrix: every accepted answer combination's deploy/ files, rendered fast and grouped by content.

Rendering a whole project per combination (1,404 of them) would take minutes, so the files of the template's deploy/
directory are rendered here with cookiecutter's own Jinja environment (same extensions, same trim/lstrip options, same
derived answers); `test_fast_render_matches_cookiecutter` proves the output is byte-identical to a real generation.
"""

import functools
import hashlib
import itertools
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cookiecutter.environment import StrictEnvironment

from tests.render import CHOICES, PROMPTS, TEMPLATE_ROOT, accepted, hook_answers

DEPLOY_TEMPLATE_DIR = TEMPLATE_ROOT / "{{cookiecutter.project_slug}}" / "deploy"
PREFIXES = ("/", "/eegqc")
TLS_CONTACT = "webmaster@eeg-lab.org"  # tls=certbot: a contact address Let's Encrypt would accept
TLS_DOMAIN = "qc.eeg-lab.org"  # tls=certbot needs a public name (it refuses reserved ones such as example.org)
CHANGED_TIMEOUT = "95"
CHANGED_MAX_BODY_MB = "250"
CORS_ORIGINS = "https://viewer.example.org http://localhost:8080"
CORS_PATHS = "/media/ /api/ / /static/"

# File kinds, by rendered file name (the units are <slug>.service, <slug>.socket, the backup's <slug>-backup.service and
# .timer, and the drop-in <slug>-system.conf).
KIND_BY_NAME = {
    "gunicorn.conf.py": "gunicorn",
    "uwsgi.ini": "uwsgi",
    "nginx.conf": "nginx",
    "nginx-shared-site.conf": "nginx-shared",
    "apache.conf": "apache",
    "apache-shared-site.conf": "apache-shared",
    "supervisord.conf": "supervisord",
    "install.sh": "install",
    "deploy.py": "deploy-python",
    "requirements.txt": "deploy-requirements",
    "postgresql.sql": "postgresql",
    "maintenance.html": "maintenance",
}
MATRIX_KEYS = ("framework", "server", "proxy", "supervisor", "database", "bind", "tls", "task_queue")


def kind_of(name: str) -> str:
    """The kind of a rendered deploy/ file, by its path under deploy/."""
    if name.startswith("engine/"):
        return "deploy-python"
    if name.endswith(".service"):
        return "systemd"
    if name.endswith(".socket"):
        return "systemd-socket"
    if name.endswith(".timer"):
        return "systemd-timer"
    if name.endswith("-system.conf"):
        return "systemd-system-drop-in"
    if name.startswith("selinux/"):
        module = "selinux-redis" if Path(name).stem.endswith("_redis") else "selinux"
        return {".te": f"{module}-module", ".fc": f"{module}-contexts"}[Path(name).suffix]
    return KIND_BY_NAME[name]


def full_deploy_matrix() -> list[dict]:
    """framework x server x proxy x supervisor x database x bind x tls x task_queue x url_prefix, refused combinations
    included."""
    matrix = []
    for values in itertools.product(*(CHOICES[key] for key in MATRIX_KEYS), PREFIXES):
        answers = dict(zip((*MATRIX_KEYS, "url_prefix"), values, strict=True))
        if answers["tls"] != "none":
            answers["domain_name"] = TLS_DOMAIN
        if answers["tls"] == "certbot":
            answers["author_email"] = TLS_CONTACT
        answers.update(free_text_answers(answers))
        matrix.append(answers)
    return matrix + websockets_variants(matrix)


# websockets=channels changes only the files of the axes it meets (the proxy's lines and modules, the supervisor's
# unit or program, the install step, the SELinux module): it is rendered on the Django combinations of those axes
# (server x proxy x supervisor x url_prefix), the others at one value each, rather than doubling the whole matrix.
WEBSOCKETS_FIXED = {"framework": "django", "bind": "unix", "database": "sqlite", "tls": "none", "task_queue": "none"}


def websockets_variants(matrix: list[dict]) -> list[dict]:
    return [
        {**answers, "websockets": "channels"}
        for answers in matrix
        if answers["proxy"] != "none" and all(answers[key] == value for key, value in WEBSOCKETS_FIXED.items())
    ]


def free_text_answers(answers: dict) -> dict:
    """Non-default request_timeout, max_body_mb and CORS answers on the combinations with a URL prefix (a free-text
    answer does not multiply the matrix): the validators see both a default and a changed rendering of every file.
    An origin list without TLS, any origin (*) with it; never with proxy=none, which refuses CORS."""
    if answers["url_prefix"] == "/":
        return {}
    changed = {"request_timeout": CHANGED_TIMEOUT, "max_body_mb": CHANGED_MAX_BODY_MB}
    if answers["proxy"] != "none":
        changed["cors_origins"] = CORS_ORIGINS if answers["tls"] == "none" else "*"
        changed["cors_paths"] = CORS_PATHS
    return changed


def deploy_matrix() -> list[dict]:
    """The combinations the hooks accept (their own rule decides; see plugins/proxy_none.py)."""
    return [answers for answers in full_deploy_matrix() if accepted(answers)]


def label(answers: dict) -> str:
    websockets = "-channels" if answers.get("websockets") == "channels" else ""
    return ("-".join(str(answers[key]) for key in (*MATRIX_KEYS, "url_prefix")) + websockets).replace("/", "~")


class DeployRenderer:
    """Renders deploy/ for one set of answers, the way cookiecutter does, without touching the disk."""

    def __init__(self):
        self.environment = StrictEnvironment(
            context={"cookiecutter": PROMPTS}, keep_trailing_newline=True, **PROMPTS["_jinja2_env_vars"]
        )
        self.templates = [
            (
                self.environment.from_string(str(path.relative_to(DEPLOY_TEMPLATE_DIR))),
                self.environment.from_string(path.read_text()),
            )
            for path in sorted(DEPLOY_TEMPLATE_DIR.rglob("*"))
            if path.is_file()
        ]

    def context(self, answers: dict) -> dict:
        """All answers, derived ones included, as cookiecutter's no-input prompt computes them (in prompt order)."""
        return hook_answers(answers)

    def render(self, answers: dict) -> dict[str, str]:
        """{file name: content} of the deploy/ directory for these answers."""
        context = {"cookiecutter": self.context(answers)}
        files = {}
        for name_template, content_template in self.templates:
            name = name_template.render(**context)
            if name and not name.endswith("/"):  # an empty file name: not generated for these answers
                files[name] = content_template.render(**context)
        return files


@dataclass
class UniqueFile:
    """One distinct file content, with every combination that produces it."""

    kind: str
    name: str
    content: str
    combos: list[dict] = field(default_factory=list)
    companion: dict[str, str] = field(default_factory=dict)  # the other deploy files of the first combination

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.content.encode()).hexdigest()[:12]

    @property
    def example(self) -> str:
        return label(self.combos[0])


# deploy/engine/layout.py: the answers the deploy needs, as string constants (NAME: Final = "value"). The engine writes
# them into shell commands as they are, so each value must be one shell word that needs no quoting (nor escaping in a
# Python string).
LAYOUT_CONSTANT = re.compile(r'^([A-Z_]+): Final = "([^"\n]*)"$', re.MULTILINE)
# A "~" only after the first character (a URL prefix such as /~lab): the shell expands it at the start of a word only.
SHELL_WORD = re.compile(r"(?:[\w@%+=:,./-][\w@%+=:,./~-]*)?")
# The constants made from answers: layout.py must keep them in that form for the check above to see them.
ANSWER_CONSTANTS = {"APP_NAME", "PACKAGE", "DOMAIN", "ADMIN_EMAIL", "URL_PREFIX", "APP_DIR", "CODE_DIR", "STATE_DIR",
                    "RUN_DIR", "LOG_DIR"}  # fmt: skip


def layout_constants(files: dict[str, str]) -> dict[str, str]:
    """deploy/engine/layout.py's string constants: {NAME: value}."""
    return dict(LAYOUT_CONSTANT.findall(files["engine/layout.py"]))


def layout_problems(files: dict[str, str]) -> list[str]:
    """deploy/engine/layout.py: each answer's constant there, and each value one shell word that needs no quoting
    (the engine writes them into commands as they are)."""
    constants = layout_constants(files)
    problems = [f'layout.py: no constant {name} = "..."' for name in sorted(ANSWER_CONSTANTS - set(constants))]
    problems += [f"layout.py: {name} = {value!r} needs quoting in a shell command"
                 for name, value in constants.items() if not SHELL_WORD.fullmatch(value)]  # fmt: skip
    return problems


def dedup_key(kind: str, content: str) -> str:
    return hashlib.sha256(f"{kind}\0{content}".encode()).hexdigest()


@functools.cache
def rendered_matrix() -> list[tuple[dict, dict[str, str]]]:
    renderer = DeployRenderer()
    return [(answers, renderer.render(answers)) for answers in deploy_matrix()]


@functools.cache
def unique_files() -> dict[str, list[UniqueFile]]:
    """{kind: [UniqueFile]}: identical contents are validated once."""
    by_key: dict[str, UniqueFile] = {}
    for answers, files in rendered_matrix():
        for name, content in files.items():
            kind = kind_of(name)
            key = dedup_key(kind, content)
            if kind == "apache-shared":  # validated with the module list of its site file
                key += files["apache.conf"].splitlines()[apache_modules_line_index(files["apache.conf"])]
            unique = by_key.setdefault(key, UniqueFile(kind, name, content, companion=files))
            unique.combos.append(answers)
    grouped: dict[str, list[UniqueFile]] = {}
    for unique in by_key.values():
        grouped.setdefault(unique.kind, []).append(unique)
    return grouped


def apache_modules_line_index(site: str) -> int:
    return next(i for i, line in enumerate(site.splitlines()) if line.startswith("# Modules to enable: "))


def apache_modules(site: str) -> list[str]:
    return site.splitlines()[apache_modules_line_index(site)].removeprefix("# Modules to enable: ").split()


def params(kind: str) -> list:
    return [
        pytest.param(unique, id=f"{unique.digest}-{unique.example}")
        for unique in sorted(unique_files().get(kind, []), key=lambda unique: unique.example)
    ]


# ---------------------------------------------------------------- absolute paths the tools look at, moved to scratch
def relocate(text: str, slug: str, scratch: Path, certificates: Path) -> str:
    """The file with the server's absolute paths moved under `scratch` (certificates: a self-signed pair)."""
    replacements = {
        f"/etc/letsencrypt/live/{TLS_DOMAIN}": str(certificates),
        f"/etc/ssl/{slug}": str(certificates),
        f"/srv/{slug}": str(scratch / "srv" / slug),
        f"/var/log/{slug}": str(scratch / "log"),
        f"/run/{slug}": str(scratch / "run"),
        "/var/www/letsencrypt": str(scratch / "acme"),
    }
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


def make_scratch_tree(scratch: Path, slug: str) -> None:
    """Directories and executables the relocated files name."""
    # current: the live release (deploy/install.sh's link), which the files name.
    for directory in ("log", "run", "acme", f"srv/{slug}/current/deploy", f"srv/{slug}/current/.venv/bin"):
        (scratch / directory).mkdir(parents=True, exist_ok=True)
    # python: the backup unit runs manage.py; daphne: websockets=channels
    for server in ("gunicorn", "uwsgi", "celery", "python", "daphne"):
        stub = scratch / "srv" / slug / "current" / ".venv" / "bin" / server
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)


def self_signed_certificate(directory: Path) -> Path:
    """fullchain.pem + privkey.pem for TLS_DOMAIN, made once per directory."""
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "fullchain.pem").exists():
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-days", "30", "-subj", f"/CN={TLS_DOMAIN}", "-keyout", str(directory / "privkey.pem"),
                "-out", str(directory / "fullchain.pem"),
            ],
            check=True, capture_output=True,
        )  # fmt: skip
    return directory
