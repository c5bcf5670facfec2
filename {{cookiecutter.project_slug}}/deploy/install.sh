#!/usr/bin/env bash
# Install or update {{ cookiecutter.project_name }} on this server: Debian/Ubuntu or RHEL-family, run as root.
#
#   sudo deploy/install.sh              from a checkout of the project, anywhere on the server
#   deploy/install.sh --root DIR        lay the files out under DIR instead and only print the commands that would
#                                       change the running system (packages, users, services, the database)
#   sudo deploy/install.sh --join       the same, but the app joins a proxy site someone else runs for the domain: only
#                                       its own lines are installed, and the one line that site includes is printed
#   deploy/install.sh --user [--prefix DIR] [--join]
#                                       no root: install under DIR (default ~/{{ cookiecutter.project_slug }}) and run the app as
#                                       yourself; print what an administrator must do for the proxy (and the
#                                       database)
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
# The files of this project's answers.
for step in "$STEPS_DIR"/*.sh; do
    case ${step##*/} in
        project.sh | common.sh | base.sh) continue ;;
    esac
    # shellcheck source=/dev/null
    source "$step"
done

INSTALL_PACKAGES=1
PREFIX=""
DATABASE_FOR=""
os_value debian NOLOGIN /usr/sbin/nologin
os_value rhel NOLOGIN /sbin/nologin

usage() {
    cat <<USAGE
usage: $0 [--root DIR] [--os debian|rhel] [--no-packages] [--join]
       $0 --user [--prefix DIR] [--join]
       $0 --database-for ENV_FILE
  --root DIR      install the files under DIR; print, do not run, the commands that change the system
  --os FAMILY     debian or rhel (default: from /etc/os-release)
  --no-packages   do not install distribution packages
  --user          install without root, for the account running this, under --prefix (default ~/$APP_NAME):
                  code in DIR/app, data in DIR/data, socket in DIR/run, logs in DIR/log, configuration in DIR/etc
  --join          add the app to the proxy site (server block, virtual host) someone else runs for the domain,
                  HTTP or HTTPS: install only the app's lines and print the one line that site must include, instead
                  of a site of its own (which the proxy would ignore beside another of the same name)
  --database-for ENV_FILE
                  as root, only create the database role and database for a --user install (password from ENV_FILE)
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
            --database-for) DATABASE_FOR=$(realpath -m "${2:?--database-for needs the .env file}"); shift 2 ;;
            --join) JOIN=1; shift ;;
            --prefix) PREFIX=$(realpath -m "${2:?--prefix needs a directory}"); shift 2 ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; exit 2 ;;
        esac
    done
    if [[ $user == 1 ]]; then
        use_user_layout
    elif [[ -n $PREFIX ]]; then
        die "--prefix goes with --user"
    elif ! dry_run && [[ $(id -u) -ne 0 ]]; then
        die "run as root (sudo $0), with --user to install for your own account, or with --root DIR to lay out the files only"
    fi
    if joining; then
        has_phase proxy || die "--join: this project has no proxy in front (proxy=none), so no proxy site to join"
        [[ -n $URL_PREFIX ]] || die "--join: the app must live under a URL prefix, not / (url_prefix): the root of a site someone else runs stays theirs"
    fi
    run_phase check_mode
}

# --database-for: as root, only the database a --user install asked an administrator for.
prepare_database_for() {
    has_phase database_for || die "--database-for: this project has no database server to prepare"
    [[ -r $DATABASE_FOR ]] || die "--database-for: cannot read $DATABASE_FOR"
    run_phase database_for
}

main() {
    parse_arguments "$@"
    detect_os
    if [[ -n $DATABASE_FOR ]]; then
        prepare_database_for
        return
    fi
    if [[ $INSTALL_PACKAGES == 1 ]]; then
        run_phase packages
        install_packages
    fi
    ensure_user
    copy_code
    ensure_directories
    ensure_env_file
    ensure_virtualenv
    run_phase database
    run_phase prepare_app
    run_phase start
    if has_phase proxy; then
        let_proxy_in
        configure_selinux
        # Joining, the certificate is that of the site joined.
        joining || run_phase tls
        run_phase proxy
    fi
    summary
}

main "$@"
