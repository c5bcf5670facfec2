#!/usr/bin/env bash
# Install or update {{ cookiecutter.project_name }} on this server (Debian/Ubuntu or RHEL family):
#   sudo deploy/install.sh          as root        deploy/install.sh --user   as an ordinary account
#   deploy/install.sh --help        every option (--join, --rollback [RELEASE], --keep N, --python PATH, --dry, ...)
# The deploy is Python on pyinfra (deploy/engine/, its phases in plan.py). This script only finds a Python >= 3.11,
# makes or updates the deploy tools' own virtualenv (deploy/requirements.txt) and runs the deploy on this machine.
set -euo pipefail
deploy_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

# As root, root runs the deploy code and its Python: no file or directory on their way may be another account's to
# change (owned by it, or writable by a group other than root's or by anyone, /tmp-like sticky directories aside).
root_may_run() {
    local path=$1 owner group mode
    while :; do
        read -r owner group mode < <(stat -L -c '%u %g %a' "$path")
        mode=$((8#$mode))
        if [[ $owner != 0 ]] || ((group != 0 && mode & 8#020)) || ((mode & 8#002 && !(mode & 8#1000))); then
            die "root would run deploy code that another account can change: $path (owner $owner, mode $(printf %o "$mode"))"
        fi
        [[ $path == / ]] && return
        path=$(dirname "$path")
    done
}

python=""
for candidate in python3 python3.13 python3.12 python3.11; do
    candidate=$(command -v "$candidate") || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        python=$(realpath "$candidate")
        break
    fi
done
[[ -n $python ]] || die "the deploy needs a Python >= 3.11 on PATH (python3): install one, e.g. python3.11"
requirements=$deploy_dir/requirements.txt
key=$({ "$python" -V; cat "$requirements"; } | sha256sum | cut -c1-12)
tools=${XDG_CACHE_HOME:-$HOME/.cache}/{{ cookiecutter.project_slug }}-deploy/$key
if [[ $(id -u) == 0 ]]; then
    while IFS= read -r -d '' file; do
        root_may_run "$file"
    done < <(find "$deploy_dir/install.sh" "$deploy_dir/deploy.py" "$requirements" "$deploy_dir/engine" -print0)
    root_may_run "$python"
fi
if [[ ! -f $tools/.complete ]]; then
    printf 'install.sh: the deploy tools (pyinfra) into %s\n' "$tools"
    rm -rf "$tools"
    "$python" -m venv "$tools"
    "$tools/bin/python" -m pip install --quiet --disable-pip-version-check --requirement "$requirements"
    touch "$tools/.complete"
fi
[[ $(id -u) != 0 ]] || root_may_run "$tools/bin/python"
exec "$tools/bin/python" -E -s "$deploy_dir/deploy.py" "$@"
