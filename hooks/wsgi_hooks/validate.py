"""Rules for the free-text answers. Rules about a particular option value live in that value's plugin."""

import keyword
import re
import sys
import unicodedata

SLUG = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
HOST_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
PREFIX_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
UNSAFE_TEXT = re.compile(r'["\\\x00-\x1f\x7f]')
# Jinja markup: cookiecutter renders answers given on its command line (`{{ 7*7 }}` becomes 49, `{% x` is a crash),
# copier keeps them as typed, so the same answer would make two different projects.
TEMPLATE_MARKUP = re.compile(r"\{[{%#]")
# The slug derived from a project name with no letter or digit that has an ASCII form (local_extensions.NO_SLUG).
NO_SLUG = "-"

# Import names a generated project may depend on, the modules at its own root, and the stdlib's test package (absent
# from sys.stdlib_module_names): a package of the same name would shadow them.
# fmt: off
RESERVED_MODULES = {
    "alembic", "celery", "click", "dash", "django", "dotenv", "environ", "environs", "flask", "flask_migrate",
    "flask_sqlalchemy", "flask_wtf", "gunicorn", "jinja2", "markupsafe", "plotly", "psycopg", "pytest", "sqlalchemy",
    "uwsgi", "werkzeug", "whitenoise", "wtforms", "manage", "wsgi", "tests", "migrations", "deploy", "static",
    "templates", "instance", "test",
}
# Services the generated deploy files sit beside: a project with one of these names would overwrite its unit or user.
SERVICE_NAMES = {
    "apache", "apache2", "httpd", "nginx", "supervisor", "supervisord", "postgres", "postgresql", "redis",
    "redis-server", "gunicorn", "uwsgi", "root", "www-data", "nobody", "systemd", "celery",
}
# fmt: on


# The longest generated Python line around the name (a docstring of the Django project) leaves it 52 of 120 columns.
NAME_WIDTH = 50


def width(text: str) -> int:
    """Columns `text` takes, as ruff counts them for its line length: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(character) in "WF" else 1 for character in text)


def invisible_characters(text: str) -> bool:
    """Spaces other than the plain one (no-break, ideographic...), invisible format characters (zero-width) and line
    separators: they go into the generated Python, where ruff rejects them as ambiguous, and mislead a reader."""
    return any(
        unicodedata.category(character) in ("Zl", "Zp", "Cf", "Cc") or (character != " " and character.isspace())
        for character in text
    )


def text_problems(answers: dict) -> list[str]:
    problems = []
    for field in ("project_name", "description", "author_name"):
        if UNSAFE_TEXT.search(answers[field]):
            problems.append(f"{field}: must not contain double quotes, backslashes or control characters")
        elif invisible_characters(answers[field]):
            problems.append(f"{field}: must not contain spaces other than the plain one or invisible characters")
    for field in ("project_name", "description", "author_name", "author_email"):
        if TEMPLATE_MARKUP.search(answers[field]):
            problems.append(f"{field}: must not contain template markup ('{{{{', '{{%' or '{{#')")
    if not answers["project_name"].strip():
        problems.append("project_name: must not be empty")
    elif width(answers["project_name"]) > NAME_WIDTH:
        problems.append(
            f"project_name: must be at most {NAME_WIDTH} columns wide (wide characters such as CJK count twice): it "
            f"goes into lines of Python held to 120 (got {width(answers['project_name'])})"
        )
    if not EMAIL.fullmatch(answers["author_email"]):
        problems.append(f"author_email: must look like name@example.org (got {answers['author_email']!r})")
    return problems


def slug_problems(slug: str) -> list[str]:
    if slug == NO_SLUG:
        return [
            "project_slug: cannot be derived from project_name, which has no letters or digits with an ASCII form; "
            "set project_slug (lowercase letters, digits and single dashes, e.g. project_slug=lab-tool)"
        ]
    if not SLUG.fullmatch(slug) or len(slug) > 31:
        return [
            f"project_slug: must be 1-31 lowercase letters, digits and single dashes, starting with a letter "
            f"(got {slug!r}; set project_slug explicitly if the project name has other characters)"
        ]
    if slug in SERVICE_NAMES:
        return [f"project_slug: {slug!r} is the name of a system service or user the deploy files work beside"]
    return []


def package_problems(name: str) -> list[str]:
    if not name.isidentifier() or not name.isascii() or name != name.lower() or keyword.iskeyword(name):
        return [f"package_name: must be a lowercase Python identifier (got {name!r})"]
    if name in sys.stdlib_module_names or name in RESERVED_MODULES:
        return [f"package_name: {name!r} would shadow the module of the same name (standard library or a dependency)"]
    return []


def domain_problems(domain: str) -> list[str]:
    labels = domain.split(".")
    if len(domain) > 253 or not all(HOST_LABEL.fullmatch(label) for label in labels):
        return [f"domain_name: must be a lowercase host name such as lab.example.org or localhost (got {domain!r})"]
    return []


def url_prefix_problems(prefix: str) -> list[str]:
    rule = "url_prefix: must be / or an absolute path such as /eegqc, without spaces, '//', '.', '..', '?', '#' or '%'"
    if prefix == "/":
        return []
    segments = prefix.removesuffix("/").split("/")
    if segments[0] != "" or any(
        not PREFIX_SEGMENT.fullmatch(segment) or segment in {".", ".."} for segment in segments[1:]
    ):
        return [f"{rule} (got {prefix!r})"]
    return []


def port_problems(port) -> list[str]:
    text = str(port)
    # ASCII digits only: str.isdigit() and int() also take fullwidth and Arabic-Indic digits, which no config file
    # reads as a port.
    if not (text.isascii() and text.isdigit()) or not 1024 <= int(text) <= 65535:
        return [f"port: must be a whole number from 1024 to 65535 (got {text!r})"]
    return []


# A request that needs longer belongs in a task queue: the proxy, the server and the browser all wait meanwhile.
REQUEST_TIMEOUT_RANGE = (2, 600)
# An origin as browsers send it: scheme, lowercase host, optional port; no path, no trailing slash.
ORIGIN = re.compile(r"https?://[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?")


def request_timeout_problems(timeout) -> list[str]:
    text = str(timeout)
    low, high = REQUEST_TIMEOUT_RANGE
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        return [
            f"request_timeout: must be a whole number of seconds from {low} to {high}; longer work belongs in a "
            f"task queue (got {text!r})"
        ]
    return []


# Megabytes: at least one (a form with a file), at most 1024 (Apache's own default ceiling for a request body).
MAX_BODY_MB_RANGE = (1, 1024)


def max_body_mb_problems(megabytes) -> list[str]:
    text = str(megabytes)
    low, high = MAX_BODY_MB_RANGE
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        return [f"max_body_mb: must be a whole number of megabytes from {low} to {high} (got {text!r})"]
    return []


def cors_problems(origins: str, paths: str) -> list[str]:
    problems = []
    listed = origins.split()
    if listed != ["*"] and not all(ORIGIN.fullmatch(origin) for origin in listed):
        problems.append(
            "cors_origins: must be empty, * alone, or origins such as https://viewer.example.org (scheme, lowercase "
            f"host, optional :port, no path), separated by spaces (got {origins!r})"
        )
    rule = (
        "cors_paths: must be paths under the prefix, separated by spaces, each starting and ending with / "
        "(e.g. /media/ /api/), without '.', '..', '?', '#', '%' or one path twice, and not inside /static/ or "
        "/media/ other than those two themselves"
    )
    entries = paths.split()
    for path in entries:
        shape_ok = path.startswith("/") and path.endswith("/") and "//" not in path
        segments_ok = all(
            PREFIX_SEGMENT.fullmatch(segment) and segment not in {".", ".."} for segment in path.split("/")[1:-1]
        )
        inside = path.startswith(("/static/", "/media/")) and path not in ("/static/", "/media/")
        if not (shape_ok and segments_ok) or inside:
            problems.append(f"{rule} (got {path!r})")
    if len(set(entries)) != len(entries):
        problems.append(f"{rule} (got {paths!r})")
    if listed and not entries:
        problems.append("cors_paths: must name at least one path when cors_origins is set")
    return problems


# What the generated project reads from the environment and .env (every name in .env.example, which a template test
# keeps true) and what its units, programs and servers set: an extra secret of the same name would change them.
# fmt: off
PROJECT_VARIABLES = {
    "SECRET_KEY", "SECRET_KEY_FALLBACKS", "DEBUG", "URL_PREFIX", "ALLOWED_HOSTS", "STATIC_ROOT", "CSRF_TRUSTED_ORIGINS",
    "DATA_DIR", "DATABASE_URL", "BACKUP_DIR", "BACKUP_KEEP", "TEST_DATABASE_URL", "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND", "CELERY_TASK_ALWAYS_EAGER", "CELERY_VISIBILITY_TIMEOUT", "CELERY_PRUNE_INTERVAL",
    "CELERY_BEAT", "TEST_BROKER_URL", "SESSION_COOKIE_SECURE", "MAX_CONTENT_LENGTH", "DATABASE_ADMIN_URL",
    "RUN_DIR", "CODE_DIR", "SERVE_BIND", "WEB_CONCURRENCY", "RUNTIME_DIRECTORY", "DJANGO_SETTINGS_MODULE",
    "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PATH", "HOME",
}
# fmt: on
# At most 32 characters: the settings line naming a secret and its fallbacks stays within 120 columns.
SECRET_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,31}")


def extra_secrets_problems(names: str) -> list[str]:
    listed = names.split()
    wrong = [
        name for name in listed
        if not SECRET_NAME.fullmatch(name) or name in PROJECT_VARIABLES or name.endswith("_FALLBACKS")
    ]  # fmt: skip
    if wrong or len(set(listed)) != len(listed):
        return [
            "extra_secrets: must be names such as JWT_SECRET (capital letters, digits and underscores, starting with a "
            "letter, at most 32 characters), separated by spaces, each once, none ending in _FALLBACKS (a rotation "
            f"keeps the previous values there) and none of the project's own settings such as SECRET_KEY or "
            f"DATABASE_URL (got {names!r})"
        ]
    return []


# Names that systemd's OnCalendar= and cron (as @hourly ...) both read, with the same meaning.
BACKUP_SCHEDULES = ("hourly", "daily", "weekly", "monthly")


def backup_schedule_problems(schedule: str) -> list[str]:
    if schedule not in BACKUP_SCHEDULES:
        return [f"backup_schedule: must be one of {', '.join(BACKUP_SCHEDULES)} (got {schedule!r})"]
    return []


def problems(answers: dict) -> list[str]:
    """Every problem with the free-text answers, each as 'field: rule'."""
    return [
        *text_problems(answers),
        *slug_problems(answers["project_slug"]),
        *package_problems(answers["package_name"]),
        *domain_problems(answers["domain_name"]),
        *url_prefix_problems(answers["url_prefix"]),
        *port_problems(answers["port"]),
        *request_timeout_problems(answers["request_timeout"]),
        *max_body_mb_problems(answers["max_body_mb"]),
        *cors_problems(answers["cors_origins"], answers["cors_paths"]),
        *extra_secrets_problems(answers["extra_secrets"]),
        *backup_schedule_problems(answers["backup_schedule"]),
    ]
