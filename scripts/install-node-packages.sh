#!/bin/sh
# Install the npm packages the template's tests use, exactly as tests/e2e/node/package-lock.json pins them (npm ci:
# the lock's versions and integrity hashes, nothing newer): axe-core, the accessibility rules tests/e2e/browser.py
# runs in Debian's headless Chromium. No browser is downloaded; axe-core is one JavaScript file. npm comes from
# scripts/install-system-packages.sh. No root needed; idempotent (npm ci again only when the lock changed).
set -eu
cd "$(dirname "$0")/../tests/e2e/node"

if ! command -v npm >/dev/null 2>&1; then
    echo "install-node-packages: npm not found: run scripts/install-system-packages.sh as root" >&2
    exit 1
fi
# Every package of the lock installed at its locked version: nothing to do.
# shellcheck disable=SC2016 # JavaScript, not shell: its ${...} is a template literal
locked='const lock = require("./package-lock.json");
const stale = Object.entries(lock.packages).filter(([path, pkg]) => {
    if (!path) return false;
    try { return require(`./${path}/package.json`).version !== pkg.version; } catch { return true; }
});
process.exit(stale.length ? 1 : 0);'
if node -e "$locked" 2>/dev/null; then
    echo "install-node-packages: up to date"
    exit 0
fi
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
echo "install-node-packages: installed $(node -p 'require("axe-core/package.json").version' 2>/dev/null || echo axe-core)"
