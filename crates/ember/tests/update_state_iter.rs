//! `update_state_by_key`'s iterator form on a manual clock: one call per partition and batch,
//! the returned pairs as the new state (keys left out removed, new keys kept), Spark's
//! `rememberPartitioner` accepted, initial state, recovery, and a returned key that would have to
//! move to another worker failing the batch; and partitioner values where Spark takes them.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{reported_error, s};
use ember::hash::partition_of;
use ember::state::{State, StateSpec};
use ember::testing::StreamTest;
use ember::{Duration, Partitioner};

fn words(batches: &[&[&str]]) -> Vec<Vec<(String, u64)>> {
    batches
        .iter()
        .map(|b| b.iter().map(|w| (s(w), 1u64)).collect())
        .collect()
}

/// Spark's test function: `(values, state) -> Some(state + sum)`, applied row by row.
fn running_counts(
    rows: ember::dstream::StateRows<String, u64, u64>,
) -> impl Iterator<Item = (String, u64)> {
    rows.map(|(k, new, old)| (k, old.unwrap_or(0) + new.iter().sum::<u64>()))
}

fn checkpointed(master: &str) -> (StreamTest, tempfile::TempDir) {
    let t = StreamTest::new(master, Duration::seconds(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    t.context().checkpoint(dir.path()).unwrap();
    (t, dir)
}

#[test]
fn the_iterator_form_equals_the_per_key_form_with_one_call_per_partition_and_batch() {
    let (t, _dir) = checkpointed("local[2]");
    let batches: &[&[&str]] = &[&["a", "b", "a"], &[], &["c", "b"], &["d"]];
    let input = t.input(words(batches));
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let by_partition = input.update_state_by_key_iter(
        move |rows| {
            counted.fetch_add(1, Ordering::SeqCst);
            running_counts(rows)
        },
        Partitioner::hash(3),
        true,
    );
    let per_key = input.update_state_by_key(
        |vs: &[u64], st: Option<u64>| Some(vs.iter().sum::<u64>() + st.unwrap_or(0)),
        3,
    );
    let parts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = parts.clone();
    by_partition
        .foreach_rdd(move |rdd, _| sink.lock().unwrap().push(rdd.into_partitions()))
        .unwrap();
    let iter_out = t.collect(&by_partition).unwrap();
    let key_out = t.collect(&per_key).unwrap();
    t.run(4).unwrap();

    assert_eq!(iter_out.sorted_batches(), key_out.sorted_batches());
    assert_eq!(
        iter_out.sorted_batches()[3],
        vec![(s("a"), 2), (s("b"), 2), (s("c"), 1), (s("d"), 1)]
    );
    // Every partition, empty or not, in every batch: 3 partitions x 4 batches.
    assert_eq!(calls.load(Ordering::SeqCst), 12);
    // Each key is in its hash partition among the partitioner's 3.
    for batch in parts.lock().unwrap().iter() {
        assert_eq!(batch.len(), 3);
        for (p, part) in batch.iter().enumerate() {
            assert!(part.iter().all(|(k, _)| partition_of(k, 3) == p));
        }
    }
}

#[test]
fn what_the_function_returns_is_the_state_left_out_keys_go_and_new_keys_stay() {
    // One worker: every key the function invents is one of its own partitions'.
    let (t, _dir) = checkpointed("local[1]");
    let input = t.input(words(&[&["a", "b"], &["a"], &[]]));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let totals = input.update_state_by_key_iter(
        move |rows| {
            let rows: Vec<(String, Vec<u64>, Option<u64>)> = rows.collect();
            log.lock().unwrap().push(rows.clone());
            // Keys without new values are dropped; a key "total" counts every value so far.
            let mut total = 0;
            let mut out = Vec::new();
            for (k, new, old) in rows {
                if k == "total" {
                    total += old.unwrap_or(0);
                } else if !new.is_empty() {
                    total += new.len() as u64;
                    out.push((k, old.unwrap_or(0) + new.len() as u64));
                }
            }
            out.push((s("total"), total));
            out
        },
        1,
        false,
    );
    let out = t.collect(&totals).unwrap();
    t.run(3).unwrap();
    assert_eq!(
        out.sorted_batches(),
        vec![
            vec![(s("a"), 1), (s("b"), 1), (s("total"), 2)],
            vec![(s("a"), 2), (s("total"), 3)],
            vec![(s("total"), 3)],
        ]
    );
    // The invented key came back with its state, in its own partition's call.
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 3, "one partition, three batches");
    assert!(calls[0].iter().all(|(_, _, old)| old.is_none()));
    assert!(
        calls[2]
            .iter()
            .any(|(k, new, old)| k == "total" && new.is_empty() && *old == Some(3))
    );
    // "b" was left out in the second batch: the third does not see it.
    assert!(calls[2].iter().all(|(k, _, _)| k != "b"));
}

#[test]
fn the_initial_state_goes_through_the_first_batch_and_recovery_continues() {
    let dir = tempfile::tempdir().unwrap();
    let build = |t: &StreamTest, batches: Vec<Vec<(String, u64)>>| {
        let sc = t.context().context();
        let initial = sc.parallelize(vec![(s("z"), 100u64)], 1);
        let totals = t.input(batches).update_state_by_key_iter_with_initial(
            running_counts,
            None,
            true,
            initial,
        );
        totals.checkpoint(Duration::seconds(1)).unwrap();
        t.collect(&totals).unwrap()
    };
    {
        let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
        t.context().checkpoint(dir.path()).unwrap();
        let out = build(&t, words(&[&["a"], &["a", "b"]]));
        t.run(2).unwrap();
        assert_eq!(
            out.sorted_batches(),
            vec![
                vec![(s("a"), 1), (s("z"), 100)],
                vec![(s("a"), 2), (s("b"), 1), (s("z"), 100)],
            ]
        );
    }
    // Restored on one worker: the state goes on, the initial state is not added again.
    let t = StreamTest::new("local[1]", Duration::seconds(1)).unwrap();
    let out = build(&t, words(&[&["b"]]));
    assert_eq!(
        t.restore(dir.path()).unwrap().map(|t| t.as_millis()),
        Some(2000)
    );
    t.run(1).unwrap();
    assert_eq!(
        out.sorted_batches(),
        vec![vec![(s("a"), 2), (s("b"), 2), (s("z"), 100)]]
    );
}

#[test]
fn a_key_returned_for_another_workers_partition_fails_the_batch() {
    let (t, _dir) = checkpointed("local[2]");
    // Two partitions on two workers: "x" belongs to one of them; the other worker's call
    // returns it too.
    let input = t.input(words(&[&["a"], &["b"]]));
    let totals = input.update_state_by_key_iter(
        |rows| {
            let mut out: Vec<(String, u64)> = running_counts(rows).collect();
            out.push((s("x"), 0));
            out
        },
        2,
        false,
    );
    let out = t.collect(&totals).unwrap();
    t.run(2).unwrap();
    let e = reported_error(&t).to_string();
    assert!(
        e.contains("the function returned a key (stable hash") && e.contains("cannot move it"),
        "{e}"
    );
    assert!(out.batches().is_empty(), "both batches failed");
}

#[test]
fn a_panic_keeps_the_partitions_previous_state() {
    let (t, _dir) = checkpointed("local[1]");
    let input = t.input(words(&[&["a"], &["boom"], &["a"]]));
    let totals = input.update_state_by_key_iter(
        |rows| {
            let rows: Vec<_> = rows.collect();
            assert!(rows.iter().all(|(k, _, _)| k != "boom"), "boom");
            running_counts(rows.into_iter()).collect::<Vec<_>>()
        },
        1,
        true,
    );
    let out = t.collect(&totals).unwrap();
    t.run(3).unwrap();
    assert!(reported_error(&t).to_string().contains("boom"));
    // Batch 2 failed; "a" kept its state, and "boom" (in the failed call) got none.
    assert_eq!(
        out.sorted_batches(),
        vec![vec![(s("a"), 1)], vec![(s("a"), 2)]]
    );
}

#[test]
fn partitioner_values_are_taken_where_spark_takes_them() {
    let (t, _dir) = checkpointed("local[2]");
    let p = Partitioner::hash(3);
    let input = t.input(words(&[&["a", "b", "c", "a"]]));
    let spec = StateSpec::function(|k: &String, v: Option<u64>, st: &mut State<u64>| {
        st.update(v.unwrap_or(0));
        k.clone()
    })
    .partitioner(p);
    let counts = [
        input.reduce_by_key(|a, b| a + b, p).glom(),
        input.group_by_key(p).map_values(|v| v.len() as u64).glom(),
        input
            .combine_by_key(|v| v, |a, b| a + b, |a, b| a + b, p)
            .glom(),
        input.join(&input, p).map_values(|(a, _)| a).glom(),
        input
            .update_state_by_key(|v: &[u64], st| Some(v.len() as u64 + st.unwrap_or(0)), p)
            .glom(),
        input
            .reduce_by_key_and_window(|a, b| a + b, Duration::seconds(1), Duration::seconds(1), p)
            .glom(),
        input.map_with_state(spec).map(|k| (k, 0)).glom(),
    ];
    let outs: Vec<_> = counts
        .iter()
        .map(|c| t.collect(&c.map(|part| part.len())).unwrap())
        .collect();
    t.run(1).unwrap();
    for out in outs {
        assert_eq!(out.batches()[0].len(), 3, "three partitions");
    }
}
