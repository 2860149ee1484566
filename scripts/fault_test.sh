#!/usr/bin/env bash
# Fault injection: runs every reliability test together (real processes, sockets, directories
# and checkpoints; see the reliability sections of ARCHITECTURE.md) and prints `N passed, N failed`.
#
#   scripts/fault_test.sh            # short form: each kill test kills 3 times (as `cargo test`)
#   scripts/fault_test.sh --long     # long form: the kill tests 30 times each, at random moments
#   EMBER_CRASH_SEED=123 scripts/fault_test.sh --long    # repeat the moments of a run
#
# Built in the dev profile (the one `cargo test` uses), so that it shares the test suite's build.
# Every test bounds its own waits and owns the processes it starts: nothing is left behind.
set -uo pipefail
cd "$(dirname "$0")/.."

long=false
if [[ "${1:-}" == "--long" ]]; then
    long=true
    export EMBER_CRASH_KILLS=${EMBER_CRASH_KILLS:-30}
fi

passed=0
failed=0
failures=()

# run NAME CARGO_ARGS... : one group of tests; adds its test counts to the totals.
run() {
    local name=$1
    shift
    printf '==> %s\n' "$name" >&2
    local out
    out=$(cargo test --profile dev --locked "$@" 2>&1)
    local status=$?
    local p f
    p=$(grep -Eo '[0-9]+ passed' <<<"$out" | awk '{s += $1} END {print s + 0}')
    f=$(grep -Eo '[0-9]+ failed' <<<"$out" | awk '{s += $1} END {print s + 0}')
    if [[ $status -ne 0 && $f -eq 0 ]]; then
        # A build error or a crashed test binary: count the group as one failure.
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [[ $f -ne 0 ]]; then
        failures+=("$name")
        grep -E '^(test .* FAILED|---- |thread .* panicked|error)' <<<"$out" | head -40 >&2
    fi
}

# Checkpoints are used whole or not at all; one program per checkpoint directory.
run "checkpoint: a damaged or incomplete commit falls back whole, or fails naming the file" \
    -p ember --test state -- commit directory_in_use damaged unreadable
run "checkpoint: a directory in use is refused; a SIGKILL leaves no stale lock" \
    -p ember-cli --test cli -- a_checkpoint_directory_in_use
# A graceful stop loses nothing, with or without the write-ahead log.
run "graceful stop under load: exact counts" -p ember --test graceful_stop
run "receiver: a store waiting at a stop keeps its block" \
    -p ember --lib -- block_generator store_many_waits
# Failures show in the exit code; an unreachable source is reported.
run "exit codes: stdout, checkpoints, a vanished directory, an unreachable source" \
    -p ember-cli --test cli -- stdout_that_cannot cannot_be_written goes_away without_a_server closed_stdout
# ember feed gives each client the file exactly once, at its rate.
run "feed: exactly once at any rate" -p ember-cli --test feed
run "feed: a stop never waits on a client that does not read" -p ember-cli --bin ember -- stop_ends
# Directory streams lose nothing they selected, read files as streams, and know files by their
# canonical path.
run "directory streams: unreadable files skipped, big files streamed, spellings and links" \
    -p ember --test file_stream
run "directory streams: skipped files fail the command; restarts and checkpoints inside" \
    -p ember-cli --test cli --test stateful -- cannot_be_read spelling inside
# Line ends as Spark's: \n, \r and \r\n, split anywhere between reads.
run "line ends over sockets" -p ember --test socket_stream
# Settings and arguments are checked: invalid values name the key, absurd ones are refused.
run "settings: the typed registry at start, in the library and the command" \
    -p ember --test settings
run "settings: --conf, --master and --batch checked by the command" -p ember-cli --test settings
# SIGKILL at random moments, restarted on the same checkpoint: exact final counts.
if $long; then
    run "SIGKILL and restart, ${EMBER_CRASH_KILLS} kills each" \
        -p ember-cli --test crash -- --ignored --test-threads 1
else
    run "SIGKILL and restart (short)" -p ember-cli --test crash
fi
# A lost process or a signal stops the whole cluster cleanly.
run "cluster: processes lost, signalled, restarted" -p ember-cli --test cluster

echo "$passed passed, $failed failed"
if [[ $failed -ne 0 ]]; then
    printf 'failed: %s\n' "${failures[@]}" >&2
    exit 1
fi
