//! The per-batch map of a key-based aggregation: each key's partial value, updated in place.
//!
//! A combine spends most of its time in this map (one probe per record; BENCHMARKS.md, issue
//! 12), and a probe's cost is mostly waiting for the entry's memory, so the entry's size counts.
//! Values are therefore kept bare and updated by moving them out of the entry, through the
//! user's merge function, and back, rather than behind an `Option` that a merge takes and
//! refills: for the word count's `i64` that is 8 bytes less per entry (32 instead of 40, with a
//! 24-byte key), and about a tenth less CPU for the whole W1 pipeline.
//!
//! Moving a value out of a live entry needs care when the merge function panics (the panic is
//! caught by the operator and fails the batch, and the stream goes on): the entry then holds
//! the bits of a value the function consumed. The map notes that entry's key during the
//! unwinding and from then on never reads or drops its value; the key is left out of the
//! batch's result, as Spark leaves out what a failed task computed.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::mem::ManuallyDrop;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Each key's value for one batch. See the module docs for why values are updated in place.
pub(crate) struct CombineMap<K: Hash + Eq + Clone, V> {
    map: FastMap<K, V>,
    /// The key whose value a panicking merge consumed: its entry's value is stale.
    spent: Option<K>,
    /// Keys the map held when it was last taken whole ([`take`](Self::take)): the next batch's
    /// first new key sizes the map for as many at once, instead of growing it by doubling
    /// (each step a rehash of every entry into fresh, not yet touched memory: most of a word
    /// count's page faults; BENCHMARKS.md, "Scaling").
    last_len: usize,
}

impl<K: Hash + Eq + Clone, V> Default for CombineMap<K, V> {
    fn default() -> Self {
        CombineMap {
            map: FastMap::default(),
            spent: None,
            last_len: 0,
        }
    }
}

/// Notes `key` as spent unless forgotten: dropped only while unwinding out of a merge.
struct SpentOnUnwind<'a, K: Clone> {
    key: &'a K,
    spent: &'a mut Option<K>,
}

impl<K: Clone> Drop for SpentOnUnwind<'_, K> {
    fn drop(&mut self) {
        *self.spent = Some(self.key.clone());
    }
}

impl<K: Hash + Eq + Clone, V> CombineMap<K, V> {
    /// Adds `value` under `key`: `create(value)` for a new key, else `merge(old, value)`.
    #[inline]
    pub(crate) fn add<W>(
        &mut self,
        key: K,
        value: W,
        create: impl FnOnce(W) -> V,
        merge: impl FnOnce(V, W) -> V,
    ) {
        if self.spent.is_some() {
            // The batch has failed; nothing more is kept for it.
            return;
        }
        match self.map.entry(key) {
            Entry::Occupied(mut entry) => {
                let slot: *mut V = entry.get_mut();
                // The key stays where it is while the value is out: the merge cannot reach the
                // map, which `entry` borrows.
                let key: *const K = entry.key();
                // SAFETY: `slot` points to the entry's initialized value. It is read out
                // (leaving stale bits), and a value is written back before anything else reads
                // the entry, unless `merge` panics: then the guard notes the key, and the
                // value is never read or dropped again (`Drop`, `take_each`, `spend`). `key`
                // stays valid for the guard's use because nothing changes the map meanwhile.
                unsafe {
                    let guard = SpentOnUnwind {
                        key: &*key,
                        spent: &mut self.spent,
                    };
                    let merged = merge(std::ptr::read(slot), value);
                    std::mem::forget(guard);
                    std::ptr::write(slot, merged);
                }
            }
            Entry::Vacant(entry) => {
                entry.insert(create(value));
                if self.map.len() == 1 && self.last_len > 1 {
                    self.map.reserve(self.last_len - 1);
                }
            }
        }
    }

    /// Keys held.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Takes every entry out (a spent one left out), leaving the map empty with its capacity.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (K, V)> + '_ {
        self.forget_spent();
        self.map.drain()
    }

    /// Takes the map's entries (a spent one left out), leaving an empty map.
    pub(crate) fn take(&mut self) -> std::collections::hash_map::IntoIter<K, V> {
        self.forget_spent();
        self.last_len = self.map.len();
        std::mem::take(&mut self.map).into_iter()
    }

    /// Removes the spent entry, if any, without reading or dropping its value.
    fn forget_spent(&mut self) {
        if let Some(key) = self.spent.take()
            && let Some(stale) = self.map.remove(&key)
        {
            // Its value was consumed by the merge that panicked: these bits are not a value.
            let _ = ManuallyDrop::new(stale);
        }
    }
}

impl<K: Hash + Eq + Clone, V> Drop for CombineMap<K, V> {
    fn drop(&mut self) {
        self.forget_spent();
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A value that counts its drops, to see that each is dropped exactly once.
    #[derive(Debug)]
    struct Counted(Vec<u64>, Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn values_are_created_then_merged_in_place() {
        let mut map: CombineMap<String, i64> = CombineMap::default();
        for (k, v) in [("a", 1), ("b", 2), ("a", 3), ("a", 4)] {
            map.add(k.to_string(), v, |v| v * 10, |c, v| c + v);
        }
        let mut all: Vec<(String, i64)> = map.drain().collect();
        all.sort();
        assert_eq!(all, [("a".to_string(), 17), ("b".to_string(), 20)]);
        assert_eq!(map.len(), 0);
    }

    #[test]
    fn a_map_taken_whole_is_sized_for_as_many_keys_at_the_next_batchs_first_key() {
        let mut map: CombineMap<u32, u64> = CombineMap::default();
        for k in 0..1000 {
            map.add(k, 1, |v| v, |c, v| c + v);
        }
        assert_eq!(map.take().count(), 1000);
        assert_eq!(map.map.capacity(), 0);
        map.add(7, 1, |v| v, |c, v| c + v);
        assert!(map.map.capacity() >= 1000, "{}", map.map.capacity());
        let before = map.map.capacity();
        for k in 0..1000 {
            map.add(k, 1, |v| v, |c, v| c + v);
        }
        assert_eq!(map.map.capacity(), before, "grew although sized");
    }

    #[test]
    fn a_panicking_merge_leaves_its_key_out_and_every_other_value_is_dropped_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        let made = Arc::new(AtomicUsize::new(0));
        let value = |n: u64| {
            made.fetch_add(1, Ordering::SeqCst);
            Counted(vec![n], drops.clone())
        };
        let merge = |mut c: Counted, v: Counted| {
            if v.0[0] == 99 {
                panic!("merge failed");
            }
            c.0.extend(&v.0);
            c
        };
        let mut map: CombineMap<&'static str, Counted> = CombineMap::default();
        map.add("a", value(1), |v| v, merge);
        map.add("b", value(2), |v| v, merge);
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            map.add("a", value(99), |v| v, merge);
        }));
        assert!(panicked.is_err());
        // The batch failed: later records are not kept.
        map.add("c", value(3), |v| v, merge);
        let left: Vec<(&str, Vec<u64>)> = map.take().map(|(k, v)| (k, v.0.clone())).collect();
        assert_eq!(left, [("b", vec![2])]);
        drop(map);
        // Every value made was dropped exactly once: "a"'s first value and the 99 inside the
        // merge, "b"'s when `left` was built, "c"'s at once.
        assert_eq!(drops.load(Ordering::SeqCst), made.load(Ordering::SeqCst));
    }

    #[test]
    fn a_spent_map_dropped_whole_drops_the_other_values_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        let mut map: CombineMap<u32, Counted> = CombineMap::default();
        for k in 0..10 {
            map.add(k, Counted(vec![k as u64], drops.clone()), |v| v, |c, _| c);
        }
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            map.add(
                3,
                Counted(vec![], drops.clone()),
                |v| v,
                |_, _| panic!("merge failed"),
            );
        }));
        assert!(panicked.is_err());
        // The merge dropped both of its arguments while unwinding.
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        drop(map);
        assert_eq!(drops.load(Ordering::SeqCst), 11);
    }
}
