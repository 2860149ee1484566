//! A stateful stream's declared tables and their checkpoints: [`Declared`] and [`Checkpointed`].
//!
//! An operator declares once how to make one worker's empty tables. The declaration gives the
//! stream graph a [`Restorer`] (so that `get_or_create` decodes a checkpoint
//! into tables of today's types before the start) and gives each worker, when it builds the
//! operator, its tables: the restored ones, or empty ones. The operator then works on them
//! through [`Checkpointed`], which writes this worker's share at checkpoint times. Operators see
//! typed tables only, never files or payloads.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::checkpoint::{Entries, Payload, ShareWriter, WriteKind};
use crate::dstream::node::WorkerInfo;
use crate::scheduler::Tick;
use crate::state::restore::{Restorer, restore};
use crate::state::table::{EntrySink, Owner, Table};
use crate::status::StateShare;

/// How a stateful stream makes one worker's empty tables.
pub(crate) struct Declared<T> {
    make: Arc<dyn Fn(Owner) -> T + Send + Sync>,
}

impl<T> Clone for Declared<T> {
    fn clone(&self) -> Self {
        Declared {
            make: self.make.clone(),
        }
    }
}

impl<T: Table> Declared<T> {
    /// Tables made by `make` for each worker.
    pub(crate) fn new(make: impl Fn(Owner) -> T + Send + Sync + 'static) -> Self {
        Declared {
            make: Arc::new(make),
        }
    }

    /// What restores these tables from a checkpoint (registered with the stream graph).
    pub(crate) fn restorer(&self) -> Restorer {
        let make = self.make.clone();
        Arc::new(move |node, restored, local| restore(node, restored, local, &*make))
    }

    /// Worker `w`'s tables: those restored for it, or empty ones.
    pub(crate) fn open(&self, w: &WorkerInfo) -> Checkpointed<T> {
        let restored = w
            .checkpoint
            .as_ref()
            .and_then(|ck| ck.restored(w.node))
            .and_then(|shares| shares.take::<T>(w.index));
        let was_restored = restored.is_some();
        let tables = restored.unwrap_or_else(|| {
            (self.make)(Owner {
                worker: w.index,
                workers: w.workers,
                checkpointed: w.checkpoint.is_some(),
            })
        });
        let size = w.status.as_ref().map(|status| {
            let entry = std::mem::size_of::<T::Key>() + std::mem::size_of::<T::Value>();
            status.state.share(w.node, w.index, entry)
        });
        Checkpointed {
            tables,
            writer: w
                .checkpoint
                .clone()
                .map(|ck| ShareWriter::new(ck, w.node, w.index, w.workers)),
            was_restored,
            size,
            sizes: [0; 2],
        }
    }
}

/// A worker's tables of a stateful stream, written at checkpoint times; they dereference to the
/// tables.
pub(crate) struct Checkpointed<T> {
    tables: T,
    writer: Option<ShareWriter>,
    was_restored: bool,
    /// Where the tables' size is reported, for the web UI.
    size: Option<Arc<StateShare>>,
    /// The sizes of the last full and delta writes.
    sizes: [usize; 2],
}

impl<T: Table> Checkpointed<T> {
    /// Whether the tables were restored from a checkpoint (else the stream starts afresh).
    pub(crate) fn was_restored(&self) -> bool {
        self.was_restored
    }

    /// Hands this worker's share to the checkpoint writer if `tick` is a checkpoint time: the
    /// changes since the last write, or everything when a full write is due (or the tables only
    /// write in full). The worker goes on at once: the writer writes the share, and a full write
    /// of tables that share their entries (copy on write) is even encoded there.
    pub(crate) fn checkpoint(&mut self, tick: &Tick) {
        if let Some(size) = &self.size {
            size.set_entries(self.tables.entries());
        }
        let Some(writer) = &mut self.writer else {
            return;
        };
        let Some(kind) = writer.due(tick.time, tick.zero, tick.last) else {
            return;
        };
        let kind = if self.tables.full_writes_only() {
            WriteKind::Full
        } else {
            kind
        };
        // A full write's size tells the web UI the bytes per entry (wherever it is encoded).
        let size = self.size.clone().filter(|_| kind == WriteKind::Full);
        let snapshot = match kind {
            WriteKind::Full => self.tables.full_snapshot(),
            WriteKind::Delta => None,
        };
        let payload = match snapshot {
            Some(snapshot) => Payload::Deferred(Box::new(move |entries: &mut Entries| {
                snapshot(&mut EntrySink::new(entries));
                if let Some(size) = size {
                    size.full_write(entries.len(), entries.encoded_len());
                }
            })),
            None => {
                // About the size of the previous such write, so that the buffer rarely grows.
                let hint = &mut self.sizes[usize::from(kind == WriteKind::Delta)];
                let mut entries = Entries::with_capacity(*hint + *hint / 8);
                self.tables.write(kind, &mut EntrySink::new(&mut entries));
                *hint = entries.byte_len();
                if let Some(size) = size {
                    size.full_write(entries.len(), entries.encoded_len());
                }
                Payload::Encoded(entries)
            }
        };
        writer.write(tick.time, kind, payload);
        self.tables.written(tick.time);
    }
}

impl<T> Deref for Checkpointed<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.tables
    }
}

impl<T> DerefMut for Checkpointed<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.tables
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::checkpoint::Checkpointing;
    use crate::checkpoint::state_files::read_chain;
    use crate::state::KeyedState;
    use crate::state::restore::{LocalWorkers, RestoreError};
    use crate::time::{Duration, Time};

    fn worker(index: usize, workers: usize, ck: Option<Arc<Checkpointing>>) -> WorkerInfo {
        WorkerInfo {
            index,
            workers,
            driver: index == 0,
            node: 7,
            checkpoint: ck,
            status: None,
        }
    }

    fn tick(ms: u64) -> Tick {
        Tick {
            time: Time::from_millis(ms),
            zero: Time::from_millis(0),
            last: false,
            no_rdd: Vec::new(),
        }
    }

    fn declared() -> Declared<KeyedState<String, u64>> {
        Declared::new(|owner| KeyedState::new(owner, 4))
    }

    fn checkpointing(
        dir: &std::path::Path,
        restored: HashMap<usize, Arc<crate::checkpoint::RestoredShares>>,
    ) -> Arc<Checkpointing> {
        Arc::new(Checkpointing::new(
            dir.to_path_buf(),
            Duration::seconds(1),
            restored,
            Default::default(),
        ))
    }

    #[test]
    fn shares_written_by_two_workers_restore_into_three_and_are_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
        // Two workers write their shares at batch 1000 (a full write: the first of the run).
        let ck = checkpointing(dir.path(), HashMap::new());
        for w in 0..2 {
            let mut tables = declared().open(&worker(w, 2, Some(ck.clone())));
            assert!(!tables.was_restored());
            for (i, k) in keys.iter().enumerate() {
                if let Some(hash) = tables.owned_hash(k) {
                    tables.insert_hashed(k.clone(), hash, i as u64);
                }
            }
            tables.checkpoint(&tick(1000));
        }
        // The checkpoint writer writes them in the background.
        ck.wait_written();

        // Three workers of one process restore them before the start.
        let restored = read_chain(dir.path(), 7, Time::from_millis(1000)).unwrap();
        assert_eq!(restored.files.len(), 2);
        let local = LocalWorkers {
            first: 0,
            count: 3,
            total: 3,
        };
        let shares = Arc::new(declared().restorer()(7, restored, &local).unwrap());
        assert!(!shares.all_taken());
        let ck = checkpointing(dir.path(), [(7, shares.clone())].into());
        let mut found = Vec::new();
        for w in 0..3 {
            let tables = declared().open(&worker(w, 3, Some(ck.clone())));
            assert!(tables.was_restored());
            found.extend(tables.iter().map(|(k, _, v)| (k.clone(), *v)));
        }
        found.sort_by_key(|(_, v)| *v);
        assert_eq!(found.len(), keys.len());
        assert!(
            found
                .iter()
                .enumerate()
                .all(|(i, (k, v))| *k == keys[i] && *v == i as u64)
        );
        // Every share was handed over: nothing restored stays behind the workers.
        assert!(shares.all_taken());
        // Each share is handed over once.
        assert!(!declared().open(&worker(0, 3, Some(ck))).was_restored());
    }

    #[test]
    fn a_share_of_another_state_type_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let ck = checkpointing(dir.path(), HashMap::new());
        let strings: Declared<KeyedState<String, String>> =
            Declared::new(|owner| KeyedState::new(owner, 1));
        let mut tables = strings.open(&worker(0, 1, Some(ck.clone())));
        tables.insert_hashed("a".into(), 1, "aaaa".into());
        tables.checkpoint(&tick(1000));
        ck.wait_written();

        let restored = read_chain(dir.path(), 7, Time::from_millis(1000)).unwrap();
        let local = LocalWorkers {
            first: 0,
            count: 1,
            total: 1,
        };
        let e = declared().restorer()(7, restored, &local).err().unwrap();
        assert!(
            matches!(&e, RestoreError::DoesNotFit { node: 7, path, .. } if path.ends_with("w0-of-1")),
            "{e}"
        );
        let text = e.to_string();
        assert!(
            text.contains("stream 7") && text.contains("w0-of-1"),
            "{text}"
        );
    }
}
