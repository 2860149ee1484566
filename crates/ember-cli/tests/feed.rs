//! `ember feed` at high rates, read by real clients over TCP on 127.0.0.1: every client gets the
//! file exactly once, in order, and its connection ends cleanly when it leaves.
//!
//! This guards a bug where the pacer's sleep computed `due - elapsed` after checking
//! `elapsed < due`: when the deadline passed in between, the subtraction panicked, the client's
//! thread died and its connection closed after a few thousand lines at `--rate 20000`; a
//! receiver then reconnected and got the file again.
//!
//! The feeder is a child process owned by a [`Proc`] (killed and reaped on drop). Nothing waits
//! without a deadline: sockets have short read timeouts and every read loop has a hang guard that
//! fails the test. No test asserts how long anything took.

mod common;

use std::io::{ErrorKind, Read};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use common::{Proc, QUICK};

/// Hang guard for receiving a whole file: far above the time the largest file here takes at its
/// rate, so only a feeder that stopped sending trips it.
const RECEIVE_GUARD: Duration = Duration::from_secs(120);

/// The file's text: `count` numbered lines, each ending with `'\n'`.
fn numbered_lines(count: usize) -> String {
    (0..count)
        .map(|i| format!("line {i} of the feed test\n"))
        .collect()
}

fn write_file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// Starts `ember feed FILE --port 0 --rate RATE`; returns it and its port.
fn start_feed(file: &str, rate: &str) -> (Proc, u16) {
    let mut feed = Proc::start(
        &format!("ember feed --rate {rate}"),
        &["feed", file, "--port", "0", "--rate", rate],
    );
    let port = feed.feed_port();
    (feed, port)
}

/// What one client saw.
struct Received {
    bytes: Vec<u8>,
    /// How the connection ended after the client shut down its side: `Ok(())` for an orderly
    /// end of stream, otherwise what went wrong.
    end: Result<(), String>,
}

/// Connects to the feeder, reads until `want` bytes arrived (or the connection ended), then
/// leaves as a client does (shuts down its sending side) and reads on until the feeder closes the
/// connection. Everything the feeder sent before closing is in `bytes`.
fn receive(port: u16, want: usize) -> Received {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("cannot connect to the feeder on {port}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut bytes = Vec::with_capacity(want);
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + RECEIVE_GUARD;
    let mut left_early = None;
    while bytes.len() < want {
        assert!(
            Instant::now() < deadline,
            "hang guard: {} of {want} bytes after {RECEIVE_GUARD:?}",
            bytes.len()
        );
        match stream.read(&mut buf) {
            Ok(0) => {
                left_early = Some("end of stream".to_string());
                break;
            }
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                left_early = Some(format!("read error: {e}"));
                break;
            }
        }
    }
    if let Some(how) = left_early {
        return Received {
            bytes,
            end: Err(format!("the feeder ended the connection first ({how})")),
        };
    }
    // The feeder keeps a connection open after the file (as `nc -lk`) until the client leaves;
    // leaving is shutting down our side, after which it must close with an orderly end.
    stream.shutdown(Shutdown::Write).unwrap();
    let deadline = Instant::now() + QUICK;
    let end = loop {
        assert!(
            Instant::now() < deadline,
            "hang guard: the feeder did not close the connection within {QUICK:?} of the \
             client leaving"
        );
        match stream.read(&mut buf) {
            Ok(0) => break Ok(()),
            // More than the file: kept, so that the comparison shows it.
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => break Err(format!("read error after leaving: {e}")),
        }
    };
    Received { bytes, end }
}

/// Asserts that `got` is exactly `text`: every line once, in order, nothing more. On failure, says
/// where it first differs rather than printing thousands of lines.
fn assert_exact_lines(client: &str, got: &[u8], text: &str) {
    if got == text.as_bytes() {
        return;
    }
    let got = String::from_utf8_lossy(got);
    let got_lines: Vec<&str> = got.split_terminator('\n').collect();
    let want_lines: Vec<&str> = text.split_terminator('\n').collect();
    let first_difference = got_lines
        .iter()
        .zip(&want_lines)
        .position(|(g, w)| g != w)
        .unwrap_or(got_lines.len().min(want_lines.len()));
    panic!(
        "{client}: got {} lines ({} bytes), want {} lines ({} bytes); first difference at line \
         {first_difference}: got {:?}, want {:?}",
        got_lines.len(),
        got.len(),
        want_lines.len(),
        text.len(),
        got_lines.get(first_difference),
        want_lines.get(first_difference),
    );
}

fn assert_no_panic(feed: &Proc) {
    let stderr = feed.stderr.lines_text();
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{} panicked:\n{stderr}",
        feed.name
    );
}

/// Serves `lines` lines at `rate` to `clients` clients connected at the same time and checks
/// that each got the file exactly once and was let go cleanly.
fn each_client_gets_the_file_exactly_once(rate: &str, lines: usize, clients: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let text = numbered_lines(lines);
    let file = write_file(tmp.path(), "lines.txt", &text);
    let (mut feed, port) = start_feed(&file, rate);

    let readers: Vec<_> = (0..clients)
        .map(|_| {
            let want = text.len();
            thread::spawn(move || receive(port, want))
        })
        .collect();
    for (i, reader) in readers.into_iter().enumerate() {
        let client = format!("client {i} at --rate {rate}");
        let received = reader.join().expect("client thread");
        assert_exact_lines(&client, &received.bytes, &text);
        if let Err(e) = received.end {
            panic!("{client}: the connection did not end cleanly: {e}");
        }
    }
    // The feeder serves on after its clients leave.
    feed.expect_running();
    assert_no_panic(&feed);
}

#[test]
fn feed_at_20000_lines_per_second_sends_every_line_exactly_once() {
    // Several times the ~4,000 lines after which the connection used to break.
    each_client_gets_the_file_exactly_once("20000", 40_000, 2);
}

#[test]
fn feed_at_3000_lines_per_second_sends_every_line_exactly_once() {
    each_client_gets_the_file_exactly_once("3000", 3_000, 1);
}

#[test]
fn feed_at_a_rate_faster_than_the_client_sends_every_line_exactly_once() {
    // Far above what the sender and the client keep up with: the pacer is behind and hardly
    // ever waits, so lines go out in large bursts.
    each_client_gets_the_file_exactly_once("1000000", 100_000, 1);
}
