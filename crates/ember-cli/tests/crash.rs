//! Crash tests: `ember wordcount --stateful --checkpoint DIR` killed with SIGKILL at random
//! moments and restarted with the same checkpoint directory (so `StreamingContext::get_or_create`
//! recovers) must end with the counts of an uninterrupted run: every word counted exactly once.
//!
//! * Directory: files are written to a staging directory on the same file system and renamed into
//!   the monitored directory at random moments — while ember runs and while it is down. At the
//!   end the last `BENCH` line's `total` must be the number of words of all files and `keys` the
//!   number of distinct words. No `BENCH` line of any run may ever exceed them (a file read twice).
//! * Socket, with `--wal`: lines in the kernel's socket buffers are lost when a process is
//!   SIGKILLed, and no log can help with that, so each run gets a burst of lines, the test waits
//!   until the summary shows them counted, then kills at a random delay; the restarted run must
//!   have them all (those counted after the last checkpoint come back from the write-ahead log).
//!
//! The moments come from a seeded generator; the seed is printed, and `EMBER_CRASH_SEED=<seed>`
//! repeats a run. The short versions (3 kills) run with `cargo test`; the long ones (at least 10
//! kills, `EMBER_CRASH_KILLS` to change) with
//! `cargo test -p ember-cli --test crash -- --ignored --nocapture` or `scripts/crash_test.sh`.
//!
//! Every child is owned by a [`Proc`] and killed through its own handle; every wait is bounded.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{Acceptor, Bench, Proc, QUICK, expect_within, parse_bench};

/// Batch interval of the runs under test, and their checkpoint interval (two batches, so that a
/// kill often lands between a batch and the checkpoint that would have included it).
const BATCH: &str = "500ms";
const CHECKPOINT_INTERVAL: &str = "1s";

// ---------------------------------------------------------------------------------------------
// Randomness and bookkeeping

/// A 64-bit linear congruential generator (Knuth's MMIX constants), high bits out: small,
/// dependency-free and the same on every platform, so a seed repeats a run.
struct Lcg(u64);

impl Lcg {
    fn new(seed: u64) -> Lcg {
        let mut rng = Lcg(seed ^ 0x9e37_79b9_7f4a_7c15);
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// Uniform in `0..n` (n > 0; the bias of `%` is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A duration uniform in `lo..hi` milliseconds.
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo))
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The seed: `EMBER_CRASH_SEED` if set, otherwise from the clock. Printed either way.
fn seed(test: &str) -> u64 {
    let seed = match std::env::var("EMBER_CRASH_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("EMBER_CRASH_SEED={s:?} is not a number")),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    };
    eprintln!("{test}: seed {seed} (EMBER_CRASH_SEED={seed} repeats it)");
    seed
}

/// Kills for the long versions: `EMBER_CRASH_KILLS`, at least 10.
fn long_kills() -> usize {
    std::env::var("EMBER_CRASH_KILLS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(12)
}

/// Lines of random words: single spaces, no empty line, so every piece of `split(' ')` is a
/// word. Words come from a small vocabulary (so keys repeat across files and runs) plus a few
/// rare ones.
fn random_lines(rng: &mut Lcg, lines: u64) -> String {
    let mut text = String::new();
    for _ in 0..lines {
        let words = 1 + rng.below(8);
        for w in 0..words {
            if w > 0 {
                text.push(' ');
            }
            if rng.chance(5) {
                text.push_str(&format!("rare{}", rng.below(100_000)));
            } else {
                text.push_str(&format!("w{}", rng.below(60)));
            }
        }
        text.push('\n');
    }
    text
}

/// What an uninterrupted run must end with.
#[derive(Default)]
struct Expected {
    total: u64,
    words: BTreeSet<String>,
}

impl Expected {
    fn add(&mut self, text: &str) {
        for word in text.lines().flat_map(|l| l.split(' ')) {
            self.total += 1;
            self.words.insert(word.to_string());
        }
    }

    fn keys(&self) -> u64 {
        self.words.len() as u64
    }
}

/// A timestamped account of what the test did, printed when it fails.
struct Journal {
    began: Instant,
    seed: u64,
    entries: Vec<String>,
}

impl Journal {
    fn new(seed: u64) -> Journal {
        Journal {
            began: Instant::now(),
            seed,
            entries: Vec::new(),
        }
    }

    fn note(&mut self, what: impl Into<String>) {
        let at = self.began.elapsed().as_millis();
        self.entries.push(format!("{at:>6} ms  {}", what.into()));
    }

    /// The seed and the journal, for a failure message.
    fn dump(&self) -> String {
        format!(
            "seed {} (EMBER_CRASH_SEED={} repeats it)\n{}",
            self.seed,
            self.seed,
            self.entries.join("\n")
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The process under test

/// Sends SIGKILL through the child's own handle and reaps it.
fn kill9(ember: &mut Proc, journal: &mut Journal, round: usize) {
    if let Some(status) = ember.poll() {
        panic!(
            "run {round} ended by itself ({status}) before its kill\n{}\n{}",
            ember.report(),
            journal.dump()
        );
    }
    ember.child.kill().expect("SIGKILL");
    if ember.wait(QUICK).is_none() {
        panic!("run {round} survived SIGKILL\n{}", journal.dump());
    }
    journal.note(format!("run {round} killed"));
}

/// The BENCH lines a run printed; checks that none exceeds what the whole test feeds (that would
/// be input counted twice) and that the run did not panic.
fn check_run(ember: &Proc, round: usize, most: &Expected, journal: &Journal) -> Vec<Bench> {
    let benches: Vec<Bench> = ember
        .stdout()
        .all()
        .iter()
        .filter_map(|l| parse_bench(l))
        .collect();
    let stderr = ember.stderr.lines_text();
    assert!(
        !stderr.contains("panicked"),
        "run {round} panicked\n{}\n{}",
        ember.report(),
        journal.dump()
    );
    if let Some(b) = benches
        .iter()
        .find(|b| b.total > most.total || b.keys > most.keys())
    {
        panic!(
            "run {round} counted more than was fed ({} words, {} distinct): {b:?}\n{}\n{}",
            most.total,
            most.keys(),
            ember.report(),
            journal.dump()
        );
    }
    benches
}

/// Waits until a commit record exists in `checkpoint` (before it, a killed first run restarts
/// from nothing and a file stream ignores files older than its new start, as Spark's does).
fn wait_for_first_commit(checkpoint: &Path, ember: &Proc, journal: &Journal) {
    let committed = || {
        std::fs::read_dir(checkpoint).is_ok_and(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().starts_with("checkpoint-"))
        })
    };
    expect_within(QUICK, committed, || {
        format!(
            "no checkpoint written in {QUICK:?}\n{}\n{}",
            ember.report(),
            journal.dump()
        )
    });
}

/// The last BENCH line printed so far.
fn last_bench(ember: &Proc) -> Option<Bench> {
    ember
        .stdout()
        .all()
        .iter()
        .rev()
        .find_map(|l| parse_bench(l))
}

/// Waits (until `deadline`) for a BENCH line with `total` and `keys`; then lets a few more
/// batches pass and checks that the last line still says so (nothing counted late or twice).
fn expect_final(ember: &mut Proc, expected: &Expected, deadline: Instant, journal: &Journal) {
    let (total, keys) = (expected.total, expected.keys());
    let within = deadline.saturating_duration_since(Instant::now());
    let reached = ember.stdout().find(within, |line| {
        parse_bench(line).filter(|b| b.total == total && b.keys == keys)
    });
    if reached.is_none() {
        let last = last_bench(ember);
        panic!(
            "the totals never reached total={total} keys={keys}; last: {last:?}\n{}\n{}",
            ember.report(),
            journal.dump()
        );
    }
    thread::sleep(Duration::from_millis(1600));
    let last = last_bench(ember);
    assert_eq!(
        last.map(|b| (b.total, b.keys)),
        Some((total, keys)),
        "the totals moved after reaching the expected ones\n{}\n{}",
        ember.report(),
        journal.dump()
    );
}

// ---------------------------------------------------------------------------------------------
// Directory

struct DirRun {
    _tmp: tempfile::TempDir,
    input: PathBuf,
    staging: PathBuf,
    checkpoint: PathBuf,
    /// Files not moved in yet, in order.
    pending: std::vec::IntoIter<(String, String)>,
    moved: usize,
}

impl DirRun {
    fn new(files: Vec<(String, String)>) -> DirRun {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("in");
        let staging = tmp.path().join("staging");
        std::fs::create_dir(&input).unwrap();
        std::fs::create_dir(&staging).unwrap();
        DirRun {
            checkpoint: tmp.path().join("checkpoint"),
            _tmp: tmp,
            input,
            staging,
            pending: files.into_iter(),
            moved: 0,
        }
    }

    fn start(&self, round: usize) -> Proc {
        Proc::start(
            &format!("ember run {round}"),
            &[
                "wordcount",
                "--dir",
                self.input.to_str().unwrap(),
                "--stateful",
                "--checkpoint",
                self.checkpoint.to_str().unwrap(),
                "--summary",
                "--batch",
                BATCH,
                "--checkpoint-interval",
                CHECKPOINT_INTERVAL,
            ],
        )
    }

    /// Moves the next file in (written in staging just before, so that its modification time is
    /// now); false when all are in.
    fn move_next(&mut self, journal: &mut Journal) -> bool {
        let Some((name, text)) = self.pending.next() else {
            return false;
        };
        let staged = self.staging.join(&name);
        std::fs::write(&staged, &text).unwrap();
        std::fs::rename(&staged, self.input.join(&name)).unwrap();
        self.moved += 1;
        journal.note(format!("moved {name} in"));
        true
    }
}

/// The directory crash test: `kills` runs killed at random moments while files move in, then a
/// last run that must end with the uninterrupted counts.
fn directory_crash_test(test: &str, kills: usize, files: usize) {
    let seed = seed(test);
    let mut rng = Lcg::new(seed);
    let mut journal = Journal::new(seed);
    let mut expected = Expected::default();
    let mut corpus = Vec::new();
    for i in 0..files {
        let lines = 1 + rng.below(25);
        let text = random_lines(&mut rng, lines);
        expected.add(&text);
        corpus.push((format!("part-{i:04}.txt"), text));
    }
    journal.note(format!(
        "{files} files, {} words, {} distinct; {kills} kills",
        expected.total,
        expected.keys()
    ));
    let mut dir = DirRun::new(corpus);

    for round in 0..kills {
        let mut ember = dir.start(round);
        journal.note(format!("run {round} started"));
        if round == 0 {
            wait_for_first_commit(&dir.checkpoint, &ember, &journal);
            journal.note("first commit written");
        }
        let kill_at = Instant::now() + rng.millis(150, 2500);
        loop {
            let gap = rng.millis(10, 400);
            let now = Instant::now();
            if now + gap >= kill_at {
                thread::sleep(kill_at.saturating_duration_since(now));
                break;
            }
            thread::sleep(gap);
            if rng.chance(60) {
                dir.move_next(&mut journal);
            }
        }
        kill9(&mut ember, &mut journal, round);
        let benches = check_run(&ember, round, &expected, &journal);
        journal.note(format!(
            "run {round}: {} batches, last {:?}",
            benches.len(),
            benches.last()
        ));
        // Sometimes files arrive while nothing runs.
        while rng.chance(40) && dir.move_next(&mut journal) {}
    }

    let mut ember = dir.start(kills);
    journal.note("last run started");
    while dir.move_next(&mut journal) {
        thread::sleep(rng.millis(0, 150));
    }
    let deadline = Instant::now() + QUICK;
    expect_final(&mut ember, &expected, deadline, &journal);
    check_run(&ember, kills, &expected, &journal);
    journal.note("last run has the uninterrupted totals");
    eprintln!(
        "{test}: ok after {kills} kills, {} files, {} words ({} distinct) in {:?}",
        dir.moved,
        expected.total,
        expected.keys(),
        journal.began.elapsed()
    );
}

/// CI's short version: three kills, well under a minute.
#[test]
fn directory_wordcount_survives_sigkills() {
    directory_crash_test("directory_wordcount_survives_sigkills", 3, 12);
}

#[test]
#[ignore = "long (10+ kills, ~30 s): run with --ignored or scripts/crash_test.sh"]
fn directory_wordcount_survives_many_sigkills() {
    let kills = long_kills();
    assert!(kills >= 10, "EMBER_CRASH_KILLS must be at least 10");
    directory_crash_test(
        "directory_wordcount_survives_many_sigkills",
        kills,
        kills * 4,
    );
}

// ---------------------------------------------------------------------------------------------
// Socket with the write-ahead log

/// A line server: accepts every client (non-blocking, checked every 10 ms) and keeps the newest
/// connection, to which [`LineServer::send`] writes.
struct LineServer {
    newest: Arc<Mutex<(usize, Option<TcpStream>)>>,
    acceptor: Acceptor,
}

impl LineServer {
    fn start() -> LineServer {
        let newest = Arc::new(Mutex::new((0, None)));
        let newest2 = Arc::clone(&newest);
        let acceptor = Acceptor::start(move |stream| {
            stream
                .set_write_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut newest = newest2.lock().unwrap();
            newest.0 += 1;
            newest.1 = Some(stream);
        });
        LineServer { newest, acceptor }
    }

    fn port(&self) -> u16 {
        self.acceptor.port
    }

    fn connections(&self) -> usize {
        self.newest.lock().unwrap().0
    }

    /// Waits (bounded) for a connection after the first `seen`.
    fn wait_for_connection(&self, seen: usize, ember: &Proc, journal: &Journal) {
        expect_within(
            QUICK,
            || self.connections() > seen,
            || {
                format!(
                    "ember did not connect\n{}\n{}",
                    ember.report(),
                    journal.dump()
                )
            },
        );
    }

    fn send(&self, text: &str) {
        let mut newest = self.newest.lock().unwrap();
        let stream = newest.1.as_mut().expect("a client is connected");
        stream.write_all(text.as_bytes()).expect("sending lines");
        stream.flush().unwrap();
    }
}

fn start_socket_run(port: u16, checkpoint: &Path, round: usize) -> Proc {
    Proc::start(
        &format!("ember run {round}"),
        &[
            "wordcount",
            "--socket",
            &format!("127.0.0.1:{port}"),
            "--wal",
            "--stateful",
            "--checkpoint",
            checkpoint.to_str().unwrap(),
            "--summary",
            "--batch",
            BATCH,
            "--checkpoint-interval",
            CHECKPOINT_INTERVAL,
        ],
    )
}

/// The socket crash test: each of `kills` runs gets a burst, counts it, and is killed at a random
/// delay; a last run gets a last burst and must end with every line's words.
fn socket_crash_test(test: &str, kills: usize) {
    let seed = seed(test);
    let mut rng = Lcg::new(seed);
    let mut journal = Journal::new(seed);
    let tmp = tempfile::tempdir().unwrap();
    let checkpoint = tmp.path().join("checkpoint");
    let server = LineServer::start();
    let mut expected = Expected::default();

    for round in 0..=kills {
        let seen = server.connections();
        let mut ember = start_socket_run(server.port(), &checkpoint, round);
        journal.note(format!("run {round} started"));
        server.wait_for_connection(seen, &ember, &journal);
        if round == 0 {
            wait_for_first_commit(&checkpoint, &ember, &journal);
        }
        let lines = 1 + rng.below(200);
        let burst = random_lines(&mut rng, lines);
        expected.add(&burst);
        server.send(&burst);
        journal.note(format!(
            "sent {lines} lines; expecting total={} keys={}",
            expected.total,
            expected.keys()
        ));
        if round == kills {
            expect_final(&mut ember, &expected, Instant::now() + QUICK, &journal);
            check_run(&ember, round, &expected, &journal);
            break;
        }
        // Counted (so received and logged), then killed at a random moment.
        let (total, keys) = (expected.total, expected.keys());
        let counted = ember.stdout().find(QUICK, |line| {
            parse_bench(line).filter(|b| b.total == total && b.keys == keys)
        });
        assert!(
            counted.is_some(),
            "run {round} never reached total={total} keys={keys} (its burst and all before)\n{}\n{}",
            ember.report(),
            journal.dump()
        );
        // Within one checkpoint interval: often before the commit that would include the
        // burst, so that the restarted run needs the log to have it.
        thread::sleep(rng.millis(0, 1000));
        kill9(&mut ember, &mut journal, round);
        check_run(&ember, round, &expected, &journal);
    }
    eprintln!(
        "{test}: ok after {kills} kills, {} words ({} distinct) in {:?}",
        expected.total,
        expected.keys(),
        journal.began.elapsed()
    );
}

/// CI's short version: three kills.
#[test]
fn socket_wordcount_with_wal_survives_sigkills() {
    socket_crash_test("socket_wordcount_with_wal_survives_sigkills", 3);
}

#[test]
#[ignore = "long (10+ kills, ~30 s): run with --ignored or scripts/crash_test.sh"]
fn socket_wordcount_with_wal_survives_many_sigkills() {
    let kills = long_kills();
    assert!(kills >= 10, "EMBER_CRASH_KILLS must be at least 10");
    socket_crash_test("socket_wordcount_with_wal_survives_many_sigkills", kills);
}
