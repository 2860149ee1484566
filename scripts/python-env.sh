#!/usr/bin/env bash
# Makes the Python virtual environment of the tests and benchmarks (target/python-venv unless
# $EMBER_VENV says otherwise) and installs ember's package into it, built by cargo in PROFILE.
#
#   scripts/python-env.sh [PROFILE]
#
# The tests use `dev` (fast to build; `test` cannot be used: cargo builds a test harness in that
# profile, not the extension). The benchmarks use `wheel`, the profile `pip install
# ./crates/ember-py` uses.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
profile=${1:-dev}
venv=${EMBER_VENV:-$repo/target/python-venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r crates/ember-py/requirements-dev.txt
cd crates/ember-py
VIRTUAL_ENV=$venv "$venv/bin/maturin" develop --quiet --profile "$profile"
