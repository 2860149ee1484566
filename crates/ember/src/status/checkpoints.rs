//! The history of a run's checkpoints: for each checkpointed batch, when it was written, how
//! long the writing took, how many bytes, whether the state was written in full or as changes,
//! and whether it failed.
//!
//! Each worker reports the share of state it wrote (once per stateful stream and checkpoint),
//! then the driver reports the commit; a batch's entry is complete with the commit. The newest
//! entries are kept (as many as the retained batches), and counts over the whole run.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::checkpoint::WriteReport;
use crate::sync::RecoverPoison;

/// Whether a checkpoint wrote the whole state or the changes since the previous one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum CheckpointKind {
    /// Every stateful stream's whole state (and a checkpoint without state).
    Full,
    /// Only the changes.
    Delta,
}

impl CheckpointKind {
    /// The kind's name, as the UI and the metrics show it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            CheckpointKind::Full => "full",
            CheckpointKind::Delta => "delta",
        }
    }
}

/// One checkpointed batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CheckpointRecord {
    /// The batch (ms since the epoch, batch clock).
    pub(crate) batch_time: u64,
    /// When its first file was written (ms since the epoch, wall clock).
    pub(crate) start_time: u64,
    /// Time spent writing, summed over its files (the workers write their shares in parallel,
    /// so the batch waited at most this long for them).
    pub(crate) duration_ms: u64,
    /// Bytes written: the state shares and the commit record.
    pub(crate) bytes: u64,
    /// Full or changes.
    pub(crate) kind: CheckpointKind,
    /// Why it failed (the previous checkpoint stays the one a restart uses), if it did.
    pub(crate) error: Option<String>,
}

/// The counts and last figures over the whole run, for the metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CheckpointTotals {
    /// Checkpoints by kind and outcome (`true`: written).
    pub(crate) counts: BTreeMap<(CheckpointKind, bool), u64>,
    /// The last written checkpoint's duration and bytes.
    pub(crate) last: Option<(u64, u64)>,
}

#[derive(Default)]
struct History {
    /// Batches whose shares are being written, not committed yet.
    pending: BTreeMap<u64, CheckpointRecord>,
    done: VecDeque<CheckpointRecord>,
    totals: CheckpointTotals,
}

/// The checkpoints of a run.
pub(crate) struct CheckpointHistory {
    retained: usize,
    history: Mutex<History>,
}

fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl CheckpointRecord {
    /// The record of batch `batch_time`'s checkpoint, begun at `started`, before any file of it
    /// was written.
    fn begun(batch_time: u64, started: SystemTime) -> Self {
        CheckpointRecord {
            batch_time,
            start_time: epoch_ms(started),
            duration_ms: 0,
            bytes: 0,
            kind: CheckpointKind::Full,
            error: None,
        }
    }
}

impl CheckpointHistory {
    /// Keeps the newest `retained` checkpoints.
    pub(crate) fn new(retained: usize) -> Self {
        CheckpointHistory {
            retained: retained.max(1),
            history: Mutex::new(History::default()),
        }
    }

    fn pending(h: &mut History, batch_time: u64, started: SystemTime) -> &mut CheckpointRecord {
        h.pending
            .entry(batch_time)
            .or_insert_with(|| CheckpointRecord::begun(batch_time, started))
    }

    /// The retained checkpoints, newest first.
    pub(crate) fn records(&self) -> Vec<CheckpointRecord> {
        self.history.lock().recover().done.iter().cloned().collect()
    }

    /// Counts and last figures over the run.
    pub(crate) fn totals(&self) -> CheckpointTotals {
        self.history.lock().recover().totals.clone()
    }
}

impl WriteReport for CheckpointHistory {
    /// A worker wrote (`Ok` with the bytes) or failed to write its share of a stream's state
    /// for batch `batch_time`; the writing started at `started` and took `took`.
    fn share(
        &self,
        batch_time: u64,
        full: bool,
        started: SystemTime,
        took: Duration,
        outcome: Result<u64, String>,
    ) {
        let mut h = self.history.lock().recover();
        let record = Self::pending(&mut h, batch_time, started);
        record.start_time = record.start_time.min(epoch_ms(started));
        record.duration_ms += took.as_millis() as u64;
        if !full {
            record.kind = CheckpointKind::Delta;
        }
        match outcome {
            Ok(bytes) => record.bytes += bytes,
            Err(e) => {
                record.error.get_or_insert(e);
            }
        }
    }

    /// The driver committed batch `batch_time` (`Ok` with the commit record's bytes), or did not
    /// (why); the commit started at `started` and took `took`.
    fn commit(
        &self,
        batch_time: u64,
        started: SystemTime,
        took: Duration,
        outcome: Result<u64, String>,
    ) {
        let mut h = self.history.lock().recover();
        let mut record = h
            .pending
            .remove(&batch_time)
            .unwrap_or_else(|| CheckpointRecord::begun(batch_time, started));
        record.duration_ms += took.as_millis() as u64;
        match outcome {
            Ok(bytes) => record.bytes += bytes,
            Err(e) => {
                record.error.get_or_insert(e);
            }
        }
        // Shares of earlier batches that were never committed (a failed share stops the commit
        // of its batch) are not checkpoints.
        h.pending.retain(|t, _| *t > batch_time);
        let ok = record.error.is_none();
        *h.totals.counts.entry((record.kind, ok)).or_default() += 1;
        if ok {
            h.totals.last = Some((record.duration_ms, record.bytes));
        }
        h.done.push_front(record);
        h.done.truncate(self.retained);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_the_commit_make_one_entry_newest_first() {
        let h = CheckpointHistory::new(2);
        let t0 = UNIX_EPOCH + Duration::from_millis(5_000);
        let ms = Duration::from_millis;
        h.share(1000, true, t0, ms(3), Ok(100));
        h.share(1000, true, t0 + ms(1), ms(4), Ok(50));
        h.commit(1000, t0 + ms(10), ms(1), Ok(20));
        h.share(2000, false, t0, ms(2), Ok(10));
        h.share(2000, false, t0, ms(2), Err("disk full".into()));
        h.commit(2000, t0, ms(0), Err("a share was not written".into()));
        h.commit(3000, t0, ms(1), Ok(20));
        let records = h.records();
        assert_eq!(records.len(), 2, "retains 2");
        assert_eq!(records[1].batch_time, 2000);
        assert_eq!(records[1].kind, CheckpointKind::Delta);
        assert_eq!(records[1].error.as_deref(), Some("disk full"));
        assert_eq!((records[0].batch_time, records[0].bytes), (3000, 20));
        let totals = h.totals();
        assert_eq!(totals.counts[&(CheckpointKind::Full, true)], 2);
        assert_eq!(totals.counts[&(CheckpointKind::Delta, false)], 1);
        assert_eq!(totals.last, Some((1, 20)));
        // The first one, before it fell out: 170 bytes in 8 ms, from 5 s on.
        let h = CheckpointHistory::new(5);
        h.share(1000, true, t0, ms(3), Ok(100));
        h.share(1000, true, t0 + ms(1), ms(4), Ok(50));
        h.commit(1000, t0 + ms(10), ms(1), Ok(20));
        let r = &h.records()[0];
        assert_eq!((r.start_time, r.duration_ms, r.bytes), (5_000, 8, 170));
    }
}
