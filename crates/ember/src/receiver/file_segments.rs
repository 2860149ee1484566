//! Which byte ranges of a batch's files each partition reads, so that the workers share the
//! reading of a batch evenly, one large file included.
//!
//! The batch's files, in their selection order, are seen as one run of bytes, cut into as many
//! pieces of equal size as the stream has partitions; piece `j` is partition `j`, read by the
//! worker of that partition. A cut inside a file makes two [`FileSegment`]s of it, and a segment
//! gives the lines that *start* in its byte range (see `segment_lines`), so every line of a file is
//! read exactly once whatever the cuts, and the lines of a batch, taken partition after
//! partition, come in file order and in line order within a file.
//!
//! Spark cuts a file into splits of the file system's block size (32 MiB on a local file
//! system) and gives each split a partition. Equal pieces, one per partition, do the same
//! reading in parallel while giving every worker the same share of bytes, which fixed-size
//! splits placed round robin do not (20 files of 50 MB in 32 MiB splits would give one worker
//! every 32 MiB split and the other every 18 MB one).

use serde::{Deserialize, Serialize};

/// The smallest part of a file a cut leaves on either side: a cut nearer to a file's start or
/// end moves to that end, so that small files are never cut and no worker opens a file to read a
/// few lines of it. One read step (`lines::READ_CHUNK`).
pub(crate) const MIN_SEGMENT: u64 = 1 << 20;

/// A byte range of one file, read by one worker: the lines that start at a byte offset in
/// `start..end` (`end` `None`: up to the end of the file, wherever it is when it is read).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileSegment {
    /// The file's path (canonical, as the selection gives it).
    pub(crate) path: String,
    /// The first byte offset whose line is read, if a line starts there or after it.
    pub(crate) start: u64,
    /// The byte offset at which the next segment of the file starts; `None` for the file's last
    /// segment.
    pub(crate) end: Option<u64>,
}

impl FileSegment {
    /// The whole of the file at `path`.
    pub(crate) fn whole(path: String) -> Self {
        FileSegment {
            path,
            start: 0,
            end: None,
        }
    }
}

/// Cuts `files` (each with its length, `None` when it could not be found, which the reader then
/// reports) into `pieces` partitions of nearly equal byte counts: element `j` of the result holds
/// the segments partition `j` reads, in order. No files give no partitions.
pub(crate) fn plan(files: &[(String, Option<u64>)], pieces: usize) -> Vec<Vec<FileSegment>> {
    if files.is_empty() {
        return Vec::new();
    }
    let pieces = pieces.max(1);
    let lengths: Vec<u64> = files.iter().map(|(_, len)| len.unwrap_or(0)).collect();
    // Offsets of the files in the run of all of them.
    let mut starts = Vec::with_capacity(files.len());
    let mut total = 0u64;
    for len in &lengths {
        starts.push(total);
        total = total.saturating_add(*len);
    }
    // cuts[j] is where piece j starts; cuts[pieces] is the end.
    let mut cuts = Vec::with_capacity(pieces + 1);
    cuts.push(0u64);
    for j in 1..pieces {
        let ideal = (u128::from(total) * j as u128 / pieces as u128) as u64;
        let cut = snap(ideal, &starts, &lengths);
        let previous = *cuts.last().expect("cuts start with 0");
        cuts.push(cut.max(previous));
    }
    cuts.push(total);

    let mut out: Vec<Vec<FileSegment>> = vec![Vec::new(); pieces];
    for (i, (path, _)) in files.iter().enumerate() {
        let (a, len) = (starts[i], lengths[i]);
        if len == 0 {
            // Read whole by the piece its offset falls in (the last such piece if several
            // pieces are empty there, next to the file that follows it).
            let j = (0..pieces).rev().find(|&j| cuts[j] <= a).unwrap_or(0);
            out[j].push(FileSegment::whole(path.clone()));
            continue;
        }
        let b = a + len;
        for j in 0..pieces {
            let (c, d) = (cuts[j], cuts[j + 1]);
            if c >= b || d <= a || c == d {
                continue;
            }
            let start = c.max(a) - a;
            let end = d.min(b) - a;
            out[j].push(FileSegment {
                path: path.clone(),
                start,
                end: (end < len).then_some(end),
            });
        }
    }
    out
}

/// Moves `cut` (an offset in the run of all files) to the nearer end of the file it falls in
/// when it would leave less than [`MIN_SEGMENT`] of that file on one side.
fn snap(cut: u64, starts: &[u64], lengths: &[u64]) -> u64 {
    // The last file starting at or before the cut.
    let i = starts.partition_point(|&s| s <= cut).saturating_sub(1);
    let (a, b) = (starts[i], starts[i] + lengths[i]);
    if cut <= a || cut >= b {
        return cut;
    }
    if cut - a >= MIN_SEGMENT && b - cut >= MIN_SEGMENT {
        return cut;
    }
    if cut - a <= b - cut { a } else { b }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn files(lengths: &[Option<u64>]) -> Vec<(String, Option<u64>)> {
        lengths
            .iter()
            .enumerate()
            .map(|(i, len)| (format!("f{i}"), *len))
            .collect()
    }

    fn seg(path: &str, start: u64, end: Option<u64>) -> FileSegment {
        FileSegment {
            path: path.to_string(),
            start,
            end,
        }
    }

    /// Every byte of every file is in exactly one segment, in file order then offset order.
    fn assert_covers(files: &[(String, Option<u64>)], plan: &[Vec<FileSegment>]) {
        let flat: Vec<&FileSegment> = plan.iter().flatten().collect();
        let mut at = 0;
        for (path, len) in files {
            let len = len.unwrap_or(0);
            let mut offset = 0;
            loop {
                let s = flat[at];
                assert_eq!(&s.path, path);
                assert_eq!(s.start, offset, "{s:?}");
                at += 1;
                match s.end {
                    Some(end) => {
                        assert!(end > s.start && end < len, "{s:?} of {len}");
                        offset = end;
                    }
                    None => break,
                }
            }
        }
        assert_eq!(at, flat.len());
    }

    #[test]
    fn one_large_file_is_cut_into_equal_pieces() {
        let f = files(&[Some(1000 * MIB)]);
        let plan = plan(&f, 2);
        assert_eq!(
            plan,
            [
                vec![seg("f0", 0, Some(500 * MIB))],
                vec![seg("f0", 500 * MIB, None)]
            ]
        );
        let four = super::plan(&f, 4);
        assert_eq!(four.len(), 4);
        assert_covers(&f, &four);
        assert!(four.iter().all(|p| p.len() == 1));
    }

    #[test]
    fn equal_files_go_whole_to_the_pieces() {
        // The harness's 20 parts of 50 MB, each a few bytes over: cuts fall near file ends.
        let lengths: Vec<Option<u64>> = (0..20).map(|i| Some(50_000_000 + i)).collect();
        let f = files(&lengths);
        let plan = plan(&f, 2);
        assert_covers(&f, &plan);
        assert!(
            plan.iter()
                .flatten()
                .all(|s| s.start == 0 && s.end.is_none())
        );
        assert_eq!(plan[0].len(), 10);
        assert_eq!(plan[1].len(), 10);
    }

    #[test]
    fn small_files_are_never_cut_and_order_is_kept() {
        let f = files(&[Some(10), Some(10), Some(10)]);
        let plan = plan(&f, 2);
        assert_covers(&f, &plan);
        assert_eq!(
            plan,
            [
                vec![seg("f0", 0, None)],
                vec![seg("f1", 0, None), seg("f2", 0, None)]
            ]
        );
    }

    #[test]
    fn cuts_leave_at_least_the_minimum_on_both_sides() {
        // A cut 0.5 MiB into the second file moves back to its start.
        let f = files(&[Some(10 * MIB), Some(11 * MIB)]);
        let plan = plan(&f, 2);
        assert_covers(&f, &plan);
        assert_eq!(plan[0], [seg("f0", 0, None)]);
        for pieces in 1..=9 {
            let lengths = [Some(3 * MIB / 2), Some(7 * MIB), Some(1), Some(5 * MIB / 2)];
            let f = files(&lengths);
            let plan = super::plan(&f, pieces);
            assert_eq!(plan.len(), pieces);
            assert_covers(&f, &plan);
            for s in plan.iter().flatten() {
                let len = lengths[s.path[1..].parse::<usize>().unwrap()].unwrap();
                let end = s.end.unwrap_or(len);
                assert!(
                    end - s.start >= MIN_SEGMENT.min(len),
                    "{s:?} with {pieces} pieces"
                );
            }
        }
    }

    #[test]
    fn empty_and_missing_files_are_read_whole_once() {
        let f = files(&[Some(0), None, Some(4 * MIB), Some(0), None]);
        for pieces in 1..=5 {
            let plan = plan(&f, pieces);
            assert_covers(&f, &plan);
        }
        assert!(plan(&[], 3).is_empty());
        assert_eq!(plan(&files(&[None]), 3).concat(), [seg("f0", 0, None)]);
    }

    #[test]
    fn more_pieces_than_bytes() {
        let f = files(&[Some(3)]);
        let plan = plan(&f, 8);
        assert_eq!(plan.len(), 8);
        assert_covers(&f, &plan);
    }
}
