//! `DStream::slice` over remembered batches, on a manual clock.

use std::sync::{Arc, Mutex};

use ember::testing::StreamTest;
use ember::{Duration, Error, Rdd, RddQueue, Time};

fn sorted(rdds: &[Rdd<i32>]) -> Vec<Vec<i32>> {
    rdds.iter()
        .map(|rdd| {
            let mut v = rdd.collect();
            v.sort();
            v
        })
        .collect()
}

#[test]
fn slice_returns_the_remembered_batches_between_two_times() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    t.context().remember(Duration::seconds(10)).unwrap();
    let doubled = t
        .input(vec![vec![1, 2], vec![3], vec![], vec![4, 5, 6]])
        .map(|x: i32| x * 2);
    let _out = t.collect(&doubled).unwrap();
    t.run(4).unwrap();
    let batches: Vec<Vec<i32>> = doubled
        .slice(Time::from_millis(2000), Time::from_millis(4000))
        .unwrap()
        .iter()
        .map(|rdd| {
            let mut v = rdd.collect();
            v.sort();
            v
        })
        .collect();
    assert_eq!(batches, vec![vec![6], vec![], vec![8, 10, 12]]);
    // Unaligned times move down to the slide: 1500..2999 is batches 1000 and 2000.
    let two = doubled
        .slice(Time::from_millis(1500), Time::from_millis(2999))
        .unwrap();
    assert_eq!(two.len(), 2);
    assert_eq!(two[0].count(), 2);
    t.stop().unwrap();
}

#[test]
fn slice_without_remember_or_before_start_is_an_error() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let s = t.input(vec![vec![1]]);
    let _out = t.collect(&s).unwrap();
    let before = s
        .slice(Time::from_millis(0), Time::from_millis(1000))
        .unwrap_err();
    assert!(matches!(before, Error::IllegalState(_)), "{before}");
    // Spark's message: the stream, then "has not been initialized".
    assert_eq!(
        before.to_string(),
        "queue_stream stream 0 has not been initialized"
    );
    t.run(1).unwrap();
    let err = s
        .slice(Time::from_millis(0), Time::from_millis(1000))
        .unwrap_err();
    assert!(
        err.to_string().contains("StreamingContext::remember"),
        "{err}"
    );
    t.stop().unwrap();
}

/// Spark's `getOrCompute`: a slice over times that have not come computes their batches at
/// once (the queue gives them its next RDDs), and their outputs still run at their times, with
/// the batches the slice computed.
#[test]
fn slice_computes_batches_that_have_not_run() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    t.context().remember(Duration::seconds(60)).unwrap();
    let sc = t.context().context().clone();
    let queue = RddQueue::from(
        (1..=6)
            .map(|i| sc.parallelize(vec![i], 1))
            .collect::<Vec<_>>(),
    );
    let tens = t
        .context()
        .queue_stream(queue, true, None)
        .map(|x: i32| x * 10);
    let out = t.collect(&tens).unwrap();
    t.run(1).unwrap();
    // The clock is at 1000 ms: 3000..4000 have not run, nor has 2000.
    let ahead = tens
        .slice(Time::from_millis(3000), Time::from_millis(4000))
        .unwrap();
    assert_eq!(sorted(&ahead), [vec![30], vec![40]]);
    // Computing 4000 computed every batch before it, in order: 2000 took the queue's second RDD.
    let all = tens
        .slice(Time::from_millis(1000), Time::from_millis(4000))
        .unwrap();
    assert_eq!(sorted(&all), [vec![10], vec![20], vec![30], vec![40]]);
    // No output ran ahead of its time.
    assert_eq!(out.batches_with_time().len(), 1);
    t.run(5).unwrap();
    assert_eq!(
        out.sorted_batches(),
        [vec![10], vec![20], vec![30], vec![40], vec![50], vec![60]]
    );
    let times: Vec<u64> = out
        .batches_with_time()
        .iter()
        .map(|(time, _)| time.as_millis())
        .collect();
    assert_eq!(times, [1000, 2000, 3000, 4000, 5000, 6000]);
    t.stop().unwrap();
}

/// A slice leaves out the times whose batch has no RDD, as Spark's (`flatMap` over
/// `getOrCompute`).
#[test]
fn slice_leaves_out_times_without_an_rdd() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    t.context().remember(Duration::seconds(60)).unwrap();
    let s = t.optional_input(vec![Some(vec![1]), None, Some(vec![3])]);
    let _out = t.collect(&s).unwrap();
    t.run(3).unwrap();
    let rdds = s
        .slice(Time::from_millis(1000), Time::from_millis(3000))
        .unwrap();
    assert_eq!(sorted(&rdds), [vec![1], vec![3]]);
    t.stop().unwrap();
}

/// From inside an output job, batches that have not run cannot be computed (the job runs on the
/// thread that computes them); batches already run can be sliced.
#[test]
fn slice_inside_a_job_refuses_to_compute_ahead() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    t.context().remember(Duration::seconds(60)).unwrap();
    let s = t.input(vec![vec![1], vec![2]]);
    type Seen = Vec<(u64, Result<usize, String>, Result<usize, String>)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let (sink, stream) = (seen.clone(), s.clone());
    s.foreach_rdd(move |_, time| {
        let done = stream
            .slice(Time::from_millis(1000), time)
            .map(|r| r.len())
            .map_err(|e| e.to_string());
        let ahead = stream
            .slice(time, time + Duration::seconds(1))
            .map(|r| r.len())
            .map_err(|e| e.to_string());
        sink.lock().unwrap().push((time.as_millis(), done, ahead));
    })
    .unwrap();
    t.run(2).unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for (i, (ms, done, ahead)) in seen.into_iter().enumerate() {
        assert_eq!(ms, 1000 * (i as u64 + 1));
        assert_eq!(done, Ok(i + 1));
        let e = ahead.unwrap_err();
        assert!(e.contains("have not been computed yet"), "{e}");
    }
    t.stop().unwrap();
}
