//! [`Table`]: one part of a stateful stream's state on a worker, as checkpoints see it.
//!
//! A stateful operator declares its tables (a [`KeyedState`](super::KeyedState), a
//! [`BatchBuffer`](super::BatchBuffer), or a pair of them) and works on them through their typed
//! methods; writing them at checkpoint times and restoring them is done for it
//! ([`Checkpointed`](super::Checkpointed)), with this trait. A table's entries are `(key,
//! Option<value>)` pairs, `None` meaning the key was removed; a pair of tables writes both into
//! the same share, each entry tagged with its table.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};

use crate::checkpoint::{Entries, WriteKind};
use crate::time::Time;

/// Which worker a table is made for, and whether its changes are checkpointed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Owner {
    /// The worker's index over all processes.
    pub(crate) worker: usize,
    /// Workers over all processes.
    pub(crate) workers: usize,
    /// Whether the run has a checkpoint directory (a table tracks its changes only then).
    pub(crate) checkpointed: bool,
}

/// Why a table refused a restored entry.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TableError {
    /// A pair of tables got a key of one and a value of the other: the file was written by a
    /// program whose tables differ.
    #[error("an entry's key and value belong to different tables")]
    MixedTables,
}

/// Part of a stateful stream's per-worker state that checkpoints write and restore.
pub(crate) trait Table: Send + 'static {
    /// The key of an entry as written.
    type Key: DeserializeOwned;
    /// The value of an entry as written.
    type Value: DeserializeOwned;

    /// Applies one restored entry, in write order: the key's value, or `None` where the write
    /// removed it. Entries of keys another worker owns now are left out. An error means the
    /// entry does not fit the table.
    fn restore(&mut self, key: Self::Key, value: Option<Self::Value>) -> Result<(), TableError>;

    /// Called after the last restored entry.
    fn finish_restore(&mut self) {}

    /// How many entries a full write would push now, counted without a scan (the web UI shows
    /// it once per batch as the stream's state size).
    fn entries(&self) -> u64;

    /// Whether every write must be a full one (the table does not know its changes).
    fn full_writes_only(&self) -> bool {
        false
    }

    /// Pushes the entries of a write: every entry (`Full`), or those changed since the last
    /// written one (`Delta`, removals as `None`).
    fn write(&self, kind: WriteKind, out: &mut EntrySink<'_>);

    /// The entries of a full write, to be pushed later by the checkpoint writer's thread, for a
    /// table that can share them (copy on write) instead of encoding them now; `None` (the
    /// default) has the write encoded at once with [`write`](Self::write).
    fn full_snapshot(&self) -> Option<Snapshot> {
        None
    }

    /// The write of batch `time` is on disk: the changes up to it need not be written again.
    fn written(&mut self, time: Time);
}

/// A table's entries as of one batch, pushed when called (see [`Table::full_snapshot`]).
pub(crate) type Snapshot = Box<dyn FnOnce(&mut EntrySink<'_>) + Send>;

/// Where a table pushes the entries of a write.
pub(crate) struct EntrySink<'a> {
    entries: &'a mut Entries,
    /// The table's index within a pair of tables, written before its keys and values.
    tag: Option<u32>,
}

impl<'a> EntrySink<'a> {
    /// A sink writing untagged entries into `entries`.
    pub(crate) fn new(entries: &'a mut Entries) -> Self {
        EntrySink { entries, tag: None }
    }

    /// A sink for table `tag` of a pair: its keys and values are written as [`Either`]'s
    /// variant `tag`.
    fn tagged(&mut self, tag: u32) -> EntrySink<'_> {
        debug_assert!(self.tag.is_none(), "pairs of tables do not nest");
        EntrySink {
            entries: self.entries,
            tag: Some(tag),
        }
    }

    /// Adds `key` with its value, or as removed when `value` is `None`.
    pub(crate) fn push<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key: &K,
        value: Option<&V>,
    ) {
        match self.tag {
            None => self.entries.push(key, value),
            Some(tag) => self
                .entries
                .push(&Variant(tag, key), value.map(|v| Variant(tag, v)).as_ref()),
        }
    }
}

/// The key or value of an entry of a pair of tables: of the first table or of the second.
#[derive(Serialize, Deserialize)]
pub(crate) enum Either<A, B> {
    First(A),
    Second(B),
}

/// A borrowed value written as variant `.0` of [`Either`] (the same bytes, without a clone).
struct Variant<'a, T: ?Sized>(u32, &'a T);

impl<T: Serialize + ?Sized> Serialize for Variant<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let name = if self.0 == 0 { "First" } else { "Second" };
        s.serialize_newtype_variant("Either", self.0, name, self.1)
    }
}

/// Two tables in one share, e.g. a window's values and the batches it still needs.
impl<A: Table, B: Table> Table for (A, B) {
    type Key = Either<A::Key, B::Key>;
    type Value = Either<A::Value, B::Value>;

    fn restore(&mut self, key: Self::Key, value: Option<Self::Value>) -> Result<(), TableError> {
        match (key, value) {
            (Either::First(k), None) => self.0.restore(k, None),
            (Either::First(k), Some(Either::First(v))) => self.0.restore(k, Some(v)),
            (Either::Second(k), None) => self.1.restore(k, None),
            (Either::Second(k), Some(Either::Second(v))) => self.1.restore(k, Some(v)),
            _ => Err(TableError::MixedTables),
        }
    }

    fn finish_restore(&mut self) {
        self.0.finish_restore();
        self.1.finish_restore();
    }

    fn entries(&self) -> u64 {
        self.0.entries() + self.1.entries()
    }

    fn full_writes_only(&self) -> bool {
        self.0.full_writes_only() || self.1.full_writes_only()
    }

    fn write(&self, kind: WriteKind, out: &mut EntrySink<'_>) {
        self.0.write(kind, &mut out.tagged(0));
        self.1.write(kind, &mut out.tagged(1));
    }

    fn full_snapshot(&self) -> Option<Snapshot> {
        let (first, second) = (self.0.full_snapshot()?, self.1.full_snapshot()?);
        Some(Box::new(move |out: &mut EntrySink<'_>| {
            first(&mut out.tagged(0));
            second(&mut out.tagged(1));
        }))
    }

    fn written(&mut self, time: Time) {
        self.0.written(time);
        self.1.written(time);
    }
}

/// What the tests of every table need: an owner, and the entries a write pushes.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// Worker `worker` of `workers`, in a checkpointed run.
    pub(crate) fn owner(worker: usize, workers: usize) -> Owner {
        Owner {
            worker,
            workers,
            checkpointed: true,
        }
    }

    /// The entries a write of `kind` of `table` pushes.
    pub(crate) fn write_entries(table: &impl Table, kind: WriteKind) -> Entries {
        let mut entries = Entries::default();
        table.write(kind, &mut EntrySink::new(&mut entries));
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::state_files::decode;

    #[test]
    fn tagged_entries_decode_as_either() {
        let mut entries = Entries::default();
        let mut sink = EntrySink::new(&mut entries);
        sink.tagged(0).push("k", Some(&7u64));
        sink.tagged(1).push(&(1000u64, 2u32), None::<&Vec<u8>>);
        sink.tagged(1).push(&(2000u64, 0u32), Some(&vec![1u8, 2]));
        let mut seen = Vec::new();
        decode::<Either<String, (u64, u32)>, Either<u64, Vec<u8>>, std::convert::Infallible>(
            entries.bytes(),
            |k, v| {
                seen.push(match (k, v) {
                    (Either::First(k), Some(Either::First(v))) => format!("{k}={v}"),
                    (Either::Second(b), None) => format!("{b:?} removed"),
                    (Either::Second(b), Some(Either::Second(v))) => format!("{b:?}={v:?}"),
                    _ => "mismatch".into(),
                });
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(
            seen,
            ["k=7", "(1000, 2) removed", "(2000, 0)=[1, 2]"].map(String::from)
        );
    }

    #[test]
    fn tagged_entries_are_the_bytes_of_a_tag_enum() {
        // Checkpoints written before tables were paired tagged their entries with enums of
        // this shape; the pair's entries are the same bytes, so those checkpoints restore.
        #[derive(Serialize)]
        enum Tag<K> {
            Window(K),
            Batch(u64, u32),
        }
        #[derive(Serialize)]
        enum Held<V, R> {
            Window(V),
            Batch(R),
        }
        let rows = vec![("k".to_string(), 3u64)];
        let mut old = Entries::default();
        old.push(&Tag::Window("k"), Some(&Held::<u64, ()>::Window(7)));
        old.push(&Tag::<()>::Batch(1000, 2), None::<&Held<(), ()>>);
        old.push(
            &Tag::<()>::Batch(2000, 0),
            Some(&Held::<(), _>::Batch(&rows)),
        );
        let mut new = Entries::default();
        let mut sink = EntrySink::new(&mut new);
        sink.tagged(0).push("k", Some(&7u64));
        sink.tagged(1).push(&(1000u64, 2u32), None::<&()>);
        sink.tagged(1).push(&(2000u64, 0u32), Some(&rows));
        assert_eq!(old.bytes(), new.bytes());
    }
}
