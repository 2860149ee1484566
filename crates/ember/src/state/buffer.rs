//! [`BatchBuffer`]: past batches a window operator still needs, per batch time and partition.
//!
//! `window` keeps its parent's records and `reduce_by_key_and_window_inv` its per-batch reduced
//! values until no coming window covers them. A buffered batch is held as *parts*, one per
//! partition, on the worker of each part's partition. Checkpoints write each part as an entry
//! keyed by `(batch ms, partition)`: every part in a full write; in a delta, the parts of batches
//! added since the last write, and the parts dropped since then as removals.
//!
//! On restore, a part is kept whole by the worker of its partition ([`Regroup::ByPartition`]:
//! a window's partitions are its parent's; a part written under more partitions joins the one it
//! wraps onto, `Placement::fold`), or its records are placed again by key
//! ([`Regroup::ByKey`]: the reduced values' partition count may differ from the writer's).

use std::collections::BTreeMap;
use std::ops::RangeBounds;

use crate::checkpoint::WriteKind;
use crate::data::{Data, Key};
use crate::hash::stable_hash;
use crate::placement::Placement;
use crate::state::table::{EntrySink, Owner, Table, TableError};
use crate::time::Time;

/// A batch's records on one worker: partition → records, in arrival order.
pub(crate) type Parts<R> = BTreeMap<u32, Vec<R>>;

/// How restored parts find their worker.
enum Regroup<R> {
    /// A part stays whole, in the partition it was written under.
    ByPartition,
    /// Each record goes to the partition of its key, whose stable hash this gives.
    ByKey(fn(&R) -> u64),
}

/// Past batches, by batch time (ms), as parts per partition.
pub(crate) struct BatchBuffer<R> {
    worker: usize,
    placement: Placement,
    regroup: Regroup<R>,
    batches: BTreeMap<u64, Parts<R>>,
    /// Every batch up to this time (ms) that is still buffered is on disk already.
    written_upto: Option<u64>,
    /// Parts that were on disk and have been dropped since: written as removed.
    dropped: Vec<(u64, u32)>,
    /// While restoring by key: the kept records of each part as written, with their new
    /// partitions (a later write may remove the part as written).
    staged: BTreeMap<(u64, u32), Vec<(u32, R)>>,
}

impl<R: Data> BatchBuffer<R> {
    /// An empty buffer for `owner` whose parts keep their partitions on restore (over
    /// `partitions` partitions).
    pub(crate) fn by_partition(owner: Owner, partitions: usize) -> Self {
        Self::with(owner, partitions, Regroup::ByPartition)
    }

    fn with(owner: Owner, partitions: usize, regroup: Regroup<R>) -> Self {
        BatchBuffer {
            worker: owner.worker,
            placement: Placement::new(owner.workers, partitions),
            regroup,
            batches: BTreeMap::new(),
            written_upto: None,
            dropped: Vec::new(),
            staged: BTreeMap::new(),
        }
    }

    /// Buffers batch `batch`'s parts.
    pub(crate) fn insert(&mut self, batch: u64, parts: Parts<R>) {
        self.batches.insert(batch, parts);
    }

    /// The buffered batches in `range`, oldest first.
    pub(crate) fn range(
        &self,
        range: impl RangeBounds<u64>,
    ) -> std::collections::btree_map::Range<'_, u64, Parts<R>> {
        self.batches.range(range)
    }

    /// Batch `batch`'s parts, to change them in place (only before the batch is dropped: a
    /// written batch is not written again).
    pub(crate) fn get_mut(&mut self, batch: u64) -> Option<&mut Parts<R>> {
        self.batches.get_mut(&batch)
    }

    /// Takes the oldest batch out if its time is at most `last`.
    pub(crate) fn pop_through(&mut self, last: u64) -> Option<(u64, Parts<R>)> {
        let entry = self.batches.first_entry()?;
        if *entry.key() > last {
            return None;
        }
        let (batch, parts) = entry.remove_entry();
        // A batch never written needs no removal: no write on disk has it.
        if self.written_upto.is_some_and(|w| batch <= w) {
            self.dropped.extend(parts.keys().map(|p| (batch, *p)));
        }
        Some((batch, parts))
    }
}

impl<K: Key, V: Data> BatchBuffer<(K, V)> {
    /// An empty buffer for `owner` of keyed records, placed by key on restore over `partitions`
    /// partitions.
    pub(crate) fn by_key(owner: Owner, partitions: usize) -> Self {
        Self::with(owner, partitions, Regroup::ByKey(|(k, _)| stable_hash(k)))
    }
}

impl<R: Data> Table for BatchBuffer<R> {
    type Key = (u64, u32);
    type Value = Vec<R>;

    fn entries(&self) -> u64 {
        // A buffer holds a few batches of a window: counting their parts is no scan.
        self.batches.values().map(|parts| parts.len() as u64).sum()
    }

    fn restore(
        &mut self,
        (batch, partition): (u64, u32),
        records: Option<Vec<R>>,
    ) -> Result<(), TableError> {
        match &self.regroup {
            Regroup::ByPartition => {
                // Written under more partitions (a larger `spark.default.parallelism`): the part
                // joins the partition it wraps onto, after what that partition holds already.
                let folded = self.placement.fold(partition);
                if !self.placement.owns(self.worker, folded) {
                    return Ok(());
                }
                match records {
                    Some(records) if folded != partition => {
                        self.batches
                            .entry(batch)
                            .or_default()
                            .entry(folded)
                            .or_default()
                            .extend(records);
                    }
                    Some(records) => {
                        self.batches
                            .entry(batch)
                            .or_default()
                            .insert(partition, records);
                    }
                    None => {
                        // Parts go whole batches at a time: the merged part goes with its batch.
                        if let Some(parts) = self.batches.get_mut(&batch) {
                            parts.remove(&folded);
                            if parts.is_empty() {
                                self.batches.remove(&batch);
                            }
                        }
                    }
                }
            }
            Regroup::ByKey(hash) => match records {
                Some(records) => {
                    let kept = records
                        .into_iter()
                        .filter_map(|r| {
                            let p = self.placement.partition_of_hash(hash(&r));
                            self.placement.owns(self.worker, p).then_some((p, r))
                        })
                        .collect();
                    self.staged.insert((batch, partition), kept);
                }
                None => {
                    self.staged.remove(&(batch, partition));
                }
            },
        }
        Ok(())
    }

    fn finish_restore(&mut self) {
        for ((batch, _), records) in std::mem::take(&mut self.staged) {
            for (p, r) in records {
                self.batches
                    .entry(batch)
                    .or_default()
                    .entry(p)
                    .or_default()
                    .push(r);
            }
        }
    }

    fn write(&self, kind: WriteKind, out: &mut EntrySink<'_>) {
        let added_after = match kind {
            WriteKind::Full => None,
            WriteKind::Delta => {
                for key in &self.dropped {
                    out.push::<_, Vec<R>>(key, None);
                }
                self.written_upto
            }
        };
        let from = added_after.map_or(0, |w| w + 1);
        for (batch, parts) in self.batches.range(from..) {
            for (p, records) in parts {
                out.push(&(*batch, *p), Some(records));
            }
        }
    }

    fn written(&mut self, time: Time) {
        self.written_upto = Some(time.as_millis());
        self.dropped.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Entries;
    use crate::checkpoint::state_files::decode;
    use crate::state::table::test_support::{owner, write_entries};

    fn restore<R: Data>(b: &mut BatchBuffer<R>, writes: &[&Entries]) {
        for e in writes {
            decode(e.bytes(), |k, v| b.restore(k, v)).unwrap();
        }
        b.finish_restore();
    }

    fn parts<R: Data>(b: &BatchBuffer<R>) -> Vec<(u64, u32, Vec<R>)> {
        b.range(..)
            .flat_map(|(t, parts)| parts.iter().map(|(p, r)| (*t, *p, r.clone())))
            .collect()
    }

    #[test]
    fn deltas_add_new_batches_and_remove_dropped_ones() {
        let mut b = BatchBuffer::<u8>::by_partition(owner(0, 1), 2);
        b.insert(1000, [(0, vec![1]), (1, vec![2])].into());
        let full = write_entries(&b, WriteKind::Full);
        b.written(Time::from_millis(1000));
        b.insert(2000, [(1, vec![3])].into());
        assert_eq!(b.pop_through(1000).map(|(t, _)| t), Some(1000));
        assert_eq!(b.pop_through(1000), None);
        let delta = write_entries(&b, WriteKind::Delta);
        b.written(Time::from_millis(2000));
        assert!(write_entries(&b, WriteKind::Delta).len() == 0);

        // Two workers restore the chain, each keeping the parts of its partitions.
        let mut w0 = BatchBuffer::<u8>::by_partition(owner(0, 2), 2);
        let mut w1 = BatchBuffer::<u8>::by_partition(owner(1, 2), 2);
        restore(&mut w0, &[&full, &delta]);
        restore(&mut w1, &[&full, &delta]);
        assert!(parts(&w0).is_empty());
        assert_eq!(parts(&w1), [(2000, 1, vec![3])]);
    }

    #[test]
    fn keyed_records_are_placed_again_by_key() {
        let rows: Vec<(String, u64)> = (0..30).map(|i| (format!("k{i}"), i)).collect();
        // Written by one worker with one partition, removed partly by a later delta.
        let mut b = BatchBuffer::<(String, u64)>::by_key(owner(0, 1), 1);
        b.insert(1000, [(0, rows.clone())].into());
        b.insert(2000, [(0, rows[..3].to_vec())].into());
        let full = write_entries(&b, WriteKind::Full);
        b.written(Time::from_millis(2000));
        b.pop_through(1000);
        let delta = write_entries(&b, WriteKind::Delta);

        let placement = Placement::new(2, 3);
        let mut restored = Vec::new();
        for w in 0..2 {
            let mut r = BatchBuffer::<(String, u64)>::by_key(owner(w, 2), 3);
            restore(&mut r, &[&full, &delta]);
            for (t, p, records) in parts(&r) {
                assert_eq!(t, 2000);
                assert!(placement.owns(w, p));
                for (k, v) in records {
                    assert_eq!(crate::hash::partition_of(&k, 3) as u32, p);
                    restored.push((k, v));
                }
            }
        }
        restored.sort();
        let mut expected = rows[..3].to_vec();
        expected.sort();
        assert_eq!(restored, expected);
    }
}
