# shellcheck shell=bash
# The steps every project has: its account, its directories and its secrets (its code and virtualenv: releases.sh).

# What a release never gets from the checkout: the server's own secrets, virtualenv and generated files.
# shellcheck disable=SC2034 # read by steps/releases.sh
KEPT_ON_SERVER=(.env .venv .git instance staticfiles)
# Directories in STATE_DIR other steps need, made here in every mode (2750: the account's, in group SERVICE_GROUP,
# setgid so what the app writes there stays in the group): the files the proxy serves (steps/proxy.sh).
DATA_DIRS=()

need_packages debian python3 python3-venv
need_packages rhel "python$PYTHON_VERSION" policycoreutils-python-utils

ensure_user() {
    if user_mode; then
        say "running as $SERVICE_USER"
    elif dry_run || ! getent passwd "$APP_NAME" >/dev/null; then
        system useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home --shell "$NOLOGIN" "$APP_NAME"
    else
        say "user $APP_NAME exists"
    fi
}

ensure_directories() {
    if user_mode; then
        account_directories
        return
    fi
    make_directory "$STATE_DIR" 0750 "$APP_NAME"
    local directory
    for directory in "${DATA_DIRS[@]}"; do
        make_directory "$directory" 2750 "$APP_NAME"
    done
    run_directory_at_boot
    run_phase directories
}

# --user: the directories of the layout, owned by the account, in group SERVICE_GROUP. The proxy's user joins that
# group; the code and socket directories are setgid, so what the account makes in them (static files, the socket)
# stays in it. Made once by an administrator; until they are, the install stops here.
account_directories() {
    local directory missing=0
    for directory in "$APP_DIR" "$STATE_DIR" "$LOG_DIR" "$RUN_DIR" "${DATA_DIRS[@]}"; do
        if [[ ! -d $directory || ! -w $directory || $(stat -c %G "$directory") != "$SERVICE_GROUP" ]]; then
            missing=1
        fi
    done
    if [[ $missing == 0 && -f /etc/tmpfiles.d/$APP_NAME.conf ]]; then
        say "directories $APP_DIR, $STATE_DIR, $LOG_DIR and $RUN_DIR${DATA_DIRS[*]:+ (and ${DATA_DIRS[*]})} are $SERVICE_USER's"
        return
    fi
    say "the app's directories are made by an administrator, once, as root:"
    system groupadd --force --system "$SERVICE_GROUP"
    system install -d -o "$SERVICE_USER" -g "$SERVICE_GROUP" -m 2750 "$APP_DIR"
    system install -d -o "$SERVICE_USER" -g "$SERVICE_GROUP" -m 0750 "$STATE_DIR" "$LOG_DIR"
    if [[ -n ${DATA_DIRS[*]} ]]; then
        system install -d -o "$SERVICE_USER" -g "$SERVICE_GROUP" -m 2750 "${DATA_DIRS[@]}"
    fi
    system "printf '%s\\n' '$(run_directory_line)' > /etc/tmpfiles.d/$APP_NAME.conf"
    system systemd-tmpfiles --create "/etc/tmpfiles.d/$APP_NAME.conf"
    die "run this script again once an administrator has made the directories (the commands above)"
}

# Secrets are made on this server (never copied from a development machine) and kept on later runs.
ensure_env_file() {
    local env_file=$ROOT$APP_DIR/.env python=$PYTHON
    # A dry run without the Python it names uses any.
    [[ -x $(command -v "$python") ]] || python=$(command -v python3) || die "python3 is missing"
    "$python" - "$ROOT$RELEASE_DIR/$PACKAGE/envfile.py" "$env_file" <<'PYTHON'
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

# Is Python $1 at least the version the project asks for?
python_new_enough() {
    local major=${PYTHON_VERSION%%.*} minor=${PYTHON_VERSION#*.}
    [[ $("$1" -c "import sys; print(sys.version_info >= ($major, $minor))" 2>/dev/null) == True ]]
}

# The Python that makes the virtualenv: --python PATH, or the first new enough one on PATH. It need not be the
# system's: conda, pyenv and self-built ones live under their own prefix.
choose_python() {
    local candidate candidates=("python$PYTHON_VERSION" python3) minor
    if [[ -n $PYTHON ]]; then
        [[ -f $PYTHON && -x $PYTHON ]] || die "--python: $PYTHON is not an executable file"
        [[ $PYTHON == /* ]] || PYTHON=$(realpath -s "$PYTHON")
        if ! python_new_enough "$PYTHON"; then
            local found
            found=$("$PYTHON" -c 'import sys; print("Python %d.%d" % sys.version_info[:2])' 2>/dev/null) || true
            [[ $found =~ ^Python\ [0-9]+\.[0-9]+$ ]] || found="not a Python"
            die "--python: $PYTHON is $found; this project needs Python >= $PYTHON_VERSION"
        fi
    else
        for ((minor = ${PYTHON_VERSION#*.} + 1; minor <= 30; minor++)); do
            candidates+=("python3.$minor")
        done
        for candidate in "${candidates[@]}"; do
            candidate=$(command -v "$candidate") || continue
            if python_new_enough "$candidate"; then
                PYTHON=$candidate
                break
            fi
        done
        if [[ -z $PYTHON ]]; then
            dry_run || die "no Python >= $PYTHON_VERSION on PATH: install python$PYTHON_VERSION, or name one with --python PATH"
            PYTHON=python$PYTHON_VERSION
            return
        fi
    fi
    if ! dry_run && ! user_mode; then
        root_may_run "$PYTHON"
    fi
    say "Python: $PYTHON ($("$PYTHON" -V 2>&1))"
}

# Root runs the virtualenv's Python (pip, migrations): neither the interpreter (the path given, and the file it leads
# to) nor its standard library, nor any directory above them, may be writable by an account other than root.
root_may_run() {
    local path owner group mode
    while IFS= read -r path; do
        while [[ $path != / ]]; do
            read -r owner group mode < <(stat -L -c '%u %g %a' "$path")
            mode=$((8#$mode))
            # Owned by another account, or writable by its group (unless root's) or by anyone (unless sticky: /tmp).
            if [[ $owner != 0 ]] || ((group != 0 && mode & 8#020)) || ((mode & 8#002 && !(mode & 8#1000))); then
                die "--python: root would run $1, but $path can be changed by an account other than root"
            fi
            path=$(dirname "$path")
        done
    done < <(printf '%s\n' "$1"; "$1" -c 'import os, sys, sysconfig
print(os.path.realpath(sys.executable)); print(sysconfig.get_path("stdlib"))')
}

# manage.py of the release being installed, as the account the server runs as, with the settings it runs with (from
# .env), in the release's directory.
manage() {
    if user_mode; then
        (cd "$RELEASE_DIR" && run "$RELEASE_DIR/.venv/bin/python" "$RELEASE_DIR/manage.py" "$@")
    else
        (cd "$ROOT$RELEASE_DIR" && run runuser -u "$APP_NAME" -- "$RELEASE_DIR/.venv/bin/python" "$RELEASE_DIR/manage.py" "$@")
    fi
}

summary() {
    say "done: $SCHEME://$DOMAIN$URL_PREFIX/"
    local mode=""
    user_mode && mode=" --user"
    say "live release: $CODE_DIR -> $(readlink "$ROOT$CODE_DIR"); back to the one before: deploy/install.sh$mode --rollback"
    run_phase summary
}
