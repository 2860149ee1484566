//! Fused chains of per-record operations (`exec::chain`): a chain of `map`/`flat_map`/`filter`
//! whose streams have one consumer each runs inside that consumer's operator. What must not
//! change: every function runs once per record (a stream read twice is computed once), and a
//! failing function fails the batch under its own operation, with only the jobs that depend on
//! it failing.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{reported_error, sec};
use ember::testing::StreamTest;

fn counter() -> (Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let c = Arc::new(AtomicUsize::new(0));
    (c.clone(), c)
}

#[test]
fn a_chain_into_a_combine_gives_the_same_counts_and_calls_each_function_once_per_record() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let lines = t.input(vec![
        vec!["a b a".to_string(), "c".to_string()],
        vec!["b b".to_string()],
    ]);
    let (splits, seen_splits) = counter();
    let (pairs, seen_pairs) = counter();
    let counts = lines
        .flat_map(move |line: String| {
            splits.fetch_add(1, Ordering::Relaxed);
            line.split(' ').map(str::to_owned).collect::<Vec<_>>()
        })
        .filter(|w| !w.is_empty())
        .map(move |w| {
            pairs.fetch_add(1, Ordering::Relaxed);
            (w, 1u32)
        })
        .reduce_by_key(|a, b| a + b, None);
    let out = t.collect(&counts).unwrap();
    t.run(2).unwrap();
    let mut batches = out.batches();
    batches.iter_mut().for_each(|b| b.sort());
    assert_eq!(
        batches,
        vec![
            vec![
                ("a".to_string(), 2),
                ("b".to_string(), 1),
                ("c".to_string(), 1)
            ],
            vec![("b".to_string(), 2)],
        ]
    );
    assert_eq!(seen_splits.load(Ordering::Relaxed), 3, "one call per line");
    assert_eq!(seen_pairs.load(Ordering::Relaxed), 6, "one call per word");
}

#[test]
fn a_stream_read_by_two_consumers_is_computed_once() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2, 3], vec![4]]);
    let (calls, seen) = counter();
    let doubled = input.map(move |x: i32| {
        calls.fetch_add(1, Ordering::Relaxed);
        x * 2
    });
    // Two consumers of `doubled`: an output and a further map with its own output.
    let direct = t.collect(&doubled).unwrap();
    let plus_one = t.collect(&doubled.map(|x| x + 1)).unwrap();
    t.run(2).unwrap();
    let sorted = |mut v: Vec<Vec<i32>>| {
        v.iter_mut().for_each(|b| b.sort());
        v
    };
    assert_eq!(sorted(direct.batches()), vec![vec![2, 4, 6], vec![8]]);
    assert_eq!(sorted(plus_one.batches()), vec![vec![3, 5, 7], vec![9]]);
    assert_eq!(seen.load(Ordering::Relaxed), 4, "one call per record");
}

#[test]
fn a_panic_inside_a_fused_chain_is_reported_as_its_own_operation() {
    let t = StreamTest::new("local[1]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2], vec![3, 13, 4], vec![5]]);
    // filter -> map (panics on 26) -> map_values: one fused chain into the combine.
    let sums = input
        .filter(|x: &i32| *x > 0)
        .map(|x| {
            if x * 2 == 26 {
                panic!("bad record {x}");
            }
            (x % 2, x * 2)
        })
        .map_values(|v| v + 1)
        .reduce_by_key(|a, b| a + b, None);
    let out = t.collect(&sums).unwrap();
    t.run(3).unwrap();
    // The batch with the bad record fails; the others run.
    let batches: Vec<u64> = out
        .batches_with_time()
        .iter()
        .map(|(time, _)| time.as_millis())
        .collect();
    assert_eq!(batches, vec![1000, 3000]);
    let err = reported_error(&t).to_string();
    assert!(err.contains("map failed: "), "{err}");
    assert!(err.contains("bad record 13"), "{err}");
}

#[test]
fn an_error_of_a_fused_function_fails_only_the_jobs_that_depend_on_it() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2], vec![3, 13], vec![5]]);
    // `input` has two consumers: the failing chain and a plain output of its own.
    let failing = input
        .map(|x: i32| {
            if x == 13 {
                panic!("bad record");
            }
            x
        })
        .map(|x| (x, 1))
        .reduce_by_key(|a, b| a + b, None);
    let chained = t.collect(&failing).unwrap();
    let raw = t.collect(&input).unwrap();
    t.run(3).unwrap();
    assert_eq!(chained.batches().len(), 2, "the batch at 2000 failed");
    let mut raw = raw.batches();
    raw.iter_mut().for_each(|b| b.sort());
    assert_eq!(raw, vec![vec![1, 2], vec![3, 13], vec![5]]);
}
