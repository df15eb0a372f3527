#!/bin/sh
# Installs the JS loader's dependencies: npm when it is missing, then the
# versions pinned in package-lock.json (npm ci) into ./node_modules.
# Idempotent; installing npm needs root.
set -eu
cd "$(dirname "$0")"

NPM=npm
if ! command -v npm >/dev/null 2>&1; then
    if [ -f /usr/lib/node_modules/npm/bin/npm-cli.js ]; then
        # NodeSource's nodejs package bundles npm (and conflicts with
        # Debian's npm package); use the bundled one
        NPM="node /usr/lib/node_modules/npm/bin/npm-cli.js"
    elif [ "$(id -u)" -eq 0 ]; then
        # Debian's nodejs: npm is a separate package
        apt-get install -y npm || { apt-get update && apt-get install -y npm; }
    else
        echo "install.sh: npm is missing; run as root to apt-get install it" >&2
        exit 1
    fi
fi
$NPM ci --no-audit --no-fund
