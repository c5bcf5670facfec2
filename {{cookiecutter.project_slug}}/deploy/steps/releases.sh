# shellcheck shell=bash disable=SC2153 # RELEASES_DIR and PYTHON come from project.sh and install.sh
# Releases. Each install copies the code into a release of its own, RELEASES_DIR/<id>, prepares it (virtualenv,
# migrations, static files) while the live one serves, then switches CODE_DIR, the link every file in deploy/ names,
# to it, reloads gracefully and checks /healthz through the real path; if that fails it switches back. A virtualenv is
# shared by the releases whose dependencies and Python are the same (VENVS_DIR/<hash>; the release's .venv is a link
# to it): a redeploy without new dependencies makes none. .env, the data, the socket and the logs live outside.
# The health check's client. RHEL always has one (curl-minimal, which conflicts with the curl package).
need_packages debian curl

RELEASE_DIR=""      # the release this run installs (copy_code)
PREVIOUS_RELEASE="" # the live release before the switch, if any
# shellcheck disable=SC2034 # read by the supervisor's step (its reload phase)
VENV_CHANGED=0      # the switch changes the virtualenv: the server restarts instead of reloading (reload phase)
KEEP_RELEASES=5     # install.sh --keep N
# shellcheck disable=SC2034 # read by install.sh
ROLLBACK=0          # install.sh --rollback [RELEASE]
ROLLBACK_TO=""
# --join: 1 when the site joined does not include the app's lines yet (join_site in proxy.sh): nothing to check.
JOIN_PENDING=0

# The live release's name, when CODE_DIR is a link to one.
live_release() {
    local target
    target=$(readlink "$ROOT$CODE_DIR" 2>/dev/null) || return 1
    [[ -d $ROOT$RELEASES_DIR/${target##*/} ]] || return 1
    printf '%s\n' "${target##*/}"
}

# The releases on disk, oldest first (their names are UTC times).
releases() {
    [[ -d $ROOT$RELEASES_DIR ]] || return 0
    find "$ROOT$RELEASES_DIR" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | LC_ALL=C sort
}

# The code, copied from this checkout into a new release (the live one is not touched).
copy_code() {
    local name excludes=(--exclude=__pycache__) id
    # Made by an administrator with --user: its mode and group stay.
    [[ -d $ROOT$APP_DIR ]] || install -d -m 0755 "$ROOT$APP_DIR"
    [[ -d $ROOT$RELEASES_DIR ]] || install -d -m 0755 "$ROOT$RELEASES_DIR"
    PREVIOUS_RELEASE=$(live_release) || PREVIOUS_RELEASE=""
    local stamp n=1
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    id=$stamp
    # Two installs within a second (names sort in the order they were made).
    while [[ -e $ROOT$RELEASES_DIR/$id ]]; do
        n=$((n + 1))
        id=$stamp-$n
    done
    RELEASE_DIR=$RELEASES_DIR/$id
    install -d -m 0755 "$ROOT$RELEASE_DIR"
    for name in "${KEPT_ON_SERVER[@]}"; do
        excludes+=("--exclude=./$name")
    done
    tar -C "$SOURCE_DIR" "${excludes[@]}" -cf - . | tar -C "$ROOT$RELEASE_DIR" --no-same-owner -xf -
    chmod -R u+rwX,go+rX,go-w "$ROOT$RELEASE_DIR"
    # The app finds .env beside its code: the one outside the releases.
    ln -s "$(realpath -m --relative-to="$RELEASE_DIR" "$APP_DIR/.env")" "$ROOT$RELEASE_DIR/.env"
    say "release $id: copied $SOURCE_DIR${PREVIOUS_RELEASE:+ (live: $PREVIOUS_RELEASE)}"
}

# The dependencies (pyproject.toml's [project] dependencies), one per line, read with Python $1.
release_dependencies() {
    "$1" - "$ROOT$RELEASE_DIR/pyproject.toml" <<'PYTHON'
import sys
import tomllib

with open(sys.argv[1], "rb") as file:
    print("\n".join(tomllib.load(file)["project"]["dependencies"]))
PYTHON
}

# The release's virtualenv: the one made for the same dependencies and Python, or a new one. The project itself is
# not installed in it: the servers and manage.py import it from the release (CODE_DIR), so a virtualenv serves every
# release with those dependencies.
ensure_virtualenv() {
    local python=$PYTHON key venv requirements live_venv
    # A dry run without the Python it names reads pyproject.toml with any.
    [[ -x $(command -v "$python") ]] || python=$(command -v python3) || die "python3 is missing"
    requirements=$(release_dependencies "$python") || die "cannot read the dependencies in pyproject.toml"
    key=$({ printf '%s\n' "$PYTHON" "$("$python" -V 2>&1)" "$requirements"; } | sha256sum | cut -c1-16)
    venv=$VENVS_DIR/$key
    if [[ -f $ROOT$venv/.complete ]]; then
        say "virtualenv $venv: the same dependencies, reused"
    else
        [[ -d $ROOT$VENVS_DIR ]] || install -d -m 0755 "$ROOT$VENVS_DIR"
        rm -rf "$ROOT$venv"
        run "$PYTHON" -m venv "$ROOT$venv"
        run "$ROOT$venv/bin/python" -m pip install --quiet --upgrade pip
        printf '%s\n' "$requirements" >"$ROOT$RELEASE_DIR/.requirements"
        run "$ROOT$venv/bin/python" -m pip install --quiet --requirement "$ROOT$RELEASE_DIR/.requirements"
        rm -f "$ROOT$RELEASE_DIR/.requirements"
        dry_run || touch "$ROOT$venv/.complete"
    fi
    ln -s "$(realpath -m --relative-to="$RELEASE_DIR" "$venv")" "$ROOT$RELEASE_DIR/.venv"
    live_venv=$(readlink -f "$ROOT$CODE_DIR/.venv" 2>/dev/null) || live_venv=""
    if [[ -n $live_venv && $live_venv != "$(readlink -f "$ROOT$venv")" ]]; then
        VENV_CHANGED=1
    fi
}

# Point CODE_DIR at release $1 (a name in RELEASES_DIR): a new link renamed over the old one, atomically.
switch_release() {
    local link=$ROOT$CODE_DIR
    ln -sfn "$(realpath -m --relative-to="$(dirname "$CODE_DIR")" "$RELEASES_DIR/$1")" "$link.new"
    mv -T "$link.new" "$link"
    say "live release: $1 ($CODE_DIR)"
}

# GET /healthz the way clients come in (through the proxy, or the server's own port without one), on this machine;
# a few tries over 5 s (the workers run the new code already: reload_and_settle).
check_health() {
    local curl=(curl --silent --show-error --fail --insecure --max-time 10 --output /dev/null
        --resolve "$DOMAIN:$HEALTH_PORT:127.0.0.1" "$HEALTH_URL")
    if dry_run; then
        run "${curl[@]}"
        return 0
    fi
    for _ in $(seq 5); do
        "${curl[@]}" 2>/dev/null && return 0
        sleep 1
    done
    return 1
}

# After the switch to release $1 (from PREVIOUS_RELEASE) and the reload: healthy, or back to PREVIOUS_RELEASE, reloaded,
# and a non-zero exit that says so.
health_gate() {
    local release=$1
    # No supervisor: the server is not install.sh's to reload, so its answer would be the old code's, or none.
    if ! has_phase reload; then
        say "no supervisor: reload the server yourself so that it loads $CODE_DIR (release $release), then check $HEALTH_URL"
        return 0
    fi
    if dry_run; then
        check_health
        return 0
    fi
    # Joining a site that does not include the app's lines yet: no request reaches the app through the proxy.
    if [[ $JOIN_PENDING == 1 ]]; then
        say "not checked: $HEALTH_URL (release $release) goes through the $DOMAIN site, which does not include the app's lines yet; run this script again once it does"
        return 0
    fi
    if check_health; then
        say "healthy: $HEALTH_URL answers (release $release)"
        return 0
    fi
    if [[ -z $PREVIOUS_RELEASE ]]; then
        say "warning: $HEALTH_URL does not answer yet (release $release, the first: none to return to)"
        return 0
    fi
    say "error: $HEALTH_URL does not answer with release $release: switching back to $PREVIOUS_RELEASE"
    switch_release "$PREVIOUS_RELEASE"
    run_phase reload
    if ! check_health; then
        die "release $release failed its health check; back on $PREVIOUS_RELEASE, which does not answer either: see the logs"
    fi
    die "release $release failed its health check ($HEALTH_URL): rolled back to $PREVIOUS_RELEASE, which answers" \
        "(release $release is kept in $RELEASES_DIR for inspection; its logs: the server's)"
}

# The new release goes live (the supervisor's start phase reloads or starts the server, the proxy phase follows).
go_live() {
    switch_release "${RELEASE_DIR##*/}"
}

# After a deploy: only the KEEP_RELEASES newest releases stay (never the live one), and the virtualenvs they use.
prune_releases() {
    local live name keep=() used=() venv
    live=$(live_release) || return 0
    mapfile -t keep < <(releases | tail -n "$KEEP_RELEASES")
    while IFS= read -r name; do
        [[ $name == "$live" ]] && continue
        printf '%s\n' "${keep[@]}" | grep -qxF -- "$name" && continue
        rm -rf -- "$ROOT${RELEASES_DIR:?}/${name:?}"
        say "removed release $name (older than the $KEEP_RELEASES kept)"
    done < <(releases)
    while IFS= read -r name; do
        used+=("$(readlink -f "$ROOT$RELEASES_DIR/$name/.venv" 2>/dev/null)")
    done < <(releases)
    [[ -d $ROOT$VENVS_DIR ]] || return 0
    while IFS= read -r venv; do
        printf '%s\n' "${used[@]}" | grep -qxF -- "$(readlink -f "$venv")" && continue
        rm -rf -- "$venv"
        say "removed virtualenv ${venv##*/} (no release kept uses it)"
    done < <(find "$ROOT$VENVS_DIR" -mindepth 1 -maxdepth 1 -type d)
}

# install.sh --rollback [RELEASE]: back to the release before the live one (or RELEASE), gracefully, health-checked.
roll_back() {
    local live target
    live=$(live_release) || die "--rollback: $CODE_DIR is not a link to a release in $RELEASES_DIR: nothing to roll back"
    if [[ -n $ROLLBACK_TO ]]; then
        target=$ROLLBACK_TO
        [[ $target =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ && -d $ROOT$RELEASES_DIR/$target ]] ||
            die "--rollback: no release '$target' in $RELEASES_DIR; there are: $(releases | tr '\n' ' ')"
    else
        target=$(releases | awk -v live="$live" '$0 < live' | tail -n 1)
        [[ -n $target ]] || die "--rollback: no release older than the live one ($live) in $RELEASES_DIR"
    fi
    [[ $target != "$live" ]] || die "--rollback: $target is the live release already"
    PREVIOUS_RELEASE=$live
    if [[ $(readlink -f "$ROOT$RELEASES_DIR/$target/.venv") != "$(readlink -f "$ROOT$RELEASES_DIR/$live/.venv")" ]]; then
        # shellcheck disable=SC2034 # read by the supervisor's step (its reload phase)
        VENV_CHANGED=1
    fi
    switch_release "$target"
    run_phase reload
    health_gate "$target"
    say "rolled back from $live to $target"
}
