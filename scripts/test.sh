#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this script): formatting, lints, API docs,
# then every test (unit, integration, doc) of every crate with every feature, SQL included, then
# the Python package's tests (PySpark conformance, the seed notebook in a real Jupyter kernel, the
# examples, the benchmark peer program) in a virtual environment this script makes itself.
#
# Build cost: the lint and doc steps share one `check` build of the dependencies (DataFusion
# included, metadata only, no code generation); the test step builds them once more, with code,
# in the dev profile, where DataFusion is unoptimized (see Cargo.toml and BENCHMARKS.md). Nothing
# is built in release. The Rust tests run in the `dev` profile rather than cargo's `test` profile
# so that the Python extension, which must be built in `dev` (in `test`, cargo would build a
# test harness instead of the extension), reuses the same compiled DataFusion.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (warnings denied)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps --locked

step "cargo test"
cargo test --workspace --all-features --locked --profile dev

step "Python package (scripts/python-env.sh: venv, ember built in the dev profile)"
scripts/python-env.sh dev

step "pytest"
target/python-venv/bin/python -m pytest -q crates/ember-py/tests
