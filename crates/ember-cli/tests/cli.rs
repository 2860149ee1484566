//! The `ember` binary as a user runs it: `feed`, `wordcount` over a socket and a directory,
//! `demo`, bad input, and a closed stdout pipe.
//!
//! Every test starts real processes and owns each child through a [`Proc`], which kills and reaps
//! it when dropped, so a failing assertion never leaves a process behind. Nothing waits without a
//! deadline: children are polled with `try_wait`, their output is read by threads and handed over
//! through channels, sockets have read timeouts, and listeners accept in non-blocking mode.
//! Sockets are real TCP sockets on 127.0.0.1 with ports chosen by the system.

mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::net::TcpStream;
use std::path::Path;
use std::process::{ChildStdout, Command};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Bench, DASHES, Proc, QUICK, TextServer, free_port, parse_bench};

/// A temporary directory holding an empty `incoming` directory to watch (and room for staging
/// files and checkpoints beside it); keep the `TempDir` alive while the directory is used.
fn watched_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("incoming");
    std::fs::create_dir(&dir).unwrap();
    (tmp, dir)
}

/// Asserts that nothing on stderr looks like a panic.
fn assert_no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "ember panicked:\n{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// Sockets

/// Connects to the feeder at `port`, retrying briefly (it listens before it prints its address,
/// so the first attempt should succeed).
fn connect(port: u16) -> TcpStream {
    let deadline = Instant::now() + QUICK;
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => {
                stream
                    .set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                return stream;
            }
            Err(e) if Instant::now() < deadline => {
                eprintln!("connect to {port}: {e}; retrying");
                thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("cannot connect to the feeder on {port}: {e}"),
        }
    }
}

/// Reads from `stream` (which has a short read timeout) until `want` bytes arrived or `within`
/// passed; returns what arrived.
fn read_bytes(stream: &mut TcpStream, want: usize, within: Duration) -> Vec<u8> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    while got.len() < want && Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("reading from the feeder: {e}"),
        }
    }
    got
}

// ---------------------------------------------------------------------------------------------
// Output formats

/// Whether `s` is `YYYY-MM-DD HH:MM:SS` (pprint's local batch time on a whole second).
fn is_pprint_time(s: &str) -> bool {
    let pattern = "dddd-dd-dd dd:dd:dd";
    s.len() == pattern.len()
        && s.bytes().zip(pattern.bytes()).all(|(c, p)| match p {
            b'd' => c.is_ascii_digit(),
            _ => c == p,
        })
}

/// The batches of pprint output: each header's time and the element lines under it.
fn pprint_batches(lines: &[String]) -> Vec<(String, Vec<String>)> {
    let mut batches = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i] == DASHES
            && i + 2 < lines.len()
            && lines[i + 1].starts_with("Time: ")
            && lines[i + 2] == DASHES
        {
            let time = lines[i + 1]["Time: ".len()..].to_string();
            let mut elements = Vec::new();
            i += 3;
            while i < lines.len() && !lines[i].is_empty() && lines[i] != DASHES {
                elements.push(lines[i].clone());
                i += 1;
            }
            batches.push((time, elements));
        } else {
            i += 1;
        }
    }
    batches
}

/// Whether `line` looks like a pprint'ed `(String, i64)`: `("word", 3)`.
fn is_word_count(line: &str) -> bool {
    line.strip_prefix("(\"")
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|rest| rest.rsplit_once("\", "))
        .is_some_and(|(_, n)| n.parse::<u64>().is_ok_and(|n| n > 0))
}

// ---------------------------------------------------------------------------------------------
// ember feed

fn write_file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn feed_serves_the_whole_file_to_each_client_in_turn() {
    let tmp = tempfile::tempdir().unwrap();
    let text: String = (0..200)
        .map(|i| format!("line {i} of the file\n"))
        .collect();
    let file = write_file(tmp.path(), "lines.txt", &text);
    let mut feed = Proc::start("ember", &["feed", &file, "--port", "0"]);
    let port = feed.feed_port();

    for client in 0..2 {
        let mut stream = connect(port);
        let got = read_bytes(&mut stream, text.len(), QUICK);
        assert_eq!(
            String::from_utf8_lossy(&got),
            text,
            "client {client} got a different text"
        );
        // Without --loop nothing follows, and the connection stays open (as `nc -lk`).
        let more = read_bytes(&mut stream, 1, Duration::from_millis(300));
        assert!(more.is_empty(), "client {client} got more: {more:?}");
        drop(stream);
    }
    assert!(feed.poll().is_none(), "the feeder ended after its clients");
    assert_no_panic(&feed.stderr.lines_text());
}

#[test]
fn feed_at_a_rate_sends_every_line_once() {
    // The pacing itself is checked without a clock in the feeder's unit tests (`Pacer`); here,
    // over a real socket, that a paced feed delivers the file exactly.
    let tmp = tempfile::tempdir().unwrap();
    let text: String = (0..20).map(|i| format!("paced line {i}\n")).collect();
    let file = write_file(tmp.path(), "paced.txt", &text);
    let mut feed = Proc::start("ember", &["feed", &file, "--port", "0", "--rate", "40"]);
    let port = feed.feed_port();
    let mut stream = connect(port);
    let got = read_bytes(&mut stream, text.len(), QUICK);
    assert_eq!(String::from_utf8_lossy(&got), text);
    drop(stream);
    assert!(feed.poll().is_none());
}

#[test]
fn feed_loop_sends_the_file_again_and_again() {
    let tmp = tempfile::tempdir().unwrap();
    let text = "alpha\nbeta\ngamma\n";
    let file = write_file(tmp.path(), "loop.txt", text);
    let mut feed = Proc::start(
        "ember",
        &["feed", &file, "--port", "0", "--loop", "--rate", "200"],
    );
    let port = feed.feed_port();

    let mut stream = connect(port);
    let copies = 5;
    let got = read_bytes(&mut stream, text.len() * copies, QUICK);
    assert_eq!(
        String::from_utf8_lossy(&got),
        text.repeat(copies),
        "expected {copies} copies of the file"
    );
    drop(stream);
    // A second client gets the file from the start, also repeated.
    let mut second = connect(port);
    let got = read_bytes(&mut second, text.len() * 2, QUICK);
    assert_eq!(String::from_utf8_lossy(&got), text.repeat(2));
    drop(second);
    assert!(feed.poll().is_none());
    assert_no_panic(&feed.stderr.lines_text());
}

// ---------------------------------------------------------------------------------------------
// ember wordcount

#[test]
fn wordcount_socket_summary_counts_every_word_sent() {
    // Single spaces only, no empty lines: every piece of `split(' ')` is a word.
    // The connection stays open, so the last line must end with a newline to be complete.
    let text = "the quick brown fox\njumps over the lazy dog\nthe end\nthe last line\n";
    let words: Vec<&str> = text.lines().flat_map(|l| l.split(' ')).collect();
    let distinct: std::collections::BTreeSet<&str> = words.iter().copied().collect();
    let server = TextServer::start(text);
    let address = format!("127.0.0.1:{}", server.port);
    let mut ember = Proc::start(
        "ember",
        &[
            "wordcount",
            "--socket",
            &address,
            "--summary",
            "--batch",
            "500ms",
            "--duration",
            "3s",
        ],
    );
    let status = ember.expect_exit(QUICK);
    let stdout = ember.stdout().all();
    let stderr = ember.stderr.lines_text();
    assert!(status.success(), "exit {status}\nstderr:\n{stderr}");
    assert_no_panic(&stderr);
    assert!(server.connections() >= 1, "ember never connected");

    let benches: Vec<Bench> = stdout
        .iter()
        .map(|line| {
            parse_bench(line).unwrap_or_else(|| panic!("not a BENCH line: {line:?}\n{stdout:?}"))
        })
        .collect();
    // About 3 s of 500 ms batches.
    assert!(benches.len() >= 3, "too few batches: {benches:?}");
    for b in &benches {
        assert_eq!(b.batch % 500, 0, "batch time not on the 500 ms grid: {b:?}");
        assert!(b.keys <= b.total, "{b:?}");
    }
    assert!(
        benches.windows(2).all(|w| w[1].batch == w[0].batch + 500),
        "batches not consecutive: {benches:?}"
    );
    let total: u64 = benches.iter().map(|b| b.total).sum();
    assert_eq!(total, words.len() as u64, "{benches:?}");
    let non_empty: Vec<&Bench> = benches.iter().filter(|b| b.total > 0).collect();
    // Sent at once, the text normally lands in one batch; split over two, each batch's keys
    // are at most the distinct words.
    if let [only] = non_empty.as_slice() {
        assert_eq!(only.keys, distinct.len() as u64, "{benches:?}");
    } else {
        assert!(
            non_empty.iter().all(|b| b.keys <= distinct.len() as u64),
            "{benches:?}"
        );
    }
}

#[test]
fn wordcount_dir_pprints_counts_of_a_file_moved_in() {
    let (tmp, dir) = watched_dir();
    let mut ember = Proc::start(
        "ember",
        &[
            "wordcount",
            "--dir",
            dir.to_str().unwrap(),
            "--duration",
            "4s",
        ],
    );
    // Written after the stream started, so that the file is new.
    thread::sleep(Duration::from_millis(1200));
    assert!(ember.poll().is_none(), "ember ended early");
    let staged = tmp.path().join("words.txt");
    std::fs::write(&staged, "hello world\nhello ember\nhello\n").unwrap();
    std::fs::rename(&staged, dir.join("words.txt")).unwrap();

    let status = ember.expect_exit(QUICK);
    let stdout = ember.stdout().all();
    let stderr = ember.stderr.lines_text();
    assert!(status.success(), "exit {status}\nstderr:\n{stderr}");
    assert_no_panic(&stderr);

    let batches = pprint_batches(&stdout);
    assert!(
        batches.len() >= 3,
        "expected about four batches:\n{}",
        stdout.join("\n")
    );
    for (time, _) in &batches {
        assert!(is_pprint_time(time), "not a pprint time: {time:?}");
    }
    let headers = stdout.iter().filter(|l| l.starts_with("Time: ")).count();
    assert_eq!(headers, batches.len(), "{}", stdout.join("\n"));
    let with_counts: Vec<&Vec<String>> = batches
        .iter()
        .map(|(_, elements)| elements)
        .filter(|e| !e.is_empty())
        .collect();
    assert_eq!(with_counts.len(), 1, "{}", stdout.join("\n"));
    let mut counts = with_counts[0].clone();
    counts.sort();
    assert_eq!(
        counts,
        [r#"("ember", 1)"#, r#"("hello", 3)"#, r#"("world", 1)"#],
        "{}",
        stdout.join("\n")
    );
}

#[test]
fn wordcount_dir_that_does_not_exist_fails_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nonexistent");
    let missing = missing.to_str().unwrap();
    let mut ember = Proc::start(
        "ember",
        &["wordcount", "--dir", missing, "--duration", "3s"],
    );
    let status = ember.expect_exit(QUICK);
    let stderr = ember.stderr.lines_text();
    assert!(!status.success(), "exit {status}");
    assert!(
        stderr.contains(missing) && stderr.contains("no such directory"),
        "{stderr}"
    );
    assert_no_panic(&stderr);
    assert!(ember.stdout().all().is_empty());
}

#[test]
fn wordcount_socket_without_a_server_keeps_retrying_and_exits_at_its_duration() {
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let began = Instant::now();
    // At the default log level: a student must see why the batches are empty.
    let mut ember = Proc::start(
        "ember",
        &[
            "wordcount",
            "--socket",
            &address,
            "--summary",
            "--duration",
            "3s",
        ],
    );
    thread::sleep(Duration::from_millis(1500));
    assert!(
        ember.poll().is_none(),
        "ember ended early; stderr:\n{}",
        ember.stderr.lines_text()
    );
    let status = ember.expect_exit(QUICK);
    let took = began.elapsed();
    let stdout = ember.stdout().all();
    let stderr = ember.stderr.lines_text();
    assert!(status.success(), "exit {status}\nstderr:\n{stderr}");
    assert_no_panic(&stderr);
    assert!(took >= Duration::from_millis(2900), "ended after {took:?}");
    assert!(
        stderr.contains(&format!("Error connecting to {address}")),
        "no connection attempt logged:\n{stderr}"
    );
    // Batches kept coming, all empty.
    let benches: Vec<Bench> = stdout.iter().filter_map(|l| parse_bench(l)).collect();
    assert_eq!(benches.len(), stdout.len(), "{stdout:?}");
    assert!(benches.len() >= 2, "{stdout:?}");
    assert!(benches.iter().all(|b| b.total == 0 && b.keys == 0));
}

#[test]
fn a_watched_directory_that_goes_away_fails_the_command_at_its_end() {
    let (_tmp, dir) = watched_dir();
    let mut ember = Proc::start(
        "ember",
        &[
            "wordcount",
            "--dir",
            dir.to_str().unwrap(),
            "--batch",
            "200ms",
            "--duration",
            "3s",
        ],
    );
    // Once batches run, the directory disappears: every later batch fails to list it.
    ember.expect_stdout_line(QUICK, "a first batch", |l| l.starts_with("Time: "));
    std::fs::remove_dir(&dir).unwrap();
    let status = ember.expect_exit(QUICK);
    let stderr = ember.stderr.lines_text();
    assert!(!status.success(), "exit {status}\nstderr:\n{stderr}");
    assert!(stderr.contains(dir.to_str().unwrap()), "{stderr}");
    assert!(
        stderr.contains("batches failed while the stream ran"),
        "{stderr}"
    );
    assert_no_panic(&stderr);
}

#[test]
fn an_input_file_that_cannot_be_read_is_skipped_and_fails_the_command_at_its_end() {
    let (tmp, dir) = watched_dir();
    let mut ember = Proc::start(
        "ember",
        &[
            "wordcount",
            "--dir",
            dir.to_str().unwrap(),
            "--summary",
            "--batch",
            "200ms",
            "--duration",
            "3s",
        ],
    );
    ember.expect_stdout_line(QUICK, "a first batch", |l| parse_bench(l).is_some());
    // A file that lists as a regular file but whose reading fails, even for root (tests may
    // run as root, so permissions would not do): the reading process's own memory, which has
    // nothing mapped at offset 0 (EIO). The link is resolved by ember when it lists the
    // directory, to `/proc/<its pid>/mem`, which it then fails to read.
    std::os::unix::fs::symlink("/proc/self/mem", dir.join("unreadable.txt")).unwrap();
    let staged = write_file(tmp.path(), "words.txt", "one two three\n");
    std::fs::rename(staged, dir.join("words.txt")).unwrap();
    ember.expect_stdout_line(QUICK, "the readable file's words", |l| {
        parse_bench(l).is_some_and(|b| b.total == 3)
    });
    let status = ember.expect_exit(QUICK);
    let stderr = ember.stderr.lines_text();
    assert!(!status.success(), "exit {status}\nstderr:\n{stderr}");
    // Reported by name when skipped, the stream went on, and the end says what was lost.
    assert!(
        stderr.contains("Skipped input file") && stderr.contains("/mem: Input/output"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 input files could not be read and were skipped"),
        "{stderr}"
    );
    assert!(!stderr.contains("batches failed"), "{stderr}");
    let totals: u64 = ember
        .stdout()
        .all()
        .iter()
        .filter_map(|l| parse_bench(l))
        .map(|b| b.total)
        .sum();
    assert_eq!(totals, 3);
    assert_no_panic(&stderr);
}

#[test]
fn checkpoints_that_cannot_be_written_fail_the_command_at_its_end() {
    let (tmp, dir) = watched_dir();
    let checkpoint = tmp.path().join("checkpoint");
    std::fs::create_dir(&checkpoint).unwrap();
    // A file where the state directory must go: every share of the state fails to be written
    // (permissions would not do: tests may run as root).
    std::fs::write(checkpoint.join("state"), b"in the way").unwrap();
    let mut ember = Proc::start(
        "ember",
        &[
            "wordcount",
            "--dir",
            dir.to_str().unwrap(),
            "--stateful",
            "--checkpoint",
            checkpoint.to_str().unwrap(),
            "--batch",
            "200ms",
            "--duration",
            "2s",
        ],
    );
    let status = ember.expect_exit(QUICK);
    let stderr = ember.stderr.lines_text();
    assert!(!status.success(), "exit {status}\nstderr:\n{stderr}");
    // Each failure is reported when it happens, and the end says the run failed.
    assert!(stderr.contains("is not checkpointed"), "{stderr}");
    assert!(
        stderr.contains("checkpoint writes failed while the stream ran"),
        "{stderr}"
    );
    assert_no_panic(&stderr);
}

#[test]
fn a_checkpoint_directory_in_use_is_refused_and_free_after_a_kill() {
    let (tmp, dir) = watched_dir();
    let checkpoint = tmp.path().join("checkpoint");
    let args = [
        "wordcount",
        "--dir",
        dir.to_str().unwrap(),
        "--stateful",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--batch",
        "200ms",
        "--duration",
        "3600s",
    ];
    let mut first = Proc::start("ember", &args);
    first.expect_stdout_line(QUICK, "a first batch", |l| l.starts_with("Time: "));
    let mut second = Proc::start("ember", &args);
    let status = second.expect_exit(QUICK);
    let stderr = second.stderr.lines_text();
    assert!(!status.success(), "exit {status}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("is in use by another running program"),
        "{stderr}"
    );
    // A crash leaves no stale lock: the operating system drops it with the process.
    drop(first);
    let mut third = Proc::start("ember", &args);
    third.expect_stdout_line(QUICK, "a first batch after the kill", |l| {
        l.starts_with("Time: ")
    });
}

#[test]
fn wordcount_rejects_a_bad_socket_address() {
    let mut ember = Proc::start(
        "ember",
        &["wordcount", "--socket", "localhost", "--duration", "1s"],
    );
    let status = ember.expect_exit(QUICK);
    let stderr = ember.stderr.lines_text();
    assert!(!status.success());
    assert!(stderr.contains("expected HOST:PORT"), "{stderr}");
    assert_no_panic(&stderr);
}

/// Sends SIGTERM to `proc` with the `kill` command (bounded: `kill` returns at once).
fn terminate(proc: &Proc) {
    let status = Command::new("kill")
        .args(["-TERM", &proc.child.id().to_string()])
        .status()
        .expect("running kill");
    assert!(status.success(), "kill -TERM failed: {status}");
}

/// Runs `ember wordcount --socket` against a server that sends `text`, until the first BENCH
/// line, then sends SIGTERM; returns the process once it exited (or panics after a deadline).
fn wordcount_until_sigterm(text: &str) -> (Proc, TextServer) {
    let server = TextServer::start(text);
    let address = format!("127.0.0.1:{}", server.port);
    let mut ember = Proc::start("ember", &["wordcount", "--socket", &address, "--summary"]);
    let first = ember.stdout().find(QUICK, parse_bench);
    assert!(
        first.is_some(),
        "no batch; stderr:\n{}",
        ember.stderr.lines_text()
    );
    terminate(&ember);
    ember.expect_exit(Duration::from_secs(10));
    (ember, server)
}

#[test]
fn wordcount_stops_gracefully_on_sigterm() {
    let text = "one two three\nfour five six\n";
    let (mut ember, _server) = wordcount_until_sigterm(text);
    let status = ember.expect_exit(QUICK);
    let stderr = ember.stderr.lines_text();
    assert!(status.success(), "exit {status}\nstderr:\n{stderr}");
    assert_no_panic(&stderr);
    let stdout = ember.stdout().all();
    let total: u64 = stdout
        .iter()
        .filter_map(|l| parse_bench(l))
        .map(|b| b.total)
        .sum();
    assert_eq!(total, 6, "{stdout:?}");
}

#[test]
fn sigterm_stop_prints_no_warning() {
    let (ember, _server) = wordcount_until_sigterm("a b\n");
    let stderr = ember.stderr.lines_text();
    assert!(!stderr.contains("WARN"), "{stderr}");
}

#[test]
fn feed_of_a_missing_file_fails_at_start_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-file.txt");
    let missing = missing.to_str().unwrap();
    let mut feed = Proc::start("ember", &["feed", missing, "--port", "0"]);
    let status = feed.wait(Duration::from_secs(5));
    let stderr = feed.stderr.lines_text();
    assert!(
        status.is_some_and(|s| !s.success()),
        "still running or exit 0: {status:?}\nstderr:\n{stderr}"
    );
    assert!(stderr.contains(missing), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// ember demo

#[test]
fn demo_prints_word_counts_in_pprint_framing() {
    let mut ember = Proc::start("ember", &["demo", "--seconds", "3", "--rate", "50"]);
    let status = ember.expect_exit(QUICK);
    let stdout = ember.stdout().all();
    let stderr = ember.stderr.lines_text();
    assert!(status.success(), "exit {status}\nstderr:\n{stderr}");
    assert_no_panic(&stderr);
    assert!(stdout.iter().any(|l| l.len() == 43 && l == DASHES));

    let batches = pprint_batches(&stdout);
    assert!(batches.len() >= 2, "{}", stdout.join("\n"));
    for (time, elements) in &batches {
        assert!(is_pprint_time(time), "not a pprint time: {time:?}");
        assert!(elements.len() <= 11, "more than 10 elements and `...`");
        for e in elements {
            assert!(e == "..." || is_word_count(e), "not a word count: {e:?}");
        }
    }
    let with_counts = batches.iter().filter(|(_, e)| !e.is_empty()).count();
    assert!(with_counts >= 1, "no counts at all:\n{}", stdout.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// A closed stdout (`ember ... | head -n 3`)

/// Reads three lines of `stdout` on a thread, then drops the pipe (closing its read end, as
/// `head -n 3` exits); returns the lines, or fewer if they did not come within `within`.
fn head_3(stdout: ChildStdout, within: Duration) -> Vec<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        for _ in 0..3 {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(line.trim_end().to_string()).is_err() {
                        break;
                    }
                }
            }
        }
        // `reader` (the pipe) is dropped here.
    });
    let deadline = Instant::now() + within;
    let mut lines = Vec::new();
    while lines.len() < 3 {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => lines.push(line),
            Err(_) => break,
        }
    }
    lines
}

/// Starts a feeder child serving a text in a loop; returns it and its port.
fn looping_feeder(tmp: &Path) -> (Proc, u16) {
    let text: String = (0..50)
        .map(|i| format!("word{} again and again\n", i % 7))
        .collect();
    let file = write_file(tmp, "words.txt", &text);
    let mut feed = Proc::start(
        "ember",
        &["feed", &file, "--port", "0", "--loop", "--rate", "200"],
    );
    let port = feed.feed_port();
    (feed, port)
}

/// Runs `ember wordcount --socket 127.0.0.1:<port> <flags> --duration 30s`, reads the first
/// three lines of its stdout and closes it; returns the still running command and those lines.
fn wordcount_whose_stdout_closes_after_3_lines(port: u16, flags: &[&str]) -> (Proc, Vec<String>) {
    let address = format!("127.0.0.1:{port}");
    let mut args = vec!["wordcount", "--socket", &address];
    args.extend_from_slice(flags);
    // An hour: the command can only end early because its reader went away.
    args.extend(["--duration", "3600s"]);
    let mut ember = Proc::spawn("ember", &args);
    let lines = head_3(ember.take_stdout(), QUICK);
    assert_eq!(
        lines.len(),
        3,
        "{lines:?}\nstderr:\n{}",
        ember.stderr.lines_text()
    );
    (ember, lines)
}

/// Waits for `ember` to exit (a hang guard of 60 s, far below its hour-long `--duration`: an
/// exit at all shows that the closed pipe stopped it), and checks that it succeeded without a
/// panic: a reader that goes away is not an error.
fn assert_exits_zero_quietly(ember: &mut Proc) {
    let status = ember.expect_exit(Duration::from_secs(60));
    let stderr = ember.stderr.lines_text();
    assert!(status.success(), "exit {status}\nstderr:\n{stderr}");
    assert_no_panic(&stderr);
}

#[test]
fn closed_stdout_in_pprint_mode_stops_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let (_feed, port) = looping_feeder(tmp.path());
    let (mut ember, lines) =
        wordcount_whose_stdout_closes_after_3_lines(port, &["--batch", "300ms"]);
    assert_eq!(lines[0], DASHES);
    assert!(lines[1].starts_with("Time: "), "{lines:?}");
    assert_eq!(lines[2], DASHES);
    // The next print meets the closed pipe and stops the stream long before --duration.
    assert_exits_zero_quietly(&mut ember);
}

#[test]
fn closed_stdout_in_summary_mode_exits_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let (_feed, port) = looping_feeder(tmp.path());
    let (mut ember, lines) =
        wordcount_whose_stdout_closes_after_3_lines(port, &["--summary", "--batch", "200ms"]);
    assert!(lines.iter().all(|l| parse_bench(l).is_some()), "{lines:?}");
    assert_exits_zero_quietly(&mut ember);
}

#[test]
#[cfg(target_os = "linux")]
fn stdout_that_cannot_be_written_fails_the_command() {
    // `/dev/full` refuses every write with ENOSPC: unlike a closed pipe, that is a failure.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("Linux has /dev/full");
    let (_tmp, dir) = watched_dir();
    // pprint prints every batch, empty ones too, so the first batch meets the full device.
    let mut ember = Proc::spawn_with_stdout(
        "ember",
        &[
            "wordcount",
            "--dir",
            dir.to_str().unwrap(),
            "--batch",
            "200ms",
            "--duration",
            "60s",
        ],
        full.into(),
    );
    let status = ember.expect_exit(QUICK);
    let stderr = ember.stderr.lines_text();
    assert!(!status.success(), "exit {status}\nstderr:\n{stderr}");
    let reported: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("ember: ") && l.contains("writing to stdout"))
        .collect();
    assert_eq!(reported.len(), 1, "stderr:\n{stderr}");
    let full_text = std::io::Error::from_raw_os_error(28).to_string();
    assert!(reported[0].contains(&full_text), "stderr:\n{stderr}");
    // The cause is said once, though it is also in the error's source chain.
    assert_eq!(
        reported[0].matches(&full_text).count(),
        1,
        "{}",
        reported[0]
    );
    assert_no_panic(&stderr);
}

// ---------------------------------------------------------------------------------------------
// Helpers' own checks

#[test]
fn output_parsers_accept_the_documented_formats() {
    assert_eq!(
        parse_bench("BENCH batch=1500 total=12 keys=7"),
        Some(Bench {
            batch: 1500,
            total: 12,
            keys: 7
        })
    );
    assert_eq!(parse_bench("BENCH batch=1500 total=-1 keys=7"), None);
    assert_eq!(parse_bench("BENCH batch=1500 total=1 keys=7 extra"), None);
    assert!(is_pprint_time("2026-11-24 10:00:01"));
    assert!(!is_pprint_time("2026-11-24 10:00:01.500000"));
    assert!(!is_pprint_time("1500 ms"));
    assert!(is_word_count(r#"("hello", 3)"#));
    assert!(!is_word_count(r#"("hello", 0)"#));
    assert!(!is_word_count("(1, 3)"));
}
