# shellcheck shell=bash
# Helpers for deploy/install.sh and its steps. Every command that changes the system goes through `system`, every
# other command through `run`, so the install modes are handled here, once:
#   as root       run it
#   --root DIR    dry run: lay the files out under DIR, print "would run: ..." instead of running commands
#   --user        no root: run what the account may, print "install.sh: as root: ..." for an administrator

ROOT=""
USER_MODE=0
OS_FAMILY=""
declare -A PHASES=()
declare -A OS_VALUES=()
DEBIAN_PACKAGES=()
RHEL_PACKAGES=()

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }
dry_run() { [[ -n $ROOT ]]; }
user_mode() { [[ $USER_MODE == 1 ]]; }

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
# --user: the layout of steps/project.sh moved under PREFIX, owned by the account running this. The only place the
# layout changes; relocate() applies the same move to the generated files --user installs.
use_user_layout() {
    [[ -z $ROOT ]] || die "--user and --root do not go together"
    [[ $(id -u) -ne 0 ]] || die "--user installs for an ordinary account: as root, leave it out"
    PREFIX=${PREFIX:-$HOME/$APP_NAME}
    # The paths are written into configuration files: keep them plain.
    [[ $PREFIX =~ ^/[A-Za-z0-9._/-]+$ ]] || die "--prefix: use letters, digits and ._-/ only, not '$PREFIX'"
    SYSTEM_LAYOUT=("$APP_DIR" "$STATE_DIR" "$RUN_DIR" "$LOG_DIR")
    APP_DIR=$PREFIX/app
    STATE_DIR=$PREFIX/data
    RUN_DIR=$PREFIX/run
    LOG_DIR=$PREFIX/log
    CONF_DIR=$PREFIX/etc
    USER_LAYOUT=("$APP_DIR" "$STATE_DIR" "$RUN_DIR" "$LOG_DIR")
    # shellcheck disable=SC2034 # read by the steps
    SERVICE_USER=$(id -un)
    SERVICE_GROUP=$(id -gn)
    USER_MODE=1
}

# A generated file (argument) with the system layout's directories replaced by the --user layout's.
relocate() {
    local index expressions=()
    for index in "${!SYSTEM_LAYOUT[@]}"; do
        expressions+=(-e "s#${SYSTEM_LAYOUT[index]//./\\.}\\([/\" ]\\|\$\\)#${USER_LAYOUT[index]}\\1#g")
    done
    sed "${expressions[@]}" "$1"
}

# The generated file a step installs: as generated, or relocated for --user.
generated_file() {
    if user_mode; then
        relocate "$1"
    else
        cat "$1"
    fi
}

# ---------------------------------------------------------------- the proxy (steps/proxy-*.sh use these)
# The proxy's user joins the service group where it must: for the unix socket, and for everything under a --user
# prefix (mode 0750). With --user, every directory above the prefix must also let it pass.
let_proxy_in() {
    if user_mode || [[ $PROXY_JOINS_GROUP == yes ]]; then
        if dry_run || user_mode || ! id -nG "$PROXY_USER" | grep -qw -- "$SERVICE_GROUP"; then
            system usermod --append --groups "$SERVICE_GROUP" "$PROXY_USER"
        else
            say "$PROXY_USER is in group $SERVICE_GROUP"
        fi
    fi
    if user_mode; then
        local directory=$PREFIX mode group
        while directory=$(dirname "$directory") && [[ $directory != / ]]; do
            mode=$(stat -c %A "$directory")
            group=$(stat -c %G "$directory")
            if ! [[ ${mode:9:1} == [xt] || (${mode:6:1} == [xs] && $group == "$SERVICE_GROUP") ]]; then
                system chmod o+x "$directory"
            fi
        done
    fi
}

# SELinux (RHEL): the proxy (httpd_t) may read the static files and the maintenance page, and connect to the app.
configure_selinux() {
    if dry_run || user_mode || ! command -v selinuxenabled >/dev/null || ! selinuxenabled; then
        return 0
    fi
    selinux_label httpd_sys_content_t "$(static_dir)(/.*)?"
    selinux_label httpd_sys_content_t "$APP_DIR/deploy/maintenance\.html"
    if [[ $PROXY_JOINS_GROUP == yes ]]; then
        selinux_label httpd_var_run_t "$RUN_DIR(/.*)?"
    else
        system setsebool -P httpd_can_network_connect 1
    fi
    system restorecon -R "$APP_DIR" "$RUN_DIR"
    say "SELinux: if the proxy still logs 'Permission denied': ausearch -m avc -ts recent | audit2allow -M $APP_NAME"
}

selinux_label() {
    semanage fcontext -a -t "$1" "$2" 2>/dev/null || system semanage fcontext -m -t "$1" "$2"
}

# Put a generated site file where the proxy reads it, test the proxy's whole configuration, and only then reload.
# As root a failed test puts the previous file back, so a bad site never takes the proxy down; with --user the
# administrator copies the file (root never loads a file the account can change) and runs the same commands.
#   publish_site SOURCE TARGET ENABLED_LINK TEST_COMMAND SERVICE
publish_site() {
    local source=$1 target=$2 enabled_link=$3 test_command=$4 service=$5 backup
    if user_mode; then
        local copy
        copy=$CONF_DIR/$(basename "$source")
        relocate "$source" | install_text "$copy" 0644 || true
        say "the proxy is the administrator's: to serve the app they run, once, as root:"
        system install -D -m 0644 "$copy" "$target"
        if [[ -n $enabled_link ]]; then
            system ln -sfn "../sites-available/$(basename "$target")" "$enabled_link"
        fi
        system "$test_command"
        system systemctl reload-or-restart "$service"
        return
    fi
    backup=$(mktemp)
    [[ -f $ROOT$target ]] && cp -p "$ROOT$target" "$backup"
    if install_file "$source" "$target" 0644; then
        if [[ -n $enabled_link ]]; then
            # Debian's proxies read the sites-enabled link.
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
    if dry_run; then
        printf 'would run: %s\n' "$test_command"
    fi
    system systemctl enable "$service"
    system systemctl reload-or-restart "$service"
}

# RUN_DIR made at every boot (tmpfiles.d), for a supervisor that does not make it itself.
run_directory_at_boot() {
    printf 'd %s 0750 %s %s -\n' "$RUN_DIR" "$APP_NAME" "$APP_NAME" | install_text "/etc/tmpfiles.d/$APP_NAME.conf" 0644 || true
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
