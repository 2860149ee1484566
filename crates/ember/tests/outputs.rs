//! Output operations: `save_as_text_files` on real directories (reference §3.4), and `print` /
//! `pprint` registering and running (their framing is checked by the unit test in
//! `src/dstream/output.rs`, since stdout cannot be captured in-process).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::{reported_error, sec};
use ember::error::JobError;
use ember::hash::partition_of;
use ember::testing::StreamTest;
use ember::{Error, Time};

/// Every entry of `dir`: file name -> contents (directories map to their own listing).
#[derive(Debug, PartialEq, Eq)]
enum Entry {
    File(String),
    Dir(BTreeMap<String, Entry>),
}

fn tree(dir: &Path) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let entry = if path.is_dir() {
            Entry::Dir(tree(&path))
        } else {
            Entry::File(fs::read_to_string(&path).unwrap())
        };
        out.insert(name, entry);
    }
    out
}

/// The name of part file `i` of a batch directory.
fn part_name(i: usize) -> String {
    format!("part-{i:05}")
}

/// The text of part file `i` of the batch directory `batch`.
fn part(batch: &Path, i: usize) -> String {
    fs::read_to_string(batch.join(part_name(i))).unwrap()
}

/// A batch directory holding the given part files and `_SUCCESS`.
fn batch_dir(parts: &[&str]) -> Entry {
    let mut m = BTreeMap::new();
    for (i, text) in parts.iter().enumerate() {
        m.insert(part_name(i), Entry::File(text.to_string()));
    }
    m.insert("_SUCCESS".to_string(), Entry::File(String::new()));
    Entry::Dir(m)
}

/// A directory of batch directories: each name with its part files (see [`batch_dir`]).
fn batch_dirs(batches: &[(&str, &[&str])]) -> BTreeMap<String, Entry> {
    batches
        .iter()
        .map(|(name, parts)| (name.to_string(), batch_dir(parts)))
        .collect()
}

fn prefix(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_owned()
}

#[test]
fn save_as_text_files_with_suffix_writes_one_directory_per_batch() {
    let dir = tempfile::tempdir().unwrap();
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2, 3], vec![], vec![4]]);
    input
        .save_as_text_files(&prefix(dir.path(), "out"), "txt")
        .unwrap();
    t.run(3).unwrap();
    t.stop().unwrap();
    t.context()
        .await_termination_or_timeout(std::time::Duration::ZERO)
        .unwrap();
    // local[2]: [1, 2, 3] is [1] | [2, 3]; [4] is [] | [4]; empty batches keep both partitions.
    let expected = batch_dirs(&[
        ("out-1000.txt", &["1\n", "2\n3\n"]),
        ("out-2000.txt", &["", ""]),
        ("out-3000.txt", &["", "4\n"]),
    ]);
    // Nothing else: no temporary directories left behind.
    assert_eq!(tree(dir.path()), expected);
}

#[test]
fn save_as_text_files_without_suffix_writes_debug_lines() {
    let dir = tempfile::tempdir().unwrap();
    let t = StreamTest::new("local[1]", sec()).unwrap();
    let input = t.input(vec![
        vec![("a".to_string(), 1), ("b c".to_string(), -2)],
        vec![("line\nbreak".to_string(), 3)],
    ]);
    input
        .save_as_text_files(&prefix(dir.path(), "pairs"), "")
        .unwrap();
    input
        .map(|(k, _)| k)
        .save_as_text_files(&prefix(dir.path(), "keys"), "")
        .unwrap();
    t.run(2).unwrap();
    t.stop().unwrap();
    let expected = batch_dirs(&[
        ("pairs-1000", &["(\"a\", 1)\n(\"b c\", -2)\n"]),
        ("pairs-2000", &["(\"line\\nbreak\", 3)\n"]),
        ("keys-1000", &["\"a\"\n\"b c\"\n"]),
        ("keys-2000", &["\"line\\nbreak\"\n"]),
    ]);
    assert_eq!(tree(dir.path()), expected);
}

#[test]
fn save_as_text_files_writes_one_part_per_partition() {
    let dir = tempfile::tempdir().unwrap();
    let t = StreamTest::new("local[3]", sec()).unwrap();
    let input = t.input(vec![vec![1, 2, 3, 4, 5, 6], vec![]]);
    input
        .repartition(4)
        .save_as_text_files(&prefix(dir.path(), "four"), "out")
        .unwrap();
    t.run(2).unwrap();
    t.stop().unwrap();
    for ms in [1000, 2000] {
        let batch = dir.path().join(format!("four-{ms}.out"));
        let mut names: Vec<String> = fs::read_dir(&batch)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![
                "_SUCCESS",
                "part-00000",
                "part-00001",
                "part-00002",
                "part-00003"
            ]
        );
        let mut all: Vec<i32> = (0..4)
            .flat_map(|i| {
                part(&batch, i)
                    .lines()
                    .map(|l| l.parse::<i32>().unwrap())
                    .collect::<Vec<_>>()
            })
            .collect();
        all.sort();
        let want: Vec<i32> = if ms == 1000 {
            (1..=6).collect()
        } else {
            vec![]
        };
        assert_eq!(all, want);
    }
}

#[test]
fn save_as_text_files_of_a_keyed_stream_follows_hash_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let words: Vec<String> = "a b c d e f g a b a".split(' ').map(String::from).collect();
    let counts = t
        .input(vec![words])
        .map(|w: String| (w, 1u32))
        .reduce_by_key(|a, b| a + b, Some(3));
    counts
        .save_as_text_files(&prefix(dir.path(), "wc"), "")
        .unwrap();
    t.run(1).unwrap();
    t.stop().unwrap();
    let batch = dir.path().join("wc-1000");
    let mut seen = Vec::new();
    for i in 0..3 {
        let text = part(&batch, i);
        for line in text.lines() {
            // Lines look like ("a", 3).
            let word = line.split('"').nth(1).unwrap().to_string();
            assert_eq!(partition_of(&word, 3), i, "{line} in part {i}");
            seen.push(line.to_string());
        }
    }
    seen.sort();
    let expected: Vec<String> = [
        ("a", 3),
        ("b", 2),
        ("c", 1),
        ("d", 1),
        ("e", 1),
        ("f", 1),
        ("g", 1),
    ]
    .iter()
    .map(|(w, n)| format!("({w:?}, {n})"))
    .collect();
    assert_eq!(seen, expected);
    assert!(!batch.join("part-00003").exists());
}

#[test]
fn save_as_text_files_creates_missing_parents_and_replaces_a_rerun_batch() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a").join("b");
    // A stale directory of batch 1000 (as after a re-run): replaced as a whole.
    let stale = nested.join("out-1000");
    fs::create_dir_all(&stale).unwrap();
    fs::write(stale.join("part-00009"), "stale\n").unwrap();
    let t = StreamTest::new("local[2]", sec()).unwrap();
    t.input(vec![vec![7, 8]])
        .save_as_text_files(&prefix(&nested, "out"), "")
        .unwrap();
    t.run(1).unwrap();
    t.stop().unwrap();
    assert_eq!(tree(&nested), batch_dirs(&[("out-1000", &["7\n", "8\n"])]));
}

#[test]
fn save_as_text_files_with_an_empty_prefix_uses_the_time_alone() {
    let dir = tempfile::tempdir().unwrap();
    let t = StreamTest::new("local[2]", sec()).unwrap();
    t.input(vec![vec![1]]).save_as_text_files("", "").unwrap();
    t.input(vec![vec![2]])
        .save_as_text_files("", "sfx")
        .unwrap();
    // The names are relative to the working directory; every test of this file holds the
    // StreamTest lock, so changing it here is not seen by another test.
    struct Restore(PathBuf);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = std::env::set_current_dir(&self.0);
        }
    }
    let _restore = Restore(std::env::current_dir().unwrap());
    std::env::set_current_dir(dir.path()).unwrap();
    t.run(1).unwrap();
    t.stop().unwrap();
    let expected = batch_dirs(&[("1000", &["", "1\n"]), ("1000.sfx", &["", "2\n"])]);
    assert_eq!(tree(dir.path()), expected);
}

#[test]
fn save_as_text_files_failure_fails_the_batch_job() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("blocker");
    fs::write(&blocker, "a file, not a directory").unwrap();
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![vec![1], vec![2]]);
    input
        .save_as_text_files(&prefix(&blocker, "out"), "")
        .unwrap();
    let out = t.collect(&input).unwrap();
    t.run(2).unwrap();
    let err = reported_error(&t);
    match &err {
        Error::JobFailed {
            time,
            output_op,
            source,
        } => {
            assert_eq!(*time, Time::from_millis(1000));
            assert_eq!(*output_op, 0);
            assert!(!source.to_string().is_empty());
            // The cause is the I/O error itself, typed.
            let io = match source {
                JobError::Failed(e) => e.downcast_ref::<std::io::Error>(),
                other => panic!("expected the write's error, got {other:?}"),
            };
            assert!(io.is_some(), "{source:?}");
        }
        other => panic!("expected JobFailed, got {other:?}"),
    }
    // The other output and the next batch still ran.
    assert_eq!(out.batches(), vec![vec![1], vec![2]]);
    t.stop().unwrap();
}

#[test]
fn print_and_pprint_register_and_run() {
    let t = StreamTest::new("local[2]", sec()).unwrap();
    let input = t.input(vec![(1..=15).collect::<Vec<i32>>(), vec![], vec![1, 2, 3]]);
    input.print(10).unwrap();
    input.print(0).unwrap();
    input.map(|x| (x, x * 2)).pprint(2).unwrap();
    input.pprint(100).unwrap();
    let out = t.collect(&input.count()).unwrap();
    t.run(3).unwrap();
    assert!(
        !t.context()
            .await_termination_or_timeout(std::time::Duration::ZERO)
            .unwrap(),
        "no job failed"
    );
    t.stop().unwrap();
    assert_eq!(out.batches(), vec![vec![15], vec![0], vec![3]]);
}

#[test]
fn print_alone_is_a_valid_output_operation() {
    let t = StreamTest::new("local[1]", sec()).unwrap();
    t.input(vec![vec!["x".to_string()]]).print(10).unwrap();
    t.run(2).unwrap();
    assert!(
        !t.context()
            .await_termination_or_timeout(std::time::Duration::ZERO)
            .unwrap()
    );
}
