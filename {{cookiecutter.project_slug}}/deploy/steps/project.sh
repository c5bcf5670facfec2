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
STATE_DIR="{{ cookiecutter.__data_dir }}"
RUN_DIR="{{ cookiecutter.__run_dir }}"
LOG_DIR="{{ cookiecutter.__log_dir }}"
# The account the server runs as, and its group (the proxy's user joins it to reach the socket).
SERVICE_USER=$APP_NAME
SERVICE_GROUP=$APP_NAME
SCHEME=http
# A unix socket (mode 660, group $SERVICE_GROUP): the proxy's user must join that group to connect.
PROXY_JOINS_GROUP={{ "yes" if cookiecutter.bind == "unix" else "no" }}
