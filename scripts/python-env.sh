#!/usr/bin/env bash
# Makes the Python virtual environment of the tests and benchmarks (target/python-venv unless
# $EMBER_VENV says otherwise) and puts ember's package into it.
#
#   scripts/python-env.sh [PROFILE]     build ember with maturin in PROFILE (default dev) and
#                                       install it; the benchmarks use `wheel`, the profile
#                                       `pip install ./crates/ember-py` uses
#   scripts/python-env.sh --venv-only   only the environment and the test requirements
#   scripts/python-env.sh --from-cargo  use the extension module the workspace's own
#                                       `cargo test --profile dev` built (scripts/test.sh)
#
# Why --from-cargo: maturin builds `-p ember-py` alone, so cargo resolves the features of its
# dependencies without the other workspace members and the dev-dependencies, and compiles
# DataFusion (and everything below it whose features differ) a second time. The test suite
# instead loads the `_native` library that `cargo test --workspace` compiled anyway: the
# package's Python sources are put on the path (a .pth file) and the library is copied next to
# them as `ember/_native.abi3.so` (ignored by git). `PYO3_PYTHON` should name this venv's Python
# when cargo builds it (scripts/test.sh does so), so that the library is built for it.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
mode=${1:-dev}
venv=${EMBER_VENV:-$repo/target/python-venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r crates/ember-py/requirements-dev.txt
package=$repo/crates/ember-py/python
case "$mode" in
--venv-only)
    ;;
--from-cargo)
    library=$repo/target/debug/deps/lib_native.so
    if [ ! -f "$library" ]; then
        echo "python-env.sh: $library is missing: run cargo test --workspace --profile dev first" >&2
        exit 1
    fi
    # A package installed by maturin earlier would shadow the sources on the path.
    "$venv/bin/python" -m pip uninstall --quiet --yes ember >/dev/null 2>&1 || true
    cp "$library" "$package/ember/_native.abi3.so"
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "$package" >"$site/ember-from-cargo.pth"
    "$venv/bin/python" -c 'import ember._native' ;;
*)
    # maturin installs the package itself: drop a source path left by --from-cargo.
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    rm -f "$site/ember-from-cargo.pth" "$package/ember/_native.abi3.so"
    cd crates/ember-py
    VIRTUAL_ENV=$venv "$venv/bin/maturin" develop --quiet --profile "$mode" ;;
esac
