//! `text_file_stream` end to end through the public API: real files moved into a real temporary
//! directory, read into lines by a streaming context on a manual clock ([`StreamTest`]), so that
//! each file lands in the batch its modification time says, and no test sleeps.
//!
//! Line ends follow Java's `BufferedReader.readLine`, which Spark's `textFileStream` uses:
//! `'\n'`, `'\r'` and `"\r\n"` each end one line.

use std::path::Path;
use std::time::{Duration as StdDuration, UNIX_EPOCH};

use ember::Duration;
use ember::testing::StreamTest;

/// Writes `bytes` outside the watched directory `dir`, dates the file `modified_ms` after the
/// Unix epoch (the manual clock's zero), then moves it into `dir` as `name`, so that the stream
/// only ever sees whole files.
fn move_in(dir: &Path, staging: &Path, name: &str, bytes: &[u8], modified_ms: u64) {
    let staged = tempfile::NamedTempFile::new_in(staging).unwrap();
    std::fs::write(staged.path(), bytes).unwrap();
    staged
        .as_file()
        .set_modified(UNIX_EPOCH + StdDuration::from_millis(modified_ms))
        .unwrap();
    staged.persist(dir.join(name)).unwrap();
}

fn strings(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|l| l.to_string()).collect()
}

#[test]
fn carriage_returns_end_lines_in_files_as_in_java() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let watched = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    let lines = t.context().text_file_stream(watched.path());
    let out = t.collect(&lines).unwrap();

    // A classic Mac file (bare '\r'), mixed with the others; a last line ending in '\r'.
    move_in(
        watched.path(),
        staging.path(),
        "mixed.txt",
        b"one\rtwo\r\nthree\n\rfour\r\r\nfive\r",
        500,
    );
    // Larger than one read (1 MiB), with a "\r\n" cut by the end of the first read: one line
    // end, not an empty line. Then a bare '\r' at the same place of the second MiB.
    const MIB: usize = 1 << 20;
    let mut big = Vec::with_capacity(2 * MIB + 16);
    let mut expected_big = Vec::new();
    for (i, end) in [(1, &b"\r\n"[..]), (2, &b"\r"[..])] {
        let line = format!("line {i} ");
        let mut text = line.into_bytes();
        text.resize(i * MIB - 1 - big.len(), b'x');
        expected_big.push(String::from_utf8(text.clone()).unwrap());
        big.extend_from_slice(&text);
        big.extend_from_slice(end);
    }
    big.extend_from_slice(b"tail");
    expected_big.push("tail".to_string());
    assert_eq!(big[MIB - 1..MIB + 1], *b"\r\n");
    assert_eq!(big[2 * MIB - 1], b'\r');
    move_in(watched.path(), staging.path(), "big.txt", &big, 1500);

    t.run(3).unwrap();
    let batches = out.batches();
    assert_eq!(batches.len(), 3);
    assert_eq!(
        batches[0],
        strings(&["one", "two", "three", "", "four", "", "five"])
    );
    // Compared by length and ends first: a failure should not print 2 MiB.
    let big_lines = &batches[1];
    assert_eq!(
        big_lines.iter().map(String::len).collect::<Vec<_>>(),
        expected_big.iter().map(String::len).collect::<Vec<_>>()
    );
    assert!(*big_lines == expected_big);
    assert!(batches[2].is_empty());
    t.stop().unwrap();
}

const MIB: usize = 1 << 20;

/// Lines of varied lengths (some with multi-byte characters) ending in `\n`, `\r` or `\r\n`,
/// about `mib` MiB in all, with a `"\r\n"` cut by every MiB boundary (where one read of the file
/// ends and the next begins) and a last line without a line end. Returns the bytes and the lines
/// a reader must give.
fn big_text(mib: usize) -> (Vec<u8>, Vec<String>) {
    let mut bytes = Vec::with_capacity(mib * MIB + 64);
    let mut lines = Vec::new();
    let ends: [&[u8]; 3] = [b"\n", b"\r", b"\r\n"];
    let mut i = 0usize;
    for boundary in 1..=mib {
        let target = boundary * MIB - 1;
        loop {
            let line = format!("{i} caf\u{e9} {}", "w".repeat(i % 173));
            // Leave room for the boundary line (at least its number and a letter).
            if bytes.len() + line.len() + 2 + 16 > target {
                break;
            }
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(ends[i % 3]);
            lines.push(line);
            i += 1;
        }
        // This line's '\r' is the last byte of the MiB, its '\n' the first of the next.
        let mut line = format!("{i} boundary ").into_bytes();
        line.resize(target - bytes.len(), b'b');
        bytes.extend_from_slice(&line);
        bytes.extend_from_slice(b"\r\n");
        lines.push(String::from_utf8(line).unwrap());
        i += 1;
    }
    bytes.extend_from_slice(b"no line end");
    lines.push("no line end".to_string());
    for boundary in 1..=mib {
        assert_eq!(bytes[boundary * MIB - 1..boundary * MIB + 1], *b"\r\n");
    }
    (bytes, lines)
}

#[test]
fn a_file_much_larger_than_a_read_step_is_read_completely_and_exactly() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let watched = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    let lines = t.context().text_file_stream(watched.path());
    let out = t.collect(&lines).unwrap();

    // Eight reads of one MiB at least (a step reads one at most), and a small file after it in
    // the same batch.
    let (bytes, expected) = big_text(8);
    move_in(watched.path(), staging.path(), "big.txt", &bytes, 500);
    move_in(watched.path(), staging.path(), "small.txt", b"x\ny", 600);
    t.run(2).unwrap();

    let batches = out.batches();
    assert_eq!(batches.len(), 2);
    let got = &batches[0];
    // Compared by count and then by line: a failure should not print 8 MiB.
    assert_eq!(got.len(), expected.len() + 2);
    if let Some(i) = (0..expected.len()).find(|&i| got[i] != expected[i]) {
        panic!("line {i}: {:?} instead of {:?}", got[i], expected[i]);
    }
    assert_eq!(got[expected.len()..], strings(&["x", "y"]));
    assert!(batches[1].is_empty());
    assert_eq!(t.context().input_failures(), 0);
    t.stop().unwrap();
}

#[test]
fn a_file_that_vanishes_before_its_turn_is_skipped_and_the_batch_keeps_the_others() {
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};

    // One worker reads the batch's files one after the other, in modification-time order:
    // `first.txt` (several read steps), then `gone.txt`, then `last.txt`. The first line of
    // `first.txt` holds the worker in a `map` until `gone.txt` has been removed; the reader
    // opens a file only when its turn comes, so `gone.txt` vanishes after the listing that
    // selected it and before its reading, every time.
    let t = StreamTest::new("local[1]", Duration::seconds(1)).unwrap();
    let watched = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    let (reached_tx, reached_rx) = mpsc::channel::<()>();
    let (removed_tx, removed_rx) = mpsc::channel::<()>();
    let gate = Arc::new(Mutex::new(Some((reached_tx, removed_rx))));
    let lines = t
        .context()
        .text_file_stream(watched.path())
        .map(move |line| {
            if line == "first line"
                && let Some((reached, removed)) = gate.lock().unwrap().take()
            {
                reached.send(()).unwrap();
                removed
                    .recv_timeout(StdDuration::from_secs(60))
                    .expect("the test removes gone.txt");
            }
            line
        });
    let out = t.collect(&lines).unwrap();

    let mut first = b"first line\n".to_vec();
    let filler = format!("{}\n", "f".repeat(99));
    while first.len() < 3 * MIB {
        first.extend_from_slice(filler.as_bytes());
    }
    let first_lines = first.split(|b| *b == b'\n').count() - 1;
    move_in(watched.path(), staging.path(), "first.txt", &first, 500);
    move_in(
        watched.path(),
        staging.path(),
        "gone.txt",
        b"never read\n",
        600,
    );
    move_in(
        watched.path(),
        staging.path(),
        "last.txt",
        b"last line\n",
        700,
    );

    let gone = watched.path().join("gone.txt");
    let remover = std::thread::spawn(move || {
        reached_rx
            .recv_timeout(StdDuration::from_secs(60))
            .expect("the first line is read");
        std::fs::remove_file(&gone).unwrap();
        removed_tx.send(()).unwrap();
    });
    t.run(1).unwrap();
    remover.join().unwrap();

    // The batch ran its output (it did not fail) with every line of the other two files.
    let batches = out.batches();
    assert_eq!(batches.len(), 1);
    let batch = &batches[0];
    assert_eq!(batch.len(), first_lines + 1);
    assert_eq!(batch[0], "first line");
    assert_eq!(batch[first_lines], "last line");
    assert!(!batch.iter().any(|l| l == "never read"));
    assert_eq!(t.context().input_failures(), 1);
    assert!(
        !t.context()
            .await_termination_or_timeout(StdDuration::from_millis(1))
            .unwrap()
    );
    t.stop().unwrap();
}

/// Runs a file stream of `dir` (checkpointing into `checkpoint`) for one batch after the last
/// committed one, with `name` moved in just before that batch, and returns the lines read.
fn run_after_restart(dir: &Path, checkpoint: &Path, staging: &Path, name: &str) -> Vec<String> {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    t.context().checkpoint(checkpoint).unwrap();
    let out = t.collect(&t.context().text_file_stream(dir)).unwrap();
    let committed = t.restore(checkpoint).unwrap().map_or(0, |c| c.as_millis());
    let contents = format!("{name}\n");
    move_in(dir, staging, name, contents.as_bytes(), committed + 500);
    t.run(1).unwrap();
    t.stop().unwrap();
    let mut lines = out.batches().concat();
    lines.sort();
    lines
}

#[test]
fn a_restart_with_another_spelling_of_the_directory_reads_no_file_twice() {
    let base = tempfile::tempdir().unwrap();
    let base = base.path();
    let staging = tempfile::tempdir().unwrap();
    let checkpoint = base.join("ck");
    let dir = base.join("in");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(base.join("other")).unwrap();
    std::os::unix::fs::symlink(&dir, base.join("alias")).unwrap();

    let spellings = [
        dir.clone(),
        base.join("alias"),
        base.join("other/../in"),
        base.join("in/."),
    ];
    for (i, spelling) in spellings.iter().enumerate() {
        let name = format!("file-{i}.txt");
        // Each run reads its own new file and none of the earlier runs' files.
        assert_eq!(
            run_after_restart(spelling, &checkpoint, staging.path(), &name),
            [format!("file-{i}.txt")],
            "run {i} with {}",
            spelling.display()
        );
    }
}

#[test]
fn links_to_the_directory_or_its_parent_inside_it_read_nothing_twice() {
    let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
    let base = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    let dir = base.path().join("in");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::os::unix::fs::symlink(".", dir.join("self")).unwrap();
    std::os::unix::fs::symlink("..", dir.join("up")).unwrap();
    std::os::unix::fs::symlink("..", dir.join("sub/up")).unwrap();
    std::os::unix::fs::symlink("a.txt", dir.join("link.txt")).unwrap();
    let out = t.collect(&t.context().text_file_stream(&dir)).unwrap();
    move_in(base.path(), staging.path(), "parent.txt", b"parent\n", 500);
    move_in(&dir, staging.path(), "a.txt", b"a\n", 500);
    move_in(&dir.join("sub"), staging.path(), "b.txt", b"b\n", 500);
    t.run(2).unwrap();
    assert_eq!(
        out.sorted_batches(),
        vec![strings(&["a", "b"]), Vec::<String>::new()]
    );
    t.stop().unwrap();
}

/// Runs one batch of a file stream on `master` with the files `(name, bytes)` moved in, and
/// returns each line with the partition it came from and the thread (worker) that read it.
fn read_tagged(master: &str, files: &[(&str, &[u8])]) -> (Vec<(usize, String, String)>, u64) {
    let t = StreamTest::new(master, Duration::seconds(1)).unwrap();
    let watched = tempfile::tempdir().unwrap();
    let staging = tempfile::tempdir().unwrap();
    let tagged = t
        .context()
        .text_file_stream(watched.path())
        .map_partitions_with_index(|i, lines| {
            let worker = std::thread::current().name().unwrap_or("").to_string();
            lines
                .into_iter()
                .map(move |l| (i, worker.clone(), l))
                .collect::<Vec<_>>()
        });
    let out = t.collect(&tagged).unwrap();
    for (k, (name, bytes)) in files.iter().enumerate() {
        move_in(watched.path(), staging.path(), name, bytes, 500 + k as u64);
    }
    t.run(1).unwrap();
    let failures = t.context().input_failures();
    t.stop().unwrap();
    let mut batches = out.batches();
    assert_eq!(batches.len(), 1);
    (batches.remove(0), failures)
}

/// `len` bytes of numbered lines ending in `\n`, whose middle byte (offset `len / 2`, where
/// a batch of this file alone is cut for two workers) is at `at` bytes into the line `middle`
/// given there, and the lines a reader must give.
fn cut_inside(len: usize, middle: &[u8], at: usize) -> (Vec<u8>, Vec<String>) {
    let mut bytes = Vec::with_capacity(len);
    let mut lines = Vec::new();
    let mut i = 0;
    while bytes.len() + 40 < len / 2 - at {
        let line = format!("line {i:08} {}", "x".repeat(i % 13));
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        lines.push(line);
        i += 1;
    }
    // Pads a line so that the middle line begins `at` bytes before the middle.
    let mut pad = format!("pad {i}").into_bytes();
    pad.resize(len / 2 - at - bytes.len() - 1, b'p');
    lines.push(String::from_utf8(pad.clone()).unwrap());
    bytes.extend_from_slice(&pad);
    bytes.push(b'\n');
    assert_eq!(bytes.len() + at, len / 2);
    bytes.extend_from_slice(middle);
    let mut j = 0;
    while bytes.len() + 40 < len {
        let line = format!("after {j:08}");
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        lines.push(line);
        j += 1;
    }
    // A last line without a line end, which makes the file exactly `len` bytes long.
    let mut last = b"the end ".to_vec();
    last.resize(len - bytes.len(), b'e');
    lines.push(String::from_utf8(last.clone()).unwrap());
    bytes.extend_from_slice(&last);
    assert_eq!(bytes.len(), len);
    (bytes, lines)
}

#[test]
fn a_large_file_is_read_by_both_workers_each_line_exactly_once_in_order() {
    // 3 MiB, read in steps of one MiB: cut in the middle for the two workers.
    let (bytes, expected) = cut_inside(3 * MIB, b"spans the cut\n", 6);
    let (got, failures) = read_tagged("local[2]", &[("big.txt", &bytes)]);
    assert_eq!(failures, 0);
    let lines: Vec<&String> = got.iter().map(|(_, _, l)| l).collect();
    assert_eq!(lines.len(), expected.len() + 1);
    let mut want: Vec<String> = expected.clone();
    // The middle line sits after the pad line.
    let pad = want.iter().position(|l| l.starts_with("pad ")).unwrap();
    want.insert(pad + 1, "spans the cut".to_string());
    assert!(lines.iter().zip(&want).all(|(a, b)| *a == b));
    // Both partitions, on two different workers, read a part of it; the line across the cut is
    // read by the first, where it starts.
    let first_of = |p: usize| got.iter().find(|(i, _, _)| *i == p).unwrap();
    let (first, second) = (first_of(0), first_of(1));
    assert_ne!(first.1, second.1, "both halves were read by one worker");
    let spanning = got.iter().find(|(_, _, l)| l == "spans the cut").unwrap();
    assert_eq!(spanning.0, 0);
    assert_eq!(second.2, "after 00000000");
}

#[test]
fn line_ends_at_the_cut_give_the_same_lines_as_one_reader() {
    // The middle byte of the file, where the two workers' ranges meet, placed on each kind of
    // line end: after a '\n', after a bare '\r', inside a "\r\n", and inside an empty line.
    let cases: [(&[u8], usize, &[&str]); 6] = [
        (b"ab\ncd\n", 3, &["ab", "cd"]),
        (b"ab\rcd\n", 3, &["ab", "cd"]),
        (b"ab\r\ncd\n", 3, &["ab", "cd"]),
        (b"ab\r\ncd\n", 4, &["ab", "cd"]),
        (b"ab\r\r\ncd\n", 4, &["ab", "", "cd"]),
        (b"ab\n\ncd\n", 3, &["ab", "", "cd"]),
    ];
    for (middle, at, middle_lines) in cases {
        let (bytes, mut expected) = cut_inside(3 * MIB, middle, at);
        let pad = expected.iter().position(|l| l.starts_with("pad ")).unwrap();
        for (k, line) in middle_lines.iter().enumerate() {
            expected.insert(pad + 1 + k, line.to_string());
        }
        let (got, failures) = read_tagged("local[2]", &[("crlf.txt", &bytes)]);
        assert_eq!(failures, 0);
        let lines: Vec<String> = got.into_iter().map(|(_, _, l)| l).collect();
        assert_eq!(lines.len(), expected.len(), "{middle:?} cut at {at}");
        assert!(lines == expected, "{middle:?} cut at {at}");
    }
}

#[test]
fn invalid_utf8_across_the_cut_is_replaced_once_and_the_batch_goes_on() {
    // A line with invalid UTF-8 that the workers' ranges meet inside: replaced (U+FFFD) by the
    // worker whose range it starts in, as a single reader would, and not a failure.
    let (bytes, mut expected) = cut_inside(3 * MIB, b"bad \xff\xfe bytes caf\xc3\xa9\n", 5);
    let pad = expected.iter().position(|l| l.starts_with("pad ")).unwrap();
    expected.insert(pad + 1, "bad \u{fffd}\u{fffd} bytes caf\u{e9}".to_string());
    let (got, failures) = read_tagged("local[2]", &[("bad.txt", &bytes)]);
    assert_eq!(failures, 0);
    let lines: Vec<String> = got.into_iter().map(|(_, _, l)| l).collect();
    assert_eq!(lines.len(), expected.len());
    assert!(lines == expected);
}

#[test]
fn three_workers_share_a_file_with_an_empty_file_and_a_small_one_in_its_batch() {
    let (bytes, expected) = big_text(6);
    let (got, failures) = read_tagged(
        "local[3]",
        &[
            ("big.txt", &bytes),
            ("empty.txt", b""),
            ("small.txt", b"s1\r\ns2"),
        ],
    );
    assert_eq!(failures, 0);
    let lines: Vec<&String> = got.iter().map(|(_, _, l)| l).collect();
    assert_eq!(lines.len(), expected.len() + 2);
    if let Some(i) = (0..expected.len()).find(|&i| *lines[i] != expected[i]) {
        panic!("line {i}: {:?} instead of {:?}", lines[i], expected[i]);
    }
    assert_eq!(lines[expected.len()..], ["s1", "s2"]);
    let partitions: std::collections::BTreeSet<usize> = got.iter().map(|(i, _, _)| *i).collect();
    assert_eq!(partitions.into_iter().collect::<Vec<_>>(), [0, 1, 2]);
}
