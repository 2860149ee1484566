//! Window operations on a manual clock, against batches computed by hand from Spark's rules: the
//! window at `t` covers the parent's batches in `(t - window, t]` and exists at the slide times
//! `t` with `(t - zero) % slide == 0` (zero = first batch time - batch interval = 0 here, so with
//! a 1 s batch the batches are at 1000, 2000, ... ms).

// Alike on purpose (`duplicates` shows them as shapes): the expected batches of each test are
// spelled out batch by batch, so that each test reads on its own against Spark's rules (those of
// `reduce_by_window_and_reduce_by_key_and_window_without_inverse`,
// `inverse_window_keeps_keys_at_zero_unless_filtered` and
// `count_by_value_and_window_drops_zero_counts` begin alike because their inputs do); and the
// rows of the case table of `invalid_durations_carry_sparks_messages`.

mod common;

use std::ops::{Add, Sub};
use std::sync::Arc;

use common::s;
use ember::dstream::WindowFilter;
use ember::testing::{Collected, StreamTest};
use ember::{DStream, Data, Duration, Error, Key};
use tempfile::TempDir;

fn secs(n: u64) -> Duration {
    Duration::seconds(n)
}

fn ms(n: u64) -> Duration {
    Duration::milliseconds(n)
}

/// Each batch's time (ms) and its elements, sorted.
fn timed<T: Clone + Ord>(c: &Collected<T>) -> Vec<(u64, Vec<T>)> {
    c.batches_with_time()
        .into_iter()
        .map(|(t, mut b)| {
            b.sort();
            (t.as_millis(), b)
        })
        .collect()
}

fn words(batches: &[&[&str]]) -> Vec<Vec<(String, i64)>> {
    batches
        .iter()
        .map(|b| b.iter().map(|w| (s(w), 1i64)).collect())
        .collect()
}

/// Batches of a grouping stream, with their times.
type Groups<V> = Vec<(u64, Vec<(String, Vec<V>)>)>;

fn counts<V: Copy>(pairs: &[(&str, V)]) -> Vec<(String, V)> {
    pairs.iter().map(|(k, v)| (s(k), *v)).collect()
}

/// A test context on `master` with 1 s batches and a checkpoint directory (which the
/// incremental windows need), and the directory, removed when dropped.
fn checkpointed(master: &str) -> (StreamTest, TempDir) {
    let t = StreamTest::new(master, secs(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    t.context().checkpoint(dir.path()).unwrap();
    (t, dir)
}

/// The incremental window of sums: values entering the window are added, those leaving it
/// subtracted.
fn windowed_sums<K: Key, V: Data + Add<Output = V> + Sub<Output = V>>(
    pairs: &DStream<(K, V)>,
    window: Duration,
    slide: Duration,
    partitions: Option<usize>,
    filter: Option<WindowFilter<K, V>>,
) -> DStream<(K, V)> {
    pairs.reduce_by_key_and_window_inv(
        |a, b| a + b,
        |a, b| a - b,
        window,
        slide,
        partitions,
        filter,
    )
}

#[test]
fn windows_at_the_start_of_the_stream_are_partial() {
    let t = StreamTest::new("local[2]", secs(1)).unwrap();
    let input = t.input(vec![vec![1], vec![2], vec![3], vec![4]]);
    let out = t.collect(&input.window(secs(3), secs(1))).unwrap();
    t.run(7).unwrap();
    assert_eq!(
        timed(&out),
        vec![
            (1000, vec![1]),
            (2000, vec![1, 2]),
            (3000, vec![1, 2, 3]),
            (4000, vec![2, 3, 4]),
            (5000, vec![3, 4]),
            (6000, vec![4]),
            (7000, vec![]),
        ]
    );
}

#[test]
fn window_equal_to_its_slide_emits_every_slide_the_batches_since_the_last() {
    let t = StreamTest::new("local[2]", secs(1)).unwrap();
    let input = t.input(vec![vec![1, 10], vec![2], vec![3], vec![4], vec![5]]);
    let windowed = input.window(secs(2), secs(2));
    assert_eq!(windowed.slide_duration(), secs(2));
    let out = t.collect(&windowed).unwrap();
    t.run(7).unwrap();
    assert_eq!(
        timed(&out),
        vec![(2000, vec![1, 2, 10]), (4000, vec![3, 4]), (6000, vec![5]),]
    );
}

#[test]
fn window_of_three_slides_sliding_every_two_batches_with_empty_batches() {
    let t = StreamTest::new("local[2]", secs(1)).unwrap();
    // Batches 1..=8 at 1000..=8000 ms; 3 and 6 are empty.
    let input = t.input(vec![
        vec![1],
        vec![2, 20],
        vec![],
        vec![4],
        vec![5],
        vec![],
        vec![7],
        vec![8],
    ]);
    let out = t.collect(&input.window(secs(6), secs(2))).unwrap();
    t.run(15).unwrap();
    assert_eq!(
        timed(&out),
        vec![
            (2000, vec![1, 2, 20]),       // (-4000, 2000]
            (4000, vec![1, 2, 4, 20]),    // (-2000, 4000]
            (6000, vec![1, 2, 4, 5, 20]), // (0, 6000]
            (8000, vec![4, 5, 7, 8]),     // (2000, 8000]
            (10000, vec![5, 7, 8]),       // (4000, 10000]
            (12000, vec![7, 8]),          // (6000, 12000]
            (14000, vec![]),              // (8000, 14000]
        ]
    );
}

#[test]
fn window_of_a_window_and_a_window_shorter_than_its_slide() {
    let t = StreamTest::new("local[2]", secs(1)).unwrap();
    let input = t.input((1..=8).map(|i| vec![i]).collect());
    let twice = input.window(secs(2), secs(2)).window(secs(4), secs(4));
    // A window of one batch every three batches samples the stream.
    let sampled = input.window(secs(1), secs(3));
    let twice_out = t.collect(&twice).unwrap();
    let sampled_out = t.collect(&sampled).unwrap();
    t.run(9).unwrap();
    assert_eq!(
        timed(&twice_out),
        vec![(4000, vec![1, 2, 3, 4]), (8000, vec![5, 6, 7, 8])]
    );
    assert_eq!(
        timed(&sampled_out),
        vec![(3000, vec![3]), (6000, vec![6]), (9000, vec![])]
    );
}

#[test]
fn per_batch_operations_on_a_window_run_at_its_slide() {
    let t = StreamTest::new("local[2]", secs(1)).unwrap();
    let input = t.input(vec![vec![1u64, 2], vec![3], vec![], vec![], vec![], vec![]]);
    let windowed = input.window(secs(2), secs(2));
    let count = t.collect(&windowed.count()).unwrap();
    let sum = t.collect(&windowed.reduce(|a, b| a + b)).unwrap();
    let by_value = t
        .collect(&windowed.map(|x| x % 2).count_by_value(None))
        .unwrap();
    let glommed = t
        .collect(&windowed.glom().map(|part: Vec<u64>| part.len()))
        .unwrap();
    let transformed = t
        .collect(&windowed.transform(|rdd| rdd.map(|x| x * 10)))
        .unwrap();
    t.run(6).unwrap();
    assert_eq!(
        timed(&count),
        vec![(2000, vec![3]), (4000, vec![0]), (6000, vec![0])]
    );
    assert_eq!(
        timed(&sum),
        vec![(2000, vec![6]), (4000, vec![]), (6000, vec![])]
    );
    assert_eq!(
        timed(&by_value),
        vec![(2000, vec![(0, 1), (1, 2)]), (4000, vec![]), (6000, vec![])]
    );
    // One element per partition, at the slide times only.
    let lens: Vec<(u64, u64)> = timed(&glommed)
        .into_iter()
        .map(|(t, parts)| (t, parts.iter().map(|n| *n as u64).sum()))
        .collect();
    assert_eq!(lens, vec![(2000, 3), (4000, 0), (6000, 0)]);
    assert_eq!(
        timed(&transformed),
        vec![(2000, vec![10, 20, 30]), (4000, vec![]), (6000, vec![])]
    );
}

#[test]
fn reduce_by_window_and_reduce_by_key_and_window_without_inverse() {
    let (t, _dir) = checkpointed("local[2]");
    let input = t.input(vec![vec![1i64, 2], vec![3], vec![], vec![4]]);
    let pairs = t.input(words(&[&["a", "b", "a"], &["a"], &["c"], &[]]));
    let reduced = t
        .collect(&input.reduce_by_window(|a, b| a + b, secs(2), secs(1)))
        .unwrap();
    let reduced_inv = t
        .collect(&input.reduce_by_window_inv(|a, b| a + b, |a, b| a - b, secs(2), secs(1)))
        .unwrap();
    let by_key = t
        .collect(&pairs.reduce_by_key_and_window(|a, b| a + b, secs(2), secs(1), None))
        .unwrap();
    t.run(6).unwrap();
    let sums = vec![
        (1000, vec![3]),
        (2000, vec![6]),
        (3000, vec![3]),
        (4000, vec![4]),
        (5000, vec![4]),
        (6000, vec![]),
    ];
    assert_eq!(timed(&reduced), sums);
    // The incremental form keeps its single key: 0 once the window is empty.
    let mut sums_kept = sums;
    sums_kept[5] = (6000, vec![0]);
    assert_eq!(timed(&reduced_inv), sums_kept);
    assert_eq!(
        timed(&by_key),
        vec![
            (1000, counts(&[("a", 2), ("b", 1)])),
            (2000, counts(&[("a", 3), ("b", 1)])),
            (3000, counts(&[("a", 1), ("c", 1)])),
            (4000, counts(&[("c", 1)])),
            (5000, vec![]),
            (6000, vec![]),
        ]
    );
}

#[test]
fn inverse_window_keeps_keys_at_zero_unless_filtered() {
    let (t, _dir) = checkpointed("local[2]");
    let pairs = t.input(words(&[&["a", "a", "b"], &["a"], &["c"], &[], &["b"]]));
    let kept = windowed_sums(&pairs, secs(2), secs(1), None, None);
    let filtered = windowed_sums(
        &pairs,
        secs(2),
        secs(1),
        Some(2),
        Some(Arc::new(|_k: &String, v: &i64| *v > 0)),
    );
    let kept_out = t.collect(&kept).unwrap();
    let filtered_out = t.collect(&filtered).unwrap();
    t.run(7).unwrap();
    assert_eq!(
        timed(&kept_out),
        vec![
            (1000, counts(&[("a", 2), ("b", 1)])),
            (2000, counts(&[("a", 3), ("b", 1)])),
            (3000, counts(&[("a", 1), ("b", 0), ("c", 1)])),
            (4000, counts(&[("a", 0), ("b", 0), ("c", 1)])),
            (5000, counts(&[("a", 0), ("b", 1), ("c", 0)])),
            (6000, counts(&[("a", 0), ("b", 1), ("c", 0)])),
            (7000, counts(&[("a", 0), ("b", 0), ("c", 0)])),
        ]
    );
    assert_eq!(
        timed(&filtered_out),
        vec![
            (1000, counts(&[("a", 2), ("b", 1)])),
            (2000, counts(&[("a", 3), ("b", 1)])),
            (3000, counts(&[("a", 1), ("c", 1)])),
            (4000, counts(&[("c", 1)])),
            (5000, counts(&[("b", 1)])),
            (6000, counts(&[("b", 1)])),
            (7000, vec![]),
        ]
    );
}

#[test]
fn a_filtered_key_leaves_the_carried_state_as_in_spark() {
    let (t, _dir) = checkpointed("local[2]");
    // x: 2 at 1000 (filtered: the filter rejects 2), 1 at 2000.
    let pairs = t.input(vec![vec![(s("x"), 2i64)], vec![(s("x"), 1)]]);
    let out = t
        .collect(&windowed_sums(
            &pairs,
            secs(3),
            secs(1),
            Some(1),
            Some(Arc::new(|_k: &String, v: &i64| *v != 2)),
        ))
        .unwrap();
    t.run(5).unwrap();
    // Spark's ReducedWindowedDStream carries the filtered window forward: at 2000 x has no
    // previous value, so its value is the new slice's alone (1, not 3); at 4000 the batch of
    // 1000 leaves the window and is inverted from it (1 - 2); at 5000 the batch of 2000.
    assert_eq!(
        timed(&out),
        vec![
            (1000, vec![]),
            (2000, counts(&[("x", 1)])),
            (3000, counts(&[("x", 1)])),
            (4000, counts(&[("x", -1)])),
            (5000, counts(&[("x", -2)])),
        ]
    );
}

#[test]
fn count_by_window_keeps_emitting_zero_once_the_window_empties() {
    let (t, _dir) = checkpointed("local[2]");
    let input = t.input(vec![vec![], vec![s("x"), s("y")], vec![s("z")]]);
    let out = t.collect(&input.count_by_window(secs(2), secs(1))).unwrap();
    let slow = t.collect(&input.count_by_window(secs(4), secs(2))).unwrap();
    t.run(8).unwrap();
    assert_eq!(
        timed(&out),
        vec![
            (1000, vec![]), // nothing seen yet: no count at all, as in Spark
            (2000, vec![2]),
            (3000, vec![3]),
            (4000, vec![1]),
            (5000, vec![0]),
            (6000, vec![0]),
            (7000, vec![0]),
            (8000, vec![0]),
        ]
    );
    // (2000, 6000] still has the batch of 3000.
    assert_eq!(
        timed(&slow),
        vec![
            (2000, vec![2]),
            (4000, vec![3]),
            (6000, vec![1]),
            (8000, vec![0])
        ]
    );
}

#[test]
fn count_by_value_and_window_drops_zero_counts() {
    let (t, _dir) = checkpointed("local[2]");
    let input = t.input(vec![
        vec![s("a"), s("a"), s("b")],
        vec![s("a")],
        vec![s("c")],
        vec![],
        vec![s("a")],
    ]);
    let out = t
        .collect(&input.count_by_value_and_window(secs(2), secs(1), Some(3)))
        .unwrap();
    t.run(7).unwrap();
    assert_eq!(
        timed(&out),
        vec![
            (1000, counts(&[("a", 2), ("b", 1)])),
            (2000, counts(&[("a", 3), ("b", 1)])),
            (3000, counts(&[("a", 1), ("c", 1)])),
            (4000, counts(&[("c", 1)])),
            (5000, counts(&[("a", 1)])),
            (6000, counts(&[("a", 1)])),
            (7000, counts(&[])),
        ]
    );
}

#[test]
fn group_by_key_and_window_gathers_the_window_values() {
    let t = StreamTest::new("local[2]", secs(1)).unwrap();
    let pairs = t.input(vec![
        vec![(s("a"), 1), (s("b"), 2)],
        vec![(s("a"), 3)],
        vec![],
        vec![(s("b"), 4), (s("b"), 5)],
    ]);
    let out = t
        .collect(&pairs.group_by_key_and_window(secs(2), secs(1), None))
        .unwrap();
    t.run(6).unwrap();
    let sorted: Groups<i32> = timed(&out)
        .into_iter()
        .map(|(t, b)| {
            (
                t,
                b.into_iter()
                    .map(|(k, mut vs)| {
                        vs.sort();
                        (k, vs)
                    })
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        sorted,
        vec![
            (1000, vec![(s("a"), vec![1]), (s("b"), vec![2])]),
            (2000, vec![(s("a"), vec![1, 3]), (s("b"), vec![2])]),
            (3000, vec![(s("a"), vec![3])]),
            (4000, vec![(s("b"), vec![4, 5])]),
            (5000, vec![(s("b"), vec![4, 5])]),
            (6000, vec![]),
        ]
    );
}

/// The incremental windows agree with windows recomputed from their batches, over windows
/// longer than, equal to and shorter than the slide.
#[test]
fn incremental_windows_agree_with_recomputed_ones() {
    let batches: Vec<Vec<(String, i64)>> = (0..12u64)
        .map(|i| {
            (0..(i * 7 % 5))
                .map(|j| (format!("k{}", (i * 3 + j * 5) % 4), (i + j) as i64 % 3 + 1))
                .collect()
        })
        .collect();
    for (window, slide) in [(1, 1), (3, 1), (2, 2), (4, 2), (6, 2), (1, 2), (2, 3)] {
        let (t, _dir) = checkpointed("local[2]");
        let pairs = t.input(batches.clone());
        let inc = windowed_sums(
            &pairs,
            secs(window),
            secs(slide),
            Some(3),
            Some(Arc::new(|_k: &String, v: &i64| *v != 0)),
        );
        let full = pairs.reduce_by_key_and_window(|a, b| a + b, secs(window), secs(slide), Some(2));
        let inc_out = t.collect(&inc).unwrap();
        let full_out = t.collect(&full).unwrap();
        t.run(16).unwrap();
        assert_eq!(
            timed(&inc_out),
            timed(&full_out),
            "window {window} s sliding every {slide} s"
        );
        assert_eq!(timed(&full_out).len(), 16 / slide as usize);
    }
}

/// Each slide of an incremental window calls `f` and `inv_f` for the batches entering and
/// leaving it only: over a 40-batch window the calls per batch stay those of one batch.
#[test]
fn incremental_window_cost_does_not_grow_with_its_length() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (t, _dir) = checkpointed("local[2]");
    // One record per batch, cycling over three keys.
    let pairs = t.input((0..60).map(|i| vec![(i % 3, 1i64)]).collect());
    let calls = Arc::new(AtomicUsize::new(0));
    let (fc, ic) = (calls.clone(), calls.clone());
    let sums = pairs.reduce_by_key_and_window_inv(
        move |a, b| {
            fc.fetch_add(1, Ordering::Relaxed);
            a + b
        },
        move |a, b| {
            ic.fetch_add(1, Ordering::Relaxed);
            a - b
        },
        secs(40),
        secs(1),
        Some(2),
        None,
    );
    let out = t.collect(&sums).unwrap();
    t.run(60).unwrap();
    // At most one f (the entering batch) and one inv_f (the leaving one) per slide.
    assert!(
        calls.load(Ordering::Relaxed) <= 2 * 60,
        "{} calls",
        calls.load(Ordering::Relaxed)
    );
    let last = timed(&out).pop().unwrap();
    // The window (20000, 60000] has batches 21..=60, i.e. records 20..60: 40 records over 3 keys.
    let total: i64 = last.1.iter().map(|(_, v)| *v).sum();
    assert_eq!((last.0, total), (60_000, 40));
}

fn registration_error<T: ember::Data>(t: &StreamTest, stream: &DStream<T>) -> Error {
    match t.collect(stream) {
        Ok(_) => panic!("an output on an invalid window was registered"),
        Err(e) => e,
    }
}

/// What a registration error's message must say.
enum Says {
    Exactly(&'static str),
    StartsWith(&'static str),
    Contains(&'static str),
}

#[test]
fn invalid_durations_carry_sparks_messages() {
    let t = StreamTest::new("local[1]", secs(1)).unwrap();
    let input = t.input(vec![vec![s("a")]]);
    let pairs = input.map(|w| (w, 1i64));

    let cases = [
        (
            registration_error(&t, &input.window(ms(1500), secs(1))),
            Says::Exactly(
                "The window duration of windowed DStream (1500 ms) must be a multiple of the slide duration of parent DStream (1000 ms)",
            ),
        ),
        (
            registration_error(&t, &input.window(secs(3), ms(1500))),
            Says::Exactly(
                "The slide duration of windowed DStream (1500 ms) must be a multiple of the slide duration of parent DStream (1000 ms)",
            ),
        ),
        // The window is checked first, as in Spark.
        (
            registration_error(&t, &input.window(ms(2500), ms(1500))),
            Says::StartsWith("The window duration"),
        ),
        // Streams made from an invalid window carry its message.
        (
            registration_error(
                &t,
                &pairs.reduce_by_key_and_window(|a, b| a + b, ms(1500), secs(1), None),
            ),
            Says::StartsWith("The window duration of windowed DStream (1500 ms)"),
        ),
        (
            registration_error(&t, &input.window(secs(4), secs(2)).window(secs(3), secs(2))),
            Says::Exactly(
                "The window duration of windowed DStream (3000 ms) must be a multiple of the slide duration of parent DStream (2000 ms)",
            ),
        ),
        // The incremental windows are Spark's ReducedWindowedDStream, with its `require` wording.
        (
            registration_error(&t, &windowed_sums(&pairs, ms(1500), secs(1), None, None)),
            Says::Exactly(
                "requirement failed: The window duration of ReducedWindowedDStream (1500 ms) must be multiple of the slide duration of parent DStream (1000 ms)",
            ),
        ),
        (
            registration_error(&t, &input.count_by_window(secs(2), ms(500))),
            Says::Exactly(
                "requirement failed: The slide duration of ReducedWindowedDStream (500 ms) must be multiple of the slide duration of parent DStream (1000 ms)",
            ),
        ),
        (
            registration_error(&t, &input.window(secs(1), ms(0))),
            Says::Contains("must be positive"),
        ),
    ];
    assert!(
        matches!(cases[0].0, Error::IllegalState(_)),
        "{:?}",
        cases[0].0
    );
    for (e, says) in &cases {
        let message = e.to_string();
        match says {
            Says::Exactly(want) => assert_eq!(message, *want),
            Says::StartsWith(want) => assert!(message.starts_with(want), "{message}"),
            Says::Contains(want) => assert!(message.contains(want), "{message}"),
        }
    }

    // Invalid windows are never built: the valid rest of the graph runs, without a checkpoint
    // directory (the invalid incremental ones do not ask for one).
    let out = t.collect(&input.window(secs(2), secs(1))).unwrap();
    t.run(2).unwrap();
    assert_eq!(
        timed(&out),
        vec![(1000, vec![s("a")]), (2000, vec![s("a")])]
    );
}

#[test]
fn incremental_windows_need_a_checkpoint_directory() {
    let t = StreamTest::new("local[1]", secs(1)).unwrap();
    let input = t.input(vec![vec![s("a")]]);
    t.collect(&input.count_by_window(secs(2), secs(1))).unwrap();
    let e = t.run(1).unwrap_err();
    assert!(matches!(e, Error::Requirement(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        "requirement failed: The checkpoint directory has not been set. Please set it by StreamingContext.checkpoint()."
    );
}

// ---------------------------------------------------------------------------------------------
// Recovery

/// 20 batches of words, some empty.
fn recovery_input() -> Vec<Vec<(String, u64)>> {
    let vocabulary = ["a", "b", "c", "d", "e"];
    (0..20u64)
        .map(|i| {
            if i % 5 == 3 {
                return Vec::new();
            }
            (0..(i % 4 + 1))
                .map(|j| (s(vocabulary[((i * 2 + j * 3) % 5) as usize]), j + 1))
                .collect()
        })
        .collect()
}

struct Outputs {
    window: Collected<(String, u64)>,
    window_slow: Collected<(String, u64)>,
    inverse: Collected<(String, u64)>,
    by_key: Collected<(String, u64)>,
    count: Collected<u64>,
    by_value: Collected<(String, u64)>,
    grouped: Collected<(String, Vec<u64>)>,
}

const NAMES: [&str; 7] = [
    "window",
    "window_slow",
    "inverse",
    "by_key",
    "count",
    "by_value",
    "grouped",
];

impl Outputs {
    /// Every output's batches after `after` ms, sorted.
    fn after(&self, after: u64) -> Vec<String> {
        fn keep<T: Clone + Ord + std::fmt::Debug>(c: &Collected<T>, after: u64) -> String {
            format!(
                "{:?}",
                timed(c)
                    .into_iter()
                    .filter(|(t, _)| *t > after)
                    .collect::<Vec<_>>()
            )
        }
        let grouped: Groups<u64> = timed(&self.grouped)
            .into_iter()
            .filter(|(t, _)| *t > after)
            .map(|(t, b)| {
                let b = b
                    .into_iter()
                    .map(|(k, mut vs)| {
                        vs.sort();
                        (k, vs)
                    })
                    .collect();
                (t, b)
            })
            .collect();
        vec![
            keep(&self.window, after),
            keep(&self.window_slow, after),
            keep(&self.inverse, after),
            keep(&self.by_key, after),
            keep(&self.count, after),
            keep(&self.by_value, after),
            format!("{grouped:?}"),
        ]
    }
}

/// Every kind of window over `input`. With `frequent`, the incremental windows are checkpointed
/// every 2 s (so restoring reads a full write and deltas) and the count is a plain window's;
/// otherwise the incremental windows keep Spark's default of 10 s (`count_by_window`'s state
/// stream is internal, as in Spark, so its interval stays the default).
fn build(t: &StreamTest, input: Vec<Vec<(String, u64)>>, frequent: bool) -> Outputs {
    let pairs = t.input(input);
    let words = pairs.map(|(w, _)| w);
    let inverse = windowed_sums(&pairs, secs(4), secs(1), Some(3), None);
    // The default partition count is the number of workers: it changes with them.
    let by_value = words.count_by_value_and_window(secs(5), secs(1), None);
    let count = if frequent {
        inverse.checkpoint(secs(2)).unwrap();
        by_value.checkpoint(secs(2)).unwrap();
        words.window(secs(4), secs(2)).count()
    } else {
        words.count_by_window(secs(4), secs(2))
    };
    Outputs {
        window: t.collect(&pairs.window(secs(3), secs(1))).unwrap(),
        window_slow: t.collect(&pairs.window(secs(6), secs(2))).unwrap(),
        inverse: t.collect(&inverse).unwrap(),
        by_key: t
            .collect(&pairs.reduce_by_key_and_window(|a, b| a + b, secs(4), secs(2), None))
            .unwrap(),
        count: t.collect(&count).unwrap(),
        by_value: t.collect(&by_value).unwrap(),
        grouped: t
            .collect(&pairs.group_by_key_and_window(secs(3), secs(1), Some(2)))
            .unwrap(),
    }
}

/// Runs some batches on `first`, stops, restores the newest commit on `second` and runs on; the
/// windows after the commit must be those of an uninterrupted run. With the default interval
/// (10 s) the commit is batch 10000, reached after 12 batches; every 2 s, batch 12000 after 13.
fn recovery(first: &str, second: &str, frequent: bool) {
    let (stop_at, commit, end): (usize, usize, usize) =
        if frequent { (13, 12, 18) } else { (12, 10, 16) };
    let commit_ms = commit as u64 * 1000;
    let input = recovery_input();
    let reference = {
        let (t, _dir) = checkpointed(second);
        let out = build(&t, input.clone(), frequent);
        t.run(end).unwrap();
        t.stop().unwrap();
        out.after(commit_ms)
    };
    let dir = tempfile::tempdir().unwrap();
    {
        let t = StreamTest::new(first, secs(1)).unwrap();
        t.context().checkpoint(dir.path()).unwrap();
        let _ = build(&t, input[..stop_at].to_vec(), frequent);
        t.run(stop_at).unwrap();
        t.stop().unwrap();
    }
    let t = StreamTest::new(second, secs(1)).unwrap();
    let out = build(&t, input[commit..].to_vec(), frequent);
    assert_eq!(
        t.restore(dir.path()).unwrap().map(|t| t.as_millis()),
        Some(commit_ms)
    );
    t.run(end - commit).unwrap();
    t.stop().unwrap();
    let recovered = out.after(commit_ms);
    assert!(
        recovered[0].contains(&format!("{}", end * 1000)),
        "{}",
        recovered[0]
    );
    for ((name, got), want) in NAMES.iter().zip(&recovered).zip(&reference) {
        assert_eq!(got, want, "{name} after recovery ({first} -> {second})");
    }
}

#[test]
fn recovery_restores_windows_from_two_workers_to_one() {
    recovery("local[2]", "local[1]", false);
}

#[test]
fn recovery_restores_windows_from_one_worker_to_two() {
    recovery("local[1]", "local[2]", false);
}

#[test]
fn recovery_from_a_full_write_and_deltas_two_workers_to_one() {
    recovery("local[2]", "local[1]", true);
}

#[test]
fn recovery_from_a_full_write_and_deltas_one_worker_to_two() {
    recovery("local[1]", "local[2]", true);
}
