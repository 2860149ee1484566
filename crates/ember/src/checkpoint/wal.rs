//! The receiver write-ahead log (Spark's `spark.streaming.receiver.writeAheadLog.enable`): every
//! block a receiver stores is written under `<checkpoint>/receivedData/stream-<id>/` before it is
//! queued, so that what was received before a crash is processed after the restart.
//!
//! Each block gets a sequence number. When a worker takes a block into a batch, the log notes the
//! batch. A commit of batch `t` records which blocks are done (all blocks of batches up to `t`):
//! a watermark below which every block is done, and the few done blocks above it (workers take
//! blocks concurrently, so batches and sequence numbers are not perfectly in step). On restart,
//! every logged block that is not done is replayed into the first batches; segments whose blocks
//! are all done by the oldest kept commit are deleted.
//!
//! A segment is a sequence of records `tag (1) | seq (u64) | length (u32) | payload | XXH3 of
//! the rest (u64)`, tag 1 for a block and 2 for a void mark (a block written but never queued).
//! A record torn by a crash fails its checksum and ends the segment's replay. Records are written
//! to the operating system at once (a killed process loses nothing it logged) and fsynced at
//! every commit (a machine crash loses at most what arrived since the last checkpoint).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sync::RecoverPoison;
use crate::time::Time;

const DATA: u8 = 1;
const VOID: u8 = 2;
/// A new segment starts once the current one is this large.
const SEGMENT_BYTES: u64 = 64 << 20;

/// What a commit records about a log.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct WalCheckpoint {
    /// Every block with a lower sequence number is done.
    pub(crate) watermark: u64,
    /// Done blocks at or above the watermark.
    pub(crate) done: Vec<u64>,
}

struct Inner {
    file: Option<File>,
    /// First sequence number of each segment, with its path.
    segments: BTreeMap<u64, PathBuf>,
    current_bytes: u64,
    next_seq: u64,
    /// Batch (ms) each taken block went into.
    assigned: BTreeMap<u64, u64>,
    voided: BTreeSet<u64>,
    /// Watermark of each commit written, by batch ms (to delete segments once commits age out).
    watermarks: BTreeMap<u64, u64>,
}

/// The blocks to replay after a restart: (block id, encoded block), in order.
pub(crate) type Replay = Vec<(u64, Vec<u8>)>;

/// One receiver's write-ahead log.
pub(crate) struct WriteAheadLog {
    dir: PathBuf,
    inner: Mutex<Inner>,
}

fn segment_name(first: u64) -> String {
    format!("log-{first:020}")
}

fn checksum(tag: u8, seq: u64, payload: &[u8]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&[tag]);
    h.update(&seq.to_le_bytes());
    h.update(&(payload.len() as u32).to_le_bytes());
    h.update(payload);
    h.digest()
}

/// Reads a segment's records until its end or the first damaged record.
fn read_segment(path: &Path, out: &mut Vec<(u8, u64, Vec<u8>)>) -> Result<()> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| Error::io(format!("reading write-ahead log {}", path.display()), e))?;
    let mut at = 0usize;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < 13 {
            tracing::warn!(
                "write-ahead log {}: a record torn by a crash at byte {at} is ignored",
                path.display()
            );
            break;
        }
        let tag = rest[0];
        let seq = u64::from_le_bytes(rest[1..9].try_into().expect("8 bytes"));
        let len = u32::from_le_bytes(rest[9..13].try_into().expect("4 bytes")) as usize;
        if rest.len() < 13 + len + 8 {
            tracing::warn!(
                "write-ahead log {}: a record torn by a crash at byte {at} is ignored",
                path.display()
            );
            break;
        }
        let payload = &rest[13..13 + len];
        let sum = u64::from_le_bytes(rest[13 + len..13 + len + 8].try_into().expect("8 bytes"));
        if sum != checksum(tag, seq, payload) || (tag != DATA && tag != VOID) {
            tracing::warn!(
                "write-ahead log {}: a damaged record at byte {at} ends the replay of this segment",
                path.display()
            );
            break;
        }
        out.push((tag, seq, payload.to_vec()));
        at += 13 + len + 8;
    }
    Ok(())
}

impl WriteAheadLog {
    /// Opens the log in `dir`; returns it with the blocks to replay (sequence number and
    /// payload, in order): every logged block that `restored` does not mark as done.
    pub(crate) fn open(dir: PathBuf, restored: Option<&WalCheckpoint>) -> Result<(Self, Replay)> {
        fs::create_dir_all(&dir).map_err(|e| {
            Error::io(
                format!("creating write-ahead log directory {}", dir.display()),
                e,
            )
        })?;
        let mut segments = BTreeMap::new();
        for entry in fs::read_dir(&dir)
            .map_err(|e| Error::io(format!("listing write-ahead log {}", dir.display()), e))?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(first) = name
                .strip_prefix("log-")
                .and_then(|n| n.parse::<u64>().ok())
            {
                segments.insert(first, entry.path());
            }
        }
        let mut records = Vec::new();
        for path in segments.values() {
            read_segment(path, &mut records)?;
        }
        let empty = WalCheckpoint::default();
        let ck = restored.unwrap_or(&empty);
        let done: BTreeSet<u64> = ck.done.iter().copied().collect();
        let voided: BTreeSet<u64> = records
            .iter()
            .filter(|r| r.0 == VOID)
            .map(|r| r.1)
            .collect();
        let next_seq = records
            .iter()
            .map(|r| r.1 + 1)
            .max()
            .unwrap_or(0)
            .max(ck.watermark);
        let mut replay: Replay = records
            .into_iter()
            .filter(|(tag, seq, _)| {
                *tag == DATA && *seq >= ck.watermark && !done.contains(seq) && !voided.contains(seq)
            })
            .map(|(_, seq, payload)| (seq, payload))
            .collect();
        replay.sort_by_key(|r| r.0);
        replay.dedup_by_key(|r| r.0);
        if !replay.is_empty() {
            tracing::info!(
                log = %dir.display(),
                blocks = replay.len(),
                "replaying blocks received before the restart"
            );
        }
        // Blocks done before the restart stay done for later watermarks.
        let mut assigned = BTreeMap::new();
        for seq in &done {
            assigned.insert(*seq, 0);
        }
        let log = WriteAheadLog {
            dir,
            inner: Mutex::new(Inner {
                file: None,
                segments,
                current_bytes: 0,
                next_seq,
                assigned,
                voided,
                watermarks: BTreeMap::new(),
            }),
        };
        // Sequence numbers below the restored watermark are done.
        log.lock().watermarks.insert(0, ck.watermark);
        Ok((log, replay))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().recover()
    }

    fn write_record(
        &self,
        inner: &mut Inner,
        tag: u8,
        seq: u64,
        payload: &[u8],
    ) -> std::io::Result<()> {
        if inner.file.is_none() || inner.current_bytes >= SEGMENT_BYTES {
            if let Some(f) = inner.file.take() {
                f.sync_all()?;
            }
            let path = self.dir.join(segment_name(seq));
            let f = OpenOptions::new().create(true).append(true).open(&path)?;
            inner.segments.insert(seq, path);
            inner.file = Some(f);
            inner.current_bytes = 0;
        }
        let mut record = Vec::with_capacity(21 + payload.len());
        record.push(tag);
        record.extend_from_slice(&seq.to_le_bytes());
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(payload);
        record.extend_from_slice(&checksum(tag, seq, payload).to_le_bytes());
        inner
            .file
            .as_mut()
            .expect("opened above")
            .write_all(&record)?;
        inner.current_bytes += record.len() as u64;
        Ok(())
    }

    /// Writes a block; its sequence number.
    pub(crate) fn append(&self, payload: &[u8]) -> Result<u64> {
        let mut inner = self.lock();
        let seq = inner.next_seq;
        self.write_record(&mut inner, DATA, seq, payload)
            .map_err(|e| Error::io(format!("writing write-ahead log {}", self.dir.display()), e))?;
        inner.next_seq += 1;
        Ok(seq)
    }

    /// Marks block `seq` as never queued.
    pub(crate) fn void(&self, seq: u64) {
        let mut inner = self.lock();
        inner.voided.insert(seq);
        if let Err(e) = self.write_record(&mut inner, VOID, seq, &[]) {
            tracing::warn!(
                "write-ahead log {}: could not mark block {seq} void: {e}",
                self.dir.display()
            );
        }
    }

    /// Block `seq` was taken into batch `time`.
    pub(crate) fn assign(&self, seq: u64, time: Time) {
        self.lock().assigned.insert(seq, time.as_millis());
    }

    /// What a commit of batch `upto` records; makes the log durable first.
    pub(crate) fn checkpoint(&self, upto: Time) -> Option<WalCheckpoint> {
        let mut inner = self.lock();
        if let Some(f) = &inner.file
            && let Err(e) = f.sync_data()
        {
            tracing::error!("write-ahead log {}: fsync failed: {e}", self.dir.display());
            return None;
        }
        let upto = upto.as_millis();
        let mut watermark = inner.watermarks.values().copied().max().unwrap_or(0);
        let is_done = |inner: &Inner, seq: u64| {
            inner.voided.contains(&seq) || inner.assigned.get(&seq).is_some_and(|b| *b <= upto)
        };
        while watermark < inner.next_seq && is_done(&inner, watermark) {
            watermark += 1;
        }
        let done: Vec<u64> = inner
            .assigned
            .range(watermark..)
            .filter(|(_, b)| **b <= upto)
            .map(|(s, _)| *s)
            .collect();
        inner.watermarks.insert(upto, watermark);
        Some(WalCheckpoint { watermark, done })
    }

    /// The commit of batch `oldest` is the oldest kept: segments whose blocks are all below its
    /// watermark go.
    pub(crate) fn committed(&self, oldest: Time) {
        let mut inner = self.lock();
        let Some(&watermark) = inner.watermarks.get(&oldest.as_millis()) else {
            return;
        };
        let older: Vec<u64> = inner
            .watermarks
            .range(..oldest.as_millis())
            .map(|(t, _)| *t)
            .collect();
        for t in older {
            inner.watermarks.remove(&t);
        }
        // A segment's blocks end where the next segment begins; the newest one is being written.
        let firsts: Vec<u64> = inner.segments.keys().copied().collect();
        for pair in firsts.windows(2) {
            let (first, next) = (pair[0], pair[1]);
            if next <= watermark
                && let Some(path) = inner.segments.remove(&first)
                && let Err(e) = fs::remove_file(&path)
            {
                tracing::warn!(
                    "could not delete write-ahead log segment {}: {e}",
                    path.display()
                );
            }
        }
        let keep_from = inner.segments.keys().next().copied().unwrap_or(watermark);
        inner.assigned = inner.assigned.split_off(&keep_from);
        inner.voided = inner.voided.split_off(&keep_from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_what_no_commit_covers_and_survives_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("receivedData");
        let (log, replay) = WriteAheadLog::open(path.clone(), None).unwrap();
        assert!(replay.is_empty());
        for i in 0..5u8 {
            assert_eq!(log.append(&[i; 3]).unwrap(), i as u64);
        }
        log.void(4);
        // Blocks 0, 2 went into batch 1000, block 1 into 2000, block 3 not taken yet.
        log.assign(0, Time::from_millis(1000));
        log.assign(2, Time::from_millis(1000));
        log.assign(1, Time::from_millis(2000));
        let ck = log.checkpoint(Time::from_millis(1000)).unwrap();
        assert_eq!(
            ck,
            WalCheckpoint {
                watermark: 1,
                done: vec![2]
            }
        );
        drop(log);

        // A crash tore the last record.
        let seg = path.join(segment_name(0));
        let mut bytes = fs::read(&seg).unwrap();
        bytes.extend_from_slice(&[DATA, 9, 9]);
        fs::write(&seg, &bytes).unwrap();

        let (log, replay) = WriteAheadLog::open(path.clone(), Some(&ck)).unwrap();
        let seqs: Vec<u64> = replay.iter().map(|r| r.0).collect();
        assert_eq!(
            seqs,
            [1, 3],
            "block 1 (batch after the commit) and 3 (never taken)"
        );
        assert_eq!(replay[0].1, vec![1u8; 3]);
        // New blocks continue the numbering.
        assert_eq!(log.append(b"new").unwrap(), 5);
    }

    #[test]
    fn segments_fully_done_by_the_oldest_kept_commit_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (log, _) = WriteAheadLog::open(path.clone(), None).unwrap();
        log.append(b"a").unwrap();
        // Force a second segment.
        log.lock().current_bytes = SEGMENT_BYTES;
        log.append(b"b").unwrap();
        log.assign(0, Time::from_millis(1000));
        log.checkpoint(Time::from_millis(1000)).unwrap();
        log.committed(Time::from_millis(1000));
        let names: Vec<String> = fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [segment_name(1)]);
    }
}
