//! The per-batch map of a key-based aggregation: each key's partial value, updated in place.
//!
//! A combine spends most of its time in this map (one probe per record; BENCHMARKS.md, issue
//! 12), and a probe's cost is mostly waiting for the entry's memory: a word count's map of
//! 100 k keys is several megabytes, larger than a core's cache. Two things follow.
//!
//! - **Entries are small.** Values are kept bare and updated by moving them out of the entry,
//!   through the user's merge function, and back, rather than behind an `Option` that a merge
//!   takes and refills (for the word count's `i64`, 8 bytes less per entry).
//! - **The memory of a run of records is asked for before it is needed.** Records reach the
//!   combine in runs ([`crate::exec::BatchLogic::absorb_run`]); the map hashes a run's keys
//!   first and has the processor fetch each key's first slot a few records ahead of its probe
//!   ([`CombineMap::add_run`]), so that the waits overlap instead of following one another. A
//!   general-purpose table (hashbrown) offers no way to find a slot without probing it, which is
//!   why this map is its own: open addressing with linear probing, a power-of-two number of
//!   slots at most seven eighths full, each slot holding the key's hash (compared before the
//!   key), the key and the value.
//!
//! Moving a value out of a live entry needs care when the merge function panics (the panic is
//! caught by the operator and fails the batch, and the stream goes on): the entry then holds
//! the bits of a value the function consumed. The map notes that entry during the unwinding and
//! from then on keeps nothing more for the batch and never reads or drops that value; the key
//! is left out of the batch's result, as Spark leaves out what a failed task computed.

use std::hash::{BuildHasher, Hash};

/// One slot: the key's hash, the key and its value.
type Slot<K, V> = Option<(u64, K, V)>;

/// How many records ahead of its probe a key's slot is fetched: enough to cover a memory
/// access with the work of the records between, few enough that the fetched lines are still
/// in the first-level cache when their probe comes.
const PREFETCH_AHEAD: usize = 8;

/// Each key's value for one batch. See the module docs.
pub(crate) struct CombineMap<K, V> {
    /// A power-of-two number of slots (or none), at most seven eighths full: as full as
    /// hashbrown lets its tables get, so that the map takes no more memory than one would
    /// (probes stay short: nearly every record finds its key, in a slot or two of its first).
    slots: Vec<Slot<K, V>>,
    len: usize,
    hasher: foldhash::fast::RandomState,
    /// The slot whose value a panicking merge consumed: its value is stale.
    spent: Option<usize>,
    /// Keys the map held when it was last taken whole ([`take`](Self::take)): the next batch's
    /// first key sizes the map for as many at once, instead of growing it by doubling (each
    /// step a move of every entry into fresh, not yet touched memory: most of a word count's
    /// page faults; BENCHMARKS.md, "Scaling").
    last_len: usize,
    /// The hashes of the run being added (kept for its capacity).
    hashes: Vec<u64>,
}

impl<K, V> Default for CombineMap<K, V> {
    fn default() -> Self {
        CombineMap {
            slots: Vec::new(),
            len: 0,
            hasher: foldhash::fast::RandomState::default(),
            spent: None,
            last_len: 0,
            hashes: Vec::new(),
        }
    }
}

/// Notes slot `at` as spent unless forgotten: dropped only while unwinding out of a merge.
struct SpentOnUnwind<'a> {
    at: usize,
    spent: &'a mut Option<usize>,
}

impl Drop for SpentOnUnwind<'_> {
    fn drop(&mut self) {
        *self.spent = Some(self.at);
    }
}

/// Asks the processor to bring the memory at `slot` into its caches (a hint: nothing happens
/// where the instruction does not exist).
#[inline]
fn prefetch<T>(slot: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>((slot as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = slot;
}

impl<K: Hash + Eq, V> CombineMap<K, V> {
    /// Adds `value` under `key`: `create(value)` for a new key, else `merge(old, value)`.
    #[inline]
    pub(crate) fn add<W>(
        &mut self,
        key: K,
        value: W,
        create: impl FnOnce(W) -> V,
        merge: impl FnOnce(V, W) -> V,
    ) {
        let hash = self.hasher.hash_one(&key);
        self.add_hashed(hash, key, value, create, merge);
    }

    /// Adds every `(key, value)` of `run` (records tagged with their partition, which is not
    /// used), draining it, as [`add`](Self::add) does, fetching each key's slot
    /// [`PREFETCH_AHEAD`] records before its probe.
    pub(crate) fn add_run<P, W>(
        &mut self,
        run: &mut Vec<(P, (K, W))>,
        create: impl Fn(W) -> V,
        merge: impl Fn(V, W) -> V,
    ) {
        if self.spent.is_some() {
            // The batch has failed; nothing more is kept for it (and the spent slot must stay
            // where it is: no growing).
            run.clear();
            return;
        }
        let mut hashes = std::mem::take(&mut self.hashes);
        hashes.clear();
        hashes.extend(run.iter().map(|(_, (k, _))| self.hasher.hash_one(k)));
        self.reserve(run.len());
        let mask = self.slots.len().wrapping_sub(1);
        for &hash in hashes.iter().take(PREFETCH_AHEAD) {
            prefetch(&self.slots[hash as usize & mask]);
        }
        for (i, (_, (key, value))) in run.drain(..).enumerate() {
            if let Some(&ahead) = hashes.get(i + PREFETCH_AHEAD) {
                prefetch(&self.slots[ahead as usize & mask]);
            }
            self.add_hashed(hashes[i], key, value, &create, &merge);
        }
        self.hashes = hashes;
    }

    /// [`add`](Self::add) with the key's hash given.
    #[inline]
    fn add_hashed<W>(
        &mut self,
        hash: u64,
        key: K,
        value: W,
        create: impl FnOnce(W) -> V,
        merge: impl FnOnce(V, W) -> V,
    ) {
        if self.spent.is_some() {
            // The batch has failed; nothing more is kept for it.
            return;
        }
        self.reserve(1);
        let mask = self.slots.len() - 1;
        let mut at = hash as usize & mask;
        loop {
            match &mut self.slots[at] {
                None => {
                    self.slots[at] = Some((hash, key, create(value)));
                    self.len += 1;
                    return;
                }
                Some((h, k, v)) if *h == hash && *k == key => {
                    let slot: *mut V = v;
                    // SAFETY: `slot` points to the entry's initialized value. It is read out
                    // (leaving stale bits), and a value is written back before anything else
                    // reads the slot, unless `merge` panics: then the guard notes the slot, and
                    // its value is never read or dropped again (`forget_spent`), and no record
                    // is added any more, so the slot stays where it is.
                    unsafe {
                        let guard = SpentOnUnwind {
                            at,
                            spent: &mut self.spent,
                        };
                        let merged = merge(std::ptr::read(slot), value);
                        std::mem::forget(guard);
                        std::ptr::write(slot, merged);
                    }
                    return;
                }
                Some(_) => at = (at + 1) & mask,
            }
        }
    }

    /// Makes room for `more` keys (and for the last batch's keys, when the map is empty).
    fn reserve(&mut self, more: usize) {
        let wanted = if self.len == 0 {
            more.max(self.last_len)
        } else {
            self.len + more
        };
        // At most seven eighths full.
        if wanted * 8 <= self.slots.len() * 7 {
            return;
        }
        let slots = (wanted * 8 / 7 + 1).next_power_of_two().max(16);
        let old = std::mem::take(&mut self.slots);
        self.slots.resize_with(slots, || None);
        let mask = slots - 1;
        for (hash, key, value) in old.into_iter().flatten() {
            let mut at = hash as usize & mask;
            while self.slots[at].is_some() {
                at = (at + 1) & mask;
            }
            self.slots[at] = Some((hash, key, value));
        }
    }
}

impl<K, V> CombineMap<K, V> {
    /// Keys held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Takes every entry out (a spent one left out), leaving the map empty with its slots.
    pub(crate) fn drain(&mut self) -> Drain<'_, K, V> {
        self.forget_spent();
        self.len = 0;
        Drain {
            slots: self.slots.iter_mut(),
        }
    }

    /// Takes the map's entries (a spent one left out), leaving an empty map without slots.
    pub(crate) fn take(&mut self) -> IntoIter<K, V> {
        self.forget_spent();
        self.last_len = self.len;
        let left = std::mem::replace(&mut self.len, 0);
        IntoIter {
            slots: std::mem::take(&mut self.slots).into_iter(),
            left,
        }
    }

    /// Empties the spent slot, if any, without reading or dropping its value. (Its neighbours'
    /// probes may now stop short: the map is only emptied after this, never probed.)
    fn forget_spent(&mut self) {
        if let Some(at) = self.spent.take()
            && let Some((_, key, stale)) = self.slots[at].take()
        {
            self.len -= 1;
            drop(key);
            // Its value was consumed by the merge that panicked: these bits are not a value.
            std::mem::forget(stale);
        }
    }
}

impl<K, V> Drop for CombineMap<K, V> {
    fn drop(&mut self) {
        self.forget_spent();
    }
}

/// The entries of a [`CombineMap::drain`]; those not taken are dropped with it.
pub(crate) struct Drain<'a, K, V> {
    slots: std::slice::IterMut<'a, Slot<K, V>>,
}

impl<K, V> Iterator for Drain<'_, K, V> {
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        self.slots
            .by_ref()
            .find_map(|slot| slot.take().map(|(_, k, v)| (k, v)))
    }
}

impl<K, V> Drop for Drain<'_, K, V> {
    fn drop(&mut self) {
        for slot in self.slots.by_ref() {
            *slot = None;
        }
    }
}

/// The entries of a [`CombineMap::take`], with how many are left.
pub(crate) struct IntoIter<K, V> {
    slots: std::vec::IntoIter<Slot<K, V>>,
    left: usize,
}

impl<K, V> Iterator for IntoIter<K, V> {
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        let (_, k, v) = self.slots.find_map(|slot| slot)?;
        self.left -= 1;
        Some((k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<K, V> ExactSizeIterator for IntoIter<K, V> {}

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

    /// Counts the [`Counted`] values made and dropped.
    #[derive(Default)]
    struct Tally {
        made: AtomicUsize,
        drops: Arc<AtomicUsize>,
    }

    impl Tally {
        fn value(&self, n: u64) -> Counted {
            self.made.fetch_add(1, Ordering::SeqCst);
            Counted(vec![n], self.drops.clone())
        }

        /// Every value made was dropped exactly once.
        fn assert_each_dropped_once(&self) {
            assert_eq!(
                self.drops.load(Ordering::SeqCst),
                self.made.load(Ordering::SeqCst)
            );
        }
    }

    /// Appends `v`'s numbers to `c`'s; panics on the value 99.
    fn merge_or_panic_on_99(mut c: Counted, v: Counted) -> Counted {
        if v.0[0] == 99 {
            panic!("merge failed");
        }
        c.0.extend(&v.0);
        c
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
        assert_eq!(map.slots.len(), 0);
        map.add(7, 1, |v| v, |c, v| c + v);
        assert!(map.slots.len() * 7 / 8 >= 1000, "{}", map.slots.len());
        let before = map.slots.len();
        for k in 0..1000 {
            map.add(k, 1, |v| v, |c, v| c + v);
        }
        assert_eq!(map.slots.len(), before, "grew although sized");
    }

    #[test]
    fn a_panicking_merge_leaves_its_key_out_and_every_other_value_is_dropped_once() {
        let tally = Tally::default();
        let value = |n: u64| tally.value(n);
        let merge = merge_or_panic_on_99;
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
        tally.assert_each_dropped_once();
    }

    #[test]
    fn a_merge_that_panics_inside_a_run_spends_the_map_for_later_runs() {
        let tally = Tally::default();
        let value = |n: u64| tally.value(n);
        let merge = merge_or_panic_on_99;
        let mut map: CombineMap<u32, Counted> = CombineMap::default();
        let mut run: Vec<(u32, (u32, Counted))> =
            (0..20).map(|k| (0, (k, value(k as u64)))).collect();
        map.add_run(&mut run, |v| v, merge);
        // Key 5 again, with the value its merge fails on, amid other records.
        let mut run = vec![(0, (1, value(1))), (0, (5, value(99))), (0, (6, value(6)))];
        assert!(catch_unwind(AssertUnwindSafe(|| map.add_run(&mut run, |v| v, merge))).is_err());
        drop(run);
        // A later run would need the map to grow (many new keys): it keeps nothing instead.
        let mut more: Vec<(u32, (u32, Counted))> =
            (100..1000).map(|k| (0, (k, value(k as u64)))).collect();
        map.add_run(&mut more, |v| v, merge);
        assert!(more.is_empty());
        let mut left: Vec<(u32, Vec<u64>)> = map.take().map(|(k, v)| (k, v.0.clone())).collect();
        left.sort();
        let expected: Vec<(u32, Vec<u64>)> = (0..20)
            .filter(|&k| k != 5)
            .map(|k| (k, if k == 1 { vec![1, 1] } else { vec![k as u64] }))
            .collect();
        assert_eq!(left, expected);
        drop(map);
        tally.assert_each_dropped_once();
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
