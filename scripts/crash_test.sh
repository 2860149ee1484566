#!/usr/bin/env bash
# Crash test, long version: `ember wordcount --stateful --checkpoint DIR` killed with SIGKILL at
# random moments (at least 10 times, EMBER_CRASH_KILLS to change) and restarted with the same
# checkpoint while files move into its directory, and again with lines arriving on its socket
# with --wal; the final counts must equal an uninterrupted run's.
#
#   scripts/crash_test.sh                 # release build, a seed from the clock (printed)
#   EMBER_CRASH_SEED=123 scripts/crash_test.sh
#   EMBER_CRASH_KILLS=30 scripts/crash_test.sh --debug
#
# The tests live in crates/ember-cli/tests/crash.rs; `cargo test` runs their short version.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=(--release)
if [[ "${1:-}" == "--debug" ]]; then
    profile=()
    shift
fi
exec cargo test "${profile[@]}" -p ember-cli --test crash -- --ignored --nocapture --test-threads 1 "$@"
