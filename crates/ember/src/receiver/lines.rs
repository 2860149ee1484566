//! Incremental splitting of a byte stream into text lines, shared by the socket receiver and
//! file reading (`segment_lines`).
//!
//! Rules follow Java's `BufferedReader.readLine`, which Spark's socket and text file streams use:
//! a line ends at `'\n'`, at `'\r'`, or at `"\r\n"` (one line end, not two, even when the
//! `'\r'` and the `'\n'` arrive in different reads), and a last line without a line end is kept
//! at end of input. Two things differ on purpose, because Spark fails or runs out of memory on
//! them: invalid UTF-8 is replaced with U+FFFD (and counted) instead of failing the stream, and a
//! line longer than the configured limit ([`crate::conf::MAX_LINE_BYTES`]) is dropped without
//! being buffered, so memory stays bounded whatever the input.

/// Size of one read from a socket or a file. Large reads amortise the system-call cost, which
/// dominates at hundreds of MB/s of short lines.
pub(crate) const READ_CHUNK: usize = 1 << 20;

/// Counts of the malformed input a [`LineSplitter`] met.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LineStats {
    /// Lines delivered with invalid UTF-8 replaced by U+FFFD.
    pub invalid_utf8_lines: u64,
    /// Lines dropped because they were longer than the limit.
    pub oversized_lines: u64,
    /// Total length of the dropped lines, in bytes (without their newline).
    pub oversized_bytes: u64,
}

impl LineStats {
    /// Whether any malformed input was seen.
    pub(crate) fn is_clean(&self) -> bool {
        self.invalid_utf8_lines == 0 && self.oversized_lines == 0
    }

    /// A human-readable summary such as `replaced invalid UTF-8 in 3 lines`, or `None` when clean.
    pub(crate) fn describe(&self, max_line_bytes: usize) -> Option<String> {
        let mut parts = Vec::new();
        if self.invalid_utf8_lines > 0 {
            parts.push(format!(
                "replaced invalid UTF-8 in {} lines",
                self.invalid_utf8_lines
            ));
        }
        if self.oversized_lines > 0 {
            parts.push(format!(
                "dropped {} lines longer than {} bytes ({} bytes in all; see {})",
                self.oversized_lines,
                max_line_bytes,
                self.oversized_bytes,
                crate::conf::MAX_LINE_BYTES
            ));
        }
        if parts.is_empty() {
            None
        } else {
            Some(parts.join("; "))
        }
    }
}

/// Where a [`LineSplitter`] puts complete, valid lines.
pub(crate) trait LineSink {
    /// Takes one line (without its line end).
    fn push_line(&mut self, line: &str);

    /// Takes `count` lines at once: `text` is those lines, each followed by `'\n'`. (The
    /// splitter hands over a read's lines this way when they need no fixing, so that a sink
    /// that keeps lines together copies them in one go; the default takes them one by one.)
    fn push_lines(&mut self, text: &str, count: usize) {
        debug_assert_eq!(text.bytes().filter(|&b| b == b'\n').count(), count);
        each_line(text, |line| self.push_line(line));
    }
}

/// Calls `f` with each line of `text`, whose lines each end with `'\n'`.
fn each_line(text: &str, mut f: impl FnMut(&str)) {
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', text.as_bytes()) {
        // '\n' is one byte: both ends are character boundaries.
        f(&text[start..end]);
        start = end + 1;
    }
}

impl LineSink for Vec<String> {
    fn push_line(&mut self, line: &str) {
        self.push(line.to_owned());
    }
}

/// Complete lines of text, each followed by `'\n'`, in one allocation. Receivers hand these
/// over instead of one `String` per line, so that the per-line allocations happen on the worker
/// that processes them (see [`TextChunk::lines`]), in parallel and close to where they are freed.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct TextChunk {
    text: String,
    /// Lines held, counted as they are pushed, for the receiver's rate limit. Not written to the
    /// write-ahead log: a replayed chunk does not pass the rate limit again.
    #[serde(skip)]
    lines: usize,
}

impl TextChunk {
    /// Whether it holds no line.
    pub(crate) fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
    /// Bytes held.
    pub(crate) fn len(&self) -> usize {
        self.text.len()
    }
    /// Lines held (pushed into this chunk).
    pub(crate) fn line_count(&self) -> usize {
        self.lines
    }
    /// The lines, one `String` each, appended to `out`.
    pub(crate) fn lines(&self, out: &mut Vec<String>) {
        out.reserve(self.lines);
        each_line(&self.text, |line| out.push(line.to_owned()));
    }
    /// Takes the first `n` lines (all of them if there are fewer) into a chunk of their own.
    pub(crate) fn split_lines(&mut self, n: usize) -> TextChunk {
        if n >= self.lines {
            return std::mem::take(self);
        }
        if n == 0 {
            return TextChunk::default();
        }
        // Every pushed line ends with '\n', so the n-th one exists.
        let end = self
            .text
            .match_indices('\n')
            .nth(n - 1)
            .map_or(self.text.len(), |(at, _)| at + 1);
        let rest = self.text.split_off(end);
        let first = std::mem::replace(&mut self.text, rest);
        self.lines -= n;
        TextChunk {
            text: first,
            lines: n,
        }
    }
}

impl LineSink for TextChunk {
    fn push_line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
        self.lines += 1;
    }

    fn push_lines(&mut self, text: &str, count: usize) {
        self.text.push_str(text);
        self.lines += count;
    }
}

/// Splits bytes arriving in arbitrary chunks into lines.
pub(crate) struct LineSplitter {
    max_line_bytes: usize,
    /// The start of the current line when it spans chunks. Line ends are never buffered, so it
    /// never holds more than `max_line_bytes` bytes.
    partial: Vec<u8>,
    /// `Some(n)` while dropping an oversized line of which `n` bytes were seen so far.
    discarding: Option<u64>,
    /// The last byte fed was a `'\r'` that ended a line: a `'\n'` at the start of the next feed
    /// belongs to the same line end (`"\r\n"` split across reads) and must not end an empty line.
    after_cr: bool,
    stats: LineStats,
}

impl LineSplitter {
    /// A splitter that drops lines longer than `max_line_bytes` bytes (excluding the line end).
    pub(crate) fn new(max_line_bytes: usize) -> Self {
        LineSplitter {
            max_line_bytes,
            partial: Vec::new(),
            discarding: None,
            after_cr: false,
            stats: LineStats::default(),
        }
    }

    /// Feeds bytes; every complete line is pushed to `out`.
    pub(crate) fn feed(&mut self, bytes: &[u8], out: &mut impl LineSink) {
        if bytes.is_empty() {
            return;
        }
        let mut start = 0;
        if std::mem::take(&mut self.after_cr) && bytes[0] == b'\n' {
            start = 1;
        }
        // Whole lines go in one piece (`whole_lines`) once no line begun in an earlier feed is
        // pending: at once, or after the first line end has completed that line.
        let mut whole_tried = false;
        loop {
            if !whole_tried && self.partial.is_empty() && self.discarding.is_none() {
                whole_tried = true;
                start = self.whole_lines(bytes, start, out);
            }
            let Some(at) = memchr::memchr2(b'\n', b'\r', &bytes[start..]) else {
                break;
            };
            let end = start + at;
            self.end_line(&bytes[start..end], out);
            start = end + 1;
            if bytes[end] == b'\r' {
                // "\r\n" is one line end, even when the '\n' comes in the next feed.
                match bytes.get(start) {
                    Some(b'\n') => start += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        let tail = &bytes[start..];
        if tail.is_empty() {
            return;
        }
        match &mut self.discarding {
            Some(seen) => *seen += tail.len() as u64,
            None if self.partial.len() + tail.len() > self.max_line_bytes => {
                // Too long already: stop buffering and only count the rest of the line.
                self.discarding = Some((self.partial.len() + tail.len()) as u64);
                self.partial.clear();
            }
            None => self.partial.extend_from_slice(tail),
        }
    }

    /// The fast path of [`feed`](Self::feed): when the complete lines of `bytes[start..]` need
    /// no fixing (no `'\r'`, valid UTF-8, none too long), they go to `out` in one piece, with
    /// one scan for each rule instead of a call per line. Returns where the lines left for the
    /// line-by-line path start: after them, or `start` when they need fixing.
    fn whole_lines(&mut self, bytes: &[u8], start: usize, out: &mut impl LineSink) -> usize {
        let Some(last) = memchr::memrchr(b'\n', &bytes[start..]) else {
            return start;
        };
        let lines = &bytes[start..=start + last];
        if memchr::memchr(b'\r', lines).is_some() {
            return start;
        }
        let mut count = 0;
        if lines.len() > self.max_line_bytes {
            // A line may be too long: measure each.
            let mut from = 0;
            for end in memchr::memchr_iter(b'\n', lines) {
                if end - from > self.max_line_bytes {
                    return start;
                }
                from = end + 1;
                count += 1;
            }
        } else {
            count = memchr::memchr_iter(b'\n', lines).count();
        }
        match simdutf8::basic::from_utf8(lines) {
            Ok(text) => {
                out.push_lines(text, count);
                start + last + 1
            }
            Err(_) => start,
        }
    }

    /// End of input: a last line without a line end is pushed, as Spark does.
    pub(crate) fn finish(&mut self, out: &mut impl LineSink) {
        self.after_cr = false;
        if let Some(seen) = self.discarding.take() {
            self.note_oversized(seen);
        } else if !self.partial.is_empty() {
            emit(&self.partial, self.max_line_bytes, &mut self.stats, out);
            self.partial.clear();
        }
    }

    /// What malformed input was seen so far.
    pub(crate) fn stats(&self) -> &LineStats {
        &self.stats
    }

    /// Bytes currently held for an incomplete line (to check that memory stays bounded).
    #[cfg(test)]
    pub(crate) fn buffered_capacity(&self) -> usize {
        self.partial.capacity()
    }

    /// Ends the current line, whose last bytes (without the line end) are `segment`.
    fn end_line(&mut self, segment: &[u8], out: &mut impl LineSink) {
        if let Some(seen) = self.discarding.take() {
            self.note_oversized(seen + segment.len() as u64);
        } else if self.partial.is_empty() {
            // Fast path: the whole line is inside this chunk, no copy into `partial`.
            emit(segment, self.max_line_bytes, &mut self.stats, out);
        } else if self.partial.len() + segment.len() > self.max_line_bytes {
            let size = (self.partial.len() + segment.len()) as u64;
            self.partial.clear();
            self.note_oversized(size);
        } else {
            self.partial.extend_from_slice(segment);
            emit(&self.partial, self.max_line_bytes, &mut self.stats, out);
            self.partial.clear();
        }
    }

    fn note_oversized(&mut self, size: u64) {
        record_oversized(size, self.max_line_bytes, &mut self.stats);
    }
}

fn record_oversized(size: u64, max_line_bytes: usize, stats: &mut LineStats) {
    stats.oversized_lines += 1;
    stats.oversized_bytes += size;
    tracing::warn!(
        "Dropped a line of {size} bytes: longer than the limit of {max_line_bytes} bytes ({})",
        crate::conf::MAX_LINE_BYTES
    );
}

/// Pushes one complete line (without its line end), applying the size and UTF-8 rules.
fn emit(line: &[u8], max_line_bytes: usize, stats: &mut LineStats, out: &mut impl LineSink) {
    if line.len() > max_line_bytes {
        record_oversized(line.len() as u64, max_line_bytes, stats);
        return;
    }
    match std::str::from_utf8(line) {
        Ok(text) => out.push_line(text),
        Err(_) => {
            stats.invalid_utf8_lines += 1;
            out.push_line(&String::from_utf8_lossy(line));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(chunks: &[&[u8]], max: usize) -> (Vec<String>, LineStats) {
        let mut splitter = LineSplitter::new(max);
        let mut out = Vec::new();
        for chunk in chunks {
            splitter.feed(chunk, &mut out);
        }
        splitter.finish(&mut out);
        (out, splitter.stats().clone())
    }

    #[test]
    fn whole_reads_of_clean_lines_reach_a_chunk_as_they_reach_a_line_sink() {
        // Clean stretches (taken in one piece) mixed with every case that needs fixing: CR and
        // CRLF line ends, invalid UTF-8, a line over the limit, an empty line, a last line
        // without an end, and multi-byte characters.
        let input: &[u8] =
            b"alpha beta\ngamma\n\nd\xc3\xa9j\xc3\xa0 vu\nbad \xff byte\ncr\rcrlf\r\nlong line here\nx y\nlast";
        for max in [4, 10, 1 << 20] {
            for piece in [1, 2, 3, 7, 16, input.len()] {
                let chunks: Vec<&[u8]> = input.chunks(piece).collect();
                let (expected, expected_stats) = split_all(&chunks, max);
                let mut splitter = LineSplitter::new(max);
                let mut chunk = TextChunk::default();
                for c in &chunks {
                    splitter.feed(c, &mut chunk);
                }
                splitter.finish(&mut chunk);
                let mut lines = Vec::new();
                chunk.lines(&mut lines);
                assert_eq!(lines, expected, "max {max}, pieces of {piece}");
                assert_eq!(
                    chunk.line_count(),
                    expected.len(),
                    "max {max}, pieces of {piece}"
                );
                assert_eq!(splitter.stats(), &expected_stats);
            }
        }
        // The reference itself, at the largest limit: what Java's readLine gives, with the
        // invalid byte replaced.
        let (all, stats) = split_all(&[input], 1 << 20);
        assert_eq!(
            all,
            [
                "alpha beta",
                "gamma",
                "",
                "déjà vu",
                "bad \u{fffd} byte",
                "cr",
                "crlf",
                "long line here",
                "x y",
                "last"
            ]
        );
        assert_eq!(stats.invalid_utf8_lines, 1);
        // At 10 bytes, the one line longer than that is dropped.
        let (short, stats) = split_all(&[input], 10);
        assert!(!short.contains(&"long line here".to_string()));
        assert_eq!(stats.oversized_lines, 1);
    }

    #[test]
    fn a_chunk_counts_its_lines_and_splits_at_line_ends() {
        let mut chunk = TextChunk::default();
        for line in ["a", "", "ccc", "dd"] {
            chunk.push_line(line);
        }
        assert_eq!(chunk.line_count(), 4);
        let none = chunk.split_lines(0);
        assert!(none.is_empty() && none.line_count() == 0);
        let first = chunk.split_lines(2);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        first.lines(&mut a);
        assert_eq!(
            (a, first.line_count()),
            (vec!["a".to_string(), String::new()], 2)
        );
        let rest = chunk.split_lines(5);
        rest.lines(&mut b);
        assert_eq!(
            (b, rest.line_count()),
            (vec!["ccc".to_string(), "dd".to_string()], 2)
        );
        assert!(chunk.is_empty() && chunk.line_count() == 0);
    }

    #[test]
    fn lines_split_across_feeds() {
        let (lines, stats) = split_all(&[b"hel", b"lo\nwor", b"ld\n\nlast"], 100);
        assert_eq!(lines, ["hello", "world", "", "last"]);
        assert!(stats.is_clean());
    }

    #[test]
    fn every_byte_a_separate_feed() {
        let input = b"a b\r\nc\n\nd\r\ne\rf\r\r\n";
        let chunks: Vec<&[u8]> = input.chunks(1).collect();
        let (lines, _) = split_all(&chunks, 100);
        assert_eq!(lines, ["a b", "c", "", "d", "e", "f", ""]);
    }

    #[test]
    fn carriage_return_newline_and_both_end_a_line_as_in_java() {
        // Java's `BufferedReader.readLine`: "\n", "\r" and "\r\n" each end one line.
        let (lines, stats) = split_all(&[b"one\ntwo\rthree\r\nfour\r\rfive\n\rsix"], 100);
        assert_eq!(
            lines,
            ["one", "two", "three", "four", "", "five", "", "six"]
        );
        assert!(stats.is_clean());
        assert_eq!(split_all(&[b"end\r"], 100).0, ["end"]);
        assert_eq!(split_all(&[b"\r"], 100).0, [""]);
        assert_eq!(split_all(&[b"\r\n\r\n"], 100).0, ["", ""]);
    }

    #[test]
    fn carriage_return_at_the_end_of_a_feed() {
        // The '\n' that starts the next feed is the same line end as the '\r'.
        assert_eq!(split_all(&[b"a\r", b"\nb"], 100).0, ["a", "b"]);
        assert_eq!(split_all(&[b"a\r", b"b"], 100).0, ["a", "b"]);
        assert_eq!(split_all(&[b"a\r\r\nb"], 100).0, ["a", "", "b"]);
        assert_eq!(split_all(&[b"a\r", b"\r\nb"], 100).0, ["a", "", "b"]);
        assert_eq!(split_all(&[b"a\r\r", b"\nb"], 100).0, ["a", "", "b"]);
        assert_eq!(split_all(&[b"a\r", b"\n", b"\nb"], 100).0, ["a", "", "b"]);
        // An empty feed between the '\r' and the '\n' changes nothing.
        assert_eq!(split_all(&[b"a\r", b"", b"\nb"], 100).0, ["a", "b"]);
        assert_eq!(split_all(&[b"a\r", b"\n"], 100).0, ["a"]);
    }

    #[test]
    fn every_split_of_the_input_gives_the_same_lines() {
        let input: &[u8] = b"x\r\ny\rz\n\r\r\n\nlong line\r\n\xffw\rq";
        let whole = split_all(&[input], 4);
        assert_eq!(whole.0, ["x", "y", "z", "", "", "", "\u{fffd}w", "q"]);
        assert_eq!(whole.1.oversized_lines, 1);
        for cut in 0..=input.len() {
            let (a, b) = input.split_at(cut);
            assert_eq!(split_all(&[a, b], 4), whole, "cut at {cut}");
            for cut2 in cut..=input.len() {
                let (b1, b2) = input[cut..].split_at(cut2 - cut);
                assert_eq!(split_all(&[a, b1, b2], 4), whole, "cuts at {cut}, {cut2}");
            }
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(split_all(&bytes, 4), whole);
    }

    #[test]
    fn last_line_without_newline_is_kept_and_trailing_newline_adds_nothing() {
        assert_eq!(split_all(&[b"a\nb"], 10).0, ["a", "b"]);
        assert_eq!(split_all(&[b"a\nb\n"], 10).0, ["a", "b"]);
        assert!(split_all(&[b""], 10).0.is_empty());
    }

    #[test]
    fn invalid_utf8_is_replaced_and_counted() {
        let (lines, stats) = split_all(&[b"ok\n\xffbad\nal\xc3", b"\xa9\nx\xc3\n"], 100);
        // The split UTF-8 sequence "é" across feeds is valid once joined.
        assert_eq!(lines, ["ok", "\u{fffd}bad", "alé", "x\u{fffd}"]);
        assert_eq!(stats.invalid_utf8_lines, 2);
        assert_eq!(
            stats.describe(100).unwrap(),
            "replaced invalid UTF-8 in 2 lines"
        );
    }

    #[test]
    fn lines_inside_a_feed_checked_at_once_follow_the_same_rules() {
        // The first line of the second feed completes a character cut by the first feed; the
        // lines after it are checked for UTF-8 in one pass, with the size limit still applied.
        let (lines, stats) = split_all(
            &[b"caf\xc3", b"\xa9 1\nlong line!\nok\n\xe2\x82\xac\r\nend"],
            8,
        );
        assert_eq!(lines, ["caf\u{e9} 1", "ok", "\u{20ac}", "end"]);
        assert_eq!(stats.oversized_lines, 1);
        assert_eq!(stats.invalid_utf8_lines, 0);
        // One invalid line among valid ones: each line is then checked alone.
        let (lines, stats) = split_all(&[b"a\nb\n\xffc\nd\ne"], 8);
        assert_eq!(lines, ["a", "b", "\u{fffd}c", "d", "e"]);
        assert_eq!(stats.invalid_utf8_lines, 1);
    }

    #[test]
    fn line_at_the_limit_is_kept_one_byte_over_is_dropped() {
        let (lines, stats) = split_all(&[b"abcd\r\nabcde\nab", b"cd\r\nabc", b"de\n"], 4);
        assert_eq!(lines, ["abcd", "abcd"]);
        assert_eq!(stats.oversized_lines, 2);
        assert_eq!(stats.oversized_bytes, 10);
    }

    #[test]
    fn line_limit_with_carriage_returns_across_feeds() {
        // A '\r' is a line end, never part of the line: "abcd\r" is a line of 4 bytes however
        // the feeds cut it, and a dropped line ends at a bare '\r' too.
        let (lines, stats) = split_all(&[b"ab", b"cd\r", b"\nabcdef", b"gh\rok\r", b"\n"], 4);
        assert_eq!(lines, ["abcd", "ok"]);
        assert_eq!(stats.oversized_lines, 1);
        assert_eq!(stats.oversized_bytes, 8);
    }

    #[test]
    fn huge_line_is_dropped_with_bounded_memory_and_next_line_delivered() {
        const MAX: usize = 64 * 1024;
        let chunk = vec![b'x'; 1 << 20];
        let mut splitter = LineSplitter::new(MAX);
        let mut out = Vec::new();
        splitter.feed(b"before\nstart of huge ", &mut out);
        for _ in 0..100 {
            splitter.feed(&chunk, &mut out);
            assert!(
                splitter.buffered_capacity() <= 2 * (MAX + 1),
                "buffer grew to {}",
                splitter.buffered_capacity()
            );
        }
        splitter.feed(b" end\nafter\nlast", &mut out);
        splitter.finish(&mut out);
        assert_eq!(out, ["before", "after", "last"]);
        let stats = splitter.stats();
        assert_eq!(stats.oversized_lines, 1);
        assert_eq!(
            stats.oversized_bytes,
            100 * (1 << 20) + "start of huge ".len() as u64 + " end".len() as u64
        );
        assert_eq!(stats.invalid_utf8_lines, 0);
    }

    #[test]
    fn oversized_last_line_without_newline_is_counted() {
        let (lines, stats) = split_all(&[b"ok\n", b"0123456789", b"0123456789"], 8);
        assert_eq!(lines, ["ok"]);
        assert_eq!(stats.oversized_lines, 1);
        assert_eq!(stats.oversized_bytes, 20);
    }
}
