# shellcheck shell=bash disable=SC2034 # settings read by deploy/install.sh and the other steps
# {{ cookiecutter.project_name }}: the answers deploy/install.sh needs and the server layout, the same directories
# every file in deploy/ names, in a root install and a --user one alike.
APP_NAME="{{ cookiecutter.project_slug }}"
PACKAGE="{{ cookiecutter.package_name }}"
DOMAIN="{{ cookiecutter.domain_name }}"
ADMIN_EMAIL="{{ cookiecutter.author_email }}"
URL_PREFIX="{{ cookiecutter.__url_prefix }}"
PYTHON_VERSION="{{ cookiecutter.python_version }}"

APP_DIR="{{ cookiecutter.__app_dir }}"
# The live release: a link to one of RELEASES_DIR (steps/releases.sh), whose virtualenvs are in VENVS_DIR.
CODE_DIR="{{ cookiecutter.__code_dir }}"
RELEASES_DIR=$APP_DIR/releases
VENVS_DIR=$APP_DIR/venvs
STATE_DIR="{{ cookiecutter.__data_dir }}"
RUN_DIR="{{ cookiecutter.__run_dir }}"
LOG_DIR="{{ cookiecutter.__log_dir }}"
# The account the server runs as, and its group (the proxy's user joins it to reach the socket).
SERVICE_USER=$APP_NAME
SERVICE_GROUP=$APP_NAME
SCHEME=http
# Where install.sh checks the app after switching releases: the way clients come in, on this machine.
HEALTH_PORT={{ cookiecutter.port if cookiecutter.proxy == 'none' else (443 if cookiecutter.tls in ['certbot', 'certificate'] else 80) }}
HEALTH_URL={{ 'https' if cookiecutter.tls in ['certbot', 'certificate'] else 'http' }}://$DOMAIN:$HEALTH_PORT$URL_PREFIX/healthz
# A unix socket (mode 660) and the media files the proxy serves are in group $SERVICE_GROUP: the proxy's user joins it.
PROXY_JOINS_GROUP={{ "yes" if cookiecutter.bind == "unix" or cookiecutter.proxy in ["nginx", "apache"] else "no" }}
