//! `ember wordcount` as a cluster of processes (`--hosts FILE --process I`), against the same
//! program in one process.
//!
//! * Two processes with one worker thread each print, on process 0, exactly what one process with
//!   two worker threads prints (same partition count, same order inside a batch); process 1 prints
//!   nothing; both exit 0.
//! * A cluster whose processes disagree (worker threads) or whose peer is not an ember process
//!   fails at once with a message, instead of hanging.
//! * A peer that never starts is an error after the connect deadline.
//! * A lost process (SIGKILL, of two or of three; frozen with SIGSTOP) stops every other process
//!   within 10 s with exit code 1 and an error naming it, without a panic or an abort.
//! * SIGTERM or SIGINT to any process stops the whole cluster gracefully; all exit 0.
//! * A stateful cluster killed mid-stream (process 1, then the driver) and restarted whole on its
//!   checkpoint ends with exact totals.
//!
//! As in `cli.rs`, every child is owned by a [`Proc`] that kills and reaps it when dropped, every
//! wait has a deadline (children are polled with `try_wait`; their output is read by threads and
//! handed over through channels), ports come from the system and directories from `tempfile`.
//! The tests that start processes take [`serial`] so that the 2-core machine runs one cluster at
//! a time.

mod common;

use std::collections::BTreeSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::{Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Bench, DASHES, Proc, QUICK, free_port, parse_bench};
use tempfile::TempDir;

/// How long a `--duration 6s` run (one process or a cluster) may take from spawn to exit.
const RUN_DEADLINE: Duration = Duration::from_secs(30);
/// The runs' `--duration`.
const DURATION: &str = "6s";
/// The earliest the file is moved in after the processes started.
const SETTLE: Duration = Duration::from_millis(1500);

/// One cluster (or pair of runs) at a time: the machine has two cores, and other builds may run.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Asserts that `proc` exited 0 and printed nothing that looks like a panic or a warning.
fn assert_clean_success(proc: &Proc, status: ExitStatus) {
    assert!(
        status.success(),
        "{} exited {status}\n{}",
        proc.name,
        proc.report()
    );
    assert_no_panic(proc);
}

/// Asserts that `proc` exited non-zero, printed nothing on stdout and did not panic.
fn assert_clean_failure(proc: &Proc, status: ExitStatus) {
    assert!(
        !status.success(),
        "{} exited {status}\n{}",
        proc.name,
        proc.report()
    );
    assert_no_panic(proc);
    assert!(
        proc.stdout_text().is_empty(),
        "{} printed\n{}",
        proc.name,
        proc.report()
    );
}

fn assert_no_panic(proc: &Proc) {
    let stderr = proc.stderr_text();
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{} panicked\n{}",
        proc.name,
        proc.report()
    );
}

// ---------------------------------------------------------------------------------------------
// Clusters

/// Writes a hosts file listing `ports` on 127.0.0.1, one process a line.
fn hosts_file(dir: &Path, name: &str, ports: &[u16]) -> PathBuf {
    let path = dir.join(name);
    let text: String = ports
        .iter()
        .map(|port| format!("127.0.0.1:{port}\n"))
        .collect();
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts process `index` of the cluster listed in `hosts`, with `master`, running
/// `ember wordcount ARGS`.
fn start_process(name: &str, hosts: &Path, index: usize, master: &str, args: &[&str]) -> Proc {
    let index = index.to_string();
    let mut all = vec!["wordcount"];
    all.extend_from_slice(args);
    all.extend_from_slice(&[
        "--master",
        master,
        "--hosts",
        hosts.to_str().unwrap(),
        "--process",
        &index,
    ]);
    Proc::start(name, &all)
}

/// Starts one process per entry of `masters` (its `--master`), as a cluster listed in `hosts`,
/// each running `ember wordcount ARGS`; the last process first (process 0, which only accepts
/// connections, starts last: the others wait for it). Returns them in process order.
fn start_cluster(label: &str, hosts: &Path, masters: &[&str], args: &[&str]) -> Vec<Proc> {
    let mut procs: Vec<Proc> = (0..masters.len())
        .rev()
        .map(|i| start_process(&format!("{label} process {i}"), hosts, i, masters[i], args))
        .collect();
    procs.reverse();
    procs
}

// ---------------------------------------------------------------------------------------------
// The input and the output

/// A few hundred words over about fifty distinct ones, some far more frequent than others;
/// single spaces, no empty line, so that every piece of `split(' ')` is a word.
fn corpus() -> String {
    const VOCABULARY: &[&str] = &[
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
        "foxtrot",
        "golf",
        "hotel",
        "india",
        "juliet",
        "kilo",
        "lima",
        "mike",
        "november",
        "oscar",
        "papa",
        "quebec",
        "romeo",
        "sierra",
        "tango",
        "uniform",
        "victor",
        "whiskey",
        "xray",
        "yankee",
        "zulu",
        "apple",
        "banana",
        "cherry",
        "damson",
        "elder",
        "fig",
        "grape",
        "hazel",
        "ilama",
        "jujube",
        "kiwi",
        "lemon",
        "mango",
        "nectarine",
        "olive",
        "peach",
        "quince",
        "raisin",
        "sloe",
        "tamarind",
        "ugli",
        "vanilla",
        "walnut",
        "yuzu",
    ];
    // A fixed linear congruential generator: the same text on every run.
    let mut state: u64 = 0x5eed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    let mut lines = Vec::new();
    for _ in 0..40 {
        let words: Vec<&str> = (0..9)
            .map(|_| {
                // Half the picks from the first eight words: a skewed distribution.
                if next() % 2 == 0 {
                    VOCABULARY[next() % 8]
                } else {
                    VOCABULARY[next() % VOCABULARY.len()]
                }
            })
            .collect();
        lines.push(words.join(" "));
    }
    lines.join("\n") + "\n"
}

/// The number of words and of distinct words of `text`, counted as the word count splits.
fn word_stats(text: &str) -> (u64, u64) {
    let words: Vec<&str> = text.lines().flat_map(|l| l.split(' ')).collect();
    let distinct: BTreeSet<&str> = words.iter().copied().collect();
    (words.len() as u64, distinct.len() as u64)
}

/// Writes `text` outside `dir` and renames it into `dir` (atomic: the stream never sees half a
/// file; written just now, the file is newer than the stream).
fn move_in(staging: &Path, dir: &Path, name: &str, text: &str) {
    let staged = staging.join(name);
    std::fs::write(&staged, text).unwrap();
    std::fs::rename(&staged, dir.join(name)).unwrap();
}

fn input_dir(tmp: &Path, name: &str) -> PathBuf {
    let dir = tmp.join(name);
    std::fs::create_dir(&dir).unwrap();
    dir
}

/// What a test of a cluster that cannot run needs: its [`serial`] turn, a temporary directory,
/// and an empty input directory inside it (as a path argument).
fn scratch() -> (MutexGuard<'static, ()>, TempDir, String) {
    let turn = serial();
    let tmp = tempfile::tempdir().unwrap();
    let dir = input_dir(tmp.path(), "in").to_str().unwrap().to_owned();
    (turn, tmp, dir)
}

/// The pprint blocks that list elements, without their `Time: ...` line: each is the framing
/// (two dash lines), the element lines and the blank line that ends the block, byte for byte.
fn non_empty_blocks(stdout: &str) -> Vec<String> {
    let lines: Vec<&str> = stdout.split_inclusive('\n').collect();
    let is = |i: usize, want: &str| {
        lines
            .get(i)
            .is_some_and(|l| l.trim_end_matches('\n') == want)
    };
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let header = is(i, DASHES)
            && lines.get(i + 1).is_some_and(|l| l.starts_with("Time: "))
            && is(i + 2, DASHES);
        if !header {
            i += 1;
            continue;
        }
        let mut block = format!("{}{}", lines[i], lines[i + 2]);
        let mut elements = 0;
        i += 3;
        while i < lines.len() && !is(i, "") && !is(i, DASHES) {
            block.push_str(lines[i]);
            elements += 1;
            i += 1;
        }
        if is(i, "") {
            block.push_str(lines[i]);
            i += 1;
        }
        if elements > 0 {
            blocks.push(block);
        }
    }
    blocks
}

/// Every line of `proc`'s stdout as a BENCH line (failing on any other line).
fn benches(proc: &Proc) -> Vec<Bench> {
    let stdout = proc.stdout_text();
    stdout
        .lines()
        .map(|line| {
            parse_bench(line)
                .unwrap_or_else(|| panic!("{}: not a BENCH line: {line:?}\n{stdout}", proc.name))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Two processes equal one

/// One comparison: run A (one process, `local[2]`) and run B (two processes, `local[1]` each),
/// all over `ember wordcount --dir ... ARGS`, with the same file moved into each run's directory
/// once both runs are batching. [`run_both`] returns it once all three processes exited 0 and
/// run B's process 1 printed nothing (or fails the test): the processes that print, and the
/// time each run took.
struct Runs {
    single: Proc,
    driver: Proc,
    single_took: Duration,
    cluster_took: Duration,
}

fn run_both(text: &str, args: &[&str], first_output: fn(&str) -> bool) -> Runs {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let dir_a = input_dir(tmp, "in-a");
    let dir_b = input_dir(tmp, "in-b");
    let hosts = hosts_file(tmp, "hosts", &[free_port(), free_port()]);

    let began = Instant::now();
    let deadline = began + RUN_DEADLINE;
    let mut run_a: Vec<&str> = vec![
        "wordcount",
        "--dir",
        dir_a.to_str().unwrap(),
        "--master",
        "local[2]",
    ];
    run_a.extend_from_slice(args);
    let mut single = Proc::start("run A (1 process)", &run_a);
    let mut run_b: Vec<&str> = vec!["--dir", dir_b.to_str().unwrap()];
    run_b.extend_from_slice(args);
    let mut cluster = start_cluster("run B", &hosts, &["local[1]", "local[1]"], &run_b);
    let mut other = cluster.pop().unwrap();
    let mut driver = cluster.pop().unwrap();

    // Both runs are batching (the cluster is connected): the file, written now, is newer than
    // either stream and lands in one batch of each.
    single.expect_stdout_line(QUICK, "first batch", first_output);
    driver.expect_stdout_line(QUICK, "first batch", first_output);
    thread::sleep(SETTLE.saturating_sub(began.elapsed()));
    for proc in [&mut single, &mut driver, &mut other] {
        proc.expect_running();
    }
    move_in(tmp, &dir_a, "words.txt", text);
    move_in(tmp, &dir_b, "words.txt", text);

    let status = single.expect_exit_by(deadline);
    let single_took = began.elapsed();
    assert_clean_success(&single, status);
    let status = driver.expect_exit_by(deadline);
    let driver_took = began.elapsed();
    assert_clean_success(&driver, status);
    let status = other.expect_exit_by(deadline);
    let cluster_took = driver_took.max(began.elapsed());
    assert_clean_success(&other, status);
    eprintln!("run A took {single_took:?}, run B {cluster_took:?} (from spawn to exit)");
    assert!(
        other.stdout_text().is_empty(),
        "process 1 printed on stdout\n{}",
        other.report()
    );
    Runs {
        single,
        driver,
        single_took,
        cluster_took,
    }
}

#[test]
fn two_processes_pprint_what_one_process_prints() {
    let text = corpus();
    let (words, distinct) = word_stats(&text);
    assert!(
        words >= 300 && distinct >= 40,
        "{words} words, {distinct} distinct"
    );

    let runs = run_both(&text, &["--batch", "1s", "--duration", DURATION], |line| {
        line.starts_with("Time: ")
    });
    let one = runs.single.stdout_text();
    let two = runs.driver.stdout_text();
    // About six batches each.
    for (name, stdout) in [("run A", &one), ("run B", &two)] {
        let headers = stdout.lines().filter(|l| l.starts_with("Time: ")).count();
        assert!(headers >= 4, "{name}: {headers} batches\n{stdout}");
    }

    let blocks_one = non_empty_blocks(&one);
    let blocks_two = non_empty_blocks(&two);
    assert_eq!(
        blocks_one.len(),
        1,
        "run A: the file should land in one batch\n{one}"
    );
    assert_eq!(
        blocks_two.len(),
        1,
        "run B: the file should land in one batch\n{two}"
    );
    // More than ten keys: ten counts and `...`.
    let elements: Vec<&str> = blocks_one[0]
        .lines()
        .filter(|l| !l.is_empty() && *l != DASHES)
        .collect();
    assert_eq!(elements.len(), 11, "{}", blocks_one[0]);
    assert_eq!(elements[10], "...", "{}", blocks_one[0]);
    assert!(
        elements[..10]
            .iter()
            .all(|e| e.starts_with("(\"") && e.ends_with(')')),
        "{}",
        blocks_one[0]
    );
    assert_eq!(
        blocks_one, blocks_two,
        "one process (left) and two (right) printed different counts\n--- run A:\n{one}\n--- run B process 0:\n{two}"
    );
    eprintln!(
        "pprint: run A {:?}, run B {:?}",
        runs.single_took, runs.cluster_took
    );
}

#[test]
fn two_processes_sum_up_what_one_process_sums_up() {
    let text = corpus();
    let (words, distinct) = word_stats(&text);

    let runs = run_both(
        &text,
        &["--summary", "--batch", "1s", "--duration", DURATION],
        |line| parse_bench(line).is_some(),
    );
    let mut found = Vec::new();
    for proc in [&runs.single, &runs.driver] {
        let all = benches(proc);
        assert!(all.len() >= 4, "{}: {all:?}", proc.name);
        assert!(
            all.windows(2).all(|w| w[1].batch == w[0].batch + 1000),
            "{}: batches not consecutive: {all:?}",
            proc.name
        );
        let non_empty: Vec<Bench> = all.iter().copied().filter(|b| b.total > 0).collect();
        assert_eq!(
            non_empty.len(),
            1,
            "{}: the file should land in one batch: {all:?}",
            proc.name
        );
        assert!(
            all.iter().all(|b| b.total > 0 || b.keys == 0),
            "{}: {all:?}",
            proc.name
        );
        found.push((non_empty[0].total, non_empty[0].keys));
    }
    assert_eq!(found[0], found[1], "run A (left) and run B (right) differ");
    assert_eq!(
        found[0],
        (words, distinct),
        "(total, keys) against the file"
    );
    eprintln!(
        "summary: run A {:?}, run B {:?}",
        runs.single_took, runs.cluster_took
    );
}

#[test]
fn a_clusters_receiver_keeps_to_max_rate() {
    // The driver runs the receivers and their rate control, in a cluster too: a source far
    // faster than the limit gives at most RATE lines per second of the run, spread over every
    // worker of both processes, and nothing else changes.
    const RATE: u64 = 2000;
    const LINES: usize = 200_000;
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let hosts = hosts_file(tmp.path(), "hosts", &[free_port(), free_port()]);
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("127.0.0.1:{}", server.local_addr().unwrap().port());
    // One word a line: the batch's total is its lines. The writer ends when ember closes.
    let writer = thread::spawn(move || {
        if let Ok((mut client, _)) = server.accept() {
            let _ = client.write_all("w\n".repeat(LINES).as_bytes());
        }
    });
    let rate = format!("spark.streaming.receiver.maxRate={RATE}");
    let args = [
        "--socket",
        &address,
        "--summary",
        "--batch",
        "1s",
        "--duration",
        DURATION,
        "--conf",
        &rate,
    ];
    let deadline = Instant::now() + RUN_DEADLINE;
    let mut cluster = start_cluster("rate", &hosts, &["local[1]", "local[1]"], &args);
    let mut other = cluster.pop().unwrap();
    let mut driver = cluster.pop().unwrap();
    let status = driver.expect_exit_by(deadline);
    assert_clean_success(&driver, status);
    let status = other.expect_exit_by(deadline);
    assert_clean_success(&other, status);
    assert!(other.stdout_text().is_empty(), "{}", other.report());
    let all = benches(&driver);
    // The limit's bucket starts empty when the receiver starts, at most one interval before the
    // first batch closes; the graceful stop's last batch takes what was stored until the stop,
    // at most one interval after the last batch time.
    let mut sum = 0;
    for (k, bench) in all.iter().enumerate() {
        sum += bench.total;
        assert!(
            sum <= RATE * (k as u64 + 2),
            "batches 1..={} hold {sum} lines, over {RATE}/s: {all:?}",
            k + 1
        );
    }
    assert!(sum > 0, "no line arrived: {all:?}");
    assert!(
        sum < LINES as u64,
        "the limit did not hold the source back: {all:?}"
    );
    drop(writer);
}

// ---------------------------------------------------------------------------------------------
// Clusters that cannot run

/// Process 0 with `local[1]`, process 1 with `local[2]`: both exit non-zero, at once.
fn mismatched_threads() -> (Proc, Proc, Duration) {
    let (_serial, tmp, dir) = scratch();
    let hosts = hosts_file(tmp.path(), "hosts", &[free_port(), free_port()]);
    let began = Instant::now();
    let deadline = began + QUICK;
    let mut procs = start_cluster(
        "mismatched",
        &hosts,
        &["local[1]", "local[2]"],
        &["--dir", &dir, "--duration", DURATION],
    );
    let mut other = procs.pop().unwrap();
    let mut driver = procs.pop().unwrap();
    let status0 = driver.expect_exit_by(deadline);
    let status1 = other.expect_exit_by(deadline);
    let took = began.elapsed();
    for (proc, status) in [(&driver, status0), (&other, status1)] {
        assert_clean_failure(proc, status);
    }
    eprintln!("mismatched worker threads: both failed after {took:?}");
    (driver, other, took)
}

#[test]
fn mismatched_worker_threads_fail_both_processes_at_once() {
    let (driver, other, _) = mismatched_threads();
    // Process 0 accepts process 1's connection and reads its greeting: it names the mismatch.
    let stderr = driver.stderr_text();
    assert!(
        stderr.contains("worker threads") && stderr.contains("local[N]"),
        "{}",
        driver.report()
    );
    // Process 1 is refused: it reports an error of its own (see the ignored test below for
    // what it says).
    assert!(
        other.stderr_text().contains("ember: "),
        "{}",
        other.report()
    );
}

#[test]
fn mismatched_worker_threads_are_named_by_both_processes() {
    let (driver, other, _) = mismatched_threads();
    for proc in [&driver, &other] {
        assert!(
            proc.stderr_text().contains("worker threads"),
            "{}",
            proc.report()
        );
    }
}

/// A fake process `me` of a two-process cluster: accepts one connection on `listener` (or makes
/// one to `peer`), sends 32 bytes that are not an ember greeting, and keeps the connection until
/// the thread's end (`within`).
fn fake_peer(listener: Option<TcpListener>, peer: Option<u16>, within: Duration) -> JoinHandle<()> {
    thread::spawn(move || {
        let deadline = Instant::now() + within;
        let stream = match (listener, peer) {
            (Some(listener), _) => {
                listener.set_nonblocking(true).unwrap();
                loop {
                    match listener.accept() {
                        Ok((s, _)) => break Some(s),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            if Instant::now() >= deadline {
                                break None;
                            }
                            thread::sleep(Duration::from_millis(10));
                        }
                        Err(e) => panic!("accept: {e}"),
                    }
                }
            }
            (None, Some(port)) => loop {
                match TcpStream::connect(("127.0.0.1", port)) {
                    Ok(s) => break Some(s),
                    Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
                    Err(_) => break None,
                }
            },
            (None, None) => None,
        };
        let Some(mut stream) = stream else { return };
        stream.set_nonblocking(false).unwrap();
        let _ = stream.write_all(b"GET / HTTP/1.0\r\nHost: ember\r\n\r\n\0");
        // Hold the connection (reading whatever comes) until the process hangs up or time is up.
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut buf = [0u8; 64];
        while Instant::now() < deadline {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
    })
}

/// The fast stand-in for "a peer that never starts" (whose deadline is 60 s, see below): a peer
/// address where something that is not ember answers. Process 1 connecting to it, and process 0
/// accepting it, both fail at once naming it.
#[test]
fn a_peer_that_is_not_ember_is_an_error_not_a_hang() {
    let (_serial, tmp, dir) = scratch();
    let args = ["--dir", &dir, "--duration", DURATION];

    // Process 1 alone; "process 0" is the test.
    let fake_driver = TcpListener::bind("127.0.0.1:0").unwrap();
    let hosts1 = hosts_file(
        tmp.path(),
        "hosts-1",
        &[fake_driver.local_addr().unwrap().port(), free_port()],
    );
    let fake1 = fake_peer(Some(fake_driver), None, QUICK);
    // Process 0 alone; "process 1" is the test.
    let port0 = free_port();
    let hosts0 = hosts_file(tmp.path(), "hosts-0", &[port0, free_port()]);

    let began = Instant::now();
    let deadline = began + QUICK;
    let mut alone1 = start_process("process 1 (fake process 0)", &hosts1, 1, "local[1]", &args);
    let mut alone0 = start_process("process 0 (fake process 1)", &hosts0, 0, "local[1]", &args);
    let fake0 = fake_peer(None, Some(port0), QUICK);

    for proc in [&mut alone1, &mut alone0] {
        let status = proc.expect_exit_by(deadline);
        assert_clean_failure(proc, status);
        assert!(
            proc.stderr_text().contains("not an ember process"),
            "{}",
            proc.report()
        );
    }
    eprintln!("non-ember peers: both failed after {:?}", began.elapsed());
    // The fakes end when the processes hang up (or at their own deadline).
    let _ = fake1.join();
    let _ = fake0.join();
}

/// A peer that never starts: process 0 waits for connections, process 1 tries to connect, each
/// for the connect deadline (`ember.cluster.connectTimeout`, here 3 s; 60 s by default), then fails
/// naming the peer.
#[test]
fn a_peer_that_never_starts_is_an_error_after_the_connect_deadline() {
    let (_serial, tmp, dir) = scratch();
    let args = [
        "--dir",
        &dir,
        "--duration",
        DURATION,
        "--conf",
        "ember.cluster.connectTimeout=3s",
    ];
    let hosts0 = hosts_file(tmp.path(), "hosts-0", &[free_port(), free_port()]);
    let hosts1 = hosts_file(tmp.path(), "hosts-1", &[free_port(), free_port()]);
    let began = Instant::now();
    let deadline = began + Duration::from_secs(30);
    let mut alone0 = start_process("process 0 without process 1", &hosts0, 0, "local[1]", &args);
    let mut alone1 = start_process("process 1 without process 0", &hosts1, 1, "local[1]", &args);
    for (proc, message) in [
        (&mut alone0, "did not connect to process 0"),
        (&mut alone1, "did not answer"),
    ] {
        let status = proc.expect_exit_by(deadline);
        let took = began.elapsed();
        assert_clean_failure(proc, status);
        assert!(
            took >= Duration::from_millis(2_900),
            "{} ended after {took:?}",
            proc.name
        );
        assert!(proc.stderr_text().contains(message), "{}", proc.report());
        eprintln!("{} failed after {took:?}", proc.name);
    }
}

// ---------------------------------------------------------------------------------------------
// A lost process stops the cluster; a signal to any process stops it gracefully

/// How long the processes that remain may take to stop once one is lost (killed or frozen): the
/// promise of ARCHITECTURE.md ("within 10 s"), kept as a hang guard.
const LOST_DEADLINE: Duration = Duration::from_secs(10);

/// A cluster running `ember wordcount --dir ... --summary` (no `--duration`: it runs until
/// something stops it), batching: process 0 has printed a BENCH line.
struct Running {
    procs: Vec<Proc>,
    ports: Vec<u16>,
    tmp: TempDir,
    dir: PathBuf,
}

fn running_cluster(label: &str, masters: &[&str], extra: &[&str]) -> Running {
    let tmp = tempfile::tempdir().unwrap();
    let dir = input_dir(tmp.path(), "in");
    let ports: Vec<u16> = masters.iter().map(|_| free_port()).collect();
    let hosts = hosts_file(tmp.path(), "hosts", &ports);
    let mut args = vec![
        "--dir",
        dir.to_str().unwrap(),
        "--summary",
        "--batch",
        "500ms",
    ];
    args.extend_from_slice(extra);
    let mut procs = start_cluster(label, &hosts, masters, &args);
    procs[0].expect_stdout_line(QUICK, "BENCH line", |l| parse_bench(l).is_some());
    for proc in procs.iter_mut() {
        proc.expect_running();
    }
    Running {
        procs,
        ports,
        tmp,
        dir,
    }
}

impl Running {
    /// Moves a file of `text` into the input directory and waits until process 0 has counted
    /// it (a BENCH line with exactly its words).
    fn count(&mut self, name: &str, text: &str) {
        move_in(self.tmp.path(), &self.dir, name, text);
        let (words, _) = word_stats(text);
        self.procs[0].expect_stdout_line(QUICK, "the file's count", |l| {
            parse_bench(l).is_some_and(|b| b.total == words)
        });
    }
}

/// Asserts that `proc` ended (by `deadline`) with exit code 1 — not 0, not killed by a signal
/// (an abort) — without a panic, and with an error naming process `lost` and its address.
fn assert_stopped_naming_lost(proc: &mut Proc, deadline: Instant, lost: usize, port: u16) {
    let status = proc.expect_exit_by(deadline);
    assert_eq!(
        status.code(),
        Some(1),
        "{} exited {status}\n{}",
        proc.name,
        proc.report()
    );
    assert_no_panic(proc);
    let stderr = proc.stderr_text();
    let named = format!("lost process {lost} (127.0.0.1:{port})");
    assert!(
        stderr.contains("ember: cluster: ") && stderr.contains(&named),
        "{} does not say `{named}`\n{}",
        proc.name,
        proc.report()
    );
}

#[test]
fn a_killed_process_stops_the_other_with_an_error_naming_it() {
    for victim in [1, 0] {
        let _serial = serial();
        let label = format!("kill {victim}:");
        let mut cluster = running_cluster(&label, &["local[2]", "local[2]"], &[]);
        cluster.count("words.txt", &corpus());
        let mut killed = cluster.procs.remove(victim);
        killed.child.kill().unwrap();
        let deadline = Instant::now() + LOST_DEADLINE;
        let port = cluster.ports[victim];
        assert_stopped_naming_lost(&mut cluster.procs[0], deadline, victim, port);
        eprintln!("{}", cluster.procs[0].stderr_text().trim_end());
    }
}

#[test]
fn a_killed_process_stops_every_other_process_of_three() {
    let _serial = serial();
    let mut cluster = running_cluster("three:", &["local[1]", "local[1]", "local[1]"], &[]);
    let mut killed = cluster.procs.remove(1);
    killed.child.kill().unwrap();
    let deadline = Instant::now() + LOST_DEADLINE;
    let port = cluster.ports[1];
    for proc in cluster.procs.iter_mut() {
        assert_stopped_naming_lost(proc, deadline, 1, port);
    }
}

/// A process that stops answering without closing its connections (frozen with SIGSTOP here;
/// a machine cut off the network looks the same) is taken for lost after the heartbeat timeout
/// (5 s by default), by every other process.
#[test]
fn a_frozen_driver_stops_the_other_processes_naming_it() {
    let _serial = serial();
    let mut cluster = running_cluster("frozen:", &["local[1]", "local[1]", "local[1]"], &[]);
    cluster.procs[0].signal("STOP");
    let deadline = Instant::now() + LOST_DEADLINE;
    let port = cluster.ports[0];
    for proc in cluster.procs[1..].iter_mut() {
        assert_stopped_naming_lost(proc, deadline, 0, port);
    }
    // The frozen process is killed (SIGKILL ends a stopped process too) when dropped.
}

/// SIGTERM or SIGINT to any process, driver or not, stops the whole cluster gracefully: every
/// process exits 0, and what was received is counted.
#[test]
fn a_signal_to_any_process_stops_the_cluster_gracefully() {
    for (to, signal) in [(1, "TERM"), (1, "INT"), (0, "TERM")] {
        let _serial = serial();
        let label = format!("SIG{signal} to {to}:");
        let mut cluster = running_cluster(&label, &["local[1]", "local[1]"], &[]);
        cluster.count("words.txt", &corpus());
        cluster.procs[to].signal(signal);
        let deadline = Instant::now() + QUICK;
        for proc in cluster.procs.iter_mut() {
            let status = proc.expect_exit_by(deadline);
            assert_clean_success(proc, status);
        }
        assert!(cluster.procs[1].stdout_text().is_empty());
    }
}

/// A process lost while the cluster stops gracefully is still a failure. Process 1's
/// `--duration` ends, its stop goes to the driver, whose graceful stop waits for the last batch's
/// time; the driver is killed meanwhile, and process 1 exits 1 naming it (not 0: its stop
/// returned, but the run did not end well).
#[test]
fn a_process_lost_during_a_graceful_stop_is_still_a_failure() {
    let _serial = serial();
    // Batch times are multiples of the interval since the Unix epoch. Starting just after one
    // leaves most of the interval before the next, which the graceful stop waits for.
    const INTERVAL_MS: u64 = 10_000;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let into = now.as_millis() as u64 % INTERVAL_MS;
    thread::sleep(Duration::from_millis(
        (INTERVAL_MS - into + 100) % INTERVAL_MS,
    ));
    let tmp = tempfile::tempdir().unwrap();
    let dir = input_dir(tmp.path(), "in");
    let ports = [free_port(), free_port()];
    let hosts = hosts_file(tmp.path(), "hosts", &ports);
    let args = [
        "-v",
        "--dir",
        dir.to_str().unwrap(),
        "--batch",
        "10s",
        "--duration",
        "1s",
    ];
    let mut procs = start_cluster(
        "lost while stopping:",
        &hosts,
        &["local[1]", "local[1]"],
        &args,
    );
    let asked = procs[1].stderr.find(QUICK, |line| {
        line.contains("asking the driver (process 0) to stop")
            .then_some(())
    });
    assert!(asked.is_some(), "{}", procs[1].report());
    procs[0].expect_running();
    procs[0].child.kill().unwrap();
    let deadline = Instant::now() + LOST_DEADLINE;
    assert_stopped_naming_lost(&mut procs[1], deadline, 0, ports[0]);
}

// ---------------------------------------------------------------------------------------------
// Restarting a cluster on its checkpoint

/// One run of a 2-process stateful word count on the checkpoint in `tmp/ck`, reading `tmp/in`.
fn stateful_cluster(run: usize, tmp: &Path, hosts: &Path) -> Vec<Proc> {
    let dir = tmp.join("in");
    let ck = tmp.join("ck");
    let args = [
        "--dir",
        dir.to_str().unwrap(),
        "--stateful",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--checkpoint-interval",
        "1s",
        "--batch",
        "500ms",
        "--summary",
    ];
    let mut procs = start_cluster(
        &format!("run {run}:"),
        hosts,
        &["local[1]", "local[1]"],
        &args,
    );
    procs[0].expect_stdout_line(QUICK, "BENCH line", |l| parse_bench(l).is_some());
    procs
}

/// Waits until process 0's running totals are `(total, keys)`.
fn expect_totals(driver: &mut Proc, total: u64, keys: u64) {
    driver.expect_stdout_line(QUICK, &format!("totals ({total}, {keys})"), |l| {
        parse_bench(l).is_some_and(|b| (b.total, b.keys) == (total, keys))
    });
}

/// A 2-process `--stateful --checkpoint` run killed mid-stream (process 1 the first time, the
/// driver the second), each time restarted whole on the same checkpoint, with files moved in
/// while it runs and while it is down: the final totals are exactly the words of all the files,
/// and no run ever counts a word twice.
#[test]
fn a_stateful_cluster_killed_mid_stream_and_restarted_recovers_exact_totals() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let dir = input_dir(tmp.path(), "in");
    let ports = [free_port(), free_port()];
    let hosts = hosts_file(tmp.path(), "hosts", &ports);
    let text = corpus();
    let lines: Vec<&str> = text.lines().collect();
    let files: Vec<String> = lines
        .chunks(8)
        .map(|chunk| chunk.join("\n") + "\n")
        .collect();
    assert_eq!(files.len(), 5);
    let (all_words, all_keys) = word_stats(&text);
    let so_far = |n: usize| word_stats(&files[..n].concat());
    let mut drivers = Vec::new();

    // Run 1: two files counted, a third moved in, then process 1 is killed.
    let mut run = stateful_cluster(1, tmp.path(), &hosts);
    for (i, file) in files[..2].iter().enumerate() {
        move_in(tmp.path(), &dir, &format!("f{i}.txt"), file);
        let (total, keys) = so_far(i + 1);
        expect_totals(&mut run[0], total, keys);
    }
    move_in(tmp.path(), &dir, "f2.txt", &files[2]);
    let mut killed = run.remove(1);
    killed.child.kill().unwrap();
    let mut driver = run.remove(0);
    let deadline = Instant::now() + LOST_DEADLINE;
    assert_stopped_naming_lost(&mut driver, deadline, 1, ports[1]);
    drivers.push(driver);

    // Run 2: restarted whole; the third file is counted (once, whether or not its batch was
    // committed), a fourth moved in, then the driver is killed.
    let mut run = stateful_cluster(2, tmp.path(), &hosts);
    let (total, keys) = so_far(3);
    expect_totals(&mut run[0], total, keys);
    move_in(tmp.path(), &dir, "f3.txt", &files[3]);
    let mut killed = run.remove(0);
    killed.child.kill().unwrap();
    drivers.push(killed);
    let mut other = run.remove(0);
    let deadline = Instant::now() + LOST_DEADLINE;
    assert_stopped_naming_lost(&mut other, deadline, 0, ports[0]);

    // While it is down, the last file arrives. Run 3: everything, exactly; SIGTERM to process 1
    // ends the cluster cleanly.
    move_in(tmp.path(), &dir, "f4.txt", &files[4]);
    let mut run = stateful_cluster(3, tmp.path(), &hosts);
    expect_totals(&mut run[0], all_words, all_keys);
    run[1].signal("TERM");
    let deadline = Instant::now() + QUICK;
    for proc in run.iter_mut() {
        let status = proc.expect_exit_by(deadline);
        assert_clean_success(proc, status);
    }
    drivers.extend(run.into_iter().take(1));

    for driver in &drivers {
        for bench in benches(driver) {
            assert!(
                bench.total <= all_words && bench.keys <= all_keys,
                "{}: counted more than there is ({all_words}, {all_keys}): {bench:?}\n{}",
                driver.name,
                driver.report()
            );
        }
    }
    let last = benches(&drivers[2]).last().copied().unwrap();
    assert_eq!((last.total, last.keys), (all_words, all_keys));
}

// ---------------------------------------------------------------------------------------------
// Helpers' own checks

#[test]
fn non_empty_blocks_drop_times_and_empty_batches() {
    let out = format!(
        "{DASHES}\nTime: 2026-11-24 10:00:01\n{DASHES}\n\n\
         {DASHES}\nTime: 2026-11-24 10:00:02\n{DASHES}\n(\"a\", 2)\n...\n\n\
         {DASHES}\nTime: 2026-11-24 10:00:03\n{DASHES}\n\n"
    );
    assert_eq!(
        non_empty_blocks(&out),
        [format!("{DASHES}\n{DASHES}\n(\"a\", 2)\n...\n\n")]
    );
    assert_eq!(word_stats("a b a\nc\n"), (4, 3));
    assert_eq!(
        parse_bench("BENCH batch=1000 total=3 keys=2"),
        Some(Bench {
            batch: 1000,
            total: 3,
            keys: 2
        })
    );
    assert_eq!(parse_bench("BENCH batch=1000 total=3"), None);
}
