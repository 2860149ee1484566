//! Stateful operations on a manual clock: update_state_by_key, map_with_state, checkpoints and
//! recovery from them.

use ember::state::{KeyBatch, KeyOutcome, State, StateSpec};
use ember::testing::{Collected, StreamTest};
use ember::{Duration, Error};

fn s(x: &str) -> String {
    x.to_owned()
}

fn words(batches: &[&[&str]]) -> Vec<Vec<(String, u64)>> {
    batches
        .iter()
        .map(|b| b.iter().map(|w| (s(w), 1u64)).collect())
        .collect()
}

fn running_count(values: &[u64], state: Option<u64>) -> Option<u64> {
    Some(values.iter().sum::<u64>() + state.unwrap_or(0))
}

/// Running counts of `batches` on `t`, checkpointed every batch, collected.
fn checkpointed_totals(t: &StreamTest, batches: &[&[&str]]) -> Collected<(String, u64)> {
    let totals = t
        .input(words(batches))
        .update_state_by_key(running_count, None);
    totals.checkpoint(Duration::seconds(1)).unwrap();
    t.collect(&totals).unwrap()
}

#[test]
fn update_state_by_key_keeps_every_key_and_removes_on_none() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    t.context().checkpoint(dir.path()).unwrap();
    let pairs = t.input(words(&[&["a", "b", "a"], &[], &["b", "c"], &["drop"]]));
    // "drop" removes itself in the batch after it appeared (called with no values then).
    let totals = pairs.update_state_by_key_with(
        |_time, key: &String, vs: &[u64], st: Option<u64>| {
            if key == "drop" && st.is_some() {
                assert!(vs.is_empty());
                return None;
            }
            running_count(vs, st)
        },
        None,
        None,
    );
    let out = t.collect(&totals).unwrap();
    t.run(5).unwrap();
    assert_eq!(
        out.sorted_batches(),
        vec![
            vec![(s("a"), 2), (s("b"), 1)],
            vec![(s("a"), 2), (s("b"), 1)],
            vec![(s("a"), 2), (s("b"), 2), (s("c"), 1)],
            vec![(s("a"), 2), (s("b"), 2), (s("c"), 1), (s("drop"), 1)],
            vec![(s("a"), 2), (s("b"), 2), (s("c"), 1)],
        ]
    );
}

#[test]
fn stateful_stream_without_checkpoint_directory_fails_at_start() {
    let t = StreamTest::new("local[1]", Duration::seconds(1)).unwrap();
    let pairs = t.input(words(&[&["a"]]));
    let totals = pairs.update_state_by_key(running_count, None);
    t.collect(&totals).unwrap();
    let e = t.run(1).unwrap_err();
    assert!(matches!(e, Error::Requirement(_)));
    assert_eq!(
        e.to_string(),
        "requirement failed: The checkpoint directory has not been set. Please set it by StreamingContext.checkpoint()."
    );
}

#[test]
fn any_checkpointed_stream_needs_a_checkpoint_directory_at_start() {
    // As Spark's DStream.validateAtStart: a checkpoint interval on a stateless stream that an
    // output uses requires the directory too; on a stream no output uses, it does not.
    {
        let t = StreamTest::new("local[1]", Duration::seconds(1)).unwrap();
        let numbers = t.input(vec![vec![1], vec![2]]);
        let unused = numbers.map(|x| x + 1);
        unused.checkpoint(Duration::seconds(1)).unwrap();
        let doubled = numbers.map(|x| x * 2);
        t.collect(&doubled).unwrap();
        t.run(1).unwrap();
    }
    // (One StreamTest at a time: each holds the process's turn until dropped.)
    let t = StreamTest::new("local[1]", Duration::seconds(1)).unwrap();
    let doubled = t.input(vec![vec![1]]).map(|x| x * 2);
    doubled.checkpoint(Duration::seconds(1)).unwrap();
    t.collect(&doubled).unwrap();
    let e = t.run(1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "requirement failed: The checkpoint directory has not been set. Please set it by StreamingContext.checkpoint()."
    );
}

#[test]
fn map_with_state_sees_only_keys_with_data() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    t.context().checkpoint(dir.path()).unwrap();
    let pairs = t.input(words(&[&["a", "b", "a"], &[], &["b"]]));
    let spec = StateSpec::function(|k: &String, v: Option<u64>, st: &mut State<u64>| {
        let n = st.get_option().copied().unwrap_or(0) + v.unwrap_or(0);
        st.update(n);
        (k.clone(), n)
    });
    let mapped = pairs.map_with_state(spec);
    let snaps = mapped.state_snapshots();
    let out = t.collect(&mapped).unwrap();
    let snap_out = t.collect(&snaps).unwrap();
    t.run(3).unwrap();
    assert_eq!(
        out.sorted_batches(),
        vec![
            vec![(s("a"), 1), (s("a"), 2), (s("b"), 1)],
            vec![],
            vec![(s("b"), 2)]
        ]
    );
    assert_eq!(
        snap_out.sorted_batches(),
        vec![
            vec![(s("a"), 2), (s("b"), 1)],
            vec![(s("a"), 2), (s("b"), 1)],
            vec![(s("a"), 2), (s("b"), 2)],
        ]
    );
}

#[test]
fn recovery_continues_the_running_counts_with_another_worker_count() {
    let dir = tempfile::tempdir().unwrap();
    {
        let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
        t.context().checkpoint(dir.path()).unwrap();
        let out = checkpointed_totals(&t, &[&["a", "b"], &["a", "c", "c"]]);
        t.run(2).unwrap();
        t.stop().unwrap();
        assert_eq!(
            out.sorted_batches()[1],
            vec![(s("a"), 2), (s("b"), 1), (s("c"), 2)]
        );
    }
    let t = StreamTest::new("local[1]", Duration::seconds(1)).unwrap();
    let out = checkpointed_totals(&t, &[&["b", "d"]]);
    assert_eq!(
        t.restore(dir.path()).unwrap().map(|t| t.as_millis()),
        Some(2000)
    );
    t.run(1).unwrap();
    let batches = out.batches_with_time();
    assert_eq!(batches[0].0.as_millis(), 3000);
    let mut first = batches[0].1.clone();
    first.sort();
    assert_eq!(
        first,
        vec![(s("a"), 2), (s("b"), 2), (s("c"), 2), (s("d"), 1)]
    );
}

/// Runs two batches of running counts with a checkpoint at each, in `dir`.
fn checkpointed_run(dir: &std::path::Path) {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    t.context().checkpoint(dir).unwrap();
    checkpointed_totals(&t, &[&["a"], &["b"]]);
    t.run(2).unwrap();
}

#[test]
fn a_different_graph_is_refused_with_the_difference_named() {
    let dir = tempfile::tempdir().unwrap();
    checkpointed_run(dir.path());
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    // A filter where the checkpoint has none.
    let totals = t
        .input(words(&[&["a"]]))
        .filter(|_| true)
        .update_state_by_key(running_count, None);
    t.collect(&totals).unwrap();
    let e = t.restore(dir.path()).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "Failed to read checkpoint from directory {}",
            dir.path().display()
        )),
        "{e}"
    );
    assert!(
        e.contains("stream graph differs") && e.contains("filter"),
        "{e}"
    );
}

#[test]
fn changed_closures_with_the_same_shape_restore() {
    let dir = tempfile::tempdir().unwrap();
    checkpointed_run(dir.path());
    let t = StreamTest::new("local[1]", Duration::seconds(1)).unwrap();
    // Same operations, new code: counts now add 10 per new value.
    let totals = t.input(words(&[&["a"]])).update_state_by_key(
        |vs: &[u64], s: Option<u64>| Some(s.unwrap_or(0) + 10 * vs.len() as u64),
        None,
    );
    totals.checkpoint(Duration::seconds(1)).unwrap();
    let out = t.collect(&totals).unwrap();
    t.restore(dir.path()).unwrap();
    t.run(1).unwrap();
    assert_eq!(out.sorted_batches(), vec![vec![(s("a"), 11), (s("b"), 1)]]);
}

#[test]
fn a_damaged_state_file_is_an_error_unless_create_on_error() {
    let dir = tempfile::tempdir().unwrap();
    checkpointed_run(dir.path());
    // Damage every state file.
    let state = dir.path().join("state");
    let mut damaged = 0;
    for node in std::fs::read_dir(&state).unwrap().flatten() {
        for set in std::fs::read_dir(node.path()).unwrap().flatten() {
            for f in std::fs::read_dir(set.path()).unwrap().flatten() {
                let mut bytes = std::fs::read(f.path()).unwrap();
                // The checksum's last byte (a write of no changes has no payload to damage).
                let at = bytes.len() - 1;
                bytes[at] ^= 0xff;
                std::fs::write(f.path(), bytes).unwrap();
                damaged += 1;
            }
        }
    }
    assert!(damaged > 0);
    {
        let t = StreamTest::new("local[1]", Duration::seconds(1)).unwrap();
        checkpointed_totals(&t, &[&["c"]]);
        let e = t.restore(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("is corrupt") && e.contains("checksum mismatch"),
            "{e}"
        );
    }
    // Asked to, the program starts from scratch instead.
    // The turn first: a test that starts meanwhile may replace the process's context.
    let _turn = ember::testing::exclusive();
    let ctx = ember::Context::get_or_create(ember::Conf::new().set_master("local[1]")).unwrap();
    let ssc = ember::StreamingContext::get_or_create_with(
        dir.path(),
        || ember::StreamingContext::new(&ctx, Duration::seconds(1)),
        true,
    )
    .unwrap();
    assert_eq!(
        ssc.checkpoint_dir().as_deref(),
        Some(dir.path().canonicalize().unwrap().as_path())
    );
}

#[test]
fn an_unreadable_commit_is_an_error_naming_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("checkpoint-1000"), b"not a checkpoint").unwrap();
    // The turn first: a test that starts meanwhile may replace the process's context.
    let _turn = ember::testing::exclusive();
    let ctx = ember::Context::get_or_create(ember::Conf::new().set_master("local[1]")).unwrap();
    let mut created = false;
    let e = ember::StreamingContext::get_or_create(dir.path(), || {
        created = true;
        ember::StreamingContext::new(&ctx, Duration::seconds(1))
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("Failed to read checkpoint from directory"),
        "{e}"
    );
    assert!(
        e.contains("checkpoint-1000") && e.contains("bad header"),
        "{e}"
    );
    let _ = created;
}

#[test]
fn map_with_state_times_out_idle_keys_in_the_first_batch_after_the_timeout() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    t.context().checkpoint(dir.path()).unwrap();
    // "a" at batch 1, "b" at batches 1 and 3; timeout 2 s: "a" (last data at 1 s) times out at
    // the first batch whose time minus 2 s is after 1 s, i.e. batch 4; "b" (3 s) at batch 6.
    let pairs = t.input(words(&[&["a", "b"], &[], &["b"]]));
    let spec =
        StateSpec::function_with_time(|_t, k: &String, v: Option<u64>, st: &mut State<u64>| {
            if st.is_timing_out() {
                return Some(format!("{k} timed out with {}", st.get()));
            }
            let n = st.get_option().copied().unwrap_or(0) + v.unwrap_or(0);
            st.update(n);
            None
        })
        .timeout(Duration::seconds(2));
    let out = t.collect(&pairs.map_with_state(spec)).unwrap();
    t.run(7).unwrap();
    assert_eq!(
        out.batches(),
        vec![
            vec![],
            vec![],
            vec![],
            vec!["a timed out with 1".to_string()],
            vec![],
            vec!["b timed out with 2".to_string()],
            vec![],
        ]
    );
}

#[test]
fn a_panic_in_the_update_function_fails_the_batch_and_keeps_the_state() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    t.context().checkpoint(dir.path()).unwrap();
    let pairs = t.input(words(&[&["a", "b"], &["boom", "a"], &["a"]]));
    let totals = pairs.update_state_by_key_with(
        |_t, k: &String, vs: &[u64], s: Option<u64>| {
            assert!(k != "boom" || s.is_some(), "boom");
            running_count(vs, s)
        },
        None,
        None,
    );
    let out = t.collect(&totals).unwrap();
    t.run(3).unwrap();
    let e = t
        .context()
        .await_termination_or_timeout(std::time::Duration::ZERO)
        .unwrap_err();
    assert!(e.to_string().contains("boom"), "{e}");
    // Batch 2 failed (no output); the other keys' state went on.
    let batches = out.sorted_batches();
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[1], vec![(s("a"), 3), (s("b"), 1)]);
}

#[test]
fn map_with_state_restores_from_one_worker_into_two_with_idle_times() {
    let dir = tempfile::tempdir().unwrap();
    let spec = || {
        StateSpec::function(|k: &String, v: Option<u64>, st: &mut State<u64>| {
            if st.is_timing_out() {
                return format!("{k} timed out at {}", st.get());
            }
            let n = st.get_option().copied().unwrap_or(0) + v.unwrap_or(0);
            st.update(n);
            format!("{k}={n}")
        })
        .timeout(Duration::seconds(3))
    };
    {
        let t = StreamTest::new("local[1]", Duration::seconds(1)).unwrap();
        t.context().checkpoint(dir.path()).unwrap();
        let mapped = t
            .input(words(&[&["a", "b"], &["b"]]))
            .map_with_state(spec());
        mapped.checkpoint(Duration::seconds(1)).unwrap();
        t.collect(&mapped).unwrap();
        t.run(2).unwrap();
    }
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let mapped = t.input(words(&[&["b"]])).map_with_state(spec());
    mapped.checkpoint(Duration::seconds(1)).unwrap();
    let out = t.collect(&mapped).unwrap();
    assert_eq!(
        t.restore(dir.path()).unwrap().map(|t| t.as_millis()),
        Some(2000)
    );
    t.run(4).unwrap();
    // Batch 3: "b" goes on from 2. "a" (last data at 1 s) times out at 5 s (1 < 5 - 3), "b"
    // (3 s) at 7 s, after this run.
    assert_eq!(
        out.batches(),
        vec![
            vec!["b=3".to_string()],
            vec![],
            vec!["a timed out at 1".to_string()],
            vec![]
        ]
    );
}

#[test]
fn a_stateful_stream_no_output_uses_neither_blocks_commits_nor_needs_a_directory() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let pairs = t.input(words(&[&["a"], &["b"]]));
    // Never used by an output: not built, as in Spark (no checkpoint directory needed for it).
    let _unused = pairs.update_state_by_key(running_count, None);
    t.collect(&pairs.window(Duration::seconds(2), Duration::seconds(1)))
        .unwrap();
    t.run(1).unwrap();
    drop(t);

    let dir = tempfile::tempdir().unwrap();
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    t.context().checkpoint(dir.path()).unwrap();
    let pairs = t.input(words(&[&["a"], &["b"]]));
    let _unused = pairs.window(Duration::seconds(3), Duration::seconds(1));
    let totals = pairs.update_state_by_key(running_count, None);
    totals.checkpoint(Duration::seconds(1)).unwrap();
    t.collect(&totals).unwrap();
    t.run(2).unwrap();
    assert!(dir.path().join("checkpoint-2000").is_file());
}

#[test]
fn a_crash_before_the_first_checkpoint_restarts_from_the_starting_point_with_initial_state() {
    let dir = tempfile::tempdir().unwrap();
    let build = |t: &StreamTest, batches| {
        let initial = t
            .context()
            .context()
            .parallelize(vec![(s("hello"), 1u64)], 1);
        let totals =
            t.input(batches)
                .update_state_by_key_with_initial(running_count, None, initial);
        t.collect(&totals).unwrap()
    };
    {
        // Default interval (10 s): two batches run, none is a checkpoint time.
        let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
        t.context().checkpoint(dir.path()).unwrap();
        build(&t, words(&[&["a"], &["b"]]));
        t.run(2).unwrap();
    }
    let t = StreamTest::new("local[1]", Duration::seconds(1)).unwrap();
    let out = build(&t, words(&[&["a"], &["b"]]));
    assert_eq!(
        t.restore(dir.path()).unwrap().map(|t| t.as_millis()),
        Some(0)
    );
    assert_eq!(t.context().restored_from().map(|t| t.as_millis()), Some(0));
    t.run(2).unwrap();
    // The restarted run redoes both batches, starting from the initial state again.
    assert_eq!(
        out.sorted_batches(),
        vec![
            vec![(s("a"), 1), (s("hello"), 1)],
            vec![(s("a"), 1), (s("b"), 1), (s("hello"), 1)]
        ]
    );
}

#[test]
fn restoring_with_the_same_workers_reads_each_workers_own_share() {
    let dir = tempfile::tempdir().unwrap();
    let build = |t: &StreamTest, batches| {
        let spec = StateSpec::function(|k: &String, v: Option<u64>, st: &mut State<u64>| {
            let n = st.get_option().copied().unwrap_or(0) + v.unwrap_or(0);
            st.update(n);
            (k.clone(), n)
        });
        let mapped = t.input(batches).map_with_state(spec);
        mapped.checkpoint(Duration::seconds(1)).unwrap();
        (t.collect(&mapped.state_snapshots()).unwrap(), mapped)
    };
    let many: Vec<&str> = vec!["a", "b", "c", "d", "e", "f", "g", "h"];
    {
        let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
        t.context().checkpoint(dir.path()).unwrap();
        let _ = build(&t, words(&[&many, &["a", "h"]]));
        t.run(2).unwrap();
    }
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let (snaps, _) = build(&t, words(&[&["b"]]));
    t.restore(dir.path()).unwrap();
    t.run(1).unwrap();
    let expected: Vec<(String, u64)> = many
        .iter()
        .map(|w| (s(w), if ["a", "h", "b"].contains(w) { 2 } else { 1 }))
        .collect();
    assert_eq!(snaps.sorted_batches(), vec![expected]);
}

/// The graph of `state_type_that_changed...`: running "words seen" per key, of state type `S`.
fn words_seen<S: ember::Data>(
    ssc: &ember::StreamingContext,
    update: fn(&[u64], Option<S>) -> Option<S>,
) {
    let sc = ssc.context();
    let queue = ember::RddQueue::new();
    queue.push(sc.parallelize(vec![(s("a"), 1u64), (s("a"), 1)], 1));
    let seen = ssc
        .queue_stream(queue, true, Some(sc.parallelize(Vec::new(), 1)))
        .update_state_by_key(update, None);
    seen.checkpoint(Duration::seconds(1)).unwrap();
    seen.foreach_rdd(|_, _| {}).unwrap();
}

#[test]
fn a_state_type_that_changed_is_an_error_of_get_or_create() {
    // Written with a `String` state ("xx" after the first batch) ...
    fn as_text(vs: &[u64], st: Option<String>) -> Option<String> {
        Some(st.unwrap_or_default() + &"x".repeat(vs.len()))
    }
    // ... and read back by a program whose state is a count.
    fn as_count(vs: &[u64], st: Option<u64>) -> Option<u64> {
        running_count(vs, st)
    }
    let dir = tempfile::tempdir().unwrap();
    {
        let t = StreamTest::new("local[1]", Duration::seconds(1)).unwrap();
        t.context().checkpoint(dir.path()).unwrap();
        words_seen(t.context(), as_text);
        t.run(2).unwrap();
    }
    // The turn first: a test that starts meanwhile may replace the process's context.
    let _turn = ember::testing::exclusive();
    let ctx = ember::Context::get_or_create(ember::Conf::new().set_master("local[1]")).unwrap();
    let restore = |program: &dyn Fn(&ember::StreamingContext)| {
        ember::StreamingContext::get_or_create(dir.path(), || {
            let ssc = ember::StreamingContext::new(&ctx, Duration::seconds(1))?;
            program(&ssc);
            Ok(ssc)
        })
    };

    // Refused before anything runs, with the stream's file named: no worker panics.
    match restore(&|ssc| words_seen(ssc, as_count)) {
        Err(Error::Checkpoint { dir: at, reason }) => {
            assert_eq!(at, dir.path().canonicalize().unwrap());
            assert!(
                reason.contains("the state of stream")
                    && reason.contains("w0-of-1")
                    && reason.contains("does not fit this program"),
                "{reason}"
            );
        }
        other => panic!("expected a checkpoint error, got {other:?}"),
    }
    // The checkpoint is untouched: the program of the right type restores from it.
    let ssc = restore(&|ssc| words_seen(ssc, as_text)).unwrap();
    assert_eq!(ssc.restored_from().map(|t| t.as_millis()), Some(2000));
}

/// A batch function with the meaning of a per-record running count that emits `key=count` for
/// every record and `key timed out with n` for a key timing out.
fn batch_running_count(keys: &[KeyBatch<String, u64, u64>]) -> Vec<KeyOutcome<u64, String>> {
    keys.iter()
        .map(|k| {
            if k.timing_out {
                let n = k.state.unwrap_or_default();
                return KeyOutcome {
                    state: None,
                    emitted: vec![format!("{} timed out with {n}", k.key)],
                };
            }
            let mut n = k.state.unwrap_or(0);
            let emitted = k
                .values
                .iter()
                .map(|v| {
                    n += v;
                    format!("{}={n}", k.key)
                })
                .collect();
            KeyOutcome {
                state: Some(n),
                emitted,
            }
        })
        .collect()
}

#[test]
fn map_with_state_in_batch_form_counts_and_times_out_as_the_record_form() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    t.context().checkpoint(dir.path()).unwrap();
    let input = words(&[&["a", "b", "a"], &[], &["b"]]);
    let batch = StateSpec::function_batch(|_t, keys: &[KeyBatch<String, u64, u64>]| {
        batch_running_count(keys)
    })
    .timeout(Duration::seconds(2));
    let record =
        StateSpec::function_with_time(|_t, k: &String, v: Option<u64>, st: &mut State<u64>| {
            if st.is_timing_out() {
                return Some(format!("{k} timed out with {}", st.get()));
            }
            let n = st.get_option().copied().unwrap_or(0) + v.unwrap_or(0);
            st.update(n);
            Some(format!("{k}={n}"))
        })
        .timeout(Duration::seconds(2));
    let by_batch = t.input(input.clone()).map_with_state(batch);
    let by_record = t.input(input).map_with_state(record);
    let snapshots = t.collect(&by_batch.state_snapshots()).unwrap();
    let out = t.collect(&by_batch).unwrap();
    let expected = t.collect(&by_record).unwrap();
    t.run(7).unwrap();
    let s = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        out.sorted_batches(),
        vec![
            s(&["a=1", "a=2", "b=1"]),
            s(&[]),
            s(&["b=2"]),
            s(&["a timed out with 2"]),
            s(&[]),
            s(&["b timed out with 2"]),
            s(&[]),
        ]
    );
    assert_eq!(out.sorted_batches(), expected.sorted_batches());
    // A timed-out key leaves the state.
    let st = |pairs: &[(&str, u64)]| -> Vec<(String, u64)> {
        pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    };
    let snapshots: Vec<Vec<(String, u64)>> = snapshots.sorted_batches();
    assert_eq!(snapshots[2], st(&[("a", 2), ("b", 2)]));
    assert_eq!(snapshots[3], st(&[("b", 2)]));
    assert_eq!(snapshots[5], st(&[]));
}

#[test]
fn a_failing_batch_function_fails_the_batch_and_the_keys_keep_their_state() {
    // One worker, so that one call holds every key of a batch (with two, the keys of the other
    // worker's call go on, as other keys do when a per-record call panics).
    let t = StreamTest::new("local[1]", Duration::seconds(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    t.context().checkpoint(dir.path()).unwrap();
    let pairs = t.input(words(&[&["a", "b"], &["boom", "a"], &["a"], &["short"]]));
    let spec = StateSpec::function_batch(|_t, keys: &[KeyBatch<String, u64, u64>]| {
        assert!(keys.iter().all(|k| k.key != "boom"), "boom");
        let mut outcomes = batch_running_count(keys);
        if keys.iter().any(|k| k.key == "short") {
            outcomes.pop();
        }
        outcomes
    });
    let mapped = pairs.map_with_state(spec);
    let out = t.collect(&mapped).unwrap();
    let state = t.collect(&mapped.state_snapshots()).unwrap();
    t.run(4).unwrap();
    let e = t
        .context()
        .await_termination_or_timeout(std::time::Duration::ZERO)
        .unwrap_err();
    assert!(e.to_string().contains("boom"), "{e}");
    // Batches 2 and 4 failed (no output: a panic, then an answer for fewer keys than given);
    // "a" went on from the state it had before batch 2.
    let batches = out.sorted_batches();
    assert_eq!(batches.len(), 2, "{batches:?}");
    assert_eq!(batches[1], vec!["a=2".to_string()]);
    let state: Vec<Vec<(String, u64)>> = state.sorted_batches();
    assert_eq!(state[1], vec![(s("a"), 2), (s("b"), 1)]);
}

/// The files of stream `node`'s state write of batch `ms` (full or delta).
fn state_files_of(node: &std::path::Path, ms: u64) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for set in std::fs::read_dir(node).unwrap().flatten() {
        if set
            .file_name()
            .to_string_lossy()
            .starts_with(&format!("{ms}-"))
        {
            files.extend(
                std::fs::read_dir(set.path())
                    .unwrap()
                    .flatten()
                    .map(|e| e.path()),
            );
        }
    }
    files.sort();
    files
}

/// Three batches of running counts (`a`, `b`, `a c`) with a checkpoint at each, in `dir`: the
/// commits of batches 2 and 3 are kept. Returns the stateful stream's state directory.
fn three_checkpointed_batches(dir: &std::path::Path) -> std::path::PathBuf {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    t.context().checkpoint(dir).unwrap();
    checkpointed_totals(&t, &[&["a"], &["b"], &["a", "c"]]);
    t.run(3).unwrap();
    t.stop().unwrap();
    let nodes: Vec<_> = std::fs::read_dir(dir.join("state"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    nodes[0].clone()
}

#[test]
fn a_commit_missing_a_state_file_is_skipped_whole_for_the_older_one() {
    let dir = tempfile::tempdir().unwrap();
    let node = three_checkpointed_batches(dir.path());
    // One file of the newest commit's state: a worker's share of batch 3's write.
    let newest = state_files_of(&node, 3000);
    assert!(!newest.is_empty());
    std::fs::remove_file(&newest[0]).unwrap();

    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let out = checkpointed_totals(&t, &[&["b"]]);
    // The older commit, whole: its state and (had there been any) its file lists and log
    // positions, not batch 3's lists beside batch 2's state.
    assert_eq!(
        t.restore(dir.path()).unwrap().map(|t| t.as_millis()),
        Some(2000)
    );
    assert!(dir.path().join("checkpoint-3000.unusable").is_file());
    assert!(!dir.path().join("checkpoint-3000").exists());
    t.run(1).unwrap();
    // Batch 3 again, with this run's input: a and b as of batch 2, then b.
    let batches = out.batches_with_time();
    assert_eq!(batches[0].0.as_millis(), 3000);
    let mut first = batches[0].1.clone();
    first.sort();
    assert_eq!(first, vec![(s("a"), 1), (s("b"), 2)]);
}

#[test]
fn without_a_whole_commit_the_restore_fails_naming_the_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let node = three_checkpointed_batches(dir.path());
    // A share of each kept commit's state.
    let (second, third) = (state_files_of(&node, 2000), state_files_of(&node, 3000));
    std::fs::remove_file(&second[0]).unwrap();
    std::fs::remove_file(&third[0]).unwrap();
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    checkpointed_totals(&t, &[&["b"]]);
    let e = t.restore(dir.path()).unwrap_err().to_string();
    assert!(
        e.starts_with("Failed to read checkpoint from directory"),
        "{e}"
    );
    // Each commit names the files it misses (batch 3's state needs batch 2's changes too).
    for missing in [&second[0], &third[0]] {
        let name = missing.file_name().unwrap().to_string_lossy().into_owned();
        let set = missing
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(e.contains(&format!("{set}/{name}")), "{e}");
    }
    // Nothing was set aside: no commit was usable.
    assert!(dir.path().join("checkpoint-3000").is_file());
    assert!(dir.path().join("checkpoint-2000").is_file());
}

#[test]
fn a_checkpoint_directory_in_use_refuses_to_start_and_is_free_again_after_stop() {
    let dir = tempfile::tempdir().unwrap();
    let stateful_test = || {
        let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
        t.context().checkpoint(dir.path()).unwrap();
        let totals = t
            .input(words(&[&["a"]]))
            .update_state_by_key(running_count, None);
        t.collect(&totals).unwrap();
        t
    };
    // Another program holds the directory: an operating-system lock on its lock file (a lock
    // of another open file conflicts within one process too).
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.path().join(".lock"))
        .unwrap();
    held.try_lock().unwrap();
    {
        let t = stateful_test();
        let e = t.run(1).unwrap_err();
        assert!(matches!(e, Error::CheckpointInUse { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("is in use by another running program") && text.contains(".lock"),
            "{text}"
        );
    }
    drop(held);
    // Free once the other program is gone, and again after a run that stopped.
    for _ in 0..2 {
        let t = stateful_test();
        t.run(1).unwrap();
        t.stop().unwrap();
    }
}

/// One call of an update function: key, new values, previous state.
type Call = (String, Vec<u64>, Option<u64>);

/// The calls of an update function over `batches`, per batch: `(key, values, previous state)`,
/// sorted, with the input reduced by key first (`reduced`: the state's input is then already
/// partitioned by key) or not.
fn update_calls(batches: &[&[&str]], reduced: bool) -> Vec<Vec<Call>> {
    type Calls = std::sync::Mutex<Vec<(u64, String, Vec<u64>, Option<u64>)>>;
    let calls: std::sync::Arc<Calls> = Default::default();
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    t.context().checkpoint(dir.path()).unwrap();
    let mut pairs = t.input(words(batches));
    if reduced {
        pairs = pairs.reduce_by_key(|a, b| a + b, None);
    }
    let log = calls.clone();
    let totals = pairs.update_state_by_key_with(
        move |time, k: &String, vs: &[u64], st: Option<u64>| {
            log.lock()
                .unwrap()
                .push((time.as_millis(), k.clone(), vs.to_vec(), st));
            Some(st.unwrap_or(0) + vs.iter().sum::<u64>())
        },
        None,
        None,
    );
    t.collect(&totals).unwrap();
    t.run(batches.len()).unwrap();
    let mut per_batch = vec![Vec::new(); batches.len()];
    for (ms, k, vs, st) in calls.lock().unwrap().drain(..) {
        per_batch[(ms / 1000 - 1) as usize].push((k, vs, st));
    }
    for b in &mut per_batch {
        b.sort();
    }
    per_batch
}

#[test]
fn keys_without_new_values_see_the_function_every_batch_with_no_values() {
    let batches: &[&[&str]] = &[&["a", "b", "a"], &[], &["b", "c"], &[]];
    let call = |k: &str, vs: &[u64], st: Option<u64>| (s(k), vs.to_vec(), st);
    // Reduced first, the values are the batch's count; otherwise each occurrence.
    for reduced in [true, false] {
        let two = if reduced { vec![2] } else { vec![1, 1] };
        assert_eq!(
            update_calls(batches, reduced),
            vec![
                vec![call("a", &two, None), call("b", &[1], None)],
                vec![call("a", &[], Some(2)), call("b", &[], Some(1))],
                vec![
                    call("a", &[], Some(2)),
                    call("b", &[1], Some(1)),
                    call("c", &[1], None)
                ],
                vec![
                    call("a", &[], Some(2)),
                    call("b", &[], Some(2)),
                    call("c", &[], Some(1))
                ],
            ],
            "reduced: {reduced}"
        );
    }
}

#[test]
fn a_state_of_many_keys_restores_into_other_worker_counts() {
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<String> = (0..40_000).map(|i| format!("w{i}")).collect();
    let count = |v: &[u64], st: Option<u64>| Some(st.unwrap_or(0) + v.iter().sum::<u64>());
    {
        let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
        t.context().checkpoint(dir.path()).unwrap();
        // Each key once in each of two batches, the second in another order.
        let first: Vec<(String, u64)> = keys.iter().map(|k| (k.clone(), 1)).collect();
        let second: Vec<(String, u64)> = first.iter().rev().cloned().collect();
        let totals = t
            .input(vec![first, second])
            .reduce_by_key(|a, b| a + b, None)
            .update_state_by_key(count, None);
        totals.checkpoint(Duration::seconds(1)).unwrap();
        t.collect(&totals).unwrap();
        t.run(2).unwrap();
        t.stop().unwrap();
    }
    for workers in [1, 3] {
        let t = StreamTest::new(&format!("local[{workers}]"), Duration::seconds(1)).unwrap();
        let totals = t
            .input(vec![vec![(s("w7"), 1u64), (s("new"), 1)]])
            .reduce_by_key(|a, b| a + b, None)
            .update_state_by_key(count, None);
        let out = t.collect(&totals).unwrap();
        assert_eq!(
            t.restore(dir.path()).unwrap().map(|t| t.as_millis()),
            Some(2000)
        );
        t.run(1).unwrap();
        let state = &out.batches()[0];
        assert_eq!(state.len(), keys.len() + 1, "local[{workers}]");
        let total: u64 = state.iter().map(|(_, v)| v).sum();
        assert_eq!(total, 2 * keys.len() as u64 + 2, "local[{workers}]");
        assert!(state.contains(&(s("w7"), 3)) && state.contains(&(s("new"), 1)));
    }
}
