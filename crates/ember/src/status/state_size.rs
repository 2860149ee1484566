//! How big each stateful stream's state is: its entries (keys of keyed state; for a window's
//! buffered batches, the blocks of records it holds) and an estimate of its bytes.
//!
//! Each worker reports its tables' entry count once per batch (an atomic store; a table knows
//! its count without a scan). Bytes are not measured on the hot path: a full checkpoint write
//! encodes the whole state anyway, so its size per entry is remembered and the estimate is the
//! entry count times it. Before any full write (or without a checkpoint directory) the estimate
//! is the entries' in-memory fixed size (`size_of` of key and value), which leaves out what they
//! hold on the heap.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::sync::RecoverPoison;

/// One worker's share of one stateful stream.
pub(crate) struct StateShare {
    entries: AtomicU64,
    /// Bytes and entries of the last full write, 0 before one.
    written_bytes: AtomicU64,
    written_entries: AtomicU64,
    /// In-memory fixed size of one entry.
    entry_size: u64,
}

impl StateShare {
    /// The worker's tables hold `n` entries now.
    pub(crate) fn set_entries(&self, n: u64) {
        self.entries.store(n, Ordering::Relaxed);
    }

    /// A full write of `entries` entries took `bytes` bytes encoded.
    pub(crate) fn full_write(&self, entries: u64, bytes: u64) {
        self.written_entries.store(entries, Ordering::Relaxed);
        self.written_bytes.store(bytes, Ordering::Relaxed);
    }

    fn entries(&self) -> u64 {
        self.entries.load(Ordering::Relaxed)
    }

    fn bytes(&self) -> u64 {
        let entries = self.entries();
        let (bytes, written) = (
            self.written_bytes.load(Ordering::Relaxed),
            self.written_entries.load(Ordering::Relaxed),
        );
        if written > 0 {
            ((entries as u128 * bytes as u128) / written as u128) as u64
        } else {
            entries.saturating_mul(self.entry_size)
        }
    }
}

/// One stateful stream's size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StateSize {
    /// The stream's id.
    pub(crate) stream: usize,
    /// Its operation, e.g. `update_state_by_key`.
    pub(crate) name: String,
    /// Entries over the workers of this process.
    pub(crate) keys: u64,
    /// Estimated bytes over the workers of this process.
    pub(crate) bytes: u64,
}

#[derive(Default)]
struct Stream {
    name: String,
    shares: BTreeMap<usize, Arc<StateShare>>,
}

/// The stateful streams of a context.
#[derive(Default)]
pub(crate) struct StateSizes {
    streams: Mutex<BTreeMap<usize, Stream>>,
}

impl StateSizes {
    /// Names stateful stream `stream` (at start, so that it is listed before its first batch).
    pub(crate) fn declare(&self, stream: usize, name: &str) {
        self.streams
            .lock()
            .recover()
            .entry(stream)
            .or_default()
            .name = name.to_owned();
    }

    /// Worker `worker`'s share of stream `stream`, whose entries take `entry_size` bytes in
    /// memory (without their heap parts). Called once per worker when it builds the stream.
    pub(crate) fn share(&self, stream: usize, worker: usize, entry_size: usize) -> Arc<StateShare> {
        let share = Arc::new(StateShare {
            entries: AtomicU64::new(0),
            written_bytes: AtomicU64::new(0),
            written_entries: AtomicU64::new(0),
            entry_size: entry_size as u64,
        });
        self.streams
            .lock()
            .recover()
            .entry(stream)
            .or_default()
            .shares
            .insert(worker, share.clone());
        share
    }

    /// Every stateful stream's size, by stream id.
    pub(crate) fn sizes(&self) -> Vec<StateSize> {
        self.streams
            .lock()
            .recover()
            .iter()
            .map(|(id, s)| StateSize {
                stream: *id,
                name: s.name.clone(),
                keys: s.shares.values().map(|w| w.entries()).sum(),
                bytes: s.shares.values().map(|w| w.bytes()).sum(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_scale_with_the_entries_after_a_full_write() {
        let sizes = StateSizes::default();
        sizes.declare(3, "update_state_by_key");
        let (a, b) = (sizes.share(3, 0, 16), sizes.share(3, 1, 16));
        a.set_entries(10);
        b.set_entries(5);
        // Before a full write: the fixed in-memory size.
        assert_eq!(sizes.sizes()[0].bytes, 15 * 16);
        a.full_write(10, 400);
        a.set_entries(20);
        let size = &sizes.sizes()[0];
        assert_eq!(
            (size.keys, size.bytes, size.name.as_str()),
            (25, 800 + 5 * 16, "update_state_by_key")
        );
    }
}
