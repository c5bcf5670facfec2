#!/usr/bin/env bash
# Install or update {{ cookiecutter.project_name }} on this server: Debian/Ubuntu or RHEL-family, run as root.
#
#   sudo deploy/install.sh              from a checkout of the project, anywhere on the server
#   deploy/install.sh --root DIR        lay the files out under DIR instead and only print the commands that would
#                                       change the running system (packages, users, services, the database)
#   deploy/install.sh --user            no root: run the app as yourself, started at boot too; print what an
#                                       administrator must do once: the app's directories, the proxy (and the
#                                       database{{ ", lingering" if cookiecutter.supervisor == "systemd" else "" }})
#   ... --join                          join the proxy site someone else runs for the domain: only the app's lines are
#                                       installed, and the one line that site must include is printed
#   ... --rollback [RELEASE]            back to the release before the live one (or RELEASE), gracefully
#   ... --keep N                        keep the N newest releases (default 5)
#   ... --python PATH                   make the virtualenv with that Python (conda, pyenv, self-built; >= {{ cookiecutter.python_version }})
#
# Safe to run again after every code change: it only changes what differs, then reloads (or restarts) the app.
# The steps are in deploy/steps/: common.sh and base.sh for every project, then one file per answer this project
# was generated with (proxy-*.sh, server-*.sh, supervisor-*.sh, ...; proxy.sh when there is a proxy); each adds its
# work to the phases below.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

SOURCE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STEPS_DIR=$SOURCE_DIR/deploy/steps
# shellcheck source=steps/project.sh
source "$STEPS_DIR/project.sh"
# shellcheck source=steps/common.sh
source "$STEPS_DIR/common.sh"
# shellcheck source=steps/base.sh
source "$STEPS_DIR/base.sh"
# shellcheck source=steps/releases.sh
source "$STEPS_DIR/releases.sh"
# The files of this project's answers.
for step in "$STEPS_DIR"/*.sh; do
    case ${step##*/} in
        project.sh | common.sh | base.sh | releases.sh) continue ;;
    esac
    # shellcheck source=/dev/null
    source "$step"
done

INSTALL_PACKAGES=1
PYTHON=""
os_value debian NOLOGIN /usr/sbin/nologin
os_value rhel NOLOGIN /sbin/nologin

usage() {
    cat <<USAGE
usage: $0 [--root DIR] [--os debian|rhel] [--no-packages] [--python PATH] [--join] [--keep N]
       $0 --user [--python PATH] [--join] [--keep N]{% if cookiecutter.supervisor == 'supervisord' %} [--no-crontab]{% endif %}
  --root DIR      install the files under DIR; print, do not run, the commands that change the system
  --os FAMILY     debian or rhel (default: from /etc/os-release)
  --no-packages   do not install distribution packages
  --user          install without root and run the app as the account running this, in the same directories
                  ($APP_DIR, $STATE_DIR, $RUN_DIR, $LOG_DIR), which an administrator makes for it once
  --join          add the app to the proxy site (server block, virtual host) someone else runs for the domain,
                  HTTP or HTTPS: install only the app's lines and print the one line that site must include, instead
                  of a site of its own (which the proxy would ignore beside another of the same name)
  --rollback [RELEASE]
                  switch back to the release before the live one, or to RELEASE (a name in $RELEASES_DIR),
                  reload gracefully and check $HEALTH_URL (with --user as the account)
  --keep N        keep the N newest releases in $RELEASES_DIR (default $KEEP_RELEASES), remove older ones
  --python PATH   the Python (>= $PYTHON_VERSION) that makes the virtualenv, e.g. a conda, pyenv or self-built one
                  (default: the first of python$PYTHON_VERSION, python3, python3.N on PATH that is new enough)
{% if cookiecutter.supervisor == 'supervisord' %}
  --no-crontab    with --user: leave your crontab alone (the @reboot line that starts your supervisord at boot{% if cookiecutter.database in ['sqlite', 'postgresql'] %},
                  the backup line{% endif %}); print the lines instead
{% endif %}
USAGE
}

parse_arguments() {
    local user=0
    while [[ $# -gt 0 ]]; do
        case $1 in
            --root) ROOT=$(realpath -m "${2:?--root needs a directory}"); shift 2 ;;
            --os) OS_FAMILY=${2:?--os needs debian or rhel}; shift 2 ;;
            --no-packages) INSTALL_PACKAGES=0; shift ;;
            --user) user=1; INSTALL_PACKAGES=0; shift ;;
            --join) JOIN=1; shift ;;
            --python) PYTHON=${2:?--python needs the path of a Python}; shift 2 ;;
            --keep) KEEP_RELEASES=${2:-}; shift $(($# > 1 ? 2 : 1)) ;;
            --rollback)
                ROLLBACK=1
                shift
                if [[ $# -gt 0 && $1 != -* ]]; then
                    ROLLBACK_TO=$1
                    shift
                fi
                ;;
{% if cookiecutter.supervisor == 'supervisord' %}
            --no-crontab)
                # shellcheck disable=SC2034 # read by steps/supervisor-supervisord.sh
                CRONTAB=0
                shift
                ;;
{% endif %}
            -h | --help) usage; exit 0 ;;
            *) usage >&2; exit 2 ;;
        esac
    done
    [[ $KEEP_RELEASES =~ ^[1-9][0-9]*$ ]] || die "--keep: the number of releases to keep, 1 or more, not '$KEEP_RELEASES'"
    if [[ $user == 1 ]]; then
        use_account
    elif ! dry_run && [[ $(id -u) -ne 0 ]]; then
        die "run as root (sudo $0), with --user to install for your own account, or with --root DIR to lay out the files only"
    fi
    if joining; then
        has_phase proxy || die "--join: this project has no proxy in front (proxy=none), so no proxy site to join"
        [[ -n $URL_PREFIX ]] || die "--join: the app must live under a URL prefix, not / (url_prefix): the root of a site someone else runs stays theirs"
    fi
    run_phase check_mode
    choose_python
}

main() {
    parse_arguments "$@"
    detect_os
    if [[ $ROLLBACK == 1 ]]; then
        roll_back
        return
    fi
    if [[ $INSTALL_PACKAGES == 1 ]]; then
        run_phase packages
        install_packages
    fi
    # What the install needs and no package step provides (a compiler for a Python of the account's own): checked
    # before anything is installed.
    run_phase preflight
    ensure_user
    ensure_directories
    # A new release, prepared beside the live one (migrations and static files included), then switched to.
    copy_code
    ensure_env_file
    ensure_virtualenv
    run_phase database
    run_phase prepare_app
    go_live
    run_phase start
    if has_phase proxy; then
        let_proxy_in
        run_phase firewall
        # Joining, the certificate is that of the site joined.
        joining || run_phase tls
        run_phase proxy
    fi
    # Through the real path: on failure, back to the previous release and a non-zero exit.
    health_gate "${RELEASE_DIR##*/}"
    prune_releases
    summary
}

main "$@"
