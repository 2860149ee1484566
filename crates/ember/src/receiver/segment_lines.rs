//! A [`FileSegment`] read as a stream of lines, a bounded number of bytes at a time.
//!
//! A segment gives the lines that *start* at an offset in its range `start..end`: a line starts
//! at offset 0 and right after a line end (`'\n'`, `'\r'`, or `"\r\n"`, as in
//! [`LineSplitter`]). So a segment that does not begin at offset 0 first skips to the first line
//! start at or after `start` (the line in progress there belongs to the segment before), and a
//! segment reads on past `end` to the end of the line in progress at `end`. The segments of a
//! file, cut anywhere, thus give each of its lines exactly once, and the same lines as the whole
//! file. The byte before `start` is read too: a line starts at `start` exactly when that byte is
//! `'\n'`, or is `'\r'` and the byte at `start` is not `'\n'`.
//!
//! Memory stays within the caller's read buffer and one partial line (at most the line limit)
//! whatever the segment's size, so a reader can hand each step's lines on before it reads more.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::{Error, Result};
use crate::receiver::file_segments::FileSegment;
use crate::receiver::lines::{LineSink, LineSplitter, LineStats};

/// Where a segment's reading is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Looking for the first line start at or after `start`, from the byte before it.
    Skipping,
    /// Giving lines; the bytes before `end` all belong to lines that start before `end`.
    Lines,
    /// Past `end`: giving the rest of the line in progress there, up to its line end.
    Tail,
    /// Done: the last line has been given.
    Ended,
}

/// One segment of a file being read into lines.
pub(crate) struct SegmentLines {
    segment: FileSegment,
    file: File,
    /// File offset of the next byte read.
    pos: u64,
    phase: Phase,
    /// The last byte looked at was a `'\r'` at the end of a read: whether a line starts after it
    /// depends on the next byte.
    pending_cr: bool,
    /// The last byte given to the splitter, to find the line end at `end`.
    last_fed: Option<u8>,
    splitter: LineSplitter,
}

impl SegmentLines {
    /// Opens the segment's file, dropping lines longer than `max_line_bytes` bytes. Errors name
    /// the file (`opening <path>: <cause>`).
    pub(crate) fn open(segment: FileSegment, max_line_bytes: usize) -> Result<Self> {
        let path = Path::new(&segment.path);
        let mut file =
            File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let (pos, phase) = if segment.start == 0 {
            (0, Phase::Lines)
        } else {
            let from = segment.start - 1;
            file.seek(SeekFrom::Start(from))
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            (from, Phase::Skipping)
        };
        Ok(SegmentLines {
            segment,
            file,
            pos,
            phase,
            pending_cr: false,
            last_fed: None,
            splitter: LineSplitter::new(max_line_bytes),
        })
    }

    /// Reads at most `buf.len()` bytes into `buf` and pushes the lines they complete into `out`.
    /// Returns the number of bytes read; `0` means the segment is done: its last line has then
    /// been pushed too, and later calls read nothing.
    pub(crate) fn read_some(&mut self, buf: &mut [u8], out: &mut impl LineSink) -> Result<usize> {
        if self.phase == Phase::Ended || buf.is_empty() {
            return Ok(0);
        }
        let n = loop {
            match self.file.read(buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Error::io(format!("reading {}", self.segment.path), e));
                }
            }
        };
        if n == 0 {
            self.end(out);
            return Ok(0);
        }
        let at = self.pos;
        self.pos += n as u64;
        self.take(&buf[..n], at, out);
        // A read that ended the segment still counts: the next call returns 0.
        Ok(n)
    }

    /// Handles `bytes`, read from file offset `at`.
    fn take(&mut self, mut bytes: &[u8], mut at: u64, out: &mut impl LineSink) {
        while !bytes.is_empty() {
            match self.phase {
                Phase::Ended => return,
                Phase::Skipping => match self.line_start(bytes) {
                    Some(i) => {
                        bytes = &bytes[i..];
                        at += i as u64;
                        // A line that starts at or after `end` is the next segment's.
                        self.phase = if self.segment.end.is_some_and(|end| at >= end) {
                            Phase::Ended
                        } else {
                            Phase::Lines
                        };
                    }
                    None => return,
                },
                Phase::Lines => {
                    let before_end = match self.segment.end {
                        Some(end) if end < at + bytes.len() as u64 => (end - at) as usize,
                        _ => bytes.len(),
                    };
                    self.feed(&bytes[..before_end], out);
                    if before_end == bytes.len() {
                        return;
                    }
                    bytes = &bytes[before_end..];
                    at += before_end as u64;
                    // The line in progress at `end` goes on to its line end; none is in progress
                    // if the byte before `end` ended a line (a '\r' depends on the next byte).
                    self.pending_cr = self.last_fed == Some(b'\r');
                    self.phase = if self.last_fed == Some(b'\n') {
                        self.finish(out);
                        Phase::Ended
                    } else {
                        Phase::Tail
                    };
                }
                Phase::Tail => {
                    match self.line_start(bytes) {
                        Some(i) => {
                            self.feed(&bytes[..i], out);
                            self.finish(out);
                            self.phase = Phase::Ended;
                        }
                        None => self.feed(bytes, out),
                    }
                    return;
                }
            }
        }
    }

    /// The index in `bytes` of the first line start, given `pending_cr`; `None` when there is
    /// none in `bytes` (then `pending_cr` says whether its last byte was a `'\r'`).
    fn line_start(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut from = 0;
        if std::mem::take(&mut self.pending_cr) {
            // The '\r' before `bytes` ended a line; its "\r\n" ends after this '\n'.
            return Some(usize::from(bytes[0] == b'\n'));
        }
        while let Some(i) = memchr::memchr2(b'\n', b'\r', &bytes[from..]) {
            let t = from + i;
            if bytes[t] == b'\n' {
                return Some(t + 1);
            }
            match bytes.get(t + 1) {
                Some(b'\n') => from = t + 1,
                Some(_) => return Some(t + 1),
                None => {
                    self.pending_cr = true;
                    return None;
                }
            }
        }
        None
    }

    fn feed(&mut self, bytes: &[u8], out: &mut impl LineSink) {
        if let Some(last) = bytes.last() {
            self.last_fed = Some(*last);
            self.splitter.feed(bytes, out);
        }
    }

    /// The end of the file: what is in progress ends here.
    fn end(&mut self, out: &mut impl LineSink) {
        if matches!(self.phase, Phase::Lines | Phase::Tail) {
            self.finish(out);
        }
        self.phase = Phase::Ended;
    }

    fn finish(&mut self, out: &mut impl LineSink) {
        self.splitter.finish(out);
    }

    /// What malformed input was seen so far.
    pub(crate) fn stats(&self) -> &LineStats {
        self.splitter.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receiver::file_segments::plan;

    /// Reads `segment` whole, `step` bytes at a time.
    fn read(segment: FileSegment, max: usize, step: usize) -> Result<(Vec<String>, LineStats)> {
        let mut reader = SegmentLines::open(segment, max)?;
        let mut buf = vec![0u8; step];
        let mut lines = Vec::new();
        while reader.read_some(&mut buf, &mut lines)? > 0 {}
        // Once done, it stays done.
        assert_eq!(reader.read_some(&mut buf, &mut lines)?, 0);
        Ok((lines, reader.stats().clone()))
    }

    fn segment(path: &Path, start: u64, end: Option<u64>) -> FileSegment {
        FileSegment {
            path: path.to_string_lossy().into_owned(),
            start,
            end,
        }
    }

    /// The lines of `path` read as segments cut at `cuts`, each read `step` bytes at a time.
    fn read_cut(path: &Path, cuts: &[u64], max: usize, step: usize) -> (Vec<String>, LineStats) {
        let mut bounds = vec![0];
        bounds.extend_from_slice(cuts);
        let mut lines = Vec::new();
        let mut stats = LineStats::default();
        for (k, start) in bounds.iter().enumerate() {
            let end = bounds.get(k + 1).copied();
            let (l, s) = read(segment(path, *start, end), max, step).unwrap();
            lines.extend(l);
            stats.invalid_utf8_lines += s.invalid_utf8_lines;
            stats.oversized_lines += s.oversized_lines;
            stats.oversized_bytes += s.oversized_bytes;
        }
        (lines, stats)
    }

    #[test]
    fn a_whole_file_gives_the_splitters_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, b"alpha\r\nbeta\n\xfe\rdelta\rgamma").unwrap();
        let (lines, stats) = read(segment(&path, 0, None), 1024, 1 << 20).unwrap();
        assert_eq!(lines, ["alpha", "beta", "\u{fffd}", "delta", "gamma"]);
        assert_eq!(stats.invalid_utf8_lines, 1);
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.txt");
        let err = read(segment(&missing, 0, None), 1024, 64)
            .map(|_| ())
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("opening {}", missing.display())),
            "{err}"
        );
    }

    #[test]
    fn every_cut_and_every_step_gives_each_line_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        // Every kind of line end, empty lines, a "\r\r\n", invalid UTF-8, a line over the
        // limit, and a last line without a line end.
        let content: &[u8] = b"one\r\ntwo\rthree\n\n\xffbad\r\r\nlong line here\n\r\rx\nlast";
        std::fs::write(&path, content).unwrap();
        let whole = read(segment(&path, 0, None), 8, 1 << 20).unwrap();
        assert_eq!(
            whole.0,
            [
                "one",
                "two",
                "three",
                "",
                "\u{fffd}bad",
                "",
                "",
                "",
                "x",
                "last"
            ]
        );
        assert_eq!(whole.1.oversized_lines, 1);
        assert_eq!(whole.1.invalid_utf8_lines, 1);
        let len = content.len() as u64;
        for step in [1, 2, 3, 7, 64] {
            for cut in 1..len {
                assert_eq!(
                    read_cut(&path, &[cut], 8, step),
                    whole,
                    "cut {cut}, step {step}"
                );
                for cut2 in cut + 1..len {
                    assert_eq!(
                        read_cut(&path, &[cut, cut2], 8, step),
                        whole,
                        "cuts {cut}, {cut2}, step {step}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_segment_in_the_middle_of_one_long_line_gives_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        let mut content = b"a\n".to_vec();
        content.extend(std::iter::repeat_n(b'x', 5000));
        content.extend_from_slice(b"\r\nb");
        std::fs::write(&path, &content).unwrap();
        assert!(
            read(segment(&path, 100, Some(4000)), 1 << 20, 256)
                .unwrap()
                .0
                .is_empty()
        );
        // The segment where the long line starts reads it to its end.
        let (lines, _) = read(segment(&path, 1, Some(100)), 1 << 20, 256).unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].len(), 5000);
        assert_eq!(
            read(segment(&path, 100, None), 1 << 20, 256).unwrap().0,
            ["b"]
        );
    }

    #[test]
    fn a_segment_past_the_end_of_a_file_gives_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, b"a\nb\n").unwrap();
        assert!(read(segment(&path, 10, None), 64, 64).unwrap().0.is_empty());
        assert!(read(segment(&path, 4, None), 64, 64).unwrap().0.is_empty());
        assert_eq!(read(segment(&path, 2, None), 64, 64).unwrap().0, ["b"]);
    }

    #[test]
    fn planned_segments_of_a_large_file_give_its_lines_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.txt");
        let mut content = Vec::new();
        let mut expected = Vec::new();
        let ends: [&[u8]; 3] = [b"\n", b"\r", b"\r\n"];
        let mut i = 0;
        while content.len() < 5 << 20 {
            let line = format!("{i} caf\u{e9} {}", "w".repeat(i % 97));
            content.extend_from_slice(line.as_bytes());
            content.extend_from_slice(ends[i % 3]);
            expected.push(line);
            i += 1;
        }
        std::fs::write(&path, &content).unwrap();
        let name = path.to_string_lossy().into_owned();
        for pieces in [1, 2, 3, 4] {
            let plan = plan(&[(name.clone(), Some(content.len() as u64))], pieces);
            let mut lines = Vec::new();
            for seg in plan.into_iter().flatten() {
                lines.extend(read(seg, 1 << 20, 1 << 20).unwrap().0);
            }
            assert_eq!(lines.len(), expected.len(), "{pieces} pieces");
            assert!(lines == expected, "{pieces} pieces");
        }
    }
}
