# shellcheck shell=bash
# The steps every project has: its account, its code, its directories, its secrets and its virtualenv.

# What the server never gets from the checkout: its own secrets, virtualenv and generated files.
KEPT_ON_SERVER=(.env .venv .git instance staticfiles)

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

# find(1) arguments that skip what KEPT_ON_SERVER names (and Python's caches).
kept_paths() {
    local name
    printf '%s\0' '(' -name __pycache__
    for name in "${KEPT_ON_SERVER[@]}"; do
        printf '%s\0' -o -path "./$name"
    done
    printf '%s\0' ')' -prune -o
}

# The project's files, one per line, relative to directory $1 (what is kept on the server left out).
project_files() {
    local arguments=()
    mapfile -d '' arguments < <(kept_paths)
    (cd "$1" && find . "${arguments[@]}" '(' -type f -o -type l ')' -print) | LC_ALL=C sort
}

copy_code() {
    local target=$ROOT$APP_DIR name excludes=(--exclude=__pycache__) stale
    if [[ $(realpath -m "$SOURCE_DIR") == "$(realpath -m "$target")" ]]; then
        say "code is already in $APP_DIR"
        return
    fi
    install -d -m 0755 "$target"
    for name in "${KEPT_ON_SERVER[@]}"; do
        excludes+=("--exclude=./$name")
    done
    tar -C "$SOURCE_DIR" "${excludes[@]}" -cf - . | tar -C "$target" --no-same-owner -xf -
    # What the project no longer has goes: a deleted module or migration must not keep running.
    while IFS= read -r stale; do
        rm -f "$target/$stale"
        say "removed ${stale#./} (no longer in the project)"
    done < <(LC_ALL=C comm -13 <(project_files "$SOURCE_DIR") <(project_files "$target"))
    find "$target" -mindepth 1 -type d -empty -not -path "$target/.venv/*" -delete
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
    run_phase directories
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

# manage.py as the account the server runs as, with the settings it runs with (from .env), in the code directory.
manage() {
    if user_mode; then
        (cd "$APP_DIR" && run "$APP_DIR/.venv/bin/python" "$APP_DIR/manage.py" "$@")
    else
        (cd "$ROOT$APP_DIR" && run runuser -u "$APP_NAME" -- "$APP_DIR/.venv/bin/python" "$APP_DIR/manage.py" "$@")
    fi
}

summary() {
    say "done: $SCHEME://$DOMAIN$URL_PREFIX/"
    run_phase summary
}
