"""The production server's command line, shared by `manage.py serve` and the deploy files' documentation."""

{% if cookiecutter.server == "uwsgi" %}
import shutil
{% endif %}
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
{% if cookiecutter.server == "gunicorn" %}
SERVER_CONFIG = PROJECT_ROOT / "deploy" / "gunicorn.conf.py"


def server_command(bind: str) -> list[str]:
    """gunicorn with the deploy configuration when there is one; --bind on the command line wins over its `bind`.

    No proxy stands in front here, so the app handles the URL prefix itself (redirect, 404 outside it): the empty
    SCRIPT_NAME replaces the one the configuration sets for the proxied production server.
    """
    command = [sys.executable, "-m", "gunicorn", "--bind", bind]
    if SERVER_CONFIG.exists():
        command += ["--config", str(SERVER_CONFIG), "--env", "SCRIPT_NAME="]
    return [*command, "wsgi:application"]
{% elif cookiecutter.server == "uwsgi" %}
SERVER_CONFIG = PROJECT_ROOT / "deploy" / "uwsgi.ini"


def server_command(bind: str) -> list[str]:
    """uWSGI speaking HTTP on `bind`, with the deploy configuration when there is one.

    The ini opens the production socket unless SERVE_BIND is set; then it speaks HTTP on that address instead. The
    variable reaches uWSGI through env(1), because the ini is read before any uWSGI option could set it.
    """
    uwsgi = shutil.which("uwsgi", path=str(Path(sys.executable).parent)) or "uwsgi"
    if SERVER_CONFIG.exists():
        return ["env", f"SERVE_BIND={bind}", uwsgi, "--ini", str(SERVER_CONFIG)]
    return [uwsgi, "--http-socket", bind, "--master", "--need-app", "--die-on-term", "--module", "wsgi:application"]
{% endif %}
