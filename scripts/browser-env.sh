#!/usr/bin/env bash
# Makes what the web UI's browser test (crates/ember-cli/tests/browser) needs on a fresh Debian
# machine, and prints the Chromium it found:
#   - Chromium from Debian's packages, installed with apt-get when missing (as root, or through
#     sudo when that works without a password);
#   - Playwright for Python, pinned in the test's requirements.txt, in its own virtual
#     environment (target/browser-venv unless $EMBER_BROWSER_VENV says otherwise).
# Playwright is pointed at that Chromium (its executable_path), so no browser is downloaded:
# only the package registries are reachable from the machines this runs on.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${EMBER_BROWSER_VENV:-$PWD/target/browser-venv}

if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt=(apt-get)
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        apt=(sudo apt-get)
    else
        echo "browser-env.sh: chromium is missing and installing it needs root (or sudo without a password):" >&2
        echo "    apt-get install chromium fonts-dejavu-core" >&2
        exit 1
    fi
    echo "browser-env.sh: installing chromium from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    "${apt[@]}" update -qq
    # A font, so that the page's text (and the README's screenshot) is drawn at all.
    "${apt[@]}" install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r crates/ember-cli/tests/browser/requirements.txt
command -v chromium
