//! Rate control end to end: `spark.streaming.receiver.maxRate` and
//! `spark.streaming.backpressure.*` on `socket_text_stream`, with real TCP servers on 127.0.0.1
//! and the streaming context on a manual clock (`StreamTest`), which alone decides when the
//! rate limit lets records through: every bound checked here is a count of records against
//! the clock, never a duration of the test.
//!
//! Only one streaming context may run per process; `StreamTest` holds the test lock. Nothing
//! waits without a deadline.

mod common;

use std::io::{ErrorKind, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration as StdDuration, Instant};

use common::{accept_within, wait_until};
use ember::scheduler::Clock;
use ember::scheduler::rate::ReceiverRateStatus;
use ember::testing::{Collected, StreamTest};
use ember::{Conf, Context, Duration};

/// How long something that should happen soon may take (real time): only a hang reaches it.
const WAIT: StdDuration = StdDuration::from_secs(60);

/// A test context on a manual clock with 1 s batches and `settings`.
fn stream_test(settings: &[(&str, &str)]) -> StreamTest {
    let mut conf = Conf::new()
        .set_master("local[2]")
        .set_app_name("rate_control");
    for (key, value) in settings {
        conf = conf.set(key, value);
    }
    StreamTest::with_conf(conf, Duration::seconds(1)).unwrap()
}

/// A server on 127.0.0.1 that sends lines `0`, `1`, ... `count - 1` to the first client, as
/// fast as the client reads them, then keeps the connection open until dropped.
struct Server {
    port: u16,
    thread: Option<JoinHandle<TcpStream>>,
}

impl Server {
    fn numbers(count: usize) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let text: String = (0..count).map(|i| format!("{i}\n")).collect();
        let thread = thread::spawn(move || {
            let mut client = accept_within(&listener, WAIT);
            client.write_all(text.as_bytes()).unwrap();
            client
        });
        Server {
            port,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The connection closes with the test; a writer still blocked ends when the receiver's
        // side closes at the stop.
        drop(self.thread.take());
    }
}

/// The numbers of every batch, each batch sorted (a batch's partitions come in any order).
fn numbers(out: &Collected<String>) -> Vec<Vec<u64>> {
    out.batches()
        .into_iter()
        .map(|batch| {
            let mut numbers: Vec<u64> = batch.iter().map(|l| l.parse().unwrap()).collect();
            numbers.sort_unstable();
            numbers
        })
        .collect()
}

/// Runs batches one at a time until `count` numbers arrived (at most [`WAIT`]).
fn run_until_all(t: &StreamTest, out: &Collected<String>, count: usize) {
    let deadline = Instant::now() + WAIT;
    while numbers(out).concat().len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} lines arrived",
            numbers(out).concat().len()
        );
        t.run(1).unwrap();
    }
}

/// Every number from 0 to `count - 1` arrived once, and each batch holds the numbers that
/// follow the previous batch's: nothing lost, nothing twice, nothing out of order.
fn assert_complete_and_in_order(batches: &[Vec<u64>], count: usize) {
    let all: Vec<u64> = batches.concat();
    assert_eq!(all.len(), count, "lost or repeated lines");
    assert!(
        all.iter().enumerate().all(|(i, n)| *n == i as u64),
        "lines out of order or missing: {batches:?}"
    );
}

fn status(t: &StreamTest) -> ReceiverRateStatus {
    let rates = t.context().receiver_rates();
    assert_eq!(rates.len(), 1, "{rates:?}");
    rates[0].clone()
}

#[test]
fn max_rate_caps_the_records_per_batch_of_a_fast_source_and_loses_none() -> ember::Result<()> {
    const LINES: usize = 5000;
    const RATE: u64 = 1000;
    let t = stream_test(&[("spark.streaming.receiver.maxRate", "1000")]);
    let server = Server::numbers(LINES);
    let out = t.collect(&t.context().socket_text_stream("127.0.0.1", server.port))?;
    let mut throttled = false;
    let deadline = Instant::now() + WAIT;
    while numbers(&out).concat().len() < LINES {
        assert!(Instant::now() < deadline, "the lines did not all arrive");
        t.run(1)?;
        // While the clock stands still, the receiver uses up what the clock earned and then
        // waits for the limit (unless it has taken every line already).
        assert!(
            wait_until(WAIT, || {
                let status = status(&t);
                status.throttled || status.received_records == LINES as u64
            }),
            "the receiver neither waited for the limit nor took every line: {:?}",
            status(&t)
        );
        throttled |= status(&t).throttled;
    }
    let batches = numbers(&out);
    // The limit's bucket started empty at clock 0, and batch k closed at clock k s: the first
    // k batches hold at most RATE * k records, however fast the server sends.
    let mut sum = 0;
    for (k, batch) in batches.iter().enumerate() {
        sum += batch.len() as u64;
        assert!(
            sum <= RATE * (k as u64 + 1),
            "batches 1..={} hold {sum} records, over the limit: {:?}",
            k + 1,
            batches.iter().map(Vec::len).collect::<Vec<_>>()
        );
    }
    assert!(batches.len() >= LINES / RATE as usize);
    assert_complete_and_in_order(&batches, LINES);
    assert!(throttled, "the receiver never reported being throttled");
    let status = status(&t);
    assert_eq!(status.rate_limit, Some(RATE as f64));
    assert_eq!(status.max_rate, Some(RATE as f64));
    assert!(!status.backpressure);
    assert_eq!(
        (
            status.received_records,
            status.processed_records,
            status.lag_records()
        ),
        (LINES as u64, LINES as u64, 0)
    );
    assert!(status.waited_records > 0);
    t.stop()
}

#[test]
fn a_receiver_at_its_limit_stops_reading_so_tcp_pushes_back_on_the_sender() -> ember::Result<()> {
    // At 10 lines/s and with the clock standing still, the receiver may store nothing: it
    // reads one chunk and then waits, and the kernel's buffers fill up.
    const SENT_AT_MOST: usize = 256 << 20;
    let t = stream_test(&[("spark.streaming.receiver.maxRate", "10")]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let out = t.collect(&t.context().socket_text_stream("127.0.0.1", port))?;
    t.context().start()?;
    let mut client = accept_within(&listener, WAIT);
    client.set_nonblocking(true).unwrap();
    let line = b"0123456789012345678901234567890123456789012345678901234567890123456789\n";
    let chunk: Vec<u8> = line.repeat(1 << 14);
    let (mut sent, mut at) = (0usize, 0usize);
    let mut blocked_since: Option<Instant> = None;
    // Sends until the socket has refused more for half a second in a row (or all was sent).
    while sent < SENT_AT_MOST {
        match client.write(&chunk[at..]) {
            Ok(n) => {
                sent += n;
                at = (at + n) % chunk.len();
                blocked_since = None;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let since = *blocked_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= StdDuration::from_millis(500) {
                    break;
                }
                thread::sleep(StdDuration::from_millis(5));
            }
            Err(e) => panic!("write failed: {e}"),
        }
    }
    assert!(
        sent < SENT_AT_MOST,
        "the receiver read all {sent} bytes instead of pushing back"
    );
    assert_eq!(
        status(&t).received_records,
        0,
        "records passed while the clock stood still"
    );
    assert!(status(&t).throttled);
    // Once the clock moves, lines flow again, at most 10 per second of the clock.
    t.run(3)?;
    assert!(wait_until(WAIT, || {
        t.run(1).unwrap();
        !out.batches().concat().is_empty()
    }));
    let received = out.batches().concat().len() as u64;
    let seconds = out.batches().len() as u64;
    assert!(received <= 10 * seconds, "{received} lines in {seconds} s");
    t.stop()
}

/// Runs a backpressure test with an initial rate of 1,000 lines/s and a job that takes 4 s of
/// the manual clock (it moves the clock on) for every batch with data. The test sends 5 lines
/// at a time (one block at any rate the test reaches), each time when no batch is in flight
/// and the receiver can store them at once, so that each lands whole in one batch, which then
/// takes 4 s: 1.25 lines/s. Returns the receiver's rate limit before each of three such
/// batches, i.e. after the batch before.
fn backpressure_run(settings: &[(&str, &str)]) -> ember::Result<Vec<Option<f64>>> {
    const CHUNK: u64 = 5;
    let mut all = vec![
        ("spark.streaming.backpressure.enabled", "true"),
        ("spark.streaming.backpressure.initialRate", "1000"),
    ];
    all.extend_from_slice(settings);
    let t = stream_test(&all);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let lines = t.context().socket_text_stream("127.0.0.1", port);
    let out = t.collect(&lines)?;
    let clock = t.clock().clone();
    lines.foreach_rdd(move |rdd, _time| {
        if rdd.count() > 0 {
            clock.advance(Duration::seconds(4));
        }
    })?;
    t.context().start()?;
    let mut server = accept_within(&listener, WAIT);
    // The bucket fills while two empty batches run.
    let mut ran = 2;
    t.run(2)?;
    let mut rates = Vec::new();
    for chunk in 0..3 {
        let text: String = (chunk * CHUNK..(chunk + 1) * CHUNK)
            .map(|i| format!("{i}\n"))
            .collect();
        server.write_all(text.as_bytes()).unwrap();
        let sent = (chunk + 1) * CHUNK;
        assert!(
            wait_until(WAIT, || status(&t).received_records == sent),
            "the receiver did not take the lines at once: {:?}",
            status(&t)
        );
        rates.push(status(&t).rate_limit);
        // The batch with the lines, whose job moves the clock on by 4 s; then the batches due
        // meanwhile, so that none is in flight when the next lines come.
        t.run(1)?;
        ran += 1;
        assert_eq!(numbers(&out).concat().len() as u64, sent);
        let now = t.clock().now().as_millis() / 1000;
        t.run((now - ran) as usize)?;
        ran = now;
    }
    let batches = numbers(&out);
    assert_complete_and_in_order(&batches, 3 * CHUNK as usize);
    assert_eq!(
        batches.iter().filter(|b| !b.is_empty()).count(),
        3,
        "each chunk in one batch: {batches:?}"
    );
    assert!(status(&t).backpressure);
    t.stop()?;
    Ok(rates)
}

#[test]
fn sparks_pid_lowers_the_rate_from_the_second_batch_when_processing_exceeds_the_interval() {
    let rates = backpressure_run(&[("ember.streaming.backpressure.drainLag", "false")]).unwrap();
    // The first batch (5 lines in 4 s: 1.25/s) only seeds Spark's estimator, so the initial
    // rate stays; the second (1.25/s again) gives 1.25 - (1.25 - 1.25) = 1.25, raised to the
    // minimum.
    assert_eq!(rates, [Some(1000.0), Some(1000.0), Some(100.0)]);
}

#[test]
fn with_the_lag_rule_the_rate_comes_down_after_the_first_batch_already() {
    // The first batch's processing rate (1.25/s, raised to the minimum) is a rate already.
    let rates = backpressure_run(&[]).unwrap();
    assert_eq!(rates, [Some(1000.0), Some(100.0), Some(100.0)]);
}

#[test]
fn max_rate_bounds_what_backpressure_sets() -> ember::Result<()> {
    let t = stream_test(&[
        ("spark.streaming.backpressure.enabled", "true"),
        ("spark.streaming.receiver.maxRate", "300"),
    ]);
    let server = Server::numbers(2000);
    let lines = t.context().socket_text_stream("127.0.0.1", server.port);
    let out = t.collect(&lines)?;
    // Every batch with data takes 10 ms of the clock: at most a few hundred lines in 10 ms,
    // estimates of thousands of lines per second.
    let (clock, estimated) = (t.clock().clone(), common::Log::default());
    let log = estimated.clone();
    lines.foreach_rdd(move |rdd, _time| {
        if rdd.count() > 0 {
            clock.advance(Duration::milliseconds(10));
            log.push(());
        }
    })?;
    // Starts at maxRate (initialRate falls back to it) and stays there.
    run_until_all(&t, &out, 2000);
    assert!(
        estimated.len() >= 3,
        "too few batches with data to estimate a rate"
    );
    assert_eq!(status(&t).rate_limit, Some(300.0));
    assert_complete_and_in_order(&numbers(&out), 2000);
    t.stop()
}

#[test]
fn invalid_rate_settings_fail_with_sparks_messages_when_the_context_is_made() {
    let _turn = ember::testing::exclusive();
    // A context is made once the process's active one is stopped.
    let made = |key: &str, value: &str| {
        if let Ok(old) = Context::get_or_create(Conf::new().set_master("local[1]")) {
            old.stop();
        }
        Context::new(Conf::new().set_master("local[1]").set(key, value))
    };
    let refused = |key: &str, value: &str| {
        made(key, value)
            .err()
            .unwrap_or_else(|| panic!("{key}={value} was accepted"))
            .to_string()
    };
    let pid = "spark.streaming.backpressure.pid";
    for (key, value, message) in [
        (
            format!("{pid}.proportional"),
            "-1",
            "is invalid: requirement failed: Proportional term -1.0 in PIDRateEstimator should be >= 0.",
        ),
        (
            format!("{pid}.integral"),
            "-0.2",
            "is invalid: requirement failed: Integral term -0.2 in PIDRateEstimator should be >= 0.",
        ),
        (
            format!("{pid}.derived"),
            "-3",
            "is invalid: requirement failed: Derivative term -3.0 in PIDRateEstimator should be >= 0.",
        ),
        (
            format!("{pid}.minRate"),
            "0",
            "is invalid: requirement failed: Minimum rate in PIDRateEstimator should be > 0",
        ),
        (format!("{pid}.minRate"), "fast", "is not a decimal number"),
        (
            "spark.streaming.backpressure.rateEstimator".to_string(),
            "kalman",
            "is invalid: Unknown rate estimator: kalman",
        ),
        (
            "spark.streaming.backpressure.enabled".to_string(),
            "yes",
            "is not true or false",
        ),
        (
            "spark.streaming.receiver.maxRate".to_string(),
            "-5",
            "is not a whole number",
        ),
        (
            "spark.streaming.backpressure.initialRate".to_string(),
            "0",
            "is too small (at least 1)",
        ),
    ] {
        assert_eq!(
            refused(&key, value),
            format!("setting {key}={value} {message}")
        );
    }
    // Spark's defaults, and zero gains, are fine.
    for (key, value) in [
        (format!("{pid}.proportional"), "0"),
        (format!("{pid}.minRate"), "0.5"),
        ("spark.streaming.receiver.maxRate".to_string(), "0"),
    ] {
        made(&key, value).unwrap().stop();
    }
}
