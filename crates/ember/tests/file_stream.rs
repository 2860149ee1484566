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
