#!/usr/bin/env bash
# Install or update {{ cookiecutter.project_name }} on this server: Debian/Ubuntu or RHEL-family, run as root.
#
#   sudo deploy/install.sh              from a checkout of the project, anywhere on the server
#   deploy/install.sh --root DIR        lay the files out under DIR instead and only print the commands that would
#                                       change the running system (packages, users, services, the database)
#   deploy/install.sh --user [--prefix DIR]
#                                       no root: install under DIR (default ~/{{ cookiecutter.project_slug }}) and run the app as
#                                       yourself, under your own supervisord; print what an administrator must do
#                                       for the proxy (and the database)
#
# Safe to run again after every code change: it only changes what differs, then reloads (or restarts) the app.
# Layout: code and virtualenv in /srv/{{ cookiecutter.project_slug }}, data in /var/lib/{{ cookiecutter.project_slug }}, socket in /run/{{ cookiecutter.project_slug }}.
set -euo pipefail

# ---------------------------------------------------------------- the answers this project was generated with
APP_NAME="{{ cookiecutter.project_slug }}"
PACKAGE="{{ cookiecutter.package_name }}"
FRAMEWORK="{{ cookiecutter.framework }}"
SERVER="{{ cookiecutter.server }}"
PROXY="{{ cookiecutter.proxy }}"
SUPERVISOR="{{ cookiecutter.supervisor }}"
DATABASE="{{ cookiecutter.database }}"
BIND="{{ cookiecutter.bind }}"
TLS="{{ cookiecutter.tls }}"
DOMAIN="{{ cookiecutter.domain_name }}"
ADMIN_EMAIL="{{ cookiecutter.author_email }}"
URL_PREFIX="{{ cookiecutter.__url_prefix }}"
PYTHON_VERSION="{{ cookiecutter.python_version }}"

APP_DIR="/srv/$APP_NAME"
STATE_DIR="/var/lib/$APP_NAME"
RUN_DIR="/run/$APP_NAME"
LOG_DIR="/var/log/$APP_NAME"
ACME_DIR="/var/www/letsencrypt"
SOURCE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

ROOT=""
OS_FAMILY=""
INSTALL_PACKAGES=1
USER_MODE=0
PREFIX=""
DATABASE_FOR=""
SERVICE_USER=$APP_NAME
# supervisorctl for this install: the system's, or with --user the account's own supervisord's.
SUPERVISORCTL=(supervisorctl)

usage() {
    cat <<USAGE
usage: $0 [--root DIR] [--os debian|rhel] [--no-packages]
       $0 --user [--prefix DIR]
       $0 --database-for ENV_FILE
  --root DIR      install the files under DIR; print, do not run, the commands that change the system
  --os FAMILY     debian or rhel (default: from /etc/os-release)
  --no-packages   do not install distribution packages
  --user          install without root, for the account running this, under --prefix (default ~/$APP_NAME):
                  code in DIR/app, data in DIR/data, socket in DIR/run, logs in DIR/log, configuration in DIR/etc
  --database-for ENV_FILE
                  as root, only create the PostgreSQL role and database for a --user install (password from ENV_FILE)
USAGE
}

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }
dry_run() { [[ -n $ROOT ]]; }

# Run a command that changes the running system; with --root only show it.
run() {
    if dry_run; then
        printf 'would run: %s\n' "$*"
    else
        printf '+ %s\n' "$*"
        "$@"
    fi
}

# Copy a file into place (under --root, if given); succeed only when it changed.
install_file() {
    local source=$1 target=$2 mode=$3
    if [[ -f $ROOT$target ]] && cmp -s "$source" "$ROOT$target"; then
        say "unchanged $target"
        return 1
    fi
    install -D -m "$mode" "$source" "$ROOT$target"
    say "installed $target"
}

make_directory() {
    local path=$1 mode=$2 owner=$3
    install -d -m "$mode" "$ROOT$path"
    if ! dry_run && ! user_mode; then
        chown "$owner:$owner" "$path"
    fi
    say "directory $path (mode $mode, owner $owner)"
}

parse_arguments() {
    while [[ $# -gt 0 ]]; do
        case $1 in
            --root) ROOT=$(realpath -m "${2:?--root needs a directory}"); shift 2 ;;
            --os) OS_FAMILY=${2:?--os needs debian or rhel}; shift 2 ;;
            --no-packages) INSTALL_PACKAGES=0; shift ;;
            --user) USER_MODE=1; INSTALL_PACKAGES=0; shift ;;
            --database-for) DATABASE_FOR=$(realpath -m "${2:?--database-for needs the .env file}"); shift 2 ;;
            --prefix) PREFIX=$(realpath -m "${2:?--prefix needs a directory}"); shift 2 ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; exit 2 ;;
        esac
    done
    if [[ $USER_MODE == 1 ]]; then
        use_user_layout
    elif [[ -n $PREFIX ]]; then
        die "--prefix goes with --user"
    elif ! dry_run && [[ $(id -u) -ne 0 ]]; then
        die "run as root (sudo $0), with --user to install for your own account, or with --root DIR to lay out the files only"
    fi
}

# --user: everything under PREFIX, owned by the account running this; nothing outside it changes.
use_user_layout() {
    [[ -z $ROOT ]] || die "--user and --root do not go together"
    [[ $(id -u) -ne 0 ]] || die "--user installs for an ordinary account: as root, leave it out"
    [[ $SUPERVISOR != systemd ]] ||
        die "--user needs supervisor=supervisord or none (this project's systemd unit is a system service)"
    PREFIX=${PREFIX:-$HOME/$APP_NAME}
    # The paths are written into configuration files: keep them plain.
    [[ $PREFIX =~ ^/[A-Za-z0-9._/-]+$ ]] || die "--prefix: use letters, digits and ._-/ only, not '$PREFIX'"
    APP_DIR=$PREFIX/app
    STATE_DIR=$PREFIX/data
    RUN_DIR=$PREFIX/run
    LOG_DIR=$PREFIX/log
    CONF_DIR=$PREFIX/etc
    SERVICE_USER=$(id -un)
    SUPERVISORCTL=("$APP_DIR/.venv/bin/supervisorctl" -c "$CONF_DIR/supervisord.conf")
}

user_mode() { [[ $USER_MODE == 1 ]]; }

# ---------------------------------------------------------------- where each distribution keeps things
detect_os() {
    if [[ -z $OS_FAMILY ]]; then
        local id="" id_like=""
        if [[ -r /etc/os-release ]]; then
            id=$(sed -n 's/^ID=//p' /etc/os-release | tr -d '"')
            id_like=$(sed -n 's/^ID_LIKE=//p' /etc/os-release | tr -d '"')
        fi
        case " $id $id_like " in
            *" debian "* | *" ubuntu "*) OS_FAMILY=debian ;;
            *" rhel "* | *" fedora "* | *" centos "*) OS_FAMILY=rhel ;;
            *) die "unsupported distribution '$id': use --os debian or --os rhel" ;;
        esac
    fi
    case $OS_FAMILY in
        debian)
            NOLOGIN=/usr/sbin/nologin
            NGINX_SITE=/etc/nginx/sites-available/$APP_NAME.conf
            NGINX_ENABLED=/etc/nginx/sites-enabled/$APP_NAME.conf
            APACHE_SERVICE=apache2
            APACHE_SITE=/etc/apache2/sites-available/$APP_NAME.conf
            APACHE_ENABLED=/etc/apache2/sites-enabled/$APP_NAME.conf
            APACHE_CTL=apache2ctl
            SUPERVISOR_SERVICE=supervisor
            SUPERVISOR_PROGRAM=/etc/supervisor/conf.d/$APP_NAME.conf
            ;;
        rhel)
            NOLOGIN=/sbin/nologin
            NGINX_SITE=/etc/nginx/conf.d/$APP_NAME.conf
            NGINX_ENABLED=""
            APACHE_SERVICE=httpd
            APACHE_SITE=/etc/httpd/conf.d/$APP_NAME.conf
            APACHE_ENABLED=""
            APACHE_CTL=apachectl
            SUPERVISOR_SERVICE=supervisord
            SUPERVISOR_PROGRAM=/etc/supervisord.d/$APP_NAME.ini
            ;;
        *) die "--os must be debian or rhel, not '$OS_FAMILY'" ;;
    esac
    case $PROXY/$OS_FAMILY in
        nginx/debian | apache/debian) PROXY_USER=www-data ;;
        nginx/rhel) PROXY_USER=nginx ;;
        apache/rhel) PROXY_USER=apache ;;
        *) PROXY_USER="" ;;
    esac
    say "$OS_FAMILY family${ROOT:+, files under $ROOT}"
}

install_packages() {
    local packages=()
    if [[ $OS_FAMILY == debian ]]; then
        packages+=(python3 python3-venv)
        # uWSGI is compiled when pip installs it.
        [[ $SERVER == uwsgi ]] && packages+=(python3-dev build-essential)
        [[ $PROXY == nginx ]] && packages+=(nginx)
        [[ $PROXY == apache ]] && packages+=(apache2)
        [[ $SUPERVISOR == supervisord ]] && packages+=(supervisor)
        [[ $DATABASE == postgresql ]] && packages+=(postgresql)
        [[ $TLS == certbot ]] && packages+=(certbot "python3-certbot-$PROXY")
        run apt-get update -q
        run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${packages[@]}"
    else
        # supervisor and certbot come from EPEL: `dnf install epel-release` first.
        packages+=("python$PYTHON_VERSION" policycoreutils-python-utils)
        [[ $SERVER == uwsgi ]] && packages+=("python$PYTHON_VERSION-devel" gcc)
        [[ $PROXY == nginx ]] && packages+=(nginx)
        [[ $PROXY == apache ]] && packages+=(httpd mod_ssl)
        [[ $SUPERVISOR == supervisord ]] && packages+=(supervisor)
        [[ $DATABASE == postgresql ]] && packages+=(postgresql-server)
        [[ $TLS == certbot ]] && packages+=(certbot "python3-certbot-$PROXY")
        run dnf install -y "${packages[@]}"
    fi
}

# A Python of at least the version the project asks for, from the system (not a per-user install).
find_python() {
    local candidate major=${PYTHON_VERSION%%.*} minor=${PYTHON_VERSION#*.}
    for candidate in "/usr/bin/python$PYTHON_VERSION" /usr/bin/python3 "/usr/local/bin/python$PYTHON_VERSION"; do
        if [[ -x $candidate ]] && "$candidate" -c "import sys; sys.exit(sys.version_info < ($major, $minor))"; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

# ---------------------------------------------------------------- the steps
ensure_user() {
    if user_mode; then
        say "running as $SERVICE_USER"
        return
    fi
    if dry_run || ! getent passwd "$APP_NAME" >/dev/null; then
        run useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home --shell "$NOLOGIN" "$APP_NAME"
    else
        say "user $APP_NAME exists"
    fi
    if [[ -n $PROXY_USER && $BIND == unix ]]; then
        # The socket is mode 660, group $APP_NAME: the proxy connects as a member of that group.
        if dry_run || ! id -nG "$PROXY_USER" | grep -qw -- "$APP_NAME"; then
            run usermod --append --groups "$APP_NAME" "$PROXY_USER"
        else
            say "$PROXY_USER is in group $APP_NAME"
        fi
    fi
}

copy_code() {
    local target=$ROOT$APP_DIR
    if [[ $(realpath -m "$SOURCE_DIR") == "$(realpath -m "$target")" ]]; then
        say "code is already in $APP_DIR"
        return
    fi
    install -d -m 0755 "$target"
    # Secrets, the virtualenv and generated files stay where they are made; the server's .env is its own.
    tar -C "$SOURCE_DIR" --exclude=./.env --exclude=./.venv --exclude=./.git --exclude=__pycache__ \
        --exclude=./instance --exclude=./staticfiles -cf - . | tar -C "$target" --no-same-owner -xf -
    find "$target" \( -path "$target/.venv" -o -path "$target/.env" \) -prune -o -exec chmod u+rwX,go+rX,go-w {} +
    say "copied $SOURCE_DIR to $APP_DIR"
}

ensure_directories() {
    if user_mode; then
        # Group members (the proxy's user, once an administrator adds it) may pass through to the socket and files.
        chmod 0750 "$PREFIX"
        local directory
        for directory in "$STATE_DIR" "$RUN_DIR" "$LOG_DIR" "$CONF_DIR"; do
            make_directory "$directory" 0750 "$SERVICE_USER"
        done
        return
    fi
    make_directory "$STATE_DIR" 0750 "$APP_NAME"
    if [[ $SUPERVISOR != systemd ]]; then
        # systemd's RuntimeDirectory= makes /run/$APP_NAME for the unit; otherwise tmpfiles.d does, at every boot.
        local rule
        rule=$(mktemp)
        printf 'd %s 0750 %s %s -\n' "$RUN_DIR" "$APP_NAME" "$APP_NAME" >"$rule"
        install_file "$rule" "/etc/tmpfiles.d/$APP_NAME.conf" 0644 || true
        rm -f "$rule"
        run systemd-tmpfiles --create "/etc/tmpfiles.d/$APP_NAME.conf"
    fi
    if [[ $SUPERVISOR == supervisord ]]; then
        make_directory "$LOG_DIR" 0750 root
    fi
    if [[ $TLS == certbot ]]; then
        make_directory "$ACME_DIR" 0755 root
    fi
}

# Secrets are made on this server (never copied from a development machine) and kept on later runs.
ensure_env_file() {
    local env_file=$ROOT$APP_DIR/.env python
    python=$(command -v python3) || die "python3 is missing"
    "$python" - "$ROOT$APP_DIR/$PACKAGE/envfile.py" "$env_file" <<'PYTHON'
import importlib.util
import sys
from pathlib import Path

spec = importlib.util.spec_from_file_location("envfile", sys.argv[1])
envfile = importlib.util.module_from_spec(spec)
spec.loader.exec_module(envfile)
added = envfile.ensure_secrets(Path(sys.argv[2]))
print("install.sh: .env: " + ("generated " + ", ".join(added) if added else "every secret already set"))
PYTHON
    if ! grep -q '^DATA_DIR=' "$env_file"; then
        printf 'DATA_DIR=%s\n' "$STATE_DIR" >>"$env_file"
        say ".env: DATA_DIR=$STATE_DIR"
    fi
    chmod 600 "$env_file"
    if ! dry_run && ! user_mode; then
        chown "$APP_NAME:$APP_NAME" "$env_file"
    fi
}

ensure_virtualenv() {
    local venv=$ROOT$APP_DIR/.venv python
    if [[ ! -x $venv/bin/python ]]; then
        if ! python=$(find_python); then
            dry_run || die "no Python >= $PYTHON_VERSION in /usr/bin: install python$PYTHON_VERSION"
            python=python$PYTHON_VERSION
        fi
        run "$python" -m venv "$venv"
    fi
    run "$venv/bin/python" -m pip install --quiet --upgrade pip
    run "$venv/bin/python" -m pip install --quiet --editable "$ROOT$APP_DIR"
}

database_url() {
    sed -n 's/^DATABASE_URL=//p' "$(env_file)" | tail -n 1
}

database_password() {
    local url
    url=$(database_url)
    url=${url#*://}
    url=${url%%@*}
    printf '%s' "${url#*:}"
}

ensure_postgresql() {
    local password
    if user_mode; then
        ensure_database_reachable
        return
    fi
    if ! grep -Eq '^DATABASE_URL=postgresql://[^@]+@(127\.0\.0\.1|localhost)[:/]' "$(env_file)"; then
        say "DATABASE_URL names another server: create the role and database there with deploy/postgresql.sql"
        return
    fi
    password=$(database_password)
    [[ $password =~ ^[A-Za-z0-9._~-]+$ ]] || die "the DATABASE_URL password must be URL-safe (letters, digits, ._~-)"
    if [[ $OS_FAMILY == rhel && ! -f $ROOT/var/lib/pgsql/data/PG_VERSION ]]; then
        run postgresql-setup --initdb
    fi
    run systemctl enable --now postgresql
    wait_for_postgresql
    if dry_run; then
        printf 'would run: %s\n' "runuser -u postgres -- psql -X -v ON_ERROR_STOP=1 (deploy/postgresql.sql, password on stdin)"
        return
    fi
    # The password goes in on standard input, never on a command line that `ps` shows.
    printf '+ psql as postgres < deploy/postgresql.sql\n'
    { printf '\\set db_password %s\n' "$password"; cat "$SOURCE_DIR/deploy/postgresql.sql"; } |
        (cd / && runuser -u postgres -- psql -X --quiet -v ON_ERROR_STOP=1)
    if [[ $OS_FAMILY == rhel ]]; then
        allow_password_login
    fi
}

# The .env the database password comes from: the installed one, or a --user install's (--database-for).
env_file() {
    printf '%s' "${DATABASE_FOR:-$ROOT$APP_DIR/.env}"
}

# --user cannot create a role: check that the app can log in, else say what an administrator runs (the password stays
# in .env; the command reads it from there).
ensure_database_reachable() {
    local check='import sys, psycopg; psycopg.connect(sys.argv[1], connect_timeout=5).close()'
    if "$APP_DIR/.venv/bin/python" -c "$check" "$(database_url)" 2>/dev/null; then
        say "PostgreSQL: $PACKAGE can log in"
        return
    fi
    say "PostgreSQL does not let $PACKAGE log in yet. An administrator creates the role and database, once:"
    as_root "$APP_DIR/deploy/install.sh --database-for $APP_DIR/.env"
    die "database not ready: run this script again after that"
}

# `systemctl start postgresql` returns before the server accepts connections (on Debian that unit only pulls in the
# cluster's own postgresql@VERSION-main): psql would fail with "No such file or directory". Wait, 30 s at most.
wait_for_postgresql() {
    dry_run && return 0
    local attempt
    for attempt in $(seq 150); do
        (cd / && runuser -u postgres -- psql -XtAqc 'SELECT 1' >/dev/null 2>&1) && return 0
        sleep 0.2
    done
    die "PostgreSQL is not accepting connections (attempt $attempt): see journalctl -u postgresql"
}

# RHEL's pg_hba.conf authenticates 127.0.0.1 with ident: let this app's role in with its password.
allow_password_login() {
    local hba rule="host $PACKAGE $PACKAGE 127.0.0.1/32 scram-sha-256"
    hba=$(cd / && runuser -u postgres -- psql -XtAc 'SHOW hba_file')
    if ! grep -qxF "$rule" "$hba"; then
        sed -i "1i $rule" "$hba"
        run systemctl reload postgresql
        say "pg_hba.conf: $rule"
    fi
}

# manage.py as the service user, with the settings the server runs with (from .env), in the code directory.
manage() {
    if user_mode; then
        (cd "$APP_DIR" && run "$APP_DIR/.venv/bin/python" "$APP_DIR/manage.py" "$@")
        return
    fi
    (cd "$ROOT$APP_DIR" && run runuser -u "$APP_NAME" -- "$APP_DIR/.venv/bin/python" "$APP_DIR/manage.py" "$@")
}

prepare_app() {
    if [[ $FRAMEWORK == django ]]; then
        [[ $DATABASE != none ]] && manage migrate --no-input
        # The code directory belongs to root: collect as root into STATIC_ROOT ($APP_DIR/staticfiles).
        (cd "$ROOT$APP_DIR" && run "$ROOT$APP_DIR/.venv/bin/python" "$ROOT$APP_DIR/manage.py" collectstatic --no-input)
    elif [[ $DATABASE != none ]]; then
        manage db upgrade
    fi
    return 0
}

ensure_certificate() {
    case $TLS in
        certbot)
            if [[ -f $ROOT/etc/letsencrypt/live/$DOMAIN/fullchain.pem ]]; then
                say "certificate for $DOMAIN exists (certbot renews it)"
            else
                run certbot certonly "--$PROXY" --non-interactive --agree-tos -m "$ADMIN_EMAIL" -d "$DOMAIN"
            fi
            ;;
        certificate)
            local pair=/etc/ssl/$APP_NAME
            if [[ ! -f $ROOT$pair/fullchain.pem || ! -f $ROOT$pair/privkey.pem ]]; then
                dry_run || die "put the certificate chain in $pair/fullchain.pem and its key in $pair/privkey.pem"
                say "no certificate yet in $pair (a real run stops here)"
            fi
            ;;
    esac
    return 0
}

# Install the proxy's site, test the whole proxy configuration, and only then reload; put the old file back if
# the test fails, so a bad site never takes down the proxy.
install_proxy_site() {
    local source=$1 target=$2 enabled_link=$3 test_command=$4 service=$5 backup
    backup=$(mktemp)
    [[ -f $ROOT$target ]] && cp -p "$ROOT$target" "$backup"
    if install_file "$source" "$target" 0644; then
        if [[ -n $enabled_link ]]; then
            # What a2ensite does; nginx on Debian reads sites-enabled the same way.
            install -d -m 0755 "$ROOT$(dirname "$enabled_link")"
            ln -sfn "../sites-available/$(basename "$target")" "$ROOT$enabled_link"
            say "enabled $enabled_link"
        fi
        if ! dry_run && ! $test_command; then
            if [[ -s $backup ]]; then
                cp -p "$backup" "$target"
            else
                rm -f "$target" "${enabled_link:-$target}"
            fi
            rm -f "$backup"
            die "$service rejected the new site; the previous configuration is back in place"
        fi
    fi
    rm -f "$backup"
    [[ -n $ROOT ]] && printf 'would run: %s\n' "$test_command"
    run systemctl enable "$service"
    run systemctl reload-or-restart "$service"
}

install_proxy() {
    case $PROXY in
        nginx)
            install_proxy_site "$ROOT$APP_DIR/deploy/nginx.conf" "$NGINX_SITE" "$NGINX_ENABLED" "nginx -t" nginx
            ;;
        apache)
            local modules
            modules=$(sed -n 's/^# Modules to enable: //p' "$ROOT$APP_DIR/deploy/apache.conf")
            if [[ $OS_FAMILY == debian ]]; then
                # shellcheck disable=SC2086 # one word per module
                run a2enmod -q $modules
            fi
            install_proxy_site "$ROOT$APP_DIR/deploy/apache.conf" "$APACHE_SITE" "$APACHE_ENABLED" \
                "$APACHE_CTL configtest" "$APACHE_SERVICE"
            ;;
    esac
}

configure_selinux() {
    if dry_run || ! command -v selinuxenabled >/dev/null || ! selinuxenabled; then
        return 0
    fi
    local static_dir=$APP_DIR/$PACKAGE/static
    [[ $FRAMEWORK == django ]] && static_dir=$APP_DIR/staticfiles
    # The proxy (httpd_t) may read the static files and the maintenance page, and connect to the app.
    label "httpd_sys_content_t" "$static_dir(/.*)?"
    label "httpd_sys_content_t" "$APP_DIR/deploy/maintenance\.html"
    if [[ $BIND == unix ]]; then
        label "httpd_var_run_t" "$RUN_DIR(/.*)?"
    else
        run setsebool -P httpd_can_network_connect 1
    fi
    run restorecon -R "$APP_DIR" "$RUN_DIR"
    say "SELinux: if the proxy still logs 'Permission denied': ausearch -m avc -ts recent | audit2allow -M $APP_NAME"
}

label() {
    semanage fcontext -a -t "$1" "$2" 2>/dev/null || run semanage fcontext -m -t "$1" "$2"
}

start_server() {
    local changed=0
    if user_mode; then
        start_user_server
        return
    fi
    case $SUPERVISOR in
        systemd)
            install_file "$ROOT$APP_DIR/deploy/$APP_NAME.socket" "/etc/systemd/system/$APP_NAME.socket" 0644 && changed=2
            install_file "$ROOT$APP_DIR/deploy/$APP_NAME.service" "/etc/systemd/system/$APP_NAME.service" 0644 &&
                changed=$((changed | 1))
            run systemctl daemon-reload
            run systemctl enable "$APP_NAME.socket" "$APP_NAME.service"
            if [[ $changed -ge 2 ]] || dry_run; then
                # A new or changed socket: the service must let go of the old one (a restart takes the new one).
                run systemctl stop "$APP_NAME.service"
                run systemctl restart "$APP_NAME.socket"
            fi
            if [[ $changed != 0 ]] || dry_run || ! systemctl is-active --quiet "$APP_NAME"; then
                run systemctl restart "$APP_NAME"
            else
                run systemctl reload "$APP_NAME"
            fi
            ;;
        supervisord)
            install_file "$ROOT$APP_DIR/deploy/supervisord.conf" "$SUPERVISOR_PROGRAM" 0644 && changed=1
            run systemctl enable --now "$SUPERVISOR_SERVICE"
            wait_for_supervisord
            # update starts a new program and restarts a changed one.
            run "${SUPERVISORCTL[@]}" reread
            run "${SUPERVISORCTL[@]}" update "$APP_NAME"
            if [[ $changed == 0 ]]; then
                reload_server
            fi
            ;;
        none)
            say "no supervisor chosen: start the server yourself, e.g."
            say "  runuser -u $APP_NAME -- $(server_command)"
            ;;
    esac
}

# ---------------------------------------------------------------- --user: no root
# A generated file with the system paths it names (/srv, /var/lib, /run, /var/log) moved under PREFIX.
relocate() {
    local name=$APP_NAME
    sed -e "s#/srv/$name\([/\" ]\|\$\)#$APP_DIR\1#g" -e "s#/var/lib/$name\([/\" ]\|\$\)#$STATE_DIR\1#g" \
        -e "s#/run/$name\([/\" ]\|\$\)#$RUN_DIR\1#g" -e "s#/var/log/$name\([/\" ]\|\$\)#$LOG_DIR\1#g" "$1"
}

install_relocated() {
    local source=$1 target=$2 relocated status=0
    relocated=$(mktemp)
    relocate "$source" >"$relocated"
    install_file "$relocated" "$target" 0644 || status=$?
    rm -f "$relocated"
    return "$status"
}

# The user's own supervisord: its socket, pid file and log under PREFIX, this app's program included.
write_user_supervisord_conf() {
    local conf
    conf=$(mktemp)
    cat >"$conf" <<CONF
; supervisord for $SERVICE_USER's $APP_NAME, written by deploy/install.sh --user.
;   $APP_DIR/.venv/bin/supervisorctl -c $CONF_DIR/supervisord.conf status
[unix_http_server]
file=$RUN_DIR/supervisor.sock
chmod=0700

[supervisord]
logfile=$LOG_DIR/supervisord.log
pidfile=$RUN_DIR/supervisord.pid

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://$RUN_DIR/supervisor.sock

[include]
files = $CONF_DIR/$APP_NAME.program.conf
CONF
    install_file "$conf" "$CONF_DIR/supervisord.conf" 0644 || true
    rm -f "$conf"
}


start_user_server() {
    if [[ $SUPERVISOR == none ]]; then
        say "no supervisor chosen: start the server yourself, e.g."
        say "  RUN_DIR=$RUN_DIR $(server_command)"
        return
    fi
    run "$APP_DIR/.venv/bin/python" -m pip install --quiet supervisor
    local program=$CONF_DIR/$APP_NAME.program.conf changed=0 program_text
    program_text=$(mktemp)
    # The program runs as the account supervisord runs as: user= names it.
    relocate "$APP_DIR/deploy/supervisord.conf" | sed "s/^user=.*/user=$SERVICE_USER/" >"$program_text"
    install_file "$program_text" "$program" 0644 && changed=1
    rm -f "$program_text"
    write_user_supervisord_conf
    if ! "${SUPERVISORCTL[@]}" pid >/dev/null 2>&1; then
        run "$APP_DIR/.venv/bin/supervisord" -c "$CONF_DIR/supervisord.conf"
        wait_for_supervisord
        return
    fi
    run "${SUPERVISORCTL[@]}" reread
    run "${SUPERVISORCTL[@]}" update "$APP_NAME"
    if [[ $changed == 0 ]]; then
        reload_server
    fi
}

# The site, relocated, for an administrator to enable: only root may change the proxy. The commands they run are
# printed one per line, as "as root: COMMAND".
prepare_proxy_site_for_administrator() {
    local site=$CONF_DIR/$PROXY-site.conf link test_command service modules="" directory mode group
    case $PROXY in
        nginx)
            install_relocated "$APP_DIR/deploy/nginx.conf" "$site" || true
            link=${NGINX_ENABLED:-$NGINX_SITE} test_command="nginx -t" service=nginx
            ;;
        apache)
            install_relocated "$APP_DIR/deploy/apache.conf" "$site" || true
            install_relocated "$APP_DIR/deploy/apache-shared-site.conf" "$CONF_DIR/apache-shared-site.conf" || true
            link=${APACHE_ENABLED:-$APACHE_SITE} test_command="$APACHE_CTL configtest" service=$APACHE_SERVICE
            modules=$(sed -n 's/^# Modules to enable: //p' "$site")
            ;;
    esac
    say "the proxy is the administrator's: to serve the app they run, once, as root:"
    # The proxy's user joins this account's group: the socket, the static files and the maintenance page are
    # readable by the group, nobody else.
    as_root "usermod --append --groups $(id -gn) $PROXY_USER"
    # Every directory above PREFIX must let it through: as "other", or as a member of its group.
    directory=$PREFIX
    while directory=$(dirname "$directory") && [[ $directory != / ]]; do
        mode=$(stat -c %A "$directory")
        group=$(stat -c %G "$directory")
        if ! [[ ${mode:9:1} == [xt] || (${mode:6:1} == [xs] && $group == "$(id -gn)") ]]; then
            as_root "chmod o+x $directory"
        fi
    done
    if [[ -n $modules && $OS_FAMILY == debian ]]; then
        as_root "a2enmod -q $modules"
    fi
    case $TLS in
        certbot) as_root "certbot certonly --$PROXY --non-interactive --agree-tos -m $ADMIN_EMAIL -d $DOMAIN" ;;
        certificate) say "the site expects the certificate in /etc/ssl/$APP_NAME/fullchain.pem and its key in privkey.pem" ;;
    esac
    as_root "ln -sfn $site $link"
    as_root "$test_command"
    as_root "systemctl reload-or-restart $service"
}

as_root() {
    printf 'install.sh: as root: %s\n' "$*"
}

# `systemctl start` returns before supervisord listens on its socket (the unit is Type=simple): on a fresh server
# supervisorctl would fail with "no such file". Wait for it, 15 s at most.
wait_for_supervisord() {
    dry_run && return 0
    local attempt log="journalctl -u $SUPERVISOR_SERVICE"
    user_mode && log=$LOG_DIR/supervisord.log
    for attempt in $(seq 75); do
        "${SUPERVISORCTL[@]}" pid >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    die "supervisord is not answering (attempt $attempt): see $log"
}

server_command() {
    if [[ $SERVER == gunicorn ]]; then
        printf '%s' "$APP_DIR/.venv/bin/gunicorn --config $APP_DIR/deploy/gunicorn.conf.py wsgi:application"
    else
        printf '%s' "$APP_DIR/.venv/bin/uwsgi --ini $APP_DIR/deploy/uwsgi.ini"
    fi
}

# Graceful reload that loads the new code (supervisord has no reload command of its own).
reload_server() {
    if [[ $SERVER == gunicorn ]]; then
        run "${SUPERVISORCTL[@]}" signal HUP "$APP_NAME"
    else
        run touch "$RUN_DIR/uwsgi.reload"
    fi
}

summary() {
    local scheme=http
    [[ $TLS != none ]] && scheme=https
    say "done: $scheme://$DOMAIN$URL_PREFIX/"
    case $SUPERVISOR in
        systemd) say "logs: journalctl -u $APP_NAME; reload after a code change: run this script again" ;;
        supervisord) say "logs: $LOG_DIR/$SERVER.log; reload after a code change: run this script again" ;;
    esac
    if user_mode && [[ $SUPERVISOR == supervisord ]]; then
        say "status: $APP_DIR/.venv/bin/supervisorctl -c $CONF_DIR/supervisord.conf status"
        say "to start it at boot, add to your crontab (crontab -e):"
        say "  @reboot $APP_DIR/.venv/bin/supervisord -c $CONF_DIR/supervisord.conf"
    fi
    return 0
}

main() {
    parse_arguments "$@"
    detect_os
    if [[ -n $DATABASE_FOR ]]; then
        [[ $DATABASE == postgresql ]] || die "--database-for: this project has no PostgreSQL database"
        [[ -r $DATABASE_FOR ]] || die "--database-for: cannot read $DATABASE_FOR"
        ensure_postgresql
        return
    fi
    if [[ $INSTALL_PACKAGES == 1 ]]; then
        install_packages
    fi
    ensure_user
    copy_code
    ensure_directories
    ensure_env_file
    ensure_virtualenv
    [[ $DATABASE == postgresql ]] && ensure_postgresql
    prepare_app
    start_server
    if [[ $PROXY != none ]] && user_mode; then
        prepare_proxy_site_for_administrator
    elif [[ $PROXY != none ]]; then
        configure_selinux
        ensure_certificate
        install_proxy
    fi
    summary
}

main "$@"
