//! `socket_text_stream` end to end through the public API: a real streaming context on the real
//! clock (200 ms batches), a real TCP server on 127.0.0.1, batches collected with `foreach_rdd`,
//! receiver events seen by a `StreamingListener`.
//!
//! Only one streaming context may run per process, so every test holds
//! [`ember::testing::exclusive`]. The restart delay is set to 200 ms
//! (`spark.streaming.receiverRestartDelay`) so that reconnections are quick. Nothing waits
//! without a deadline: conditions are polled, listeners accept in non-blocking mode.

mod common;

use std::collections::BTreeMap;
use std::io::{ErrorKind, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration as StdDuration, Instant};

use common::measure::rss_bytes;
use common::{Log, wait_until};
use ember::conf::RECEIVER_RESTART_DELAY;
use ember::receiver::ReceiverInfo;
use ember::scheduler::{BatchInfo, StreamingListener};
use ember::{Conf, Context, Duration, StreamingContext, Time};

/// How long something that should happen soon may take.
const WAIT: StdDuration = StdDuration::from_secs(15);
/// The batch interval of most tests.
const BATCH: Duration = Duration::milliseconds(200);

/// The process's context, with a 200 ms receiver restart delay. Every test of this file uses the
/// same configuration, so the context is shared.
fn context() -> Context {
    let conf = Conf::new()
        .set_master("local[2]")
        .set_app_name("socket_stream")
        .set(RECEIVER_RESTART_DELAY, "200");
    let ctx = Context::get_or_create(conf.clone()).unwrap();
    if ctx.conf().get(RECEIVER_RESTART_DELAY) == Some("200") {
        ctx
    } else {
        ctx.stop();
        Context::new(conf).unwrap()
    }
}

/// Every batch's time and lines, as collected by `foreach_rdd`.
type Batches = Log<(Time, Vec<String>)>;

/// What the listener saw.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ReceiverEvent {
    Started(ReceiverInfo),
    Error(ReceiverInfo),
    Stopped(ReceiverInfo),
}

#[derive(Clone, Default)]
struct Recorder {
    events: Log<ReceiverEvent>,
    completed: Log<BatchInfo>,
}

impl Recorder {
    fn events(&self) -> Vec<ReceiverEvent> {
        self.events.entries()
    }
    fn errors(&self) -> Vec<ReceiverInfo> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                ReceiverEvent::Error(info) => Some(info),
                _ => None,
            })
            .collect()
    }
    fn started(&self) -> usize {
        self.events()
            .iter()
            .filter(|e| matches!(e, ReceiverEvent::Started(_)))
            .count()
    }
    fn completed(&self) -> usize {
        self.completed.len()
    }

    /// Waits until a receiver error was reported (at most [`WAIT`]); returns the errors.
    fn wait_for_errors(&self) -> Vec<ReceiverInfo> {
        assert!(
            wait_until(WAIT, || !self.errors().is_empty()),
            "no receiver error event: {:?}",
            self.events()
        );
        self.errors()
    }
}

impl StreamingListener for Recorder {
    fn on_receiver_started(&self, info: &ReceiverInfo) {
        self.events.push(ReceiverEvent::Started(info.clone()));
    }
    fn on_receiver_error(&self, info: &ReceiverInfo) {
        self.events.push(ReceiverEvent::Error(info.clone()));
    }
    fn on_receiver_stopped(&self, info: &ReceiverInfo) {
        self.events.push(ReceiverEvent::Stopped(info.clone()));
    }
    fn on_batch_completed(&self, info: &BatchInfo) {
        self.completed.push(info.clone());
    }
}

/// A started socket stream: its batches, its receiver events, and a stop on drop so that a
/// failing test does not leave the context running for the next one.
struct Running {
    ssc: StreamingContext,
    batches: Batches,
    recorder: Recorder,
}

impl Running {
    /// `socket_text_stream("127.0.0.1", port)` on [`BATCH`]es, started.
    fn start(port: u16) -> Running {
        Running::start_with_batch(port, BATCH)
    }

    fn start_with_batch(port: u16, batch: Duration) -> Running {
        let ssc = StreamingContext::new(&context(), batch).unwrap();
        let recorder = Recorder::default();
        ssc.add_streaming_listener(recorder.clone());
        let batches = Batches::default();
        let sink = batches.clone();
        ssc.socket_text_stream("127.0.0.1", port)
            .foreach_rdd(move |rdd, time| sink.push((time, rdd.collect())))
            .unwrap();
        ssc.start().unwrap();
        Running {
            ssc,
            batches,
            recorder,
        }
    }

    fn batch_count(&self) -> usize {
        self.batches.len()
    }

    /// Every line received so far, in batch order.
    fn lines(&self) -> Vec<String> {
        let mut batches = self.batches.entries();
        batches.sort_by_key(|(time, _)| *time);
        batches.into_iter().flat_map(|(_, lines)| lines).collect()
    }

    /// Waits until every line of `want` was received (at most `within`); returns all lines.
    fn wait_for_lines(&self, want: &[&str], within: StdDuration) -> Vec<String> {
        let has_all = |lines: &[String]| want.iter().all(|w| lines.iter().any(|l| l == w));
        wait_until(within, || has_all(&self.lines()));
        let lines = self.lines();
        assert!(
            has_all(&lines),
            "expected lines {want:?} within {within:?}; got {lines:?}"
        );
        lines
    }

    /// Stops the context (not the `Context`); a stop that never returns fails the test.
    fn stop(&self) {
        let ssc = self.ssc.clone();
        common::returns("stop", move || ssc.stop(false, false)).unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.ssc.stop(false, false);
    }
}

fn listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// Accepts one connection within `within`, or `None`.
fn accept_within(listener: &TcpListener, within: StdDuration) -> Option<TcpStream> {
    let deadline = Instant::now() + within;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                return Some(stream);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(StdDuration::from_millis(5));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return None,
            Err(e) => panic!("accept: {e}"),
        }
    }
}

fn accept(listener: &TcpListener) -> TcpStream {
    accept_within(listener, WAIT).expect("the receiver did not connect")
}

/// A server on 127.0.0.1, a socket stream with `batch` started against it, and the stream's
/// connection as the server accepted it.
fn connected(batch: Duration) -> (TcpListener, Running, TcpStream) {
    let (listener, port) = listener();
    let run = Running::start_with_batch(port, batch);
    let server = accept(&listener);
    (listener, run, server)
}

/// How many times each line occurs.
fn tally(lines: &[String]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for line in lines {
        *counts.entry(line.as_str()).or_default() += 1;
    }
    counts
}

#[test]
fn lines_arrive_including_a_last_line_without_newline_then_the_receiver_reconnects() {
    let _turn = ember::testing::exclusive();
    let (listener, run, mut first) = connected(BATCH);
    first
        .write_all(b"first one\nfirst two\r\nlast line without newline")
        .unwrap();
    drop(first);
    let closed = Instant::now();
    run.wait_for_lines(
        &["first one", "first two", "last line without newline"],
        WAIT,
    );

    // Restart delay 200 ms: the receiver comes back within a couple of seconds.
    let mut second = accept_within(&listener, StdDuration::from_secs(3))
        .expect("the receiver did not reconnect within 3 s");
    let gap = closed.elapsed();
    assert!(
        gap >= StdDuration::from_millis(150),
        "reconnected {gap:?} after the close, before the restart delay"
    );
    second.write_all(b"second one\nsecond two\n").unwrap();
    let lines = run.wait_for_lines(&["second one", "second two"], WAIT);
    // Each line exactly once, and nothing else.
    let expected: BTreeMap<&str, usize> = [
        "first one",
        "first two",
        "last line without newline",
        "second one",
        "second two",
    ]
    .into_iter()
    .map(|l| (l, 1))
    .collect();
    assert_eq!(tally(&lines), expected);

    assert!(wait_until(WAIT, || run.recorder.started() >= 2));
    let events = run.recorder.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ReceiverEvent::Stopped(info)
            if info.last_error_message == "Socket data stream had no more data"
                && info.name == "SocketReceiver-0")),
        "{events:?}"
    );
    run.stop();
    // The receiver closed its side of the second connection.
    second.set_read_timeout(Some(WAIT)).unwrap();
    let mut rest = Vec::new();
    assert_eq!(
        std::io::Read::read_to_end(&mut second, &mut rest).unwrap(),
        0
    );
}

#[test]
fn a_bare_carriage_return_ends_a_line_even_at_the_end_of_a_read() {
    let _turn = ember::testing::exclusive();
    let (_listener, run, mut server) = connected(BATCH);
    // '\n', '\r' and "\r\n" each end one line, as Java's `readLine` in Spark's receiver.
    server.write_all(b"one\rtwo\r\nthree\n\rfour\r").unwrap();
    // "four" comes out only once the receiver has read the '\r' after it, so the '\n' sent next
    // arrives in a later read: with that '\r' it is one line end, not an extra empty line.
    run.wait_for_lines(&["four"], WAIT);
    server.write_all(b"\nfive\r\r\nsix\rend\n").unwrap();
    let lines = run.wait_for_lines(&["end"], WAIT);
    // Every line exactly once; the two empty ones come from "\n\r" and "\r\r\n".
    let expected: BTreeMap<&str, usize> = [
        ("one", 1),
        ("two", 1),
        ("three", 1),
        ("", 2),
        ("four", 1),
        ("five", 1),
        ("six", 1),
        ("end", 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(tally(&lines), expected, "{lines:?}");
    run.stop();
    drop(server);
}

#[test]
fn server_that_never_starts_gives_empty_batches_and_connection_errors() {
    let _turn = ember::testing::exclusive();
    // Bound and released: most likely nobody listens there.
    let port = {
        let (listener, port) = listener();
        drop(listener);
        port
    };
    let run = Running::start(port);
    let expected = format!("Error connecting to 127.0.0.1:{port}");
    let restarts = |recorder: &Recorder| {
        recorder
            .events()
            .iter()
            .filter(|e| match e {
                ReceiverEvent::Stopped(info) | ReceiverEvent::Error(info) => {
                    info.last_error_message.contains(&expected)
                }
                ReceiverEvent::Started(_) => false,
            })
            .count()
    };
    // Several attempts, each ending in a restart that names the address.
    assert!(
        wait_until(WAIT, || restarts(&run.recorder) >= 3
            && run.recorder.started() >= 3),
        "events: {:?}",
        run.recorder.events()
    );
    // Batches keep coming, empty.
    let before = run.batch_count();
    assert!(
        wait_until(WAIT, || run.batch_count() >= before + 3),
        "batches stopped at {}",
        run.batch_count()
    );
    assert!(run.recorder.completed() >= 3);
    assert!(run.lines().is_empty(), "{:?}", run.lines());
    run.stop();
}

#[test]
fn invalid_utf8_is_replaced_reported_and_the_stream_goes_on() {
    let _turn = ember::testing::exclusive();
    let (listener, run, mut server) = connected(BATCH);
    let port = listener.local_addr().unwrap().port();
    server.write_all(b"ok\n\xff\xfebad\n").unwrap();
    run.wait_for_lines(&["ok", "\u{fffd}\u{fffd}bad"], WAIT);

    let errors = run.recorder.wait_for_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].last_error_message,
        format!("Malformed input from 127.0.0.1:{port}: replaced invalid UTF-8 in 1 lines")
    );
    assert!(errors[0].active);
    assert!(errors[0].last_error_time > 0);

    // The same connection keeps delivering.
    server.write_all(b"after\n").unwrap();
    let lines = run.wait_for_lines(&["after"], WAIT);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(run.recorder.started(), 1, "{:?}", run.recorder.events());
    run.stop();
    drop(server);
}

#[test]
fn a_100_mib_line_is_dropped_with_bounded_memory_and_its_neighbours_arrive() {
    const HUGE: usize = 100 << 20;
    const CHUNK: usize = 1 << 20;
    let _turn = ember::testing::exclusive();
    let (listener, run, server) = connected(BATCH);
    let port = listener.local_addr().unwrap().port();

    // Let the context settle before taking the baseline.
    assert!(wait_until(WAIT, || run.batch_count() >= 2));
    let before = rss_bytes().expect("VmRSS in /proc/self/status");
    let peak = Arc::new(Mutex::new(before));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (Arc::clone(&peak), Arc::clone(&sampling));
        thread::spawn(move || {
            while sampling.load(std::sync::atomic::Ordering::SeqCst) {
                if let Some(rss) = rss_bytes() {
                    let mut peak = peak.lock().unwrap();
                    *peak = (*peak).max(rss);
                }
                thread::sleep(StdDuration::from_millis(5));
            }
        })
    };
    // One 1 MiB buffer, written 100 times: the test never holds the line.
    let writer = thread::spawn(move || -> std::io::Result<TcpStream> {
        let mut server = server;
        server.write_all(b"before\n")?;
        let chunk = vec![b'y'; CHUNK];
        for _ in 0..HUGE / CHUNK {
            server.write_all(&chunk)?;
        }
        server.write_all(b"\nafter\n")?;
        Ok(server)
    });

    let lines = run.wait_for_lines(&["before", "after"], StdDuration::from_secs(90));
    sampling.store(false, std::sync::atomic::Ordering::SeqCst);
    sampler.join().unwrap();
    let server = writer.join().unwrap().expect("sending the huge line");
    // Order within a batch depends on partitioning; compare as a multiset.
    let expected: BTreeMap<&str, usize> = [("after", 1), ("before", 1)].into_iter().collect();
    assert_eq!(tally(&lines), expected, "the huge line must be dropped");

    let after = rss_bytes().unwrap();
    let peak = *peak.lock().unwrap();
    let limit = before + (64 << 20);
    eprintln!(
        "RSS: {} MiB before, {} MiB peak, {} MiB after",
        before >> 20,
        peak >> 20,
        after >> 20
    );
    assert!(
        peak <= limit && after <= limit,
        "RSS grew from {} MiB to a peak of {} MiB ({} MiB after)",
        before >> 20,
        peak >> 20,
        after >> 20
    );

    let errors = run.recorder.wait_for_errors();
    assert_eq!(
        errors[0].last_error_message,
        format!(
            "Malformed input from 127.0.0.1:{port}: dropped 1 lines longer than {} bytes \
             ({HUGE} bytes in all; see ember.input.maxLineBytes)",
            16 << 20
        )
    );
    run.stop();
    drop(server);
}

#[test]
fn graceful_stop_processes_the_lines_already_received() {
    let _turn = ember::testing::exclusive();
    // Long batches, so that the lines are still waiting for their batch when the stop begins.
    let (_listener, run, mut server) = connected(Duration::seconds(2));
    let text: String = (0..1000).map(|i| format!("line {i}\n")).collect();
    server.write_all(text.as_bytes()).unwrap();
    // Loopback delivers at once; give the receiver a moment to read and store.
    thread::sleep(StdDuration::from_millis(300));
    // A graceful stop waits for the batch in progress (at most one 2 s interval) and runs it.
    let ssc = run.ssc.clone();
    common::returns("a graceful stop", move || ssc.stop(false, true)).unwrap();
    let lines = run.lines();
    assert_eq!(lines.len(), 1000, "lines lost by the graceful stop");
    let expected: BTreeMap<String, usize> = (0..1000).map(|i| (format!("line {i}"), 1)).collect();
    let got: BTreeMap<String, usize> = tally(&lines)
        .into_iter()
        .map(|(line, n)| (line.to_string(), n))
        .collect();
    assert_eq!(got, expected);
    drop(server);
}
