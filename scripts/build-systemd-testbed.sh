#!/usr/bin/env bash
# Build the testbed that tests/nspawn.py boots with systemd-nspawn: a Debian root filesystem with real systemd,
# cached as a zstd tarball, plus a wheelhouse the container installs Python packages from (it has no network).
#
#   scripts/build-systemd-testbed.sh                   build whatever is missing (as root); prints timings
#   scripts/build-systemd-testbed.sh --wheels ARG...   also `pip wheel ARG...` into the wheelhouse, e.g. a rendered
#                                                      project directory or `-r requirements.txt`
#   scripts/build-systemd-testbed.sh --print-tarball   print the tarball path for the current package list and exit
#
# Idempotent: the tarball's name carries a hash of the package list, so an unchanged list is never rebuilt and a
# changed one is. Output goes to build/testbed/ (or $TESTBED_DIR). The Debian mirror is the one apt already uses
# (or $DEBIAN_MIRROR).
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TESTBED_DIR="${TESTBED_DIR:-$REPO_DIR/build/testbed}"
WHEELHOUSE="$TESTBED_DIR/wheels"

SUITE=bookworm
VARIANT=minbase
# Bump when the post-processing below changes what ends up in the tarball.
RECIPE_REVISION=2
PACKAGES=(
    # Real systemd as PID 1, and the bus systemctl talks to.
    systemd systemd-sysv dbus
    # The system Python deploy/install.sh builds the virtualenv with.
    python3 python3-venv python3-pip
    # deploy/install.sh installs these on Debian: uWSGI compiles from source (gcc, make, Python.h).
    python3-dev build-essential
    # The proxies the generated sites are for (mod_proxy_uwsgi ships in apache2-bin).
    nginx apache2
    # The end-to-end tests' other stacks: supervisord instead of systemd, PostgreSQL instead of SQLite.
    supervisor postgresql
    # task_queue=celery: the local broker deploy/install.sh installs on Debian.
    redis-server
    # Tests talk to the stack from inside; /bin/kill for ExecReload=; sudo as on a real server.
    curl procps ca-certificates sudo
    # install.sh --user starts the app at boot: the account's supervisord from an @reboot crontab line, or its own
    # systemd manager (lingering), which needs pam_systemd as on any installed Debian.
    cron libpam-systemd
    # A firewall a stack enables before install.sh runs (deploy/steps/firewall.sh must open the proxy's ports),
    # and iproute2 for the veth pair a test client reaches it through (ufw never filters loopback).
    ufw iproute2
)
# Host tools: debootstrap builds the tree, systemd-nspawn boots it, zstd packs it.
HOST_PACKAGES=(debootstrap systemd-container zstd)
# What the container's pip needs to build and install a project offline: pip itself (install.sh upgrades it) and
# the build backends (the generated project uses hatchling; editables for `pip install --editable`).
DEFAULT_WHEELS=(pip setuptools wheel hatchling editables)

package_hash() {
    printf '%s\n' "$SUITE" "$VARIANT" "$RECIPE_REVISION" "${PACKAGES[@]}" | sha256sum | cut -c1-12
}

TARBALL="$TESTBED_DIR/debian-$SUITE-$(package_hash).tar.zst"

say() { printf 'build-systemd-testbed: %s\n' "$*"; }
die() { printf 'build-systemd-testbed: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.1f s", end - start }'; }

# The first http(s) URI apt uses for the suite's main archive, from one-line (.list) or deb822 (.sources) files.
apt_mirror() {
    local file
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $file ]] || continue
        awk -v suite="$SUITE" '
            $1 == "deb" {
                i = 2
                if ($2 ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
                if ($(i + 1) == suite) print $i
            }' "$file"
    done
    for file in /etc/apt/sources.list.d/*.sources; do
        [[ -f $file ]] || continue
        # Paragraph mode: one record per stanza.
        awk -v suite="$SUITE" '
            BEGIN { RS = "" }
            {
                delete field
                n = split($0, lines, "\n")
                for (j = 1; j <= n; j++) {
                    if (lines[j] ~ /^#/ || index(lines[j], ":") == 0) continue
                    key = tolower(substr(lines[j], 1, index(lines[j], ":") - 1))
                    field[key] = " " substr(lines[j], index(lines[j], ":") + 1) " "
                }
                if (field["enabled"] ~ / no /) next
                if (field["types"] !~ / deb / || field["suites"] !~ (" " suite " ")) next
                split(field["uris"], uris, " ")
                print uris[1]
            }' "$file"
    done
}

ensure_host_packages() {
    local missing=() package
    for package in "${HOST_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        return
    fi
    local start
    start=$(now)
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
    say "host packages: $(elapsed "$start")"
}

build_rootfs() {
    local mirror work start
    mirror=${DEBIAN_MIRROR:-$(apt_mirror | grep -E '^https?://' | head -n 1 || true)}
    [[ -n $mirror ]] || die "no http(s) Debian mirror for $SUITE in apt's sources: set DEBIAN_MIRROR"
    install -d "$TESTBED_DIR"
    # Same file system as the tarball, so the final rename is atomic; removed whatever happens.
    work=$(mktemp -d "$TESTBED_DIR/work.XXXXXX")
    # The tree goes to RAM when there is room: dpkg syncs every file it unpacks, which is slow on a busy disk.
    local rootfs="$work/rootfs"
    if [[ -d /dev/shm ]] && (($(df -k --output=avail /dev/shm | tail -n 1) > 4 * 1024 * 1024)); then
        rootfs=$(mktemp -d /dev/shm/testbed-rootfs.XXXXXX)
    fi
    # shellcheck disable=SC2064 # expand the paths now
    trap "rm -rf '$work' '$rootfs'" EXIT

    say "debootstrap $SUITE from $mirror"
    start=$(now)
    local include
    include=$(IFS=,; printf '%s' "${PACKAGES[*]}")
    debootstrap --variant="$VARIANT" --include="$include" "$SUITE" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
        { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
    say "debootstrap: $(elapsed "$start"), $(du -sh "$rootfs" | cut -f1)"

    # Downloaded .debs and package lists are dead weight in a container without network.
    rm -f "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin
    find "$rootfs/var/lib/apt/lists" -maxdepth 1 -type f ! -name lock -delete
    # No machine ID (D-Bus keeps a copy) and no hostname, both copied from the build host: each container gets its
    # own ID, and its machine name as hostname.
    : >"$rootfs/etc/machine-id"
    rm -f "$rootfs/var/lib/dbus/machine-id" "$rootfs/etc/hostname"
    # The host's resolver settings mean nothing behind --private-network; "localhost" must resolve without DNS, as
    # the installer's /etc/hosts makes it on a real server.
    : >"$rootfs/etc/resolv.conf"
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$rootfs/etc/hosts"
    # Installed, both proxies would start on port 80 at boot and the loser would fail it ("degraded"). A test
    # starts the one its stack uses, as `apt-get install` of that one would on a fresh server.
    systemctl --root="$rootfs" disable --quiet nginx.service apache2.service
    # Likewise supervisord and PostgreSQL: deploy/install.sh enables and starts them when its stack uses them.
    systemctl --root="$rootfs" disable --quiet supervisor.service postgresql.service redis-server.service
    # `apt-get install postgresql` on a running server creates the "main" cluster; inside debootstrap it does not.
    local pg_version
    pg_version=$(ls "$rootfs/usr/lib/postgresql")
    # The tree's top is the rootfs' "/": a 0700 mktemp directory would lock every non-root user out of it.
    chmod 755 "$rootfs"
    chroot "$rootfs" pg_createcluster "$pg_version" main >"$work/pg_createcluster.log" 2>&1 ||
        { cat "$work/pg_createcluster.log" >&2; die "pg_createcluster failed"; }
    say "stripped: $(du -sh "$rootfs" | cut -f1)"

    start=$(now)
    tar --numeric-owner -C "$rootfs" -cf - . | zstd -q -T0 -3 -o "$work/rootfs.tar.zst"
    mv "$work/rootfs.tar.zst" "$TARBALL"
    say "tarball: $(elapsed "$start"), $(du -h "$TARBALL" | cut -f1): $TARBALL"
    rm -rf "$work" "$rootfs"
    trap - EXIT
    # Other package lists' tarballs are kept: branches with different lists share TESTBED_DIR, and deleting theirs
    # would make them rebuild (and delete this one). Remove old ones by hand.
}

# Wheels for the container's Python: /usr/bin/python3 is Debian's 3.11, the same as the container's, so compiled
# wheels (uWSGI) built here run there.
build_wheels() {
    local start
    start=$(now)
    install -d "$WHEELHOUSE"
    /usr/bin/python3 -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$WHEELHOUSE" \
        --find-links "$WHEELHOUSE" "$@"
    say "wheels: $(elapsed "$start"), $(find "$WHEELHOUSE" -name '*.whl' | wc -l) in $WHEELHOUSE"
}

main() {
    local extra_wheels=()
    case ${1:-} in
        --print-tarball) printf '%s\n' "$TARBALL"; exit 0 ;;
        --wheels) shift; extra_wheels=("$@") ;;
        "") ;;
        -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    [[ $(id -u) -eq 0 ]] || die "run as root: debootstrap and systemd-nspawn need it"
    local start
    start=$(now)
    ensure_host_packages
    if [[ -f $TARBALL ]]; then
        say "up to date: $TARBALL"
    else
        build_rootfs
    fi
    local missing_default=0 wheel
    for wheel in "${DEFAULT_WHEELS[@]}"; do
        compgen -G "$WHEELHOUSE/${wheel}-*.whl" >/dev/null || missing_default=1
    done
    if [[ $missing_default == 1 || ${#extra_wheels[@]} -gt 0 ]]; then
        build_wheels "${DEFAULT_WHEELS[@]}" "${extra_wheels[@]}"
    fi
    say "total: $(elapsed "$start")"
}

main "$@"
