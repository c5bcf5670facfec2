#!/bin/sh
# Install the Debian packages whose real tools the template's tests run (nginx -t, apache2 -t, systemd-analyze,
# supervisord's parser, shellcheck, a scratch PostgreSQL, ...). Idempotent: packages already present are skipped.
# Run as root (CI does). The Python tools (gunicorn, uwsgi, supervisor) come from the template's dev dependencies;
# uwsgi builds from source, hence the compiler and headers here. The SELinux tools and Debian's reference policy
# (its store, and the files to build modules against) check the generated policy modules; SELinux itself stays off.
# chromium (headless) opens two end-to-end stacks' pages through their proxy (tests/e2e/browser.py); fonts-liberation,
# only recommended by it, so that its screenshots show text. npm installs axe-core, the accessibility rules those
# pages are audited with (scripts/install-node-packages.sh); a Node.js from elsewhere that brings its own npm is kept.
# wrk loads the served stacks in `make bench` (bench/).
set -eu

PACKAGES="
apache2
build-essential
checkpolicy
chromium
fonts-liberation
nginx
openssl
policycoreutils
policycoreutils-python-utils
postgresql
python3-dev
redis-server
selinux-policy-default
selinux-policy-dev
semodule-utils
setools
shellcheck
supervisor
systemd
wrk
"

missing=""
for package in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $package"
    fi
done
if ! command -v npm >/dev/null 2>&1; then
    missing="$missing npm"
fi

if [ -z "$missing" ]; then
    echo "install-system-packages: all present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-system-packages: missing:$missing; run this script as root" >&2
    exit 1
fi

echo "install-system-packages: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086 # one word per package
apt-get install -y -q --no-install-recommends $missing
