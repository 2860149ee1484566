#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this script): formatting, lints, API docs,
# then every test (unit, integration, doc) of every crate with every feature, SQL included, then
# the Python package's tests (PySpark conformance, the seed notebook in a real Jupyter kernel, the
# examples, the benchmark peer program) in a virtual environment this script makes itself, and
# last the web UI in a real headless browser (Debian's Chromium and Playwright, installed by
# scripts/browser-env.sh) on the `ember` binary the test step built.
#
# Build cost: the lint and doc steps share one `check` build of the dependencies (DataFusion
# included, metadata only, no code generation); the test step builds them once more, with code,
# in the dev profile, where DataFusion is unoptimized (see Cargo.toml and BENCHMARKS.md). Nothing
# is built in release, and DataFusion is compiled once: the Python suites load the extension
# module that the test step built (scripts/python-env.sh --from-cargo), since a separate maturin
# build resolves dependency features differently and would compile DataFusion again.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "Python environment (scripts/python-env.sh: venv and test requirements)"
scripts/python-env.sh --venv-only
# pyo3 builds the extension module for this interpreter, in every cargo step alike.
export PYO3_PYTHON=$PWD/target/python-venv/bin/python

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (warnings denied)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps --locked

step "cargo test"
cargo test --workspace --all-features --locked --profile dev

step "Python package (the extension module cargo test built)"
scripts/python-env.sh --from-cargo

step "pytest"
target/python-venv/bin/python -m pytest -q crates/ember-py/tests

step "web UI in a headless browser (scripts/browser-env.sh: Chromium and Playwright)"
scripts/browser-env.sh >/dev/null
EMBER_BIN=$PWD/target/debug/ember target/browser-venv/bin/python -m pytest -q crates/ember-cli/tests/browser
