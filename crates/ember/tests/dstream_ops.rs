// Alike on purpose: the key aggregations' expected batches are key-value lists of one shape because each spells out its own hand-computed result.
//! Every stateless DStream operation on a manual clock, against hand-computed batches.
//!
//! Inputs come from `StreamTest::input`, which spreads each batch over the default parallelism
//! with `parallelize` (contiguous ranges): with `local[2]`, `[1, 2, 3, 4, 5]` is `[1, 2] | [3, 4,
//! 5]`, `[10]` is `[] | [10]`, and an empty batch is `[] | []`.

use std::sync::{Arc, Mutex};

use ember::hash::{partition_of, stable_hash};
use ember::testing::StreamTest;
use ember::{DStream, Data, Duration, Rdd, RddQueue, StreamingContext, Time};

type Parts<T> = Arc<Mutex<Vec<(Time, Vec<Vec<T>>)>>>;

/// Collects every batch with its partition structure.
fn collect_parts<T: Data>(stream: &DStream<T>) -> Parts<T> {
    let out: Parts<T> = Arc::default();
    let sink = out.clone();
    stream
        .foreach_rdd(move |rdd, time| {
            sink.lock().unwrap().push((time, rdd.partitions().to_vec()));
        })
        .unwrap();
    out
}

fn parts_of<T: Clone>(p: &Parts<T>) -> Vec<Vec<Vec<T>>> {
    p.lock().unwrap().iter().map(|(_, b)| b.clone()).collect()
}

fn times_of<T>(p: &Parts<T>) -> Vec<u64> {
    p.lock()
        .unwrap()
        .iter()
        .map(|(t, _)| t.as_millis())
        .collect()
}

fn s(x: &str) -> String {
    x.to_string()
}

fn kv(pairs: &[(&str, i32)]) -> Vec<(String, i32)> {
    pairs.iter().map(|(k, v)| (s(k), *v)).collect()
}

fn sec() -> Duration {
    Duration::seconds(1)
}

// ---------------------------------------------------------------------------------------------
// Element-wise operations
// ---------------------------------------------------------------------------------------------

#[test]
fn map_keeps_order_and_partitions() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2, 3, 4, 5], vec![], vec![10]]);
    let out = collect_parts(&input.map(|x: i32| x * 10));
    t.run(3).unwrap();
    t.stop().unwrap();
    assert_eq!(
        parts_of(&out),
        vec![
            vec![vec![10, 20], vec![30, 40, 50]],
            vec![vec![], vec![]],
            vec![vec![], vec![100]],
        ]
    );
    assert_eq!(times_of(&out), vec![1000, 2000, 3000]);
}

#[test]
fn map_changes_type() {
    let t = StreamTest::new("local[3]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2, 3, 4, 5], vec![]]);
    let out = t.collect(&input.map(|x: i32| format!("#{x}"))).unwrap();
    t.run(2).unwrap();
    // local[3]: [1] | [2, 3] | [4, 5]; collected in partition order.
    assert_eq!(
        out.batches(),
        vec![vec![s("#1"), s("#2"), s("#3"), s("#4"), s("#5")], vec![]]
    );
}

#[test]
fn flat_map_expands_and_drops() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![
        vec![s("a b"), s(""), s("c d e"), s("f")],
        vec![],
        vec![s("x")],
    ]);
    let words = input.flat_map(|l: String| {
        l.split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    let out = collect_parts(&words);
    t.run(3).unwrap();
    assert_eq!(
        parts_of(&out),
        vec![
            vec![vec![s("a"), s("b")], vec![s("c"), s("d"), s("e"), s("f")]],
            vec![vec![], vec![]],
            vec![vec![], vec![s("x")]],
        ]
    );
}

#[test]
fn filter_keeps_matching_elements_in_their_partitions() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2, 3, 4, 5, 6], vec![], vec![1, 3]]);
    let out = collect_parts(&input.filter(|x: &i32| x % 2 == 0));
    t.run(3).unwrap();
    assert_eq!(
        parts_of(&out),
        vec![
            vec![vec![2], vec![4, 6]],
            vec![vec![], vec![]],
            vec![vec![], vec![]],
        ]
    );
}

#[test]
fn chained_narrow_operations_on_one_worker() {
    let t = StreamTest::new("local[1]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2, 3, 4], vec![], vec![5]]);
    let out = collect_parts(
        &input
            .map(|x: i32| x + 1)
            .filter(|x| x % 2 == 0)
            .flat_map(|x| vec![x, -x]),
    );
    t.run(3).unwrap();
    assert_eq!(
        parts_of(&out),
        vec![vec![vec![2, -2, 4, -4]], vec![vec![]], vec![vec![6, -6]]]
    );
}

// ---------------------------------------------------------------------------------------------
// Whole-partition operations
// ---------------------------------------------------------------------------------------------

#[test]
fn map_partitions_sees_every_partition_even_empty() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2, 3, 4, 5], vec![], vec![10]]);
    let sums = input.map_partitions(|p: Vec<i32>| vec![p.iter().sum::<i32>()]);
    let out = collect_parts(&sums);
    t.run(3).unwrap();
    assert_eq!(
        parts_of(&out),
        vec![
            vec![vec![3], vec![12]],
            vec![vec![0], vec![0]],
            vec![vec![0], vec![10]],
        ]
    );
}

#[test]
fn map_partitions_with_index_gets_partition_indices() {
    let t = StreamTest::new("local[3]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2, 3, 4, 5], vec![]]);
    let tagged = input.map_partitions_with_index(|i, p: Vec<i32>| vec![(i, p.len())]);
    let out = collect_parts(&tagged);
    t.run(2).unwrap();
    assert_eq!(
        parts_of(&out),
        vec![
            vec![vec![(0, 1)], vec![(1, 2)], vec![(2, 2)]],
            vec![vec![(0, 0)], vec![(1, 0)], vec![(2, 0)]],
        ]
    );
}

#[test]
fn map_partitions_with_index_after_union_sees_shifted_indices() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let a = t.input(vec![vec![1, 2, 3]]);
    let b = t.input(vec![vec![7]]);
    let tagged = a
        .union(&b)
        .map_partitions_with_index(|i, p: Vec<i32>| p.into_iter().map(move |x| (i, x)));
    let out = t.collect(&tagged).unwrap();
    t.run(2).unwrap();
    // a: [1] | [2, 3]; b: [] | [7] -> partitions 0, 1, 2, 3.
    assert_eq!(
        out.batches(),
        vec![vec![(0, 1), (1, 2), (1, 3), (3, 7)], vec![]]
    );
}

#[test]
fn glom_gives_one_array_per_partition() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2, 3, 4, 5], vec![], vec![10]]);
    let out = t.collect(&input.glom()).unwrap();
    t.run(3).unwrap();
    assert_eq!(
        out.batches(),
        vec![
            vec![vec![1, 2], vec![3, 4, 5]],
            vec![vec![], vec![]],
            vec![vec![], vec![10]],
        ]
    );
}

#[test]
fn repartition_glom_has_exactly_three_arrays_every_batch() {
    for master in ["local[1]", "local[2]", "local[3]"] {
        let t = StreamTest::new(master, sec()).unwrap();
        let input = t.input(vec![
            (1..=10).collect::<Vec<i32>>(),
            vec![],
            vec![42],
            vec![1, 2],
        ]);
        let out = t.collect(&input.repartition(3).glom()).unwrap();
        t.run(4).unwrap();
        t.stop().unwrap();
        let batches = out.batches();
        assert_eq!(batches.len(), 4, "{master}");
        let expected: Vec<Vec<i32>> = vec![(1..=10).collect(), vec![], vec![42], vec![1, 2]];
        for (batch, want) in batches.iter().zip(&expected) {
            assert_eq!(batch.len(), 3, "{master}: 3 arrays in {batch:?}");
            let mut all: Vec<i32> = batch.iter().flatten().copied().collect();
            all.sort();
            assert_eq!(&all, want, "{master}");
            let sizes: Vec<usize> = batch.iter().map(Vec::len).collect();
            let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            // Each worker deals round robin, so partitions differ by at most one per worker.
            let workers = master[6..master.len() - 1].parse::<usize>().unwrap();
            assert!(max - min <= workers, "{master}: uneven {sizes:?}");
        }
        // The empty batch still has three (empty) arrays.
        assert_eq!(batches[1], vec![Vec::<i32>::new(), vec![], vec![]]);
    }
}

#[test]
fn repartition_deals_round_robin_from_each_worker() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2, 3, 4, 5]]);
    let out = collect_parts(&input.repartition(3));
    t.run(1).unwrap();
    // Worker 0 holds [1, 2] and deals from partition 0: 1 -> 0, 2 -> 1. Worker 1 holds
    // [3, 4, 5] and deals from partition 1: 3 -> 1, 4 -> 2, 5 -> 0. Each output partition holds
    // the records of each worker in order; sort to ignore the interleaving of two workers.
    let mut parts = parts_of(&out).remove(0);
    for p in parts.iter_mut() {
        p.sort();
    }
    assert_eq!(parts, vec![vec![1, 5], vec![2, 3], vec![4]]);
}

#[test]
fn repartition_to_one_and_to_zero() {
    let t = StreamTest::new("local[3]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2, 3, 4, 5], vec![]]);
    let one = collect_parts(&input.repartition(1));
    let zero = collect_parts(&input.repartition(0));
    t.run(2).unwrap();
    for out in [one, zero] {
        let mut parts = parts_of(&out);
        parts[0][0].sort();
        assert_eq!(parts, vec![vec![vec![1, 2, 3, 4, 5]], vec![vec![]]]);
    }
}

// ---------------------------------------------------------------------------------------------
// union
// ---------------------------------------------------------------------------------------------

#[test]
fn union_method_left_then_right_partitions() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let a = t.input(vec![vec![1, 2, 3, 4], vec![], vec![7]]);
    let b = t.input(vec![vec![10, 20], vec![5], vec![]]);
    let u = a.union(&b);
    let parts = collect_parts(&u);
    let flat = t.collect(&u).unwrap();
    t.run(3).unwrap();
    assert_eq!(
        parts_of(&parts),
        vec![
            vec![vec![1, 2], vec![3, 4], vec![10], vec![20]],
            vec![vec![], vec![], vec![], vec![5]],
            vec![vec![], vec![7], vec![], vec![]],
        ]
    );
    // Unsorted: the left stream's elements, then the right's.
    assert_eq!(
        flat.batches(),
        vec![vec![1, 2, 3, 4, 10, 20], vec![5], vec![7]]
    );
}

#[test]
fn union_of_three_with_context_union() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let a = t.input(vec![vec![1, 2], vec![]]);
    let b = t.input(vec![vec![3], vec![]]);
    let c = t.input(vec![vec![4, 5, 6], vec![]]);
    let u = t.context().union(&[a, b, c]);
    let parts = collect_parts(&u);
    t.run(2).unwrap();
    assert_eq!(
        parts_of(&parts),
        vec![
            vec![vec![1], vec![2], vec![], vec![3], vec![4], vec![5, 6]],
            vec![vec![], vec![], vec![], vec![], vec![], vec![]],
        ]
    );
}

#[test]
fn union_on_three_workers_and_with_itself() {
    let t = StreamTest::new("local[3]", sec()).unwrap();
    let a = t.input(vec![vec![1, 2, 3]]);
    let u = a.union(&a.map(|x: i32| x * 100));
    let out = t.collect(&u).unwrap();
    let glom = t.collect(&u.glom()).unwrap();
    t.run(1).unwrap();
    assert_eq!(out.batches(), vec![vec![1, 2, 3, 100, 200, 300]]);
    assert_eq!(
        glom.batches(),
        vec![vec![
            vec![1],
            vec![2],
            vec![3],
            vec![100],
            vec![200],
            vec![300]
        ]]
    );
}

#[test]
fn union_of_one_stream_is_that_stream() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let a = t.input(vec![vec![1, 2, 3]]);
    let u = t.context().union(std::slice::from_ref(&a));
    let out = collect_parts(&u);
    t.run(1).unwrap();
    assert_eq!(parts_of(&out), vec![vec![vec![1], vec![2, 3]]]);
}

#[test]
fn union_of_no_streams_cannot_be_output() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let u: DStream<i32> = t.context().union(&[]);
    let err = u.foreach_rdd(|_, _| {}).unwrap_err();
    assert!(err.to_string().starts_with("requirement failed:"), "{err}");
}

/// Streams of two contexts with different slides: Spark checks the contexts first
/// (`UnionDStream` / `TransformedDStream` require distinct contexts == 1 before slides), so the
/// message is about contexts. A slide mismatch within one context needs windows, which do not
/// exist yet.
#[test]
fn union_of_different_contexts_is_rejected_at_output_registration() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let a = t.input(vec![vec![1]]);
    let same_slide = StreamingContext::new(t.context().context(), sec()).unwrap();
    let other_slide = StreamingContext::new(t.context().context(), Duration::seconds(2)).unwrap();
    let b = same_slide.queue_stream(RddQueue::<i32>::new(), true, None);
    let c = other_slide.queue_stream(RddQueue::<i32>::new(), true, None);
    let contexts = "requirement failed: Some of the DStreams have different contexts";
    for u in [
        a.union(&b),
        a.union(&c),
        t.context().union(&[a.clone(), b.clone()]),
        t.context().union(&[a.clone(), c.clone()]),
    ] {
        let err = u.foreach_rdd(|_, _| {}).unwrap_err();
        assert_eq!(err.to_string(), contexts);
        // Derived streams inherit the error.
        let err = u.map(|x| x + 1).count().foreach_rdd(|_, _| {}).unwrap_err();
        assert_eq!(err.to_string(), contexts);
    }
    // The valid part of the graph still runs.
    let out = t.collect(&a).unwrap();
    t.run(1).unwrap();
    assert_eq!(out.batches(), vec![vec![1]]);
}

#[test]
fn two_input_pair_operations_reject_streams_of_other_contexts() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let a = t.input(vec![kv(&[("a", 1)])]);
    let other = StreamingContext::new(t.context().context(), sec()).unwrap();
    let b = other.queue_stream(RddQueue::<(String, i32)>::new(), true, None);
    let other_slide = StreamingContext::new(t.context().context(), Duration::seconds(2)).unwrap();
    let c = other_slide.queue_stream(RddQueue::<(String, i32)>::new(), true, None);
    let contexts = "requirement failed: Some of the DStreams have different contexts";
    for other in [&b, &c] {
        let errors = [
            a.cogroup(other, None).foreach_rdd(|_, _| {}).unwrap_err(),
            a.join(other, Some(3)).foreach_rdd(|_, _| {}).unwrap_err(),
            a.left_outer_join(other, None)
                .foreach_rdd(|_, _| {})
                .unwrap_err(),
            a.right_outer_join(other, None)
                .foreach_rdd(|_, _| {})
                .unwrap_err(),
            a.full_outer_join(other, None)
                .foreach_rdd(|_, _| {})
                .unwrap_err(),
            a.transform_with(other, |x, _| x)
                .foreach_rdd(|_, _| {})
                .unwrap_err(),
        ];
        for err in errors {
            assert_eq!(err.to_string(), contexts);
        }
    }
    let out = t.collect(&a).unwrap();
    t.run(1).unwrap();
    assert_eq!(out.batches(), vec![kv(&[("a", 1)])]);
}

// ---------------------------------------------------------------------------------------------
// Whole-batch aggregates
// ---------------------------------------------------------------------------------------------

#[test]
fn count_emits_one_element_every_batch_zero_when_empty() {
    for master in ["local[1]", "local[2]", "local[3]"] {
        let t = StreamTest::new(master, sec()).unwrap();
        let input = t.input(vec![vec![1, 2, 3], vec![], vec![4], (0..100).collect()]);
        let out = collect_parts(&input.count());
        t.run(5).unwrap();
        t.stop().unwrap();
        assert_eq!(
            parts_of(&out),
            vec![
                vec![vec![3]],
                vec![vec![0]],
                vec![vec![1]],
                vec![vec![100]],
                vec![vec![0]],
            ],
            "{master}"
        );
    }
}

#[test]
fn count_of_a_batch_without_partitions_is_zero() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let ctx = t.context().context().clone();
    let queue = RddQueue::new();
    queue.push(ctx.empty_rdd::<i32>());
    queue.push(ctx.parallelize(vec![1, 2], 2));
    let input = t.context().queue_stream(queue, true, Some(ctx.empty_rdd()));
    let out = t.collect(&input.count()).unwrap();
    let reduced = t.collect(&input.reduce(|a, b| a + b)).unwrap();
    t.run(3).unwrap();
    assert_eq!(out.batches(), vec![vec![0], vec![2], vec![0]]);
    assert_eq!(reduced.batches(), vec![vec![], vec![3], vec![]]);
}

#[test]
fn reduce_emits_nothing_on_empty_batches() {
    for master in ["local[1]", "local[2]", "local[3]"] {
        let t = StreamTest::new(master, sec()).unwrap();
        let input = t.input(vec![vec![1, 2, 3], vec![], vec![4], vec![5, 6, 7, 8, 9]]);
        let sum = collect_parts(&input.reduce(|a, b| a + b));
        let max = t.collect(&input.reduce(|a: i32, b| a.max(b))).unwrap();
        t.run(4).unwrap();
        t.stop().unwrap();
        assert_eq!(
            parts_of(&sum),
            vec![vec![vec![6]], vec![vec![]], vec![vec![4]], vec![vec![35]]],
            "{master}"
        );
        assert_eq!(
            max.batches(),
            vec![vec![3], vec![], vec![4], vec![9]],
            "{master}"
        );
    }
}

#[test]
fn count_by_value_with_default_and_explicit_partitions() {
    for partitions in [None, Some(1), Some(3)] {
        let input = vec![
            vec![s("a"), s("b"), s("a"), s("c"), s("a")],
            vec![],
            vec![s("z")],
        ];
        let counted = run_by_key("local[2]", input, 3, partitions.unwrap_or(2), |input| {
            input.count_by_value(partitions)
        });
        assert_eq!(
            counted,
            vec![
                vec![(s("a"), 3), (s("b"), 1), (s("c"), 1)],
                vec![],
                vec![(s("z"), 1)],
            ],
            "{partitions:?}"
        );
    }
}

/// Every batch has exactly `n` partitions, each key is in its hash partition, and keys within
/// a partition are in stable-hash order.
fn check_hash_partitioned<K: Data + serde::Serialize + std::fmt::Debug, V: Data>(
    parts: &Parts<(K, V)>,
    n: usize,
) {
    for (time, batch) in parts.lock().unwrap().iter() {
        assert_eq!(
            batch.len(),
            n,
            "batch {time} has {} partitions",
            batch.len()
        );
        for (i, part) in batch.iter().enumerate() {
            for (k, _) in part {
                assert_eq!(partition_of(k, n), i, "key {k:?} in partition {i} of {n}");
            }
            let hashes: Vec<u64> = part.iter().map(|(k, _)| stable_hash(k)).collect();
            let mut sorted = hashes.clone();
            sorted.sort();
            assert_eq!(hashes, sorted, "keys of partition {i} in stable-hash order");
        }
    }
}

/// Runs `op` on `input` with `master` for `batches` batches and checks that its result is hash
/// partitioned into `partitions`; returns the result's batches, sorted.
fn run_by_key<I: Data, K, V>(
    master: &str,
    input: Vec<Vec<I>>,
    batches: usize,
    partitions: usize,
    op: impl FnOnce(&DStream<I>) -> DStream<(K, V)>,
) -> Vec<Vec<(K, V)>>
where
    K: Data + Ord + serde::Serialize + std::fmt::Debug,
    V: Data + Ord,
{
    let t = StreamTest::new(master, sec()).unwrap();
    let result = op(&t.input(input));
    let out = t.collect(&result).unwrap();
    let parts = collect_parts(&result);
    t.run(batches).unwrap();
    t.stop().unwrap();
    check_hash_partitioned(&parts, partitions);
    out.sorted_batches()
}

// ---------------------------------------------------------------------------------------------
// transform
// ---------------------------------------------------------------------------------------------

#[test]
fn transform_applies_an_rdd_function() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![vec![3, 1, 2], vec![], vec![5, 4]]);
    let doubled = input.transform(|rdd: Rdd<i32>| rdd.map(|x| x * 2));
    let sorted = input.transform(|rdd: Rdd<i32>| rdd.sort_by(|x| *x, true, Some(1)));
    let out = t.collect(&doubled).unwrap();
    let sorted_out = t.collect(&sorted).unwrap();
    t.run(3).unwrap();
    assert_eq!(out.batches(), vec![vec![6, 2, 4], vec![], vec![10, 8]]);
    assert_eq!(
        sorted_out.batches(),
        vec![vec![1, 2, 3], vec![], vec![4, 5]]
    );
}

#[test]
fn transform_keeps_the_partitions_of_a_nonempty_result() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2, 3, 4, 5, 6]]);
    let out = collect_parts(&input.transform(|rdd: Rdd<i32>| rdd.repartition(3)));
    let downstream = collect_parts(&input.transform(|rdd: Rdd<i32>| rdd).map(|x| x + 1));
    t.run(1).unwrap();
    // Rdd::repartition: input partition i deals round robin from output partition i % 3.
    // [1, 2, 3] from 0: 1->0, 2->1, 3->2; [4, 5, 6] from 1: 4->1, 5->2, 6->0.
    assert_eq!(
        parts_of(&out),
        vec![vec![vec![1, 6], vec![2, 4], vec![3, 5]]]
    );
    assert_eq!(
        parts_of(&downstream),
        vec![vec![vec![2, 3, 4], vec![5, 6, 7]]]
    );
}

/// Spark: a transform's output RDD is whatever the function returns, partitions included. ember
/// gives a transformed stream its parent's partition count statically (`transformed.rs`), so a
/// function that changes the count (here `repartition(3)`) loses trailing empty partitions
/// downstream (`glom`, `union`, `save_as_text_files`, `foreach_rdd`'s `num_partitions`).
#[test]
#[ignore = "a transformed stream's partition count is static (the parent's) in \
            dstream/transformed.rs: a function that changes it loses empty trailing partitions"]
fn transform_result_partition_count_survives_empty_partitions() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![vec![1], vec![]]);
    let same = collect_parts(&input.transform(|rdd: Rdd<i32>| rdd));
    let three = collect_parts(&input.transform(|rdd: Rdd<i32>| rdd.repartition(3)));
    let glom = t
        .collect(&input.transform(|rdd: Rdd<i32>| rdd.repartition(3)).glom())
        .unwrap();
    t.run(2).unwrap();
    assert_eq!(
        parts_of(&same),
        vec![vec![vec![], vec![1]], vec![vec![], vec![]]]
    );
    assert_eq!(
        parts_of(&three),
        vec![vec![vec![1], vec![], vec![]], vec![vec![], vec![], vec![]]]
    );
    assert_eq!(
        glom.batches(),
        vec![vec![vec![1], vec![], vec![]], vec![vec![], vec![], vec![]]]
    );
}

/// `a.transform(f).union(b)` shifts `b`'s partitions past `a`'s: exact when `f` keeps the
/// partition count, which is what a transformed stream assumes statically.
#[test]
fn union_after_transform_keeps_partitions_apart() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let a = t.input(vec![vec![1, 2]]);
    let b = t.input(vec![vec![3, 4]]);
    let u = a.transform(|rdd: Rdd<i32>| rdd).union(&b);
    let out = collect_parts(&u);
    t.run(1).unwrap();
    assert_eq!(
        parts_of(&out),
        vec![vec![vec![1], vec![2], vec![3], vec![4]]]
    );
}

#[test]
fn transform_with_time_gets_the_batch_time() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2], vec![], vec![3]]);
    let stamped = input.transform_with_time(|rdd: Rdd<i32>, time: Time| {
        let ms = time.as_millis();
        rdd.map(move |x| (ms, x))
    });
    let times = input.transform_with_time(|rdd: Rdd<i32>, time: Time| {
        rdd.context().parallelize(vec![time.as_millis()], 1)
    });
    let out = t.collect(&stamped).unwrap();
    let time_out = t.collect(&times).unwrap();
    t.run(4).unwrap();
    assert_eq!(
        out.batches(),
        vec![vec![(1000, 1), (1000, 2)], vec![], vec![(3000, 3)], vec![]]
    );
    assert_eq!(
        time_out.batches(),
        vec![vec![1000], vec![2000], vec![3000], vec![4000]]
    );
}

#[test]
fn transform_with_combines_the_same_batch_of_two_streams() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let a = t.input(vec![vec![1, 2, 3], vec![], vec![4]]);
    let b = t.input(vec![vec![s("x"), s("y")], vec![s("z")], vec![]]);
    let pairs = a.transform_with(&b, |x: Rdd<i32>, y: Rdd<String>| x.cartesian(y));
    let sizes = a.transform_with(&b, |x: Rdd<i32>, y: Rdd<String>| {
        let ctx = x.context().clone();
        ctx.parallelize(
            vec![(x.num_partitions(), x.count(), y.num_partitions(), y.count())],
            1,
        )
    });
    let unioned = a.transform_with(&b.map(|w| w.len() as i32 * 100), |x: Rdd<i32>, y| {
        x.union(y)
    });
    let timed = a.transform_with_time2(&b, |x: Rdd<i32>, _y: Rdd<String>, time: Time| {
        let ms = time.as_millis() as i32;
        x.map(move |v| v + ms)
    });
    let pairs_out = t.collect(&pairs).unwrap();
    let sizes_out = t.collect(&sizes).unwrap();
    let union_out = t.collect(&unioned).unwrap();
    let timed_out = t.collect(&timed).unwrap();
    t.run(3).unwrap();
    let p = |n: i32, w: &str| (n, s(w));
    assert_eq!(
        pairs_out.sorted_batches(),
        vec![
            vec![
                p(1, "x"),
                p(1, "y"),
                p(2, "x"),
                p(2, "y"),
                p(3, "x"),
                p(3, "y")
            ],
            vec![],
            vec![],
        ]
    );
    // Both sides keep their partition structure (2 partitions each, empty ones included).
    assert_eq!(
        sizes_out.batches(),
        vec![vec![(2, 3, 2, 2)], vec![(2, 0, 2, 1)], vec![(2, 1, 2, 0)]]
    );
    assert_eq!(
        union_out.batches(),
        vec![vec![1, 2, 3, 100, 100], vec![100], vec![4]]
    );
    assert_eq!(
        timed_out.batches(),
        vec![vec![1001, 1002, 1003], vec![], vec![3004]]
    );
}

// ---------------------------------------------------------------------------------------------
// Key-based aggregation
// ---------------------------------------------------------------------------------------------

fn pair_input() -> Vec<Vec<(String, i32)>> {
    vec![
        kv(&[("a", 1), ("b", 2), ("a", 3), ("c", 4)]),
        vec![],
        kv(&[("b", 5)]),
        kv(&[("a", 1), ("a", 1), ("a", 1), ("a", 1), ("d", 0)]),
    ]
}

/// The per-key sums of each batch of [`pair_input`], sorted.
fn pair_input_sums() -> Vec<Vec<(String, i32)>> {
    vec![
        kv(&[("a", 4), ("b", 2), ("c", 4)]),
        vec![],
        kv(&[("b", 5)]),
        kv(&[("a", 4), ("d", 0)]),
    ]
}

#[test]
fn reduce_by_key_with_default_and_explicit_partitions() {
    for (master, partitions) in [
        ("local[2]", None),
        ("local[2]", Some(1)),
        ("local[2]", Some(3)),
        ("local[1]", None),
        ("local[3]", Some(5)),
    ] {
        let default = master[6..master.len() - 1].parse::<usize>().unwrap();
        let reduced = run_by_key(
            master,
            pair_input(),
            5,
            partitions.unwrap_or(default),
            |input| input.reduce_by_key(|a, b| a + b, partitions),
        );
        // The fifth batch has no input.
        let sums = [pair_input_sums(), vec![vec![]]].concat();
        assert_eq!(reduced, sums, "{master} {partitions:?}");
    }
}

#[test]
fn reduce_by_key_uses_the_function_not_addition() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![kv(&[
        ("a", 3),
        ("a", 9),
        ("b", -1),
        ("a", 4),
        ("b", -7),
    ])]);
    let out = t.collect(&input.reduce_by_key(i32::max, Some(2))).unwrap();
    t.run(1).unwrap();
    assert_eq!(out.sorted_batches(), vec![kv(&[("a", 9), ("b", -1)])]);
}

#[test]
fn group_by_key_with_default_and_explicit_partitions() {
    for partitions in [None, Some(1), Some(4)] {
        let mut batches = run_by_key(
            "local[2]",
            pair_input(),
            4,
            partitions.unwrap_or(2),
            |input| input.group_by_key(partitions),
        );
        for b in batches.iter_mut() {
            for (_, vs) in b.iter_mut() {
                vs.sort();
            }
        }
        assert_eq!(
            batches,
            vec![
                vec![(s("a"), vec![1, 3]), (s("b"), vec![2]), (s("c"), vec![4])],
                vec![],
                vec![(s("b"), vec![5])],
                vec![(s("a"), vec![1, 1, 1, 1]), (s("d"), vec![0])],
            ],
            "{partitions:?}"
        );
    }
}

#[test]
fn combine_by_key_computes_sum_and_count() {
    for partitions in [None, Some(3)] {
        let combined = run_by_key(
            "local[3]",
            pair_input(),
            4,
            partitions.unwrap_or(3),
            |input| {
                input.combine_by_key(
                    |v: i32| (v as i64, 1u32),
                    |(s, n), v| (s + v as i64, n + 1),
                    |(s1, n1), (s2, n2)| (s1 + s2, n1 + n2),
                    partitions,
                )
            },
        );
        assert_eq!(
            combined,
            vec![
                vec![(s("a"), (4, 2)), (s("b"), (2, 1)), (s("c"), (4, 1))],
                vec![],
                vec![(s("b"), (5, 1))],
                vec![(s("a"), (4, 4)), (s("d"), (0, 1))],
            ],
            "{partitions:?}"
        );
    }
}

#[test]
fn fold_by_key_with_neutral_zero() {
    for partitions in [None, Some(2), Some(7)] {
        let n = partitions.unwrap_or(2);
        let summed = run_by_key("local[2]", pair_input(), 4, n, |input| {
            input.fold_by_key(0, |a, b| a + b, partitions)
        });
        assert_eq!(summed, pair_input_sums());
        let product = run_by_key("local[2]", pair_input(), 4, n, |input| {
            input
                .map_values(|v| v + 1)
                .fold_by_key(1, |a, b| a * b, partitions)
        });
        // Values + 1: a: 2 * 4 = 8, b: 3, c: 5; then b: 6; then a: 2^4 = 16, d: 1.
        assert_eq!(
            product,
            vec![
                kv(&[("a", 8), ("b", 3), ("c", 5)]),
                vec![],
                kv(&[("b", 6)]),
                kv(&[("a", 16), ("d", 1)]),
            ]
        );
    }
}

#[test]
fn map_values_and_flat_map_values_keep_keys_and_partitions() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![
        kv(&[("a", 1), ("b", 2), ("a", 3), ("c", 0)]),
        vec![],
        kv(&[("z", 2)]),
    ]);
    let mapped = collect_parts(&input.map_values(|v| v * 10));
    let flat = collect_parts(&input.flat_map_values(|v| 0..v));
    t.run(3).unwrap();
    assert_eq!(
        parts_of(&mapped),
        vec![
            vec![kv(&[("a", 10), ("b", 20)]), kv(&[("a", 30), ("c", 0)])],
            vec![vec![], vec![]],
            vec![vec![], kv(&[("z", 20)])],
        ]
    );
    assert_eq!(
        parts_of(&flat),
        vec![
            vec![
                kv(&[("a", 0), ("b", 0), ("b", 1)]),
                kv(&[("a", 0), ("a", 1), ("a", 2)])
            ],
            vec![vec![], vec![]],
            vec![vec![], kv(&[("z", 0), ("z", 1)])],
        ]
    );
}

#[test]
fn reduce_by_key_output_is_deterministic_across_runs_and_worker_counts() {
    let input = || -> Vec<Vec<(String, i32)>> {
        (0..4)
            .map(|b| {
                (0..200)
                    .map(|i| (format!("k{}", (i * 7 + b) % 37), i))
                    .collect()
            })
            .collect()
    };
    let run = |master: &str| {
        let t = StreamTest::new(master, sec()).unwrap();
        let reduced = t.input(input()).reduce_by_key(|a, b| a + b, Some(4));
        let out = collect_parts(&reduced);
        let default = t.input(input()).reduce_by_key(|a, b| a + b, None);
        let default_out = t.collect(&default).unwrap();
        t.run(4).unwrap();
        t.stop().unwrap();
        (parts_of(&out), default_out.batches())
    };
    let (first, first_default) = run("local[2]");
    let (second, second_default) = run("local[2]");
    assert_eq!(
        first, second,
        "same pipeline, same master: identical unsorted batches"
    );
    assert_eq!(first_default, second_default);
    // With an explicit partition count the output does not depend on the number of workers.
    assert_eq!(run("local[1]").0, first);
    assert_eq!(run("local[3]").0, first);
    // Sanity: 37 keys per batch, sums add up.
    for batch in &first {
        let keys: usize = batch.iter().map(Vec::len).sum();
        assert_eq!(keys, 37);
        let total: i32 = batch.iter().flatten().map(|(_, v)| v).sum();
        assert_eq!(total, (0..200).sum::<i32>());
    }
}

// ---------------------------------------------------------------------------------------------
// cogroup and joins
// ---------------------------------------------------------------------------------------------

/// The pair streams the join tests run on.
type Pairs = DStream<(String, i32)>;

fn join_inputs(t: &StreamTest) -> (Pairs, Pairs) {
    let left = t.input(vec![
        kv(&[("a", 1), ("b", 2), ("a", 3)]),
        vec![],
        kv(&[("d", 4)]),
        vec![],
    ]);
    let right = t.input(vec![
        kv(&[("a", 10), ("c", 30)]),
        kv(&[("a", 7)]),
        vec![],
        vec![],
    ]);
    (left, right)
}

#[test]
fn cogroup_groups_both_sides() {
    for partitions in [None, Some(1), Some(3)] {
        let t = StreamTest::new("local[2]", sec()).unwrap();
        let (l, r) = join_inputs(&t);
        let grouped = l.cogroup(&r, partitions);
        let out = t.collect(&grouped).unwrap();
        let parts = collect_parts(&grouped);
        t.run(4).unwrap();
        t.stop().unwrap();
        let mut batches = out.sorted_batches();
        for b in batches.iter_mut() {
            for (_, (vs, ws)) in b.iter_mut() {
                vs.sort();
                ws.sort();
            }
        }
        let g = |k: &str, vs: &[i32], ws: &[i32]| (s(k), (vs.to_vec(), ws.to_vec()));
        assert_eq!(
            batches,
            vec![
                vec![
                    g("a", &[1, 3], &[10]),
                    g("b", &[2], &[]),
                    g("c", &[], &[30])
                ],
                vec![g("a", &[], &[7])],
                vec![g("d", &[4], &[])],
                vec![],
            ],
            "{partitions:?}"
        );
        check_hash_partitioned(&parts, partitions.unwrap_or(2));
    }
}

/// A row of any join kind: the key, then the value of each side, `None` where the kind allows
/// a side to be missing and it is. Every kind's rows map into it one to one, so one table holds
/// them all.
type JoinRow = (String, (Option<i32>, Option<i32>));

/// One join kind, run on `join_inputs` for 4 batches.
struct JoinCase {
    kind: &'static str,
    master: &'static str,
    /// The partition counts asked for; `None` is the default parallelism, `workers`.
    partitions: [Option<usize>; 2],
    workers: usize,
    /// The join, its rows as `JoinRow`s (a `map`: partitions and their order are the join's).
    join: fn(&Pairs, &Pairs, Option<usize>) -> DStream<JoinRow>,
    expected: Vec<Vec<JoinRow>>,
}

#[test]
fn joins_of_every_kind_pair_the_values_of_each_key() {
    let row = |k: &str, v: Option<i32>, w: Option<i32>| (s(k), (v, w));
    let cases = [
        JoinCase {
            kind: "join: values of keys in both batches",
            master: "local[2]",
            partitions: [None, Some(4)],
            workers: 2,
            join: |l, r, n| l.join(r, n).map(|(k, (v, w))| (k, (Some(v), Some(w)))),
            expected: vec![
                vec![row("a", Some(1), Some(10)), row("a", Some(3), Some(10))],
                vec![],
                vec![],
                vec![],
            ],
        },
        JoinCase {
            kind: "left_outer_join: every left value",
            master: "local[3]",
            partitions: [None, Some(3)],
            workers: 3,
            join: |l, r, n| l.left_outer_join(r, n).map(|(k, (v, w))| (k, (Some(v), w))),
            expected: vec![
                vec![
                    row("a", Some(1), Some(10)),
                    row("a", Some(3), Some(10)),
                    row("b", Some(2), None),
                ],
                vec![],
                vec![row("d", Some(4), None)],
                vec![],
            ],
        },
        JoinCase {
            kind: "right_outer_join: every right value",
            master: "local[1]",
            partitions: [None, Some(2)],
            workers: 1,
            join: |l, r, n| {
                l.right_outer_join(r, n)
                    .map(|(k, (v, w))| (k, (v, Some(w))))
            },
            expected: vec![
                vec![
                    row("a", Some(1), Some(10)),
                    row("a", Some(3), Some(10)),
                    row("c", None, Some(30)),
                ],
                vec![row("a", None, Some(7))],
                vec![],
                vec![],
            ],
        },
        JoinCase {
            kind: "full_outer_join: every key",
            master: "local[2]",
            partitions: [None, Some(5)],
            workers: 2,
            join: |l, r, n| l.full_outer_join(r, n),
            expected: vec![
                vec![
                    row("a", Some(1), Some(10)),
                    row("a", Some(3), Some(10)),
                    row("b", Some(2), None),
                    row("c", None, Some(30)),
                ],
                vec![row("a", None, Some(7))],
                vec![row("d", Some(4), None)],
                vec![],
            ],
        },
    ];
    for case in cases {
        for partitions in case.partitions {
            let t = StreamTest::new(case.master, sec()).unwrap();
            let (l, r) = join_inputs(&t);
            let joined = (case.join)(&l, &r, partitions);
            let out = t.collect(&joined).unwrap();
            let parts = collect_parts(&joined);
            t.run(4).unwrap();
            t.stop().unwrap();
            assert_eq!(
                out.sorted_batches(),
                case.expected,
                "{} {partitions:?}",
                case.kind
            );
            check_hash_partitioned(&parts, partitions.unwrap_or(case.workers));
        }
    }
}

#[test]
fn join_with_many_values_per_key_is_a_cross_product() {
    let t = StreamTest::new("local[3]", sec()).unwrap();
    let l = t.input(vec![kv(&[("k", 1), ("k", 2), ("k", 3), ("x", 9)])]);
    let r = t.input(vec![kv(&[("k", 10), ("k", 20), ("y", 8)])]);
    let out = t.collect(&l.join(&r, Some(2))).unwrap();
    t.run(1).unwrap();
    let j = |a: i32, b: i32| (s("k"), (a, b));
    assert_eq!(
        out.sorted_batches(),
        vec![vec![
            j(1, 10),
            j(1, 20),
            j(2, 10),
            j(2, 20),
            j(3, 10),
            j(3, 20)
        ]]
    );
}

#[test]
fn self_join_of_one_stream() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let l = t.input(vec![kv(&[("a", 1), ("b", 2), ("a", 3)])]);
    let out = t.collect(&l.join(&l, None)).unwrap();
    t.run(1).unwrap();
    let j = |k: &str, a: i32, b: i32| (s(k), (a, b));
    assert_eq!(
        out.sorted_batches(),
        vec![vec![
            j("a", 1, 1),
            j("a", 1, 3),
            j("a", 3, 1),
            j("a", 3, 3),
            j("b", 2, 2),
        ]]
    );
}

#[test]
fn many_outputs_on_one_shared_stream() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let words = t
        .input(vec![vec![s("a b a"), s("c")], vec![], vec![s("b b")]])
        .flat_map(|l: String| l.split(' ').map(str::to_owned).collect::<Vec<_>>());
    let counts = words.map(|w| (w, 1)).reduce_by_key(|a, b| a + b, None);
    let total = words.count();
    let c_out = t.collect(&counts).unwrap();
    let n_out = t.collect(&total).unwrap();
    let w_out = t.collect(&words).unwrap();
    t.run(3).unwrap();
    assert_eq!(
        c_out.sorted_batches(),
        vec![kv(&[("a", 2), ("b", 1), ("c", 1)]), vec![], kv(&[("b", 2)])]
    );
    assert_eq!(n_out.batches(), vec![vec![4], vec![0], vec![2]]);
    assert_eq!(
        w_out.batches(),
        vec![
            vec![s("a"), s("b"), s("a"), s("c")],
            vec![],
            vec![s("b"), s("b")]
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Compound pipelines and volume
// ---------------------------------------------------------------------------------------------

#[test]
fn glom_after_reduce_by_key_has_one_array_per_hash_partition() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![
        ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .map(|w| (s(w), 1))
            .collect(),
        vec![],
    ]);
    let glom = t
        .collect(&input.reduce_by_key(|a, b| a + b, Some(5)).glom())
        .unwrap();
    let sizes = t
        .collect(&input.reduce_by_key(|a, b| a + b, Some(5)).transform(
            |rdd: Rdd<(String, i32)>| {
                let ctx = rdd.context().clone();
                ctx.parallelize(vec![rdd.num_partitions()], 1)
            },
        ))
        .unwrap();
    t.run(2).unwrap();
    let batches = glom.batches();
    assert_eq!(batches[0].len(), 5);
    for (i, part) in batches[0].iter().enumerate() {
        for (k, v) in part {
            assert_eq!(partition_of(k, 5), i);
            assert_eq!(*v, 1);
        }
    }
    assert_eq!(batches[0].iter().map(Vec::len).sum::<usize>(), 8);
    assert_eq!(batches[1], vec![Vec::<(String, i32)>::new(); 5]);
    assert_eq!(sizes.batches(), vec![vec![5], vec![5]]);
}

#[test]
fn chained_shuffles() {
    let t = StreamTest::new("local[3]", sec()).unwrap();
    let lines = t.input(vec![
        vec![s("the cat and the hat"), s("the end")],
        vec![],
        vec![s("x y x")],
    ]);
    let counts = lines
        .flat_map(|l: String| l.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .map(|w| (w, 1u32))
        .reduce_by_key(|a, b| a + b, Some(4));
    // Invert: words per count, sorted inside a transform.
    let by_count = counts
        .map(|(w, n)| (n, w))
        .group_by_key(Some(2))
        .map_values(|mut ws| {
            ws.sort();
            ws
        });
    let joined = counts.join(&counts.map_values(|n| n * 10), Some(3));
    let total = counts.map(|(_, n)| n).reduce(|a, b| a + b);
    let by_count_out = t.collect(&by_count).unwrap();
    let joined_out = t.collect(&joined).unwrap();
    let total_out = t.collect(&total).unwrap();
    t.run(3).unwrap();
    assert_eq!(
        by_count_out.sorted_batches(),
        vec![
            vec![
                (1, vec![s("and"), s("cat"), s("end"), s("hat")]),
                (3, vec![s("the")]),
            ],
            vec![],
            vec![(1, vec![s("y")]), (2, vec![s("x")])],
        ]
    );
    let j = |w: &str, n: u32| (s(w), (n, n * 10));
    assert_eq!(
        joined_out.sorted_batches(),
        vec![
            vec![
                j("and", 1),
                j("cat", 1),
                j("end", 1),
                j("hat", 1),
                j("the", 3)
            ],
            vec![],
            vec![j("x", 2), j("y", 1)],
        ]
    );
    assert_eq!(total_out.batches(), vec![vec![7], vec![], vec![3]]);
}

#[test]
fn union_of_streams_with_different_partition_counts() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![vec![5u64, 6, 7], vec![]]);
    let counted = input.count(); // 1 partition
    let spread = input.map(|x| x * 10).repartition(3); // 3 partitions
    let u = counted.union(&input).union(&spread).union(&counted);
    let parts = collect_parts(&u);
    t.run(2).unwrap();
    let mut got = parts_of(&parts);
    // Partitions: count | input (2) | repartitioned (3, sorted for the interleaving) | count.
    for batch in got.iter_mut() {
        assert_eq!(batch.len(), 7);
        for p in &mut batch[3..6] {
            p.sort();
        }
    }
    // Input [5] | [6, 7]; worker 0 deals 50 -> 0; worker 1 deals 60 -> 1, 70 -> 2.
    assert_eq!(
        got,
        vec![
            vec![
                vec![3],
                vec![5],
                vec![6, 7],
                vec![50],
                vec![60],
                vec![70],
                vec![3]
            ],
            vec![vec![0], vec![], vec![], vec![], vec![], vec![], vec![0]],
        ]
    );
}

#[test]
fn large_batches_keep_order_within_partitions() {
    let n = 60_000u32;
    let t = StreamTest::new("local[3]", sec()).unwrap();
    let data: Vec<u32> = (0..n).collect();
    let input = t.input(vec![
        data.clone(),
        vec![],
        data.iter().rev().copied().collect(),
    ]);
    let mapped = t.collect(&input.map(|x| x as u64 * 2)).unwrap();
    let counted = t.collect(&input.count()).unwrap();
    let sums = t
        .collect(
            &input
                .map(|x| (x % 10, x as u64))
                .reduce_by_key(|a, b| a + b, None),
        )
        .unwrap();
    let spread = t
        .collect(&input.repartition(7).glom().map(|p| p.len()))
        .unwrap();
    t.run(3).unwrap();
    let batches = mapped.batches();
    assert_eq!(
        batches[0],
        data.iter().map(|x| *x as u64 * 2).collect::<Vec<_>>()
    );
    assert!(batches[1].is_empty());
    assert_eq!(
        batches[2],
        data.iter().rev().map(|x| *x as u64 * 2).collect::<Vec<_>>()
    );
    assert_eq!(
        counted.batches(),
        vec![vec![n as u64], vec![0], vec![n as u64]]
    );
    let expected: Vec<(u32, u64)> = (0..10)
        .map(|d| (d, (0..n).filter(|x| x % 10 == d).map(u64::from).sum()))
        .collect();
    let sorted = sums.sorted_batches();
    assert_eq!(sorted[0], expected);
    assert_eq!(sorted[2], expected);
    for b in [0, 2] {
        let sizes = &spread.batches()[b];
        assert_eq!(sizes.len(), 7);
        assert_eq!(sizes.iter().sum::<usize>(), n as usize);
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(max - min <= 3, "{sizes:?}");
    }
}

#[test]
fn a_queue_rdd_with_other_partition_counts() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let ctx = t.context().context().clone();
    let queue = RddQueue::new();
    queue.push(ctx.parallelize(vec![1, 2, 3, 4], 4));
    queue.push(ctx.parallelize(vec![5, 6], 1));
    let input = t.context().queue_stream(queue, true, None);
    let out = t.collect(&input).unwrap();
    let doubled = t.collect(&input.map(|x| x * 2)).unwrap();
    let counted = t.collect(&input.count()).unwrap();
    t.run(3).unwrap();
    assert_eq!(out.batches(), vec![vec![1, 2, 3, 4], vec![5, 6], vec![]]);
    assert_eq!(
        doubled.batches(),
        vec![vec![2, 4, 6, 8], vec![10, 12], vec![]]
    );
    assert_eq!(counted.batches(), vec![vec![4], vec![2], vec![0]]);
}

#[test]
fn queue_stream_all_at_once_and_default_rdd() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let ctx = t.context().context().clone();
    let queue = RddQueue::new();
    queue.push(ctx.parallelize(vec![1, 2], 2));
    queue.push(ctx.parallelize(vec![3], 2));
    let all = t
        .context()
        .queue_stream(queue.clone(), false, Some(ctx.parallelize(vec![0], 2)));
    let out = collect_parts(&all);
    t.run(2).unwrap();
    // Both queued RDDs form the first batch, partitions one after the other; then the default.
    assert_eq!(
        parts_of(&out),
        vec![
            vec![vec![1], vec![2], vec![], vec![3]],
            vec![vec![], vec![0]]
        ]
    );
    // RDDs pushed while running are picked up.
    queue.push(ctx.parallelize(vec![9], 1));
    t.run(1).unwrap();
    assert_eq!(parts_of(&out)[2].concat(), vec![9]);
}

#[test]
fn single_partition_aggregates_and_self_union() {
    let t = StreamTest::new("local[3]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2, 3, 4], vec![]]);
    let count_glom = t.collect(&input.count().glom()).unwrap();
    let reduce_glom = t.collect(&input.reduce(|a, b| a + b).glom()).unwrap();
    let indexed = t
        .collect(
            &input
                .count()
                .map_partitions_with_index(|i, p: Vec<u64>| p.into_iter().map(move |c| (i, c))),
        )
        .unwrap();
    let twice = collect_parts(&input.union(&input));
    let thrice = t
        .collect(
            &t.context()
                .union(&[input.clone(), input.clone(), input.clone()])
                .count(),
        )
        .unwrap();
    t.run(2).unwrap();
    assert_eq!(count_glom.batches(), vec![vec![vec![4]], vec![vec![0]]]);
    assert_eq!(reduce_glom.batches(), vec![vec![vec![10]], vec![vec![]]]);
    assert_eq!(indexed.batches(), vec![vec![(0, 4)], vec![(0, 0)]]);
    // local[3]: [1] | [2] | [3, 4], twice.
    assert_eq!(
        parts_of(&twice),
        vec![
            vec![vec![1], vec![2], vec![3, 4], vec![1], vec![2], vec![3, 4]],
            vec![vec![]; 6],
        ]
    );
    assert_eq!(thrice.batches(), vec![vec![12], vec![0]]);
}
