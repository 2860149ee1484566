//! [`KeyedState`]: a value per key, on the worker that owns the key's partition.
//!
//! The stateful operators that look keys up one by one keep them here: `map_with_state` its
//! states, `reduce_by_key_and_window_inv` its window values. (`update_state_by_key`, which visits
//! every key in every batch, keeps them in an [`OrderedState`](super::OrderedState).) A key lives on the worker of its
//! partition (stable hash modulo the partition count, [`Placement`]), where the operator's
//! records of that key are routed; it is never moved, except through a checkpoint restored by a
//! different number of workers, when each worker keeps the restored keys it owns now.
//!
//! The table remembers each key's hash, so that output comes in a stable order (partition, then
//! hash: the same whatever the arrival order or the number of workers), and, when changes are
//! written, which keys changed since the last write.

use crate::checkpoint::WriteKind;
use crate::data::{Data, Key};
use crate::placement::Placement;
use crate::state::table::{EntrySink, Owner, Table, TableError};
use crate::state::{FastMap, FastSet};
use crate::time::Time;

/// A key's value, with its stable hash.
struct Slot<S> {
    hash: u64,
    value: S,
}

/// A value per key for the keys a worker owns.
pub(crate) struct KeyedState<K, S> {
    worker: usize,
    placement: Placement,
    slots: FastMap<K, Slot<S>>,
    /// Keys inserted or removed since the last write; `None` when changes are not written.
    changed: Option<FastSet<K>>,
}

impl<K: Key, S: Data> KeyedState<K, S> {
    /// An empty table for `owner`, over `partitions` partitions.
    pub(crate) fn new(owner: Owner, partitions: usize) -> Self {
        KeyedState {
            worker: owner.worker,
            placement: Placement::new(owner.workers, partitions),
            slots: FastMap::default(),
            changed: owner.checkpointed.then(FastSet::default),
        }
    }

    /// `key`'s stable hash if this worker owns the key.
    pub(crate) fn owned_hash(&self, key: &K) -> Option<u64> {
        self.placement.owned_hash(self.worker, key)
    }

    /// The entries whose keys this worker owns, with their keys' hashes (e.g. of an initial
    /// state given to every worker).
    pub(crate) fn owned<V>(&self, entries: Vec<(K, V)>) -> Vec<(u64, K, V)> {
        self.placement.owned(self.worker, entries)
    }

    /// `key`'s value.
    pub(crate) fn get(&self, key: &K) -> Option<&S> {
        self.slots.get(key).map(|slot| &slot.value)
    }

    /// `key`'s stable hash and value.
    pub(crate) fn get_hashed(&self, key: &K) -> Option<(u64, &S)> {
        self.slots.get(key).map(|slot| (slot.hash, &slot.value))
    }

    /// Every key with its hash and value, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, u64, &S)> {
        self.slots
            .iter()
            .map(|(k, slot)| (k, slot.hash, &slot.value))
    }

    /// Sets `key`'s value, `hash` being the key's stable hash (known from an earlier
    /// [`remove`](Self::remove) or [`owned`](Self::owned)).
    pub(crate) fn insert_hashed(&mut self, key: K, hash: u64, value: S) {
        self.note_change(&key);
        self.slots.insert(key, Slot { hash, value });
    }

    /// Removes `key`; its hash and value, if it had one.
    pub(crate) fn remove(&mut self, key: &K) -> Option<(u64, S)> {
        let slot = self.slots.remove(key)?;
        self.note_change(key);
        Some((slot.hash, slot.value))
    }

    /// Appends `f(key, value)` for every key to `out`, tagged with the key's partition, in the
    /// stable order: by partition, then by the key's hash.
    pub(crate) fn emit<T>(&self, out: &mut Vec<(u32, T)>, mut f: impl FnMut(&K, &S) -> T) {
        let mut rows: Vec<(u32, u64, &K, &S)> = self
            .slots
            .iter()
            .map(|(k, slot)| {
                let partition = self.placement.partition_of_hash(slot.hash);
                (partition, slot.hash, k, &slot.value)
            })
            .collect();
        rows.sort_unstable_by_key(|r| (r.0, r.1));
        out.reserve(rows.len());
        out.extend(rows.into_iter().map(|(p, _, k, s)| (p, f(k, s))));
    }

    /// `key`'s partition, from its hash.
    pub(crate) fn partition_of_hash(&self, hash: u64) -> u32 {
        self.placement.partition_of_hash(hash)
    }

    fn note_change(&mut self, key: &K) {
        if let Some(changed) = &mut self.changed
            && !changed.contains(key)
        {
            changed.insert(key.clone());
        }
    }
}

impl<K: Key, S: Data> Table for KeyedState<K, S> {
    type Key = K;
    type Value = S;

    fn restore(&mut self, key: K, value: Option<S>) -> Result<(), TableError> {
        // A restored key is not a change: the run's first write is a full one anyway.
        if let Some(hash) = self.owned_hash(&key) {
            match value {
                Some(value) => {
                    self.slots.insert(key, Slot { hash, value });
                }
                None => {
                    self.slots.remove(&key);
                }
            }
        }
        Ok(())
    }

    fn full_writes_only(&self) -> bool {
        self.changed.is_none()
    }

    fn entries(&self) -> u64 {
        self.slots.len() as u64
    }

    fn write(&self, kind: WriteKind, out: &mut EntrySink<'_>) {
        match (kind, &self.changed) {
            (WriteKind::Delta, Some(changed)) => {
                for k in changed {
                    out.push(k, self.get(k));
                }
            }
            _ => {
                for (k, slot) in &self.slots {
                    out.push(k, Some(&slot.value));
                }
            }
        }
    }

    fn written(&mut self, _time: Time) {
        if let Some(changed) = &mut self.changed {
            changed.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::state_files::decode;
    use crate::state::table::test_support::{owner, write_entries};

    /// The entries a write of `kind` holds, sorted.
    fn written(table: &KeyedState<String, u64>, kind: WriteKind) -> Vec<(String, Option<u64>)> {
        let entries = write_entries(table, kind);
        let mut out = Vec::new();
        decode::<String, u64, std::convert::Infallible>(entries.bytes(), |k, v| {
            out.push((k, v));
            Ok(())
        })
        .unwrap();
        out.sort();
        out
    }

    #[test]
    fn deltas_hold_only_the_changed_keys() {
        let mut t = KeyedState::<String, u64>::new(owner(0, 1), 4);
        t.insert_hashed("a".into(), 1, 1);
        t.insert_hashed("b".into(), 2, 2);
        t.written(Time::from_millis(1000));
        assert!(written(&t, WriteKind::Delta).is_empty());
        t.insert_hashed("a".into(), 1, 10);
        t.remove(&"b".into());
        assert_eq!(t.remove(&"nothing".into()), None);
        assert_eq!(
            written(&t, WriteKind::Delta),
            [("a".into(), Some(10)), ("b".into(), None)]
        );
        assert_eq!(written(&t, WriteKind::Full), [("a".into(), Some(10))]);
        // Tables of a run without checkpoints track nothing.
        let untracked = Owner {
            checkpointed: false,
            ..owner(0, 1)
        };
        let mut full = KeyedState::<String, u64>::new(untracked, 4);
        full.insert_hashed("a".into(), 1, 1);
        assert!(full.full_writes_only() && full.changed.is_none());
    }

    #[test]
    fn restore_keeps_the_owned_keys_and_emits_in_hash_order() {
        let keys: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
        let mut tables: Vec<KeyedState<String, u64>> =
            (0..3).map(|w| KeyedState::new(owner(w, 3), 5)).collect();
        for table in &mut tables {
            for (i, k) in keys.iter().enumerate() {
                table.restore(k.clone(), Some(i as u64)).unwrap();
            }
            table.restore("k0".into(), None).unwrap();
            // Restoring is not a change.
            assert!(table.changed.as_ref().unwrap().is_empty());
        }
        // Every key but the removed one, on exactly one worker.
        assert_eq!(tables.iter().map(|t| t.iter().count()).sum::<usize>(), 39);
        let placement = Placement::new(3, 5);
        for (w, table) in tables.iter().enumerate() {
            let mut out = Vec::new();
            table.emit(&mut out, |k, v| (k.clone(), *v));
            let order: Vec<(u32, u64)> = out
                .iter()
                .map(|(p, (k, _))| (*p, crate::hash::stable_hash(k)))
                .collect();
            assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
            assert!(out.iter().all(|(p, _)| placement.owns(w, *p)));
        }
    }
}
