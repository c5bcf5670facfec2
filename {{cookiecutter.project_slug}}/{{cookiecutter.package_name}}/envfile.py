"""This project's .env file: secrets created once, rotated on demand, never printed.

Standard library only: the template's generation hook loads this module before any dependency is installed.
"""

import os
import re
import secrets
from pathlib import Path

ENV_LINE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)")
HEADER = "# Secrets and local settings for this machine: never commit this file. .env.example lists every variable.\n"
FALLBACKS_KEPT = 2
# What Django's deploy check (security.W009) asks for; `manage.py check` asks the same whatever the framework.
MIN_SECRET_KEY_LENGTH = 50


def new_secret_key() -> str:
    """384 random bits; 64 URL-safe characters (Django asks for at least 50)."""
    return secrets.token_urlsafe(48)


{% if cookiecutter.database == "postgresql" %}
def postgresql_url(password: str) -> str:
    """The role and the database are both named after the package (see deploy/postgresql.sql)."""
    name = "{{ cookiecutter.package_name }}"
    return f"postgresql://{name}:{password}@127.0.0.1:5432/{name}"


{% endif %}
{% set extra_secrets = cookiecutter.extra_secrets.split() %}
{% if extra_secrets %}
# The project's own secrets beside SECRET_KEY (the extra_secrets answer): made, kept and rotated like it.
{% if extra_secrets | length == 1 %}
EXTRA_SECRETS = ("{{ extra_secrets[0] }}",)
{% else %}
EXTRA_SECRETS = (
{% for name in extra_secrets %}
    "{{ name }}",
{% endfor %}
)
{% endif %}
{% endif %}
# What `init-config --rotate` replaces, each keeping its previous values in <NAME>_FALLBACKS.
ROTATED_SECRETS = ("SECRET_KEY",{{ " *EXTRA_SECRETS" if extra_secrets else "" }})
ROTATE_HELP = f"New values for {', '.join(ROTATED_SECRETS)}; the old ones stay valid as fallbacks (<NAME>_FALLBACKS)."


def secret_generators() -> dict:
    """The secrets this project needs, each with a function that makes a fresh value."""
    return {
        "SECRET_KEY": new_secret_key,
{% if extra_secrets %}
        **dict.fromkeys(EXTRA_SECRETS, new_secret_key),
{% endif %}
{% if cookiecutter.database == "postgresql" %}
        "DATABASE_URL": lambda: postgresql_url(password=secrets.token_urlsafe(32)),
{% endif %}
    }


def read(env_file: Path) -> dict[str, str]:
    """Variables defined in the file (unquoted values, as written)."""
    if not env_file.exists():
        return {}
    return {m[1]: m[2].strip() for line in env_file.read_text().splitlines() if (m := ENV_LINE.match(line))}


def write_private(env_file: Path, text: str) -> None:
    """Replace the file's contents, keeping it readable by its owner only (0600) from the first byte."""
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def ensure_secrets(env_file: Path) -> list[str]:
    """Add every missing secret with a fresh value; keep all existing lines. Returns the names added."""
    existing = read(env_file)
    missing = {name: make for name, make in secret_generators().items() if not existing.get(name)}
    text = env_file.read_text() if env_file.exists() else HEADER
    if text and not text.endswith("\n"):
        text += "\n"
    text += "".join(f"{name}={make()}\n" for name, make in missing.items())
    write_private(env_file, text)
    return list(missing)


{% if cookiecutter.supervisor == "none" %}
# No supervisor: the server (and anything else running the app) is the user's to reload.
RELOAD_COMMAND = "reload the server and restart Daphne or Celery if you run them"
{% else %}
# In every install mode: the server reloaded gracefully, every other program that holds the key restarted.
RELOAD_COMMAND = "deploy/install.sh again from the checkout, with --user as the account that installed it"
{% endif %}
# The server's workers read .env when they start: a graceful reload makes them read the new values.
AFTER_CHANGE = (
    "the running server still uses the old values: reload it gracefully, with everything else that holds the key"
    f" ({RELOAD_COMMAND}); a session signed with the old key stays valid until it expires"
)


{% if cookiecutter.database == "postgresql" %}
AFTER_DATABASE_ROTATION = (
    "PostgreSQL still has the old password: run deploy/install.sh again (as root; with --user it names the command an"
    " administrator runs): it gives the role the new one, then reloads the server; until the reload, new database"
    " connections of the running workers fail"
)


def init_config(env_file: Path, rotate: bool = False, rotate_database_password: bool = False) -> str:
{% else %}
def init_config(env_file: Path, rotate: bool = False) -> str:
{% endif %}
    """`manage.py init-config`: add missing secrets, rotate on request; returns what to tell the user."""
    added = ensure_secrets(env_file)
    after = []
    if rotate:
        for name in ROTATED_SECRETS:
            rotate_secret(env_file, name)
            added.append(f"{name} (rotated; the previous value is in {name}_FALLBACKS)")
        after.append(AFTER_CHANGE)
{% if cookiecutter.database == "postgresql" %}
    if rotate_database_password:
        rotate_postgresql_password(env_file)
        added.append("DATABASE_URL (a new password)")
        after.append(AFTER_DATABASE_ROTATION)
{% endif %}
    if not added:
        return f"{env_file}: every secret is already set"
    return "\n".join([f"{env_file}: wrote {', '.join(added)}", *(after or [AFTER_CHANGE])])


def rotate_secret(env_file: Path, name: str = "SECRET_KEY") -> None:
    """A new value for `name`; the old one moves to <name>_FALLBACKS (SECRET_KEY's: existing sessions stay valid until
    they expire), which keeps the newest FALLBACKS_KEPT."""
    values = read(env_file)
    old = values.get(name, "")
    fallbacks = [key for key in values.get(f"{name}_FALLBACKS", "").split(",") if key]
    fallbacks = ([old] if old else []) + fallbacks
    update(env_file, {name: new_secret_key(), f"{name}_FALLBACKS": ",".join(fallbacks[:FALLBACKS_KEPT])})
{% if cookiecutter.database == "postgresql" %}


def rotate_postgresql_password(env_file: Path) -> None:
    """A new password in DATABASE_URL; user, host, port and database stay (deploy/install.sh sets it on the role)."""
    url = read(env_file).get("DATABASE_URL", "")
    match = re.fullmatch(r"(postgresql://[^:@/]+:)[^@]*(@.+)", url)
    if not match:
        raise ValueError("DATABASE_URL is not postgresql://USER:PASSWORD@HOST/NAME: change its password by hand")
    update(env_file, {"DATABASE_URL": match[1] + secrets.token_urlsafe(32) + match[2]})
{% endif %}


def update(env_file: Path, updates: dict[str, str]) -> None:
    """Set these variables in place (others and comments kept); add the ones the file does not have yet."""
    updates = dict(updates)
    lines = []
    for line in (env_file.read_text() if env_file.exists() else HEADER).splitlines():
        match = ENV_LINE.match(line)
        if match and match[1] in updates:
            line = f"{match[1]}={updates.pop(match[1])}"
        lines.append(line)
    lines += [f"{name}={value}" for name, value in updates.items()]
    write_private(env_file, "\n".join(lines) + "\n")
