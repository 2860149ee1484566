//! StreamingContext lifecycle: Spark's rules and exact messages (reference §1.3, §1.4), batch
//! times, empty batches, and failures of user code.
//!
//! Tests that start a `StreamingContext` without `StreamTest` hold `ember::testing::exclusive()`
//! for their whole run: one streaming context may be active per process.

mod common;

use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration as StdDuration, Instant};

use common::{Log, batch_times, reported_error, sec, wait_until};
use ember::error::{JobError, Report};
use ember::scheduler::{BatchInfo, ManualClock, StreamingListener};
use ember::testing::{StreamTest, exclusive};
use ember::{
    Conf, Context, DStream, Duration, Error, RddQueue, StreamingContext, StreamingContextState,
    Time,
};

const AFTER_START: &str = "Adding new inputs, transformations, and output operations after starting a context is not supported";
const AFTER_STOP: &str = "Adding new inputs, transformations, and output operations after stopping a context is not supported";
const NO_OUTPUT: &str =
    "requirement failed: No output operations registered, so nothing to execute";
const ALREADY_STOPPED: &str = "StreamingContext has already been stopped";
const ONLY_ONE: &str = "Only one StreamingContext may be started in this process";

/// The process lock plus a running `Context` with `master`.
fn setup(master: &str) -> (MutexGuard<'static, ()>, Context) {
    let turn = exclusive();
    if let Some(active) = StreamingContext::get_active() {
        active.stop(false, false).unwrap();
    }
    let conf = Conf::new().set_master(master).set_app_name("lifecycle");
    let ctx = Context::get_or_create(conf.clone()).unwrap();
    let ctx = if ctx.master().threads() == conf.master().unwrap().threads() {
        ctx
    } else {
        ctx.stop();
        Context::new(conf).unwrap()
    };
    (turn, ctx)
}

fn manual(ctx: &Context, batch: Duration) -> (StreamingContext, ManualClock) {
    let clock = ManualClock::new(Time::from_millis(0));
    let ssc = StreamingContext::with_clock(ctx, batch, Arc::new(clock.clone())).unwrap();
    (ssc, clock)
}

fn queue_input(ssc: &StreamingContext, batches: Vec<Vec<i32>>) -> DStream<i32> {
    let ctx = ssc.context();
    let queue = RddQueue::new();
    for b in batches {
        queue.push(ctx.parallelize(b, ctx.default_parallelism()));
    }
    ssc.queue_stream(queue, true, None)
}

/// A streaming context on a manual clock whose one output collects an empty queue: it can start,
/// and its batches are empty.
fn idle(ctx: &Context, batch: Duration) -> StreamingContext {
    let (ssc, _clock) = manual(ctx, batch);
    sink(&queue_input(&ssc, vec![]));
    ssc
}

/// Every batch's time and elements, as a `foreach_rdd` output collected them.
type Sink<T> = Log<(Time, Vec<T>)>;

fn sink<T: ember::Data>(stream: &DStream<T>) -> Sink<T> {
    let out = Sink::default();
    let s = out.clone();
    stream
        .foreach_rdd(move |rdd, time| s.push((time, rdd.collect())))
        .unwrap();
    out
}

/// A streaming context with 1 s batches on a manual clock, whose output collects
/// `output(queue of batches)`, started and run until its first batch (1000 ms) is collected.
fn run_first_batch(
    ctx: &Context,
    batches: Vec<Vec<i32>>,
    output: impl FnOnce(DStream<i32>) -> DStream<i32>,
) -> (StreamingContext, Sink<i32>) {
    let (ssc, clock) = manual(ctx, sec());
    let out = sink(&output(queue_input(&ssc, batches)));
    ssc.start().unwrap();
    clock.set(Time::from_millis(1000));
    wait_for(&out, 1);
    (ssc, out)
}

/// Waits (bounded) until `sink` holds at least `n` batches.
fn wait_for<T>(sink: &Sink<T>, n: usize) {
    assert!(
        wait_until(StdDuration::from_secs(30), || sink.len() >= n),
        "only {} of {n} batches within 30 s",
        sink.len()
    );
}

fn times<T: Clone>(sink: &Sink<T>) -> Vec<u64> {
    sink.entries().iter().map(|(t, _)| t.as_millis()).collect()
}

fn batch_data<T: Clone>(sink: &Sink<T>) -> Vec<Vec<T>> {
    sink.entries().into_iter().map(|(_, b)| b).collect()
}

// ---------------------------------------------------------------------------------------------
// start / stop rules
// ---------------------------------------------------------------------------------------------

#[test]
fn start_without_output_fails_and_leaves_the_context_stopped() {
    let (_turn, ctx) = setup("local[2]");
    let (ssc, _clock) = manual(&ctx, sec());
    let _input = queue_input(&ssc, vec![vec![1]]).map(|x| x + 1);
    let err = ssc.start().unwrap_err();
    assert!(matches!(err, Error::Requirement(_)), "{err:?}");
    assert_eq!(err.to_string(), NO_OUTPUT);
    assert_eq!(ssc.state(), StreamingContextState::Stopped);
    assert!(StreamingContext::get_active().is_none());
    // A failed start cannot be retried.
    let err = ssc.start().unwrap_err();
    assert!(matches!(err, Error::IllegalState(_)), "{err:?}");
    assert_eq!(err.to_string(), ALREADY_STOPPED);
    // The Context is untouched and serves a new streaming context.
    assert!(!ctx.is_stopped());
    let (again, out) = run_first_batch(&ctx, vec![vec![7]], |input| input);
    again.stop(false, false).unwrap();
    assert_eq!(out.entries(), vec![(Time::from_millis(1000), vec![7])]);
}

#[test]
fn start_after_stop_fails() {
    let (_turn, ctx) = setup("local[2]");
    let (ssc, _out) = run_first_batch(&ctx, vec![vec![1]], |input| input);
    ssc.stop(false, false).unwrap();
    assert_eq!(ssc.state(), StreamingContextState::Stopped);
    let err = ssc.start().unwrap_err();
    assert!(matches!(err, Error::IllegalState(_)), "{err:?}");
    assert_eq!(err.to_string(), ALREADY_STOPPED);
    assert_eq!(ssc.state(), StreamingContextState::Stopped);

    // stop() on an Initialized context goes straight to Stopped.
    let fresh = idle(&ctx, sec());
    fresh.stop(false, false).unwrap();
    assert_eq!(fresh.state(), StreamingContextState::Stopped);
    assert_eq!(fresh.start().unwrap_err().to_string(), ALREADY_STOPPED);
}

#[test]
fn start_twice_and_stop_twice_are_harmless() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let out = t.collect(&t.input(vec![vec![1], vec![2]])).unwrap();
    t.context().start().unwrap();
    t.context().start().unwrap();
    assert_eq!(t.context().state(), StreamingContextState::Active);
    t.run(2).unwrap();
    t.stop().unwrap();
    t.stop().unwrap();
    assert_eq!(t.context().state(), StreamingContextState::Stopped);
    assert_eq!(out.batches(), vec![vec![1], vec![2]]);
}

#[test]
fn nothing_can_be_added_after_start_or_after_stop() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let ssc = t.context().clone();
    let input = t.input(vec![vec![1, 2], vec![3]]);
    let before = input.map(|x: i32| x * 10);
    let out = t.collect(&before).unwrap();
    t.run(1).unwrap();

    // Outputs on streams made before start.
    let err = input.foreach_rdd(|_, _| {}).unwrap_err();
    assert!(matches!(err, Error::IllegalState(_)), "{err:?}");
    assert_eq!(err.to_string(), AFTER_START);
    assert_eq!(before.print(10).unwrap_err().to_string(), AFTER_START);
    // Transformations made after start are poisoned: outputs on them fail.
    let after = input.map(|x| x + 1);
    assert_eq!(
        after.foreach_rdd(|_, _| {}).unwrap_err().to_string(),
        AFTER_START
    );
    let derived = before.union(&after).count();
    assert_eq!(
        derived.foreach_rdd(|_, _| {}).unwrap_err().to_string(),
        AFTER_START
    );
    let late_input = ssc.queue_stream(RddQueue::<i32>::new(), true, None);
    assert_eq!(
        late_input.foreach_rdd(|_, _| {}).unwrap_err().to_string(),
        AFTER_START
    );
    let err = ssc.remember(Duration::seconds(10)).unwrap_err();
    assert_eq!(err.to_string(), AFTER_START);

    // The running graph is unaffected.
    t.run(1).unwrap();
    assert_eq!(out.batches(), vec![vec![10, 20], vec![30]]);
    t.stop().unwrap();

    for stream in [&input, &before, &after] {
        let err = stream.foreach_rdd(|_, _| {}).unwrap_err();
        assert!(matches!(err, Error::IllegalState(_)), "{err:?}");
        assert_eq!(err.to_string(), AFTER_STOP);
    }
    let after_stop = input.filter(|x| *x > 0);
    assert_eq!(
        after_stop.foreach_rdd(|_, _| {}).unwrap_err().to_string(),
        AFTER_STOP
    );
    assert_eq!(
        ssc.remember(Duration::seconds(1)).unwrap_err().to_string(),
        AFTER_STOP
    );
}

#[test]
fn only_one_streaming_context_may_be_started() {
    let (_turn, ctx) = setup("local[2]");
    let (first, clock) = manual(&ctx, sec());
    let out = sink(&queue_input(&first, vec![vec![1]]));
    let (second, _clock2) = manual(&ctx, Duration::seconds(2));
    sink(&queue_input(&second, vec![vec![2]]));
    assert!(StreamingContext::get_active().is_none());
    first.start().unwrap();
    let err = second.start().unwrap_err();
    assert!(matches!(err, Error::IllegalState(_)), "{err:?}");
    assert!(err.to_string().starts_with(ONLY_ONE), "{err}");
    assert!(
        err.to_string()
            .contains("Currently running StreamingContext was started at"),
        "{err}"
    );
    // The first one is still the active one, and still runs.
    let active = StreamingContext::get_active().expect("an active context");
    assert_eq!(active.batch_duration(), sec());
    assert_eq!(first.state(), StreamingContextState::Active);
    clock.set(Time::from_millis(1000));
    wait_for(&out, 1);
    first.stop(false, false).unwrap();
    assert!(StreamingContext::get_active().is_none());
}

/// Spark's `start()` calls `assertNoOtherContextIsActive()` before its `try` block, so a start
/// refused because another context is active does NOT mark the context stopped: it stays
/// INITIALIZED and may start once the other one has stopped. ember does the same.
#[test]
fn refused_second_start_leaves_the_context_initialized() {
    let (_turn, ctx) = setup("local[2]");
    let first = idle(&ctx, sec());
    let (second, clock2) = manual(&ctx, sec());
    let out = sink(&queue_input(&second, vec![vec![5]]));
    first.start().unwrap();
    assert!(second.start().is_err());
    let state = second.state();
    first.stop(false, false).unwrap();
    assert_eq!(state, StreamingContextState::Initialized);
    second.start().unwrap();
    clock2.set(Time::from_millis(1000));
    wait_for(&out, 1);
    second.stop(false, false).unwrap();
}

#[test]
fn get_active_follows_start_and_stop() {
    let (_turn, ctx) = setup("local[1]");
    let ssc = idle(&ctx, Duration::milliseconds(300));
    assert!(StreamingContext::get_active().is_none());
    ssc.start().unwrap();
    let active = StreamingContext::get_active().expect("active after start");
    assert_eq!(active.batch_duration(), Duration::milliseconds(300));
    assert_eq!(active.state(), StreamingContextState::Active);
    ssc.stop(false, false).unwrap();
    assert!(StreamingContext::get_active().is_none());
    // The clone seen through get_active is the same context.
    assert_eq!(active.state(), StreamingContextState::Stopped);
}

#[test]
fn stop_without_stopping_the_context_lets_it_serve_a_new_streaming_context() {
    let (_turn, ctx) = setup("local[2]");
    for round in 0..3 {
        let (ssc, out) = run_first_batch(&ctx, vec![vec![round, round + 1]], |input| {
            input.map(|x| x * 2)
        });
        ssc.stop(false, round % 2 == 0).unwrap();
        assert!(!ctx.is_stopped(), "round {round}");
        assert_eq!(batch_data(&out)[0], vec![round * 2, round * 2 + 2]);
    }
}

#[test]
fn stop_with_stop_context_stops_the_context() {
    let (_turn, ctx) = setup("local[2]");
    let (ssc, _out) = run_first_batch(&ctx, vec![vec![1]], |input| input);
    ssc.stop(true, false).unwrap();
    assert!(ctx.is_stopped());
    assert!(ssc.context().is_stopped());
    let err = StreamingContext::new(&ctx, sec()).unwrap_err();
    assert!(matches!(err, Error::IllegalState(_)), "{err:?}");
}

#[test]
fn stop_false_then_stop_true_still_stops_the_context() {
    let (_turn, ctx) = setup("local[2]");
    let ssc = idle(&ctx, sec());
    ssc.start().unwrap();
    ssc.stop(false, false).unwrap();
    assert!(!ctx.is_stopped());
    ssc.stop(true, false).unwrap();
    assert!(ctx.is_stopped());
}

#[test]
fn start_on_a_stopped_context_fails() {
    let (_turn, ctx) = setup("local[2]");
    let ssc = idle(&ctx, sec());
    ctx.stop();
    let err = ssc.start().unwrap_err();
    assert!(matches!(err, Error::IllegalState(_)), "{err:?}");
    assert_eq!(ssc.state(), StreamingContextState::Stopped);
    assert!(StreamingContext::get_active().is_none());
}

#[test]
fn zero_batch_interval_is_rejected() {
    let (_turn, ctx) = setup("local[2]");
    let err = StreamingContext::new(&ctx, Duration::milliseconds(0)).unwrap_err();
    assert!(matches!(err, Error::Requirement(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "requirement failed: Batch duration must be greater than 0 ms"
    );
    let clock = Arc::new(ManualClock::new(Time::from_millis(0)));
    assert!(StreamingContext::with_clock(&ctx, Duration::seconds(0), clock).is_err());
    assert!(StreamingContext::new(&ctx, Duration::milliseconds(1)).is_ok());
}

// ---------------------------------------------------------------------------------------------
// await_termination
// ---------------------------------------------------------------------------------------------

#[test]
fn await_termination_or_timeout_times_out_then_reports_stop() {
    let (_turn, ctx) = setup("local[2]");
    let ssc = idle(&ctx, sec());
    // Before start: nothing to wait for but a state change.
    // `false`: the wait ended by its timeout, not by a stop (how long it took is not asserted:
    // the timeout is real time, as Spark's).
    assert!(
        !ssc.await_termination_or_timeout(StdDuration::from_millis(50))
            .unwrap()
    );
    ssc.start().unwrap();
    assert!(
        !ssc.await_termination_or_timeout(StdDuration::from_millis(100))
            .unwrap()
    );
    assert!(!ssc.await_termination_or_timeout(StdDuration::ZERO).unwrap());
    ssc.stop(false, false).unwrap();
    assert!(
        ssc.await_termination_or_timeout(StdDuration::from_millis(10))
            .unwrap()
    );
    assert!(ssc.await_termination_or_timeout(StdDuration::ZERO).unwrap());
    ssc.await_termination().unwrap();
}

#[test]
fn await_on_a_context_stopped_before_start_returns_at_once() {
    let (_turn, ctx) = setup("local[2]");
    let (ssc, _clock) = manual(&ctx, sec());
    ssc.stop(false, false).unwrap();
    assert!(
        ssc.await_termination_or_timeout(StdDuration::from_secs(5))
            .unwrap()
    );
    ssc.await_termination().unwrap();
}

#[test]
fn await_termination_returns_when_another_thread_stops() {
    let (_turn, ctx) = setup("local[2]");
    let ssc = idle(&ctx, sec());
    ssc.start().unwrap();
    let (tx, rx) = mpsc::channel();
    let waiter = ssc.clone();
    std::thread::spawn(move || {
        let forever = waiter.await_termination().map_err(|e| e.to_string());
        let bounded = waiter
            .await_termination_or_timeout(StdDuration::from_secs(30))
            .map_err(|e| e.to_string());
        let _ = tx.send((forever, bounded));
    });
    // The waiter must still be waiting.
    assert!(rx.recv_timeout(StdDuration::from_millis(100)).is_err());
    ssc.stop(false, false).unwrap();
    let (forever, bounded) = rx
        .recv_timeout(StdDuration::from_secs(10))
        .expect("await_termination returned after stop");
    assert_eq!(forever, Ok(()));
    assert_eq!(bounded, Ok(true));
}

#[test]
fn await_termination_wakes_on_a_start_then_stop_from_another_thread() {
    let (_turn, ctx) = setup("local[2]");
    let ssc = idle(&ctx, sec());
    let (tx, rx) = mpsc::channel();
    let waiter = ssc.clone();
    // Waits on a context that has not started yet.
    std::thread::spawn(move || {
        let _ = tx.send(
            waiter
                .await_termination_or_timeout(StdDuration::from_secs(30))
                .map_err(|e| e.to_string()),
        );
    });
    assert!(rx.recv_timeout(StdDuration::from_millis(50)).is_err());
    ssc.start().unwrap();
    assert!(rx.recv_timeout(StdDuration::from_millis(50)).is_err());
    ssc.stop(false, false).unwrap();
    let outcome = rx
        .recv_timeout(StdDuration::from_secs(10))
        .expect("returned after stop");
    assert_eq!(outcome, Ok(true));
}

// ---------------------------------------------------------------------------------------------
// Batch times and empty batches
// ---------------------------------------------------------------------------------------------

#[test]
fn batch_times_on_a_manual_clock_are_multiples_of_the_interval() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let out = t.collect(&t.input(vec![vec![1], vec![], vec![3]])).unwrap();
    t.run(4).unwrap();
    assert_eq!(batch_times(&out), vec![1000, 2000, 3000, 4000]);
    assert_eq!(out.batches(), vec![vec![1], vec![], vec![3], vec![]]);
}

#[test]
fn first_batch_is_the_next_multiple_after_start_and_jumps_catch_up() {
    let (_turn, ctx) = setup("local[2]");
    let clock = ManualClock::new(Time::from_millis(1250));
    let ssc =
        StreamingContext::with_clock(&ctx, Duration::milliseconds(500), Arc::new(clock.clone()))
            .unwrap();
    let out = sink(&queue_input(&ssc, vec![vec![1], vec![2], vec![3], vec![4]]));
    ssc.start().unwrap();
    // Not yet time for the first batch (1500).
    clock.set(Time::from_millis(1499));
    assert!(
        !ssc.await_termination_or_timeout(StdDuration::from_millis(50))
            .unwrap()
    );
    assert!(out.is_empty());
    clock.set(Time::from_millis(1500));
    wait_for(&out, 1);
    // A jump over three batch times runs all three, in order.
    clock.set(Time::from_millis(3100));
    wait_for(&out, 4);
    ssc.stop(false, false).unwrap();
    assert_eq!(times(&out), vec![1500, 2000, 2500, 3000]);
    let data = batch_data(&out);
    assert_eq!(data, vec![vec![1], vec![2], vec![3], vec![4]]);
}

#[test]
fn batch_times_on_the_system_clock_are_multiples_of_the_interval() {
    let (_turn, ctx) = setup("local[2]");
    let ssc = StreamingContext::new(&ctx, Duration::milliseconds(200)).unwrap();
    let out = sink(&queue_input(&ssc, vec![vec![1, 2], vec![3]]));
    let before = Time::now().as_millis();
    ssc.start().unwrap();
    assert!(
        !ssc.await_termination_or_timeout(StdDuration::from_millis(1500))
            .unwrap()
    );
    ssc.stop(false, false).unwrap();
    let got = times(&out);
    assert!(
        got.len() >= 3,
        "only {} batches in 1.5 s: {got:?}",
        got.len()
    );
    for t in &got {
        assert_eq!(t % 200, 0, "{got:?}");
    }
    for w in got.windows(2) {
        assert_eq!(w[1] - w[0], 200, "consecutive batches: {got:?}");
    }
    assert!(
        got[0] > before && got[0] <= before + 200 + 1000,
        "first {} after {before}",
        got[0]
    );
    let data = batch_data(&out);
    assert_eq!(data[0], vec![1, 2]);
    assert_eq!(data[1], vec![3]);
    assert!(data[2..].iter().all(Vec::is_empty));
}

#[test]
fn empty_batches_still_run_output_operations() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let seen = Log::default();
    let s = seen.clone();
    t.input::<i32>(vec![])
        .foreach_rdd(move |rdd, time| {
            s.push((time.as_millis(), rdd.num_partitions(), rdd.count()));
        })
        .unwrap();
    t.run(3).unwrap();
    assert_eq!(
        seen.entries(),
        vec![(1000, 2, 0), (2000, 2, 0), (3000, 2, 0)]
    );
}

#[test]
fn outputs_run_in_definition_order_every_batch() {
    let t = StreamTest::new("local[3]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2], vec![]]);
    let log = Log::default();
    for name in ["first", "second", "third"] {
        let l = log.clone();
        input
            .foreach_rdd(move |rdd, time| {
                l.push(format!("{} {name} {}", time.as_millis(), rdd.count()));
            })
            .unwrap();
    }
    t.run(2).unwrap();
    assert_eq!(
        log.entries(),
        vec![
            "1000 first 2",
            "1000 second 2",
            "1000 third 2",
            "2000 first 0",
            "2000 second 0",
            "2000 third 0"
        ]
    );
}

#[test]
fn immediate_stop_runs_no_further_batches() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let out = t
        .collect(&t.input(vec![vec![1], vec![2], vec![3]]))
        .unwrap();
    t.run(1).unwrap();
    t.stop().unwrap();
    t.clock().set(Time::from_millis(5000));
    assert!(
        t.context()
            .await_termination_or_timeout(StdDuration::from_millis(100))
            .unwrap()
    );
    assert_eq!(out.batches(), vec![vec![1]]);
}

#[test]
fn graceful_stop_on_a_manual_clock_returns_promptly() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let out = t.collect(&t.input(vec![vec![1], vec![2]])).unwrap();
    t.run(1).unwrap();
    let ssc = t.context().clone();
    common::returns("a graceful stop", move || ssc.stop(false, true)).unwrap();
    assert_eq!(t.context().state(), StreamingContextState::Stopped);
    // Whatever ran after the first batch ran as whole batches at the following times.
    let got = out.batches_with_time();
    assert_eq!(got[0], (Time::from_millis(1000), vec![1]));
    for (i, (time, _)) in got.iter().enumerate() {
        assert_eq!(time.as_millis(), 1000 * (i as u64 + 1));
    }
    if let Some((_, second)) = got.get(1) {
        assert_eq!(second, &vec![2]);
    }
}

// ---------------------------------------------------------------------------------------------
// Failures of user code
// ---------------------------------------------------------------------------------------------

fn job_failed(err: &Error) -> (u64, usize, String) {
    match err {
        Error::JobFailed {
            time,
            output_op,
            source,
        } => (time.as_millis(), *output_op, source.to_string()),
        other => panic!("expected JobFailed, got {other:?}"),
    }
}

#[test]
fn panic_in_foreach_rdd_fails_only_that_batch() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![vec![1], vec![2], vec![3], vec![4]]);
    input
        .foreach_rdd(|_, time| {
            if time == Time::from_millis(2000) {
                panic!("boom in batch {}", time.as_millis());
            }
        })
        .unwrap();
    let out = t.collect(&input).unwrap();
    t.run(1).unwrap();
    assert!(
        !t.context()
            .await_termination_or_timeout(StdDuration::from_millis(20))
            .unwrap()
    );
    t.run(2).unwrap();
    let err = t
        .context()
        .await_termination_or_timeout(StdDuration::from_secs(10))
        .unwrap_err();
    let (time, op, message) = job_failed(&err);
    assert_eq!((time, op), (2000, 0));
    assert!(message.contains("boom in batch 2000"), "{message}");
    assert!(
        matches!(&err, Error::JobFailed { source: JobError::Panicked(m), .. } if *m == message),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("Error running job streaming job 2000 ms.0: {message}")
    );
    // Awaiting again reports the same error; the context keeps running.
    let again = reported_error(&t);
    assert_eq!(job_failed(&again), (2000, 0, message.clone()));
    assert_eq!(t.context().state(), StreamingContextState::Active);
    t.run(1).unwrap();
    // The other output of the failed batch ran, and so did every later batch.
    assert_eq!(out.batches(), vec![vec![1], vec![2], vec![3], vec![4]]);
    let forever = t.context().await_termination().unwrap_err();
    assert_eq!(job_failed(&forever).0, 2000);
    t.stop().unwrap();
    // Even after stop, the first error is what await reports.
    let after = reported_error(&t);
    assert_eq!(job_failed(&after).0, 2000);
}

#[test]
fn try_foreach_rdd_error_fails_the_job_with_its_message() {
    let t = StreamTest::new("local[1]", sec()).unwrap();
    let input = t.input(vec![vec![1], vec![2, 3]]);
    input
        .try_foreach_rdd(|rdd, _| {
            if rdd.count() > 1 {
                Err(format!("too many: {}", rdd.count()))
            } else {
                Ok(())
            }
        })
        .unwrap();
    let out = t.collect(&input).unwrap();
    t.run(3).unwrap();
    let err = reported_error(&t);
    assert_eq!(job_failed(&err), (2000, 0, "too many: 2".to_string()));
    assert_eq!(
        err.to_string(),
        "Error running job streaming job 2000 ms.0: too many: 2"
    );
    assert_eq!(out.batches(), vec![vec![1], vec![2, 3], vec![]]);
}

/// An error type of the user's own, to be found again in a failed job's cause.
#[derive(Debug, PartialEq)]
struct TooMany(u64);

impl std::fmt::Display for TooMany {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "too many: {}", self.0)
    }
}

impl std::error::Error for TooMany {}

#[test]
fn a_failed_job_keeps_the_error_user_code_returned() {
    let t = StreamTest::new("local[1]", sec()).unwrap();
    let input = t.input(vec![vec![1], vec![2, 3]]);
    input
        .try_foreach_rdd(|rdd, _| match rdd.count() {
            n if n > 1 => Err(TooMany(n)),
            _ => Ok(()),
        })
        .unwrap();
    t.run(2).unwrap();
    let err = t
        .context()
        .await_termination_or_timeout(StdDuration::ZERO)
        .unwrap_err();
    let expected = "Error running job streaming job 2000 ms.0: too many: 2";
    assert_eq!(err.to_string(), expected);
    // The chain: the job's failure, its cause, the user's error itself.
    let cause = std::error::Error::source(&err).expect("JobFailed has a source");
    assert!(cause.downcast_ref::<JobError>().is_some(), "{cause:?}");
    let returned = cause
        .source()
        .expect("the returned error is the cause's source");
    assert_eq!(returned.downcast_ref::<TooMany>(), Some(&TooMany(2)));
    // Printed with its chain, the cause is said once.
    assert_eq!(Report::new(&err).to_string(), expected);
}

#[test]
fn panic_in_map_fails_the_dependent_jobs_of_that_batch_only() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2], vec![3, 13, 4], vec![5]]);
    let mapped = input.map(|x: i32| {
        if x == 13 {
            panic!("bad record {x}");
        }
        x * 2
    });
    let m = t.collect(&mapped).unwrap(); // output 0
    let raw = t.collect(&input).unwrap(); // output 1
    let counted = t.collect(&mapped.count()).unwrap(); // output 2
    t.run(3).unwrap();
    let m_batches = m.batches_with_time();
    assert_eq!(
        m_batches,
        vec![
            (Time::from_millis(1000), vec![2, 4]),
            (Time::from_millis(3000), vec![10])
        ]
    );
    assert_eq!(raw.batches(), vec![vec![1, 2], vec![3, 13, 4], vec![5]]);
    let c = counted.batches_with_time();
    assert_eq!(
        c,
        vec![
            (Time::from_millis(1000), vec![2]),
            (Time::from_millis(3000), vec![1])
        ]
    );
    let err = reported_error(&t);
    let (time, op, message) = job_failed(&err);
    assert_eq!((time, op), (2000, 0));
    assert!(message.contains("bad record 13"), "{message}");
    // The output did not run: its cause is the failure of `map`, a panic.
    match &err {
        Error::JobFailed {
            source: JobError::Upstream { operation, cause },
            ..
        } => {
            assert_eq!(*operation, "map");
            assert!(
                matches!(&**cause, JobError::Panicked(m) if m.contains("bad record 13")),
                "{cause:?}"
            );
        }
        other => panic!("expected the failure of map, got {other:?}"),
    }
    t.run(1).unwrap();
    assert_eq!(m.batches().len(), 3);
}

#[test]
fn panics_in_per_batch_operations_fail_only_that_batch() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2, 3], vec![7, 8], vec![4]]);
    let pairs = input.map(|x: i32| (0, x));
    let bad_reduce = pairs.reduce_by_key(
        |a, b| {
            if a + b == 15 {
                panic!("reduce_by_key saw 7 + 8");
            }
            a + b
        },
        Some(1),
    );
    let bad_partitions = input.map_partitions(|p: Vec<i32>| {
        if p.contains(&8) {
            panic!("map_partitions saw 8");
        }
        p
    });
    let bad_transform = input.transform(|rdd: ember::Rdd<i32>| {
        if rdd.collect().contains(&7) {
            panic!("transform saw 7");
        }
        rdd
    });
    let bad_count_input = input.filter(|x| {
        if *x == 7 {
            panic!("filter saw 7");
        }
        true
    });
    let r = t.collect(&bad_reduce).unwrap();
    let p = t.collect(&bad_partitions).unwrap();
    let tr = t.collect(&bad_transform).unwrap();
    let c = t.collect(&bad_count_input.count()).unwrap();
    let ok = t.collect(&input.count()).unwrap();
    t.run(3).unwrap();
    assert_eq!(batch_times(&r), vec![1000, 3000]);
    assert_eq!(r.batches(), vec![vec![(0, 6)], vec![(0, 4)]]);
    assert_eq!(batch_times(&p), vec![1000, 3000]);
    assert_eq!(batch_times(&tr), vec![1000, 3000]);
    assert_eq!(tr.batches(), vec![vec![1, 2, 3], vec![4]]);
    assert_eq!(c.batches(), vec![vec![3], vec![1]]);
    assert_eq!(ok.batches(), vec![vec![3], vec![2], vec![1]]);
    let err = reported_error(&t);
    let (time, op, message) = job_failed(&err);
    assert_eq!((time, op), (2000, 0));
    assert!(message.contains("reduce_by_key saw 7 + 8"), "{message}");
}

// ---------------------------------------------------------------------------------------------
// Stopping from a listener
// ---------------------------------------------------------------------------------------------

struct StopFromListener {
    ssc: Mutex<Option<StreamingContext>>,
    result: Arc<Mutex<Option<Result<(), String>>>>,
}

impl StreamingListener for StopFromListener {
    fn on_batch_completed(&self, _info: &BatchInfo) {
        // Taking the context out also breaks the context -> listener -> context cycle.
        if let Some(ssc) = self.ssc.lock().unwrap().take() {
            let outcome = ssc.stop(false, false).map_err(|e| e.to_string());
            *self.result.lock().unwrap() = Some(outcome);
        }
    }
}

#[test]
fn stop_inside_a_listener_callback_is_refused() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let result: Arc<Mutex<Option<Result<(), String>>>> = Arc::default();
    t.context().add_streaming_listener(StopFromListener {
        ssc: Mutex::new(Some(t.context().clone())),
        result: result.clone(),
    });
    let out = t.collect(&t.input(vec![vec![1], vec![2]])).unwrap();
    t.run(1).unwrap();
    // The context keeps running: the next batch completes.
    t.run(1).unwrap();
    assert_eq!(t.context().state(), StreamingContextState::Active);
    t.stop().unwrap(); // flushes the listener bus
    assert_eq!(
        result.lock().unwrap().clone(),
        Some(Err(
            "Cannot stop StreamingContext within listener bus thread.".to_string()
        ))
    );
    assert_eq!(out.batches(), vec![vec![1], vec![2]]);
}

// ---------------------------------------------------------------------------------------------
// Stopping from inside a batch job
// ---------------------------------------------------------------------------------------------

const STOP_IN_JOB_CHILD: &str = "EMBER_TEST_STOP_IN_JOB_CHILD";

/// Run only as a child process by `stop_inside_foreach_rdd_returns`: it may deadlock, and a
/// deadlocked context would block every later test of this process.
#[test]
#[ignore = "helper of stop_inside_foreach_rdd_returns (runs only in its child process)"]
fn stop_inside_foreach_rdd_child() {
    if std::env::var_os(STOP_IN_JOB_CHILD).is_none() {
        return;
    }
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let ssc = t.context().clone();
    let outcome: Arc<Mutex<Option<Result<(), String>>>> = Arc::default();
    let o = outcome.clone();
    t.input(vec![vec![1]])
        .foreach_rdd(move |_, _| {
            let r = ssc.stop(false, false).map_err(|e| e.to_string());
            *o.lock().unwrap() = Some(r);
        })
        .unwrap();
    t.context().start().unwrap();
    t.clock().set(Time::from_millis(1000));
    assert!(
        t.context()
            .await_termination_or_timeout(StdDuration::from_secs(20))
            .unwrap()
    );
    assert_eq!(t.context().state(), StreamingContextState::Stopped);
    assert_eq!(outcome.lock().unwrap().clone(), Some(Ok(())));
}

/// Spark: `ssc.stop()` inside `foreachRDD` returns (an immediate stop waits 2 s for running
/// jobs, then interrupts them) and the context is stopped. ember: `stop()` requests the stop and
/// then joins the execution, whose driver worker is the very thread running the job, so it
/// never returns (and holds the state lock, so every later stop or await blocks too).
#[test]
fn stop_inside_foreach_rdd_returns() {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "stop_inside_foreach_rdd_child",
            "--ignored",
            "--nocapture",
        ])
        .env(STOP_IN_JOB_CHILD, "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + StdDuration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(StdDuration::from_millis(20));
    };
    let status = status.expect("stop() inside foreach_rdd did not return within 30 s (deadlock)");
    assert!(status.success(), "child failed: {status}");
}

// A context, its graph and what the graph holds are freed once the program drops its handles.
// Each test below gives a large payload to the context's closures and listeners, then checks
// that the test's own handle on the payload is the only one left.

/// A listener that only holds `payload`: the context keeps its listeners for as long as it
/// lives, so the payload is freed only with the context itself.
struct Holds {
    _payload: Arc<Vec<u8>>,
}

impl StreamingListener for Holds {}

fn payload() -> Arc<Vec<u8>> {
    Arc::new(vec![7u8; 1 << 20])
}

#[test]
fn a_context_that_ran_is_freed_after_stop_with_its_closures_and_listeners() {
    let payload = payload();
    let (_turn, ctx) = setup("local[2]");
    let (ssc, clock) = manual(&ctx, sec());
    ssc.add_streaming_listener(Holds {
        _payload: payload.clone(),
    });
    let p = payload.clone();
    let shifted = queue_input(&ssc, vec![vec![1, 2]]).map(move |x| x + i32::from(p[0]));
    let p = payload.clone();
    shifted
        .foreach_rdd(move |rdd, _| assert!(rdd.count() <= p.len() as u64))
        .unwrap();
    let out = sink(&shifted);
    ssc.start().unwrap();
    clock.set(Time::from_millis(1000));
    wait_for(&out, 1);
    assert_eq!(out.entries()[0].1, [8, 9]);
    ssc.stop(false, false).unwrap();
    // The program still holds the context and a stream (whose `map` closure has the payload).
    assert!(Arc::strong_count(&payload) > 1);
    drop(shifted);
    drop(ssc);
    assert_eq!(Arc::strong_count(&payload), 1);
}

#[test]
fn a_context_never_started_is_freed_when_dropped() {
    let payload = payload();
    let (_turn, ctx) = setup("local[2]");
    let ssc = StreamingContext::new(&ctx, sec()).unwrap();
    ssc.add_streaming_listener(Holds {
        _payload: payload.clone(),
    });
    let p = payload.clone();
    queue_input(&ssc, vec![vec![1]])
        .map(move |x| x + i32::from(p[0]))
        .foreach_rdd(|_, _| {})
        .unwrap();
    assert!(Arc::strong_count(&payload) > 1);
    drop(ssc);
    assert_eq!(Arc::strong_count(&payload), 1);
}

#[test]
fn an_output_holding_its_own_context_does_not_keep_it_alive_after_stop() {
    let payload = payload();
    let (_turn, ctx) = setup("local[2]");
    let (ssc, clock) = manual(&ctx, sec());
    ssc.add_streaming_listener(Holds {
        _payload: payload.clone(),
    });
    // As a job that may stop its context does: the closure holds the context.
    let (me, p) = (ssc.clone(), payload.clone());
    let states: Sink<StreamingContextState> = Log::default();
    let seen = states.clone();
    queue_input(&ssc, vec![vec![1]])
        .foreach_rdd(move |_, time| {
            assert!(!p.is_empty());
            seen.push((time, vec![me.state()]));
        })
        .unwrap();
    ssc.start().unwrap();
    clock.set(Time::from_millis(1000));
    wait_for(&states, 1);
    assert_eq!(states.entries()[0].1, [StreamingContextState::Active]);
    ssc.stop(false, false).unwrap();
    drop(ssc);
    assert_eq!(Arc::strong_count(&payload), 1);
}
