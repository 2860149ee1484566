//! `ember wordcount --stateful --checkpoint DIR`: running totals over a directory, a restarted
//! command that continues them, and the flags' usage errors.
//!
//! As in `cli.rs`, every child is owned by a [`Proc`] (killed and reaped on drop) and nothing
//! waits without a deadline. Files are written in a staging directory on the same file system
//! and renamed into the monitored one, as a file stream expects.

mod common;

use common::{Bench, Proc, QUICK, parse_bench};
use std::path::{Path, PathBuf};

/// A monitored directory, its staging directory and a checkpoint directory in a fresh temporary
/// directory.
struct Dirs {
    _tmp: tempfile::TempDir,
    input: PathBuf,
    staging: PathBuf,
    checkpoint: PathBuf,
}

impl Dirs {
    fn new() -> Dirs {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("in");
        let staging = tmp.path().join("staging");
        std::fs::create_dir(&input).unwrap();
        std::fs::create_dir(&staging).unwrap();
        let checkpoint = tmp.path().join("checkpoint");
        Dirs {
            _tmp: tmp,
            input,
            staging,
            checkpoint,
        }
    }

    /// Writes `text` as `name` in the staging directory and renames it into the input.
    fn move_in(&self, name: &str, text: &str) {
        let staged = self.staging.join(name);
        std::fs::write(&staged, text).unwrap();
        std::fs::rename(&staged, self.input.join(name)).unwrap();
    }

    fn input(&self) -> &str {
        self.input.to_str().unwrap()
    }

    fn checkpoint(&self) -> &str {
        self.checkpoint.to_str().unwrap()
    }
}

/// `wordcount --dir IN [--stateful] --checkpoint CK --summary --batch BATCH` plus `extra`.
fn checkpointed_wordcount<'a>(
    dirs: &'a Dirs,
    stateful: bool,
    batch: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    wordcount_of(dirs.input(), dirs.checkpoint(), stateful, batch, extra)
}

/// [`checkpointed_wordcount`] with the directories spelled as given.
fn wordcount_of<'a>(
    input: &'a str,
    checkpoint: &'a str,
    stateful: bool,
    batch: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["wordcount", "--dir", input];
    if stateful {
        args.push("--stateful");
    }
    args.extend_from_slice(&["--checkpoint", checkpoint, "--summary", "--batch", batch]);
    args.extend_from_slice(extra);
    args
}

/// `ember wordcount --dir IN --stateful --checkpoint CK --summary --batch 500ms` plus `extra`.
fn stateful(dirs: &Dirs, extra: &[&str]) -> Proc {
    let args = checkpointed_wordcount(dirs, true, "500ms", extra);
    Proc::start("ember wordcount --stateful", &args)
}

/// Waits for the first BENCH line (the stream is running, so files moved in from now on are
/// new) and returns it.
fn first_batch(ember: &mut Proc) -> Bench {
    match ember.stdout().find(QUICK, parse_bench) {
        Some(b) => b,
        None => panic!("no BENCH line\n{}", ember.report()),
    }
}

/// Waits for a BENCH line with exactly `total` and `keys`.
fn expect_totals(ember: &mut Proc, total: u64, keys: u64) {
    ember.expect_stdout_line(QUICK, &format!("total={total} keys={keys}"), |line| {
        parse_bench(line).is_some_and(|b| b.total == total && b.keys == keys)
    });
}

/// Every BENCH line printed so far; fails on any other line.
fn benches(ember: &Proc) -> Vec<Bench> {
    ember
        .stdout()
        .all()
        .iter()
        .map(|l| parse_bench(l).unwrap_or_else(|| panic!("not a BENCH line: {l:?}")))
        .collect()
}

/// Waits for `ember` to exit with `code`; returns its stderr.
fn expect_failure(ember: &mut Proc, code: i32) -> String {
    let status = ember.expect_exit(QUICK);
    assert_eq!(status.code(), Some(code), "{}", ember.report());
    ember.stderr.lines_text()
}

fn assert_clean_exit(ember: &mut Proc) {
    let status = ember.expect_exit(QUICK);
    let stderr = ember.stderr.lines_text();
    assert!(status.success(), "exit {status}\n{}", ember.report());
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
}

fn commits(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("checkpoint-"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn stateful_totals_add_up_over_a_directory() {
    let dirs = Dirs::new();
    // The default checkpoint interval (10 s) is fine for one uninterrupted run.
    let mut ember = stateful(&dirs, &["--duration", "8s"]);
    let first = first_batch(&mut ember);
    assert_eq!((first.total, first.keys), (0, 0), "{}", ember.report());

    dirs.move_in("one.txt", "to be or not to be\n");
    expect_totals(&mut ember, 6, 4);
    dirs.move_in("two.txt", "that is the question\nto be\n");
    expect_totals(&mut ember, 12, 8);
    assert_clean_exit(&mut ember);

    // Totals never go down, and every batch after the second file holds all of it.
    let all = benches(&ember);
    assert!(all.windows(2).all(|w| w[0].total <= w[1].total), "{all:?}");
    assert!(
        all.windows(2).all(|w| w[1].batch == w[0].batch + 500),
        "{all:?}"
    );
    let last = all.last().unwrap();
    assert_eq!((last.total, last.keys), (12, 8), "{all:?}");
}

#[test]
fn a_restarted_command_continues_the_totals_from_its_checkpoint() {
    let dirs = Dirs::new();
    let run = ["--checkpoint-interval", "1s", "--duration", "5s"];

    let mut first = stateful(&dirs, &run);
    first_batch(&mut first);
    dirs.move_in("a.txt", "red green blue\nred\n");
    expect_totals(&mut first, 4, 3);
    assert_clean_exit(&mut first);
    assert!(commits(&dirs.checkpoint) > 0, "no checkpoint written");

    let mut second = stateful(&dirs, &run);
    // Restored before its first batch: a.txt is neither lost nor read again.
    let resumed = first_batch(&mut second);
    assert_eq!((resumed.total, resumed.keys), (4, 3), "{}", second.report());
    dirs.move_in("b.txt", "green yellow\n");
    expect_totals(&mut second, 6, 4);
    assert_clean_exit(&mut second);
    let all = benches(&second);
    assert!(all.iter().all(|b| b.total >= 4), "{all:?}");
    assert_eq!(
        all.last().map(|b| (b.total, b.keys)),
        Some((6, 4)),
        "{all:?}"
    );
    // The batch clock continues too: the second run's batches come after the first run's.
    let ended = benches(&first).last().unwrap().batch;
    assert!(all[0].batch > ended, "{all:?} after {ended}");
}

#[test]
fn a_plain_count_with_a_checkpoint_does_not_read_a_file_again_after_a_restart() {
    let dirs = Dirs::new();
    let args = checkpointed_wordcount(&dirs, false, "500ms", &["--duration", "3s"]);
    let mut first = Proc::start("ember wordcount --checkpoint", &args);
    first_batch(&mut first);
    dirs.move_in("once.txt", "only once\n");
    expect_totals(&mut first, 2, 2);
    assert_clean_exit(&mut first);

    let mut second = Proc::start("ember wordcount --checkpoint (restarted)", &args);
    assert_clean_exit(&mut second);
    let all = benches(&second);
    assert!(!all.is_empty(), "{}", second.report());
    assert!(all.iter().all(|b| b.total == 0), "{all:?}");
}

#[test]
fn a_restart_with_another_spelling_of_the_directory_reads_no_file_again() {
    let dirs = Dirs::new();
    let root = dirs.input.parent().unwrap().to_path_buf();
    std::os::unix::fs::symlink(&dirs.input, root.join("alias")).unwrap();
    let alias = root.join("alias");
    // Relative to the commands' working directory, then absolute, then through a link.
    let spellings = ["in", "./in", dirs.input(), alias.to_str().unwrap()];
    let mut expected = (0, 0);
    for (run, dir) in spellings.iter().enumerate() {
        let args = wordcount_of(
            dir,
            "checkpoint",
            true,
            "500ms",
            &["--checkpoint-interval", "500ms", "--duration", "4s"],
        );
        let mut ember = Proc::start_in(&format!("run {run} with --dir {dir}"), &root, &args);
        let resumed = first_batch(&mut ember);
        assert_eq!(
            (resumed.total, resumed.keys),
            expected,
            "{}",
            ember.report()
        );
        // One new word per run: the totals grow by exactly that word.
        dirs.move_in(&format!("{run}.txt"), &format!("word{run}\n"));
        expected = (expected.0 + 1, expected.1 + 1);
        expect_totals(&mut ember, expected.0, expected.1);
        assert_clean_exit(&mut ember);
        let all = benches(&ember);
        assert!(
            all.iter().all(|b| b.total <= expected.0),
            "a file was read again: {all:?}"
        );
    }
}

#[test]
fn a_checkpoint_directory_inside_the_watched_directory_is_not_read() {
    let dirs = Dirs::new();
    let inside = dirs.input.join("checkpoint");
    let args = wordcount_of(
        dirs.input(),
        inside.to_str().unwrap(),
        true,
        "500ms",
        &["--checkpoint-interval", "500ms", "--duration", "4s"],
    );
    let mut ember = Proc::start("ember wordcount --checkpoint inside --dir", &args);
    first_batch(&mut ember);
    dirs.move_in("one.txt", "to be or not to be\n");
    expect_totals(&mut ember, 6, 4);
    assert_clean_exit(&mut ember);
    // Commits were written inside the watched directory while it ran, and none was read.
    assert!(commits(&inside) > 0, "{}", ember.report());
    let all = benches(&ember);
    assert_eq!(
        all.last().map(|b| (b.total, b.keys)),
        Some((6, 4)),
        "{all:?}"
    );
    assert!(all.iter().all(|b| b.total <= 6), "{all:?}");
}

/// Runs `ember ARGS` expecting a usage error (status 2) whose stderr contains every `needle`.
fn expect_usage_error(args: &[&str], needles: &[&str]) {
    let mut ember = Proc::start("ember", args);
    let status = ember.expect_exit(QUICK);
    let stderr = ember.stderr.lines_text();
    assert_eq!(status.code(), Some(2), "{args:?}: {status}\n{stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?}: no {needle:?} in\n{stderr}"
        );
    }
    assert!(ember.stdout().all().is_empty());
}

#[test]
fn stateful_without_a_checkpoint_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    expect_usage_error(
        &["wordcount", "--dir", dir, "--stateful"],
        &["--checkpoint <DIR>"],
    );
    expect_usage_error(
        &["wordcount", "--dir", dir, "--checkpoint-interval", "1s"],
        &["--stateful"],
    );
    expect_usage_error(
        &["wordcount", "--socket", "127.0.0.1:9", "--wal"],
        &["--checkpoint <DIR>"],
    );
}

#[test]
fn a_checkpoint_interval_that_is_not_a_multiple_of_the_batch_fails_clearly() {
    let dirs = Dirs::new();
    let mut ember = stateful(&dirs, &["--checkpoint-interval", "700ms"]);
    let stderr = expect_failure(&mut ember, 1);
    assert!(
        stderr.contains("--checkpoint-interval") && stderr.contains("not a multiple"),
        "{stderr}"
    );
}

#[test]
fn a_checkpoint_of_another_batch_interval_is_refused_naming_the_directory() {
    let dirs = Dirs::new();
    let mut first = stateful(
        &dirs,
        &["--checkpoint-interval", "500ms", "--duration", "2s"],
    );
    assert_clean_exit(&mut first);
    assert!(commits(&dirs.checkpoint) > 0, "{}", first.report());

    let args = checkpointed_wordcount(&dirs, true, "1s", &["--duration", "3s"]);
    let mut second = Proc::start("ember wordcount (other batch)", &args);
    let stderr = expect_failure(&mut second, 1);
    assert!(
        stderr.contains(dirs.checkpoint()) && stderr.contains("batch interval"),
        "{stderr}"
    );
    assert!(second.stdout().all().is_empty(), "{}", second.report());
}
