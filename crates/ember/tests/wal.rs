//! The receiver write-ahead log: lines received but not yet in a committed batch are processed
//! after a restart, once, with a real socket and a real checkpoint directory.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration as StdDuration, Instant};

use ember::testing::StreamTest;
use ember::{Conf, Duration};

/// A server that sends whatever the test hands it to its first client, then keeps the
/// connection open; later clients get nothing (like `nc -lk` with its input used up).
fn server() -> (u16, mpsc::Sender<String>, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel::<String>();
    let handle = std::thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        let (mut first, _) = listener.accept().unwrap();
        listener.set_nonblocking(true).unwrap();
        let mut later = Vec::new();
        loop {
            match rx.recv_timeout(StdDuration::from_millis(20)) {
                Ok(text) => first.write_all(text.as_bytes()).unwrap(),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
            if let Ok((c, _)) = listener.accept() {
                later.push(c);
            }
        }
    });
    (port, tx, handle)
}

fn conf(master: &str) -> Conf {
    Conf::new()
        .set_master(master)
        .set_app_name("wal")
        .set("spark.streaming.receiver.writeAheadLog.enable", "true")
        .set("spark.streaming.receiverRestartDelay", "100")
}

fn logged_bytes(dir: &Path) -> u64 {
    let wal = dir.join("receivedData");
    common::measure::dir_size(&wal)
}

fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + StdDuration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(StdDuration::from_millis(10));
    }
}

fn total(batch: &[(String, u64)]) -> u64 {
    batch.iter().map(|(_, n)| n).sum()
}

#[test]
fn received_lines_survive_a_stop_without_processing_and_count_once() {
    let dir = tempfile::tempdir().unwrap();
    let (port, feed, _server) = server();
    let build = |t: &StreamTest| {
        let counts = t
            .context()
            .socket_text_stream("127.0.0.1", port)
            .flat_map(|l: String| l.split(' ').map(str::to_owned).collect::<Vec<_>>())
            .map(|w| (w, 1u64))
            .update_state_by_key(
                |vs: &[u64], s: Option<u64>| Some(vs.iter().sum::<u64>() + s.unwrap_or(0)),
                None,
            );
        counts.checkpoint(Duration::seconds(1)).unwrap();
        t.collect(&counts).unwrap()
    };

    // First run: one burst processed and committed, a second one only received.
    {
        let t = StreamTest::with_conf(conf("local[2]"), Duration::seconds(1)).unwrap();
        t.context().checkpoint(dir.path()).unwrap();
        let out = build(&t);
        t.run(1).unwrap();
        feed.send("a b\na\n".repeat(50)).unwrap();
        let mut ran = 1;
        wait("the first burst to be counted", || {
            t.run(1).unwrap();
            ran += 1;
            out.batches().last().is_some_and(|b| total(b) == 150)
        });
        let before = logged_bytes(dir.path());
        feed.send("c d\n".repeat(40)).unwrap();
        wait("the second burst to be logged", || {
            logged_bytes(dir.path()) > before
        });
        // Give the workers a moment to take the logged blocks into the open batch, which the
        // immediate stop then discards.
        std::thread::sleep(StdDuration::from_millis(100));
        t.stop().unwrap();
        assert_eq!(out.batches().last().map(|b| total(b)), Some(150));
    }

    // Second run, one worker: the committed state plus the logged burst, nothing twice.
    let t = StreamTest::with_conf(conf("local[1]"), Duration::seconds(1)).unwrap();
    let out = build(&t);
    let committed = t.restore(dir.path()).unwrap();
    assert!(
        committed.is_some(),
        "a batch was committed in the first run"
    );
    t.run(2).unwrap();
    let last = out.batches().last().cloned().unwrap();
    let mut last = last;
    last.sort();
    assert_eq!(
        last,
        vec![
            ("a".into(), 100),
            ("b".into(), 50),
            ("c".into(), 40),
            ("d".into(), 40)
        ]
    );
}

#[test]
fn write_ahead_log_without_checkpoint_directory_is_refused_at_start() {
    let t = StreamTest::with_conf(conf("local[1]"), Duration::seconds(1)).unwrap();
    let lines = t.context().socket_text_stream("127.0.0.1", 9);
    t.collect(&lines).unwrap();
    let e = t.run(1).unwrap_err().to_string();
    assert!(
        e.starts_with("Cannot enable receiver write-ahead log without checkpoint directory set."),
        "{e}"
    );
}
