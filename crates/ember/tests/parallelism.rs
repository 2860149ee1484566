//! `spark.default.parallelism` apart from the number of workers, on a manual clock: inputs,
//! shuffles, state and windows keep the configured partition count whatever `local[N]` is
//! (PySpark's own tests run one partition on two threads), every key lands in its hash
//! partition, and a checkpoint written under one partition count restores under another.

mod common;

use std::sync::{Arc, Mutex};

use common::s;
use ember::hash::partition_of;
use ember::testing::StreamTest;
use ember::{Conf, Context, DStream, Data, Duration, Error};

/// A test context on `master` with `spark.default.parallelism` = `partitions` and 1 s batches.
fn with_parallelism(master: &str, partitions: usize) -> StreamTest {
    let conf = Conf::new()
        .set_master(master)
        .set("spark.default.parallelism", &partitions.to_string());
    StreamTest::with_conf(conf, Duration::seconds(1)).unwrap()
}

/// Each batch of `stream` as its RDD's partitions.
type Parts<T> = Arc<Mutex<Vec<Vec<Vec<T>>>>>;

fn collect_partitions<T: Data>(stream: &DStream<T>) -> Parts<T> {
    let parts: Parts<T> = Arc::default();
    let sink = parts.clone();
    stream
        .foreach_rdd(move |rdd, _| sink.lock().unwrap().push(rdd.into_partitions()))
        .unwrap();
    parts
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

/// Every key of every partition is in its hash partition among `n`.
fn assert_hash_placed<V>(batch: &[Vec<(String, V)>], n: usize) {
    assert_eq!(batch.len(), n, "partition count");
    for (p, part) in batch.iter().enumerate() {
        for (k, _) in part {
            assert_eq!(partition_of(k, n), p, "key {k} in partition {p}");
        }
    }
}

#[test]
fn one_partition_on_two_workers_as_pysparks_tests() {
    let t = with_parallelism("local[2]", 1);
    assert_eq!(t.context().context().default_parallelism(), 1);
    let input = t.input(words(&[&["a", "b", "a", "c"], &[], &["b"]]));
    let raw = collect_partitions(&input);
    let counts = input.reduce_by_key(|a, b| a + b, None);
    let reduced = collect_partitions(&counts);
    let grouped = collect_partitions(&input.group_by_key(None));
    t.run(3).unwrap();

    let raw = raw.lock().unwrap().clone();
    assert_eq!(raw.len(), 3);
    assert!(raw.iter().all(|b| b.len() == 1), "{raw:?}");
    assert_eq!(raw[0][0].len(), 4);

    let reduced = reduced.lock().unwrap().clone();
    assert!(reduced.iter().all(|b| b.len() == 1), "{reduced:?}");
    let mut first = reduced[0][0].clone();
    first.sort();
    assert_eq!(first, vec![(s("a"), 2), (s("b"), 1), (s("c"), 1)]);
    assert_eq!(reduced[1], vec![Vec::<(String, u64)>::new()]);
    assert_eq!(reduced[2], vec![vec![(s("b"), 1)]]);

    let grouped = grouped.lock().unwrap().clone();
    assert!(grouped.iter().all(|b| b.len() == 1));
}

#[test]
fn more_partitions_than_workers_place_every_key_by_hash() {
    let t = with_parallelism("local[2]", 3);
    let keys: Vec<&str> = vec!["a", "b", "c", "d", "e", "f", "g", "h"];
    let input = t.input(words(&[&keys, &keys[..3]]));
    let raw = collect_partitions(&input);
    let reduced = collect_partitions(&input.reduce_by_key(|a, b| a + b, None));
    let joined = collect_partitions(&input.join(&input, None));
    t.run(2).unwrap();

    let raw = raw.lock().unwrap().clone();
    assert!(raw.iter().all(|b| b.len() == 3), "{raw:?}");
    let reduced = reduced.lock().unwrap().clone();
    for batch in &reduced {
        assert_hash_placed(batch, 3);
    }
    let total: usize = reduced[0].iter().map(Vec::len).sum();
    assert_eq!(total, keys.len());
    let joined = joined.lock().unwrap().clone();
    assert_hash_placed(&joined[1], 3);
    assert_eq!(joined[1].iter().map(Vec::len).sum::<usize>(), 3);
}

#[test]
fn an_explicit_count_overrides_the_default() {
    let t = with_parallelism("local[2]", 1);
    let input = t.input(words(&[&["a", "b", "c", "d"]]));
    let reduced = collect_partitions(&input.reduce_by_key(|a, b| a + b, Some(4)));
    t.run(1).unwrap();
    assert_hash_placed(&reduced.lock().unwrap()[0], 4);
}

#[test]
fn windows_and_state_keep_one_partition_on_two_workers() {
    let t = with_parallelism("local[2]", 1);
    let dir = tempfile::tempdir().unwrap();
    t.context().checkpoint(dir.path()).unwrap();
    let input = t.input(words(&[&["a", "b"], &["a"], &["c"]]));
    let windowed = collect_partitions(&input.window(Duration::seconds(2), Duration::seconds(1)));
    let totals = collect_partitions(&input.update_state_by_key(running_count, None));
    t.run(3).unwrap();

    let windowed = windowed.lock().unwrap().clone();
    assert!(windowed.iter().all(|b| b.len() == 1), "{windowed:?}");
    let mut last = windowed[2][0].clone();
    last.sort();
    assert_eq!(last, vec![(s("a"), 1), (s("c"), 1)]);

    let totals = totals.lock().unwrap().clone();
    assert!(totals.iter().all(|b| b.len() == 1), "{totals:?}");
    let mut last = totals[2][0].clone();
    last.sort();
    assert_eq!(last, vec![(s("a"), 2), (s("b"), 1), (s("c"), 1)]);
}

/// Runs `batches` of running counts and a 3 s window on `master` with `partitions` default
/// partitions, checkpointing every batch into `dir`, restoring first when `restore`. Returns
/// the last batch's totals and window, each by partition.
#[allow(clippy::type_complexity)]
fn counts_and_window(
    dir: &std::path::Path,
    master: &str,
    partitions: usize,
    batches: &[&[&str]],
    restore: bool,
) -> (Vec<Vec<(String, u64)>>, Vec<Vec<(String, u64)>>) {
    let t = with_parallelism(master, partitions);
    t.context().checkpoint(dir).unwrap();
    let input = t.input(words(batches));
    let totals_stream = input.update_state_by_key(running_count, None);
    totals_stream.checkpoint(Duration::seconds(1)).unwrap();
    let window_stream = input.window(Duration::seconds(3), Duration::seconds(1));
    let totals = collect_partitions(&totals_stream);
    let window = collect_partitions(&window_stream);
    if restore {
        assert!(t.restore(dir).unwrap().is_some());
    }
    t.run(batches.len()).unwrap();
    t.stop().unwrap();
    let last = |p: &Parts<(String, u64)>| p.lock().unwrap().last().cloned().unwrap();
    (last(&totals), last(&window))
}

fn flat_sorted(parts: &[Vec<(String, u64)>]) -> Vec<(String, u64)> {
    let mut all: Vec<_> = parts.iter().flatten().cloned().collect();
    all.sort();
    all
}

#[test]
fn a_checkpoint_restores_under_fewer_and_more_partitions() {
    let first: &[&[&str]] = &[&["a", "b", "c", "d"], &["a", "e"]];
    let next: &[&[&str]] = &[&["b", "f"]];
    let expected_totals = vec![
        (s("a"), 2),
        (s("b"), 2),
        (s("c"), 1),
        (s("d"), 1),
        (s("e"), 1),
        (s("f"), 1),
    ];
    let expected_window = flat_sorted(&[words(&[first[0], first[1], next[0]]).concat()]);

    // Written with 3 partitions on 2 workers, restored with 1 on 2 workers.
    let dir = tempfile::tempdir().unwrap();
    counts_and_window(dir.path(), "local[2]", 3, first, false);
    let (totals, window) = counts_and_window(dir.path(), "local[2]", 1, next, true);
    assert_eq!(totals.len(), 1);
    assert_eq!(flat_sorted(&totals), expected_totals);
    assert_eq!(
        window.len(),
        1,
        "the window's old parts fold into the one partition"
    );
    assert_eq!(flat_sorted(&window), expected_window);

    // Written with 1 partition on 2 workers, restored with 4 on 1 worker.
    let dir = tempfile::tempdir().unwrap();
    counts_and_window(dir.path(), "local[2]", 1, first, false);
    let (totals, window) = counts_and_window(dir.path(), "local[1]", 4, next, true);
    assert_hash_placed(&totals, 4);
    assert_eq!(flat_sorted(&totals), expected_totals);
    assert_eq!(window.len(), 4);
    assert_eq!(flat_sorted(&window), expected_window);
}

#[test]
fn invalid_values_are_typed_errors_of_the_context() {
    let _turn = ember::testing::exclusive();
    if let Ok(old) = Context::get_or_create(Conf::new()) {
        old.stop();
    }
    let with = |v: &str| {
        Context::new(
            Conf::new()
                .set_master("local[2]")
                .set("spark.default.parallelism", v),
        )
    };
    // Checked by the settings registry when the context is made, before anything uses it.
    for (value, message) in [
        (
            "0",
            "setting spark.default.parallelism=0 is too small (at least 1)",
        ),
        (
            "-2",
            "setting spark.default.parallelism=-2 is not a whole number",
        ),
        (
            "100000",
            "setting spark.default.parallelism=100000 is too large (at most 65536)",
        ),
    ] {
        match with(value) {
            Err(e @ Error::InvalidSetting { .. }) => assert_eq!(e.to_string(), message),
            other => panic!("expected an invalid setting, got {other:?}"),
        }
    }
    let ok = with(" 3 ").unwrap();
    assert_eq!(ok.default_parallelism(), 3);
    ok.stop();
}
