"""{{ cookiecutter.project_name }}: the names and the server layout every file in deploy/ names, in a root install and
a --user one alike (decided when the project was generated)."""

from typing import Final

APP_NAME: Final = "{{ cookiecutter.project_slug }}"
PACKAGE: Final = "{{ cookiecutter.package_name }}"
DOMAIN: Final = "{{ cookiecutter.domain_name }}"
ADMIN_EMAIL: Final = "{{ cookiecutter.author_email }}"
URL_PREFIX: Final = "{{ cookiecutter.__url_prefix }}"
PYTHON_VERSION: Final = ({{ cookiecutter.python_version.split('.')[0] }}, {{ cookiecutter.python_version.split('.')[1] }})

APP_DIR: Final = "{{ cookiecutter.__app_dir }}"
# The live release: a link to one of RELEASES_DIR (releases.py), whose virtualenvs are in VENVS_DIR.
CODE_DIR: Final = "{{ cookiecutter.__code_dir }}"
RELEASES_DIR: Final = f"{APP_DIR}/releases"
VENVS_DIR: Final = f"{APP_DIR}/venvs"
ENV_FILE: Final = f"{APP_DIR}/.env"
STATE_DIR: Final = "{{ cookiecutter.__data_dir }}"
RUN_DIR: Final = "{{ cookiecutter.__run_dir }}"
LOG_DIR: Final = "{{ cookiecutter.__log_dir }}"
# The account the server runs as as root, and its group (the proxy's user joins it to reach the socket and files).
SERVICE_GROUP: Final = APP_NAME
# What a release never gets from the checkout: the server's own secrets, virtualenv and generated files.
KEPT_ON_SERVER: Final = (".env", ".venv", ".git", "instance", "staticfiles")

# Where the deploy checks the app after switching releases: the way clients come in, on this machine.
SCHEME: Final = "{{ 'https' if cookiecutter.tls in ['certbot', 'certificate'] else 'http' }}"
HEALTH_PORT: Final = {{ cookiecutter.port if cookiecutter.proxy == 'none' else (443 if cookiecutter.tls in ['certbot', 'certificate'] else 80) }}
HEALTH_URL: Final = f"{SCHEME}://{DOMAIN}:{HEALTH_PORT}{URL_PREFIX}/healthz"
