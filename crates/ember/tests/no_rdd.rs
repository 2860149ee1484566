//! Batches without an RDD (Spark's `compute` returning `None`), on a manual clock: what each kind
//! of operation does at such a time (see `dstream::presence`), and `StreamingContext::transform`
//! over several streams.
//!
//! Inputs come from `StreamTest::optional_input`: `None` is a batch without an RDD, `Some(vec![])`
//! an empty one, and batches after the list are empty.

mod common;

use std::sync::{Arc, Mutex};

use common::{HANG_GUARD, Log, batch_times, reported_error, sec, wait_until};
use ember::scheduler::{OutputOperationInfo, StreamingListener};
use ember::testing::StreamTest;
use ember::{Duration, Error, Rdd, RddQueue, Time};

/// The outcome of every output operation that ran: (batch ms, output index, failure).
#[derive(Clone, Default)]
struct Outcomes(Log<(u64, usize, Option<String>)>);

impl StreamingListener for Outcomes {
    fn on_output_operation_completed(&self, info: &OutputOperationInfo) {
        self.0.push((
            info.batch_time.as_millis(),
            info.id,
            info.failure_reason.clone(),
        ));
    }
}

impl Outcomes {
    /// The outcomes once `n` have been reported: listeners hear of them on their own thread,
    /// perhaps after the batch has completed.
    fn wait_for(&self, n: usize) -> Vec<(u64, usize, Option<String>)> {
        assert!(
            wait_until(HANG_GUARD, || self.0.len() >= n),
            "{} of {n} output outcomes reported",
            self.0.len()
        );
        self.0.entries()
    }
}

fn listened(t: &StreamTest) -> Outcomes {
    let outcomes = Outcomes::default();
    t.context().add_streaming_listener(outcomes.clone());
    outcomes
}

const TRANSFORM_2000: &str = "Couldn't generate RDD from parent at time 2000 ms";
const UNION_2000: &str = "Could not generate RDD from a parent for unifying at time 2000 ms";

#[test]
fn narrow_operations_have_no_rdd_and_outputs_skip_the_batch() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let outcomes = listened(&t);
    let input = t.optional_input(vec![Some(vec![1, 2]), None, Some(vec![]), Some(vec![3])]);
    let mapped = t.collect(&input.map(|x| x * 10)).unwrap();
    let flat = t.collect(&input.flat_map(|x| vec![x, x])).unwrap();
    let filtered = t.collect(&input.filter(|x| x % 2 == 1)).unwrap();
    let partitions = t
        .collect(&input.map_partitions(|part| [part.len()]))
        .unwrap();
    let glommed = t.collect(&input.glom()).unwrap();
    let values = t
        .collect(&input.map(|x| (x, x)).map_values(|v| v + 1))
        .unwrap();
    let reduced = t.collect(&input.reduce(|a, b| a + b)).unwrap();
    let by_key = t
        .collect(&input.map(|x| (x % 2, 1)).reduce_by_key(|a, b| a + b, None))
        .unwrap();
    t.run(4).unwrap();

    for times in [
        batch_times(&mapped),
        batch_times(&flat),
        batch_times(&filtered),
        batch_times(&partitions),
        batch_times(&glommed),
        batch_times(&values),
        batch_times(&reduced),
        batch_times(&by_key),
    ] {
        assert_eq!(times, [1000, 3000, 4000]);
    }
    assert_eq!(mapped.batches(), [vec![10, 20], vec![], vec![30]]);
    assert_eq!(
        flat.sorted_batches(),
        [vec![1, 1, 2, 2], vec![], vec![3, 3]]
    );
    // An empty RDD still has its partitions (two with local[2]); no RDD has none.
    assert_eq!(partitions.batches(), [vec![1, 1], vec![0, 0], vec![0, 1]]);
    assert_eq!(reduced.batches(), [vec![3], vec![], vec![3]]);
    // No output operation ran (or was reported) at 2000 ms, and none failed.
    let ran = outcomes.wait_for(8 * 3);
    assert!(
        ran.iter()
            .all(|(ms, _, failure)| *ms != 2000 && failure.is_none())
    );
    assert_eq!(ran.len(), 8 * 3);
}

#[test]
fn union_fails_the_batch_where_a_parent_has_no_rdd() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let outcomes = listened(&t);
    let a = t.optional_input(vec![Some(vec![1]), None, Some(vec![3])]);
    let b = t.optional_input(vec![Some(vec![10]), Some(vec![20]), Some(vec![30])]);
    let both = t.collect(&a.union(&b)).unwrap();
    let all = t
        .collect(&t.context().union(&[b.clone(), a.clone()]))
        .unwrap();
    t.run(3).unwrap();
    assert_eq!(both.sorted_batches(), [vec![1, 10], vec![3, 30]]);
    assert_eq!(batch_times(&all), [1000, 3000]);
    let failures: Vec<_> = outcomes
        .wait_for(2 * 3)
        .into_iter()
        .filter_map(|(ms, op, failure)| failure.map(|f| (ms, op, f)))
        .collect();
    let expected = format!("union failed: {UNION_2000}");
    assert_eq!(failures, [(2000, 0, expected.clone()), (2000, 1, expected)]);
    match reported_error(&t) {
        Error::JobFailed { time, source, .. } => {
            assert_eq!(time, Time::from_millis(2000));
            assert!(source.to_string().ends_with(UNION_2000), "{source}");
        }
        other => panic!("expected a failed job, got {other:?}"),
    }
}

#[test]
fn transform_operations_and_count_fail_without_calling_the_function() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let outcomes = listened(&t);
    let a = t.optional_input(vec![Some(vec![1, 2]), None, Some(vec![])]);
    let b = t.optional_input(vec![Some(vec![5]), Some(vec![6]), Some(vec![7])]);
    let calls: Arc<Mutex<Vec<u64>>> = Arc::default();
    let seen = calls.clone();
    let transformed = a.transform_with_time(move |rdd, time| {
        seen.lock().unwrap().push(time.as_millis());
        rdd
    });
    let outputs = [
        t.collect(&transformed).unwrap(),
        t.collect(&a.transform_with(&b, |x, y| x.union(y))).unwrap(),
        t.collect(&t.context().transform(&[b.clone(), a.clone()], |rdds, _| {
            rdds[0].clone().union(rdds[1].clone())
        }))
        .unwrap(),
        t.collect(&a.repartition(3)).unwrap(),
    ];
    let counts = t.collect(&a.count()).unwrap();
    let joined = t
        .collect(&a.map(|x| (x, ())).join(&b.map(|x| (x, ())), None))
        .unwrap();
    t.run(3).unwrap();

    assert_eq!(*calls.lock().unwrap(), [1000, 3000]);
    for out in &outputs {
        assert_eq!(batch_times(out), [1000, 3000]);
    }
    assert_eq!(outputs[1].sorted_batches(), [vec![1, 2, 5], vec![7]]);
    assert_eq!(outputs[2].sorted_batches(), [vec![1, 2, 5], vec![7]]);
    // An empty batch counts 0; a batch without an RDD fails.
    assert_eq!(counts.batches(), [vec![2], vec![0]]);
    assert_eq!(batch_times(&joined), [1000, 3000]);
    // Six outputs at 1000 and 3000 ms, six failures at 2000 ms.
    let mut failures: Vec<(usize, String)> = outcomes
        .wait_for(6 * 3)
        .into_iter()
        .filter(|(ms, _, _)| *ms == 2000)
        .map(|(_, op, failure)| (op, failure.expect("every output failed at 2000 ms")))
        .collect();
    failures.sort();
    let names = [
        "transform",
        "transform_with",
        "transform",
        "repartition",
        "count",
        "cogroup",
    ];
    let expected: Vec<(usize, String)> = names
        .iter()
        .enumerate()
        .map(|(op, name)| (op, format!("{name} failed: {TRANSFORM_2000}")))
        .collect();
    assert_eq!(failures, expected);
}

#[test]
fn a_window_leaves_out_times_without_an_rdd() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.optional_input(vec![Some(vec![1]), None, Some(vec![3]), None, None]);
    let window = t
        .collect(&input.window(Duration::seconds(2), Duration::seconds(1)))
        .unwrap();
    let counted = t
        .collect(
            &input
                .window(Duration::seconds(2), Duration::seconds(1))
                .count(),
        )
        .unwrap();
    t.run(5).unwrap();
    // The window has an RDD at every time, even when every batch in it has none.
    assert_eq!(batch_times(&window), [1000, 2000, 3000, 4000, 5000]);
    assert_eq!(
        window.sorted_batches(),
        [vec![1], vec![1], vec![3], vec![3], vec![]]
    );
    assert_eq!(counted.batches(), [[1], [1], [1], [1], [0]]);
}

#[test]
fn update_state_by_key_calls_the_function_for_every_key_without_an_rdd() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    t.context().checkpoint(dir.path()).unwrap();
    let input = t.optional_input(vec![
        Some(vec![('a', 1), ('b', 2)]),
        None,
        Some(vec![('a', 5)]),
    ]);
    let calls: Log<(u64, char, Vec<u32>)> = Log::default();
    let seen = calls.clone();
    let totals = input.update_state_by_key_with(
        move |time, key: &char, values: &[u32], state: Option<u32>| {
            seen.push((time.as_millis(), *key, values.to_vec()));
            Some(values.iter().sum::<u32>() + state.unwrap_or(0))
        },
        None,
        None,
    );
    let out = t.collect(&totals).unwrap();
    t.run(3).unwrap();
    assert_eq!(batch_times(&out), [1000, 2000, 3000]);
    assert_eq!(
        out.sorted_batches(),
        [
            vec![('a', 1), ('b', 2)],
            vec![('a', 1), ('b', 2)],
            vec![('a', 6), ('b', 2)]
        ]
    );
    let mut at_2000: Vec<_> = calls
        .entries()
        .into_iter()
        .filter(|(ms, _, _)| *ms == 2000)
        .collect();
    at_2000.sort();
    assert_eq!(at_2000, [(2000, 'a', vec![]), (2000, 'b', vec![])]);
}

#[test]
fn a_queue_mixes_rdds_and_batches_without_one() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let sc = t.context().context().clone();
    let rdd = |v: Vec<i32>| -> Rdd<i32> { sc.parallelize(v, 1) };
    // One at a time: each entry is one batch; an empty queue then gives the default.
    let one = RddQueue::from(vec![Some(rdd(vec![1])), None]);
    let one = t
        .collect(
            &t.context()
                .optional_queue_stream(one, true, Some(rdd(vec![0]))),
        )
        .unwrap();
    // All at once: the RDDs' union, the entries without one adding nothing; a queue of entries
    // without an RDD gives no RDD.
    let all = RddQueue::from(vec![None, Some(rdd(vec![1])), None, Some(rdd(vec![2]))]);
    let all_queue = all.clone();
    let all = t
        .collect(&t.context().optional_queue_stream(all, false, None))
        .unwrap();
    // The classic queue stream: an empty queue gives an empty batch, not no RDD.
    let classic = t
        .collect(&t.context().queue_stream(RddQueue::<i32>::new(), true, None))
        .unwrap();
    t.run(1).unwrap();
    all_queue.push_no_rdd();
    all_queue.push_no_rdd();
    t.run(2).unwrap();

    assert_eq!(batch_times(&one), [1000, 3000]);
    assert_eq!(one.batches(), [vec![1], vec![0]]);
    assert_eq!(batch_times(&all), [1000]);
    assert_eq!(all.batches(), [vec![1, 2]]);
    assert_eq!(batch_times(&classic), [1000, 2000, 3000]);
}

#[test]
fn transform_of_several_streams_sees_each_rdd_with_its_partitions() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let sc = t.context().context().clone();
    let a = t.context().queue_stream(
        RddQueue::from(vec![sc.parallelize(vec![1, 2, 3], 3)]),
        true,
        None,
    );
    let b = t.input(vec![vec![10, 20]]);
    let shapes = t.context().transform(&[a, b], |rdds, time| {
        let shapes: Vec<Vec<Vec<i32>>> = rdds.iter().map(|r| r.partitions().to_vec()).collect();
        rdds[0]
            .context()
            .parallelize(vec![(time.as_millis(), shapes)], 1)
    });
    let out = t.collect(&shapes).unwrap();
    t.run(2).unwrap();
    assert_eq!(
        out.batches(),
        [
            vec![(
                1000,
                vec![vec![vec![1], vec![2], vec![3]], vec![vec![10], vec![20]]]
            )],
            // An empty batch has the stream's usual partition count (default parallelism).
            vec![(2000, vec![vec![vec![], vec![]], vec![vec![], vec![]]])],
        ]
    );
}

#[test]
fn transform_of_several_streams_checks_its_streams_as_spark() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let none: Vec<ember::DStream<i32>> = Vec::new();
    let empty = t
        .context()
        .transform(&none, |_, _| unreachable!("never built"));
    let e = empty.foreach_rdd(|_: Rdd<i32>, _| {}).unwrap_err();
    assert_eq!(
        e.to_string(),
        "requirement failed: List of DStreams to transform is empty"
    );
    let a = t.input(vec![vec![1]]);
    let windowed = a.window(Duration::seconds(2), Duration::seconds(2));
    let mixed = t
        .context()
        .transform(&[a, windowed], |rdds, _| rdds[0].clone());
    let e = mixed.foreach_rdd(|_, _| {}).unwrap_err();
    assert_eq!(
        e.to_string(),
        "requirement failed: Some of the DStreams have different slide durations"
    );
}
