# shellcheck shell=bash
# Helpers for deploy/install.sh and its steps. Every command that changes the system goes through `system`, every
# other command through `run`, so the install modes are handled here, once:
#   as root       run it
#   --root DIR    dry run: lay the files out under DIR, print "would run: ..." instead of running commands
#   --user        no root: run what the account may, print "install.sh: as root: ..." for an administrator
# and, crossing them, whether the app gets its own proxy site or joins one someone else runs (--join).

ROOT=""
USER_MODE=0
JOIN=0
OS_FAMILY=""
declare -A PHASES=()
declare -A OS_VALUES=()
DEBIAN_PACKAGES=()
RHEL_PACKAGES=()
# Programs the supervisor runs beside the web app, from the same release (task_queue steps add them; none: empty).
# shellcheck disable=SC2034 # read by the supervisor's step
WORKERS=()
# Services the app needs that the supervisor runs before it and leaves running across deploys (a task queue's broker
# of the app's own).
# shellcheck disable=SC2034 # read by the supervisor's step
BACKING_SERVICES=()

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }
dry_run() { [[ -n $ROOT ]]; }
user_mode() { [[ $USER_MODE == 1 ]]; }
# --join: the proxy site is someone else's; only the app's lines go into it (join_site in steps/proxy.sh).
joining() { [[ $JOIN == 1 ]]; }

# A command the account running this script may run; with --root only shown.
run() {
    if dry_run; then
        printf 'would run: %s\n' "$*"
    else
        printf '+ %s\n' "$*"
        "$@"
    fi
}

# A command that needs root: run (or shown, with --root); with --user, printed for an administrator.
system() {
    if user_mode; then
        printf 'install.sh: as root: %s\n' "$*"
    else
        run "$@"
    fi
}

{% if cookiecutter.supervisor == 'supervisord' or (cookiecutter.database != 'none' and cookiecutter.supervisor == 'none') %}
# The account's crontab: its own with --user, APP_NAME's as root.
account_crontab() {
    if user_mode; then
        run crontab "$@"
    else
        system crontab -u "$SERVICE_USER" "$@"
    fi
}

# Puts LINE into the account's crontab once; lines holding MARK (LINE as an earlier install wrote it) go. WHAT names
# the line when it is there already. The new text goes in as a here-string, not through a pipe: with --root, run only
# prints and reads nothing, and the writer of a pipe would die of SIGPIPE (pipefail makes that the script's status).
install_crontab_line() {
    local mark=$1 line=$2 what=$3 current=""
    if ! dry_run && user_mode; then
        current=$(crontab -l 2>/dev/null) || current=""
    elif ! dry_run; then
        current=$(crontab -u "$SERVICE_USER" -l 2>/dev/null) || current=""
    fi
    if grep -qxF -- "$line" <<<"$current"; then
        say "crontab: $what ($line)"
        return
    fi
    account_crontab - <<<"$([[ -z $current ]] || grep -vF -- "$mark" <<<"$current" || true; printf '%s\n' "$line")"
    say "crontab: added $line"
}

{% endif %}
# ---------------------------------------------------------------- the steps each option value adds
# `on PHASE FUNCTION`: run FUNCTION when install.sh reaches PHASE (in the order the steps were loaded).
on() {
    local phase=$1
    shift
    PHASES[$phase]+="$* "
}

run_phase() {
    local step
    for step in ${PHASES[$1]-}; do
        "$step"
    done
}

has_phase() { [[ -n ${PHASES[$1]-} ]]; }

# `os_value FAMILY NAME VALUE`: where FAMILY (debian, rhel) keeps something; NAME is set once the family is known.
os_value() { OS_VALUES[$1:$2]=$3; }

need_packages() {
    local family=$1
    shift
    case $family in
        debian) DEBIAN_PACKAGES+=("$@") ;;
        rhel) RHEL_PACKAGES+=("$@") ;;
        *) die "need_packages: unknown family $family" ;;
    esac
}

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
    [[ $OS_FAMILY == debian || $OS_FAMILY == rhel ]] || die "--os must be debian or rhel, not '$OS_FAMILY'"
    local key
    for key in "${!OS_VALUES[@]}"; do
        if [[ $key == "$OS_FAMILY":* ]]; then
            printf -v "${key#*:}" '%s' "${OS_VALUES[$key]}"
        fi
    done
    say "$OS_FAMILY family${ROOT:+, files under $ROOT}"
}

install_packages() {
    if [[ $OS_FAMILY == debian ]]; then
        system apt-get update -q
        system env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${DEBIAN_PACKAGES[@]}"
    else
        system dnf install -y "${RHEL_PACKAGES[@]}"
    fi
}

# ---------------------------------------------------------------- files
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

# Install generated text (standard input) as a file; succeed only when it changed.
install_text() {
    local target=$1 mode=$2 text status=0
    text=$(mktemp)
    cat >"$text"
    install_file "$text" "$target" "$mode" || status=$?
    rm -f "$text"
    return "$status"
}

make_directory() {
    local path=$1 mode=$2 owner=$3
    install -d -m "$mode" "$ROOT$path"
    if ! dry_run && ! user_mode; then
        chown "$owner:$owner" "$path"
    fi
    say "directory $path (mode $mode, owner $owner)"
}

# ---------------------------------------------------------------- the layout
# --user: the same layout as root's (steps/project.sh), so every file in deploy/ is installed as generated. The
# account runs the app; an administrator makes its directories once, owned by the account, in group SERVICE_GROUP
# (account_directories in base.sh).
use_account() {
    [[ -z $ROOT ]] || die "--user and --root do not go together"
    [[ $(id -u) -ne 0 ]] || die "--user installs for an ordinary account: as root, leave it out"
    # shellcheck disable=SC2034 # read by the steps
    SERVICE_USER=$(id -un)
    USER_MODE=1
}

# RUN_DIR, made at every boot by systemd-tmpfiles (/run is emptied at boot): the account the server runs as owns it,
# and its group is SERVICE_GROUP, which sockets made in it inherit (setgid), so the proxy's user reaches them as a
# member of that group.
run_directory_line() {
    printf 'd %s 2750 %s %s -\n' "$RUN_DIR" "$SERVICE_USER" "$SERVICE_GROUP"
}

run_directory_at_boot() {
    run_directory_line | install_text "/etc/tmpfiles.d/$APP_NAME.conf" 0644 || true
    system systemd-tmpfiles --create "/etc/tmpfiles.d/$APP_NAME.conf"
}

# ---------------------------------------------------------------- graceful reloads
# Reload the server gracefully by running COMMAND, then wait until its master MASTER_PID has replaced every worker it had,
# 60 s at most: the deploy is not over before the new code serves.
#   reload_and_settle MASTER_PID COMMAND...
reload_and_settle() {
    local master=$1 before still="" attempt
    shift
    if dry_run || [[ ! $master =~ ^[1-9][0-9]*$ ]]; then
        "$@"
        return
    fi
    before=$(pgrep -P "$master" | sort || true)
    "$@"
    for attempt in $(seq 300); do
        still=$(comm -12 <(printf '%s\n' "$before") <(pgrep -P "$master" | sort) | sed '/^$/d')
        [[ -z $still ]] && break
        sleep 0.2
    done
    [[ -z $still ]] || die "reload: workers $(echo "$still" | tr '\n' ' ')still run the old code after 60 s (attempt $attempt)"
    say "reloaded: every worker runs the new code"
}
