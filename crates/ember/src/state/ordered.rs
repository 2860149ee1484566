//! [`OrderedState`]: a value per key kept in the stable order (partition, then the key's stable
//! hash), for the operators that call their function on every key in every batch
//! (`update_state_by_key` and its iterator form).
//!
//! Spark's `updateStateByKey` calls the function for every key with state, every batch, so a
//! batch visits the whole state whatever it brings. Here that visit is a step along an array,
//! not a lookup: the entries (hash, key, value) sit in chunks sorted by partition and hash, and
//! a batch's new values, sorted the same way ([`NewValues`]), are merged in by one sequential
//! pass ([`update_all`](OrderedState::update_all)). A key without new values is updated where
//! it lies: no hashing, no probing, no move. What this buys:
//!
//! - a batch costs one pass over the state plus its own records, with no hash table to build,
//!   grow or probe, and no sort: the output comes out in the stable order as the pass goes;
//! - memory per key is the entry itself (key, value and the 8-byte hash), with no table slack;
//! - a chunk is shared (`Arc`) with a full checkpoint write in progress, which encodes it on the
//!   checkpoint writer's thread; a chunk changed meanwhile is copied first (copy on write), so a
//!   full write never holds up a batch for the whole state;
//! - a checkpoint writes only what changed: a bit per entry marks the values changed since the
//!   last write (the caller says whether a value changed, e.g. by comparing encodings), and the
//!   keys removed since then are listed;
//! - a restore from files written in this order is a sequential push of entries (files in any
//!   other order, e.g. from another number of workers, are sorted once).
//!
//! A chunk holds keys of one partition only and keeps keys of equal hash together, so that a
//! batch key's place is found from its hash alone.

use std::sync::Arc;

use crate::checkpoint::WriteKind;
use crate::data::{Data, Key};
use crate::placement::Placement;
use crate::state::new_values::{NewKey, NewValues};
use crate::state::table::{EntrySink, Owner, Snapshot, Table, TableError};
use crate::time::Time;

/// A chunk that a batch makes longer than this is split.
const MAX_CHUNK: usize = 2048;
/// The length of the chunks made from a sorted run (a restore, a split, a new partition).
const CHUNK: usize = 1024;

/// A restored entry: its key's partition and hash, the key, its state (`None`: removed).
type Restored<K, S> = (u32, u64, K, Option<S>);

/// One key's state, with the key's stable hash.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Entry<K, S> {
    pub(crate) hash: u64,
    pub(crate) key: K,
    pub(crate) value: S,
}

/// What the function decided for one key.
pub(crate) enum Outcome<S> {
    /// The key stays as it was; a new key is not added.
    Keep,
    /// The key's new value; `changed` says whether a checkpoint must write it again (a new key
    /// always counts as changed).
    Set { value: S, changed: bool },
    /// The key is removed.
    Remove,
}

/// One bit per entry of a chunk (bits past the end are clear).
#[derive(Clone, Default, Debug)]
struct Bits(Vec<u64>);

impl Bits {
    fn get(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn set(&mut self, i: usize) {
        let word = i / 64;
        if word >= self.0.len() {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << (i % 64);
    }

    fn any(&self) -> bool {
        self.0.iter().any(|w| *w != 0)
    }

    /// The bits `range` of these, from bit 0.
    fn slice(&self, range: std::ops::Range<usize>) -> Bits {
        let mut out = Bits::default();
        for (to, from) in range.enumerate() {
            if self.get(from) {
                out.set(to);
            }
        }
        out
    }
}

/// Up to [`MAX_CHUNK`] entries of one partition, in hash order.
struct Chunk<K, S> {
    partition: u32,
    /// Shared with a full write in progress, if any.
    entries: Arc<Vec<Entry<K, S>>>,
    /// The entries changed since the last write (only when changes are tracked).
    dirty: Bits,
}

/// A value per key for the keys a worker owns, in the stable order.
pub(crate) struct OrderedState<K, S> {
    worker: usize,
    placement: Placement,
    /// Sorted by partition, then hash; none is empty.
    chunks: Vec<Chunk<K, S>>,
    len: usize,
    /// Keys removed since the last write; `None` when changes are not tracked (no checkpoint).
    removed: Option<Vec<K>>,
    /// Restored entries: those in the stable order from the first on (a full write of this
    /// table) straight into chunks, ...
    building: ChunkBuilder<K, S>,
    /// ... and, from the first that is not, runs in the stable order (a later file, a delta's
    /// removals), until `finish_restore` merges them all.
    restoring: Vec<Vec<Restored<K, S>>>,
}

impl<K: Key, S: Data> OrderedState<K, S> {
    /// An empty table for `owner`, over `partitions` partitions.
    pub(crate) fn new(owner: Owner, partitions: usize) -> Self {
        OrderedState {
            worker: owner.worker,
            placement: Placement::new(owner.workers, partitions),
            chunks: Vec::new(),
            len: 0,
            removed: owner.checkpointed.then(Vec::new),
            building: ChunkBuilder::new(owner.checkpointed),
            restoring: Vec::new(),
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

    /// `hash`'s partition.
    pub(crate) fn partition_of_hash(&self, hash: u64) -> u32 {
        self.placement.partition_of_hash(hash)
    }

    /// Keys in the table.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Every key with its hash and value, in the stable order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, u64, &S)> {
        self.chunks
            .iter()
            .flat_map(|c| c.entries.iter().map(|e| (&e.key, e.hash, &e.value)))
    }

    /// Calls `f(partition, key, value)` on at most `budget` entries in the stable order from
    /// `at` (a chunk and an entry in it, `(0, 0)` at first), moving `at` on; whether the last
    /// entry was reached. The table must not change between the calls of one walk.
    pub(crate) fn walk(
        &self,
        at: &mut (usize, usize),
        budget: usize,
        mut f: impl FnMut(u32, &K, &S),
    ) -> bool {
        let mut left = budget;
        while let Some(chunk) = self.chunks.get(at.0) {
            let entries = &chunk.entries[at.1..];
            let n = entries.len().min(left);
            for e in &entries[..n] {
                f(chunk.partition, &e.key, &e.value);
            }
            left -= n;
            if n < entries.len() {
                at.1 += n;
                return false;
            }
            *at = (at.0 + 1, 0);
            if left == 0 {
                return at.0 >= self.chunks.len();
            }
        }
        true
    }

    fn tracking(&self) -> bool {
        self.removed.is_some()
    }

    /// Merges `batch` into the state and calls `f` on every key of either, in the stable order:
    /// `f(key, new values, state)` with no values for a key the batch does not have, and no
    /// state for a new key. `emit(partition, key, value)` then sees each key that has a value
    /// after the call, in the same order. `batch` is left empty.
    pub(crate) fn update_all<V>(
        &mut self,
        batch: &mut NewValues<K, V>,
        mut f: impl FnMut(&K, &[V], Option<&S>) -> Outcome<S>,
        mut emit: impl FnMut(u32, &K, &S),
    ) {
        batch.prepare();
        let old = std::mem::take(&mut self.chunks);
        let mut pass = Pass {
            out: Vec::with_capacity(old.len() + 1),
            len: 0,
            removed: self.removed.take(),
            f: &mut f,
            emit: &mut emit,
        };
        let NewValues { keys, values, .. } = batch;
        let mut new = New {
            keys: keys.drain(..),
            values,
            at: 0,
        };
        let mut old = old.into_iter().peekable();
        loop {
            let partition = match (old.peek(), new.keys.as_slice().first()) {
                (None, None) => break,
                (Some(c), None) => c.partition,
                (None, Some(k)) => k.partition,
                (Some(c), Some(k)) => c.partition.min(k.partition),
            };
            let mut any = false;
            while let Some(chunk) = old.next_if(|c| c.partition == partition) {
                any = true;
                // The batch keys up to the next chunk's first hash go into this chunk.
                let bound = old
                    .peek()
                    .filter(|c| c.partition == partition)
                    .map(|c| c.entries[0].hash);
                let count = new.keys.as_slice().partition_point(|k| {
                    k.partition == partition && bound.is_none_or(|b| k.hash < b)
                });
                if count == 0 {
                    pass.in_place(chunk);
                } else {
                    pass.merge(chunk, &mut new, count);
                }
            }
            if !any {
                let count = new
                    .keys
                    .as_slice()
                    .partition_point(|k| k.partition == partition);
                pass.merge(
                    Chunk {
                        partition,
                        entries: Arc::new(Vec::new()),
                        dirty: Bits::default(),
                    },
                    &mut new,
                    count,
                );
            }
        }
        drop(new);
        values.clear();
        batch.clear();
        self.chunks = pass.out;
        self.len = pass.len;
        self.removed = pass.removed;
    }

    /// Takes every entry out, in the stable order, each with whether it changed since the last
    /// write; the table is left empty (its removed keys stay listed).
    pub(crate) fn take_all(&mut self) -> Vec<(Entry<K, S>, bool)> {
        let mut out = Vec::with_capacity(self.len);
        for chunk in std::mem::take(&mut self.chunks) {
            let dirty = chunk.dirty;
            let entries = Arc::try_unwrap(chunk.entries).unwrap_or_else(|shared| (*shared).clone());
            out.extend(
                entries
                    .into_iter()
                    .enumerate()
                    .map(|(i, e)| (e, dirty.get(i))),
            );
        }
        self.len = 0;
        out
    }

    /// Fills the (empty) table with `entries`, which are in the stable order with no key twice,
    /// each with whether it changed since the last write.
    pub(crate) fn put_all(&mut self, entries: Vec<(Entry<K, S>, bool)>) {
        debug_assert!(self.chunks.is_empty());
        let mut chunks = ChunkBuilder::new(self.tracking());
        for (e, dirty) in entries {
            chunks.push(self.placement.partition_of_hash(e.hash), e, dirty);
        }
        (self.chunks, self.len) = chunks.finish();
    }

    /// Notes that `key` was removed (for the next write of the changes).
    pub(crate) fn note_removed(&mut self, key: K) {
        if let Some(removed) = &mut self.removed {
            removed.push(key);
        }
    }

    /// Adds `entries` (owned keys with their hashes, e.g. an initial state) to the table, each
    /// replacing the key's value if it has one, all counting as changed.
    pub(crate) fn insert_all(&mut self, entries: Vec<(u64, K, S)>) {
        let mut all = self.take_all();
        let first_new = all.len();
        all.extend(
            entries
                .into_iter()
                .map(|(hash, key, value)| (Entry { hash, key, value }, true)),
        );
        let place = |e: &Entry<K, S>| (self.placement.partition_of_hash(e.hash), e.hash);
        // Stable: among equal keys the later entry wins below.
        all.sort_by_key(|(e, _)| place(e));
        let merged = last_of_each_key(all, first_new);
        self.put_all(merged);
    }
}

/// Keeps, of entries in the stable order, the last of each key (order within a hash kept).
fn last_of_each_key<K: Eq, S>(
    entries: Vec<(Entry<K, S>, bool)>,
    _hint: usize,
) -> Vec<(Entry<K, S>, bool)> {
    let mut out: Vec<(Entry<K, S>, bool)> = Vec::with_capacity(entries.len());
    let mut run_start = 0;
    for (e, dirty) in entries {
        if out.last().is_none_or(|(last, _)| last.hash != e.hash) {
            run_start = out.len();
        }
        match out[run_start..].iter_mut().find(|(x, _)| x.key == e.key) {
            Some(slot) => {
                let was_dirty = slot.1;
                *slot = (e, dirty || was_dirty);
            }
            None => out.push((e, dirty)),
        }
    }
    out
}

/// Builds chunks from entries given in the stable order: [`CHUNK`] entries a chunk (keys of
/// one hash kept together), one partition a chunk, each exactly sized.
struct ChunkBuilder<K, S> {
    chunks: Vec<Chunk<K, S>>,
    run: Vec<Entry<K, S>>,
    partition: u32,
    dirty: Bits,
    tracking: bool,
    len: usize,
}

impl<K, S> ChunkBuilder<K, S> {
    fn new(tracking: bool) -> Self {
        ChunkBuilder {
            chunks: Vec::new(),
            run: Vec::new(),
            partition: 0,
            dirty: Bits::default(),
            tracking,
            len: 0,
        }
    }

    /// Where the last entry went, if any.
    fn last_place(&self) -> Option<(u32, u64)> {
        self.run.last().map(|e| (self.partition, e.hash))
    }

    fn push(&mut self, partition: u32, e: Entry<K, S>, dirty: bool) {
        let full = self.run.len() >= CHUNK && self.run.last().is_some_and(|l| l.hash != e.hash);
        if !self.run.is_empty() && (partition != self.partition || full) {
            self.flush();
        }
        if self.run.capacity() == 0 {
            self.run.reserve_exact(CHUNK);
        }
        self.partition = partition;
        if dirty && self.tracking {
            self.dirty.set(self.run.len());
        }
        self.run.push(e);
    }

    fn flush(&mut self) {
        if self.run.is_empty() {
            return;
        }
        let mut run = std::mem::take(&mut self.run);
        run.shrink_to_fit();
        self.len += run.len();
        self.chunks.push(Chunk {
            partition: self.partition,
            entries: Arc::new(run),
            dirty: std::mem::take(&mut self.dirty),
        });
    }

    /// The chunks, and the entries in them.
    fn finish(mut self) -> (Vec<Chunk<K, S>>, usize) {
        self.flush();
        (self.chunks, self.len)
    }
}

/// Merges sorted runs of restored entries (a full write and the deltas after it, in write
/// order) into the entries they leave: of the entries of one key, the one of the latest run wins
/// (`None`: the key was removed). One pass over every run at once, each entry moved once.
fn merge_runs<K: Eq, S>(
    runs: Vec<Box<dyn Iterator<Item = Restored<K, S>> + '_>>,
    out: &mut ChunkBuilder<K, S>,
) {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut runs: Vec<_> = runs.into_iter().map(Iterator::peekable).collect();
    // The next place of each run; of equal places, the earlier run first.
    let mut heads: BinaryHeap<Reverse<(u32, u64, usize)>> = runs
        .iter_mut()
        .enumerate()
        .filter_map(|(i, run)| run.peek().map(|r| Reverse((r.0, r.1, i))))
        .collect();
    let mut group: Vec<(K, Option<S>)> = Vec::new();
    while let Some(Reverse((p, hash, _))) = heads.peek().copied() {
        // Every entry of this place, run after run: a later one replaces an earlier one's key.
        while let Some(Reverse((_, _, i))) = heads
            .peek()
            .copied()
            .filter(|h| (h.0.0, h.0.1) == (p, hash))
        {
            heads.pop();
            while let Some((_, _, key, value)) = runs[i].next_if(|r| (r.0, r.1) == (p, hash)) {
                match group.iter_mut().find(|(k, _)| *k == key) {
                    Some(slot) => slot.1 = value,
                    None => group.push((key, value)),
                }
            }
            if let Some(r) = runs[i].peek() {
                heads.push(Reverse((r.0, r.1, i)));
            }
        }
        for (key, value) in group.drain(..) {
            if let Some(value) = value {
                out.push(p, Entry { hash, key, value }, false);
            }
        }
    }
}

/// A batch's keys being merged in, with their values.
struct New<'a, K, V> {
    keys: std::vec::Drain<'a, NewKey<K>>,
    values: &'a [V],
    /// Where the next key's values start.
    at: usize,
}

impl<K, V> New<'_, K, V> {
    /// The next key with its values.
    fn next(&mut self) -> Option<(NewKey<K>, std::ops::Range<usize>)> {
        let k = self.keys.next()?;
        let range = self.at..self.at + k.count as usize;
        self.at = range.end;
        Some((k, range))
    }
}

/// One pass of [`OrderedState::update_all`]: the chunks made so far and what the pass needs.
struct Pass<'f, K, S, F, E> {
    out: Vec<Chunk<K, S>>,
    len: usize,
    removed: Option<Vec<K>>,
    f: &'f mut F,
    emit: &'f mut E,
}

impl<K: Key, S: Data, F, E> Pass<'_, K, S, F, E>
where
    E: FnMut(u32, &K, &S),
{
    /// Calls the function on every key of `chunk` (which gets no new values), changing it where
    /// it lies (copying it first if a write holds it).
    fn in_place<V>(&mut self, mut chunk: Chunk<K, S>)
    where
        F: FnMut(&K, &[V], Option<&S>) -> Outcome<S>,
    {
        let p = chunk.partition;
        let tracking = self.removed.is_some();
        let len = chunk.entries.len();
        // Read-only until the first change, so that a chunk a write holds is copied only if
        // something in it changes.
        let mut i = 0;
        let mut outcome = Outcome::Keep;
        while i < len {
            let e = &chunk.entries[i];
            outcome = (self.f)(&e.key, &[], Some(&e.value));
            if !matches!(outcome, Outcome::Keep) {
                break;
            }
            (self.emit)(p, &e.key, &e.value);
            i += 1;
        }
        if i == len {
            self.push(chunk);
            return;
        }
        let entries = Arc::make_mut(&mut chunk.entries);
        let mut gone = Bits::default();
        let mut any_gone = false;
        loop {
            match outcome {
                Outcome::Keep => (self.emit)(p, &entries[i].key, &entries[i].value),
                Outcome::Set { value, changed } => {
                    entries[i].value = value;
                    if changed && tracking {
                        chunk.dirty.set(i);
                    }
                    (self.emit)(p, &entries[i].key, &entries[i].value);
                }
                Outcome::Remove => {
                    gone.set(i);
                    any_gone = true;
                }
            }
            i += 1;
            if i == len {
                break;
            }
            let e = &entries[i];
            outcome = (self.f)(&e.key, &[], Some(&e.value));
        }
        if any_gone {
            let mut kept = Vec::with_capacity(len);
            let mut dirty = Bits::default();
            for (i, e) in std::mem::take(entries).into_iter().enumerate() {
                if gone.get(i) {
                    if let Some(removed) = &mut self.removed {
                        removed.push(e.key);
                    }
                } else {
                    if chunk.dirty.get(i) {
                        dirty.set(kept.len());
                    }
                    kept.push(e);
                }
            }
            kept.shrink_to_fit();
            *entries = kept;
            chunk.dirty = dirty;
        }
        self.push(chunk);
    }

    /// Merges the next `count` batch keys into `chunk` (which may be empty: a partition without
    /// state yet), calling the function on every key of both. Keys with state are updated where
    /// they lie; only new and removed keys make the chunk be rebuilt.
    fn merge<V>(&mut self, mut chunk: Chunk<K, S>, new: &mut New<'_, K, V>, count: usize)
    where
        F: FnMut(&K, &[V], Option<&S>) -> Outcome<S>,
    {
        let p = chunk.partition;
        let tracking = self.removed.is_some();
        let entries = Arc::make_mut(&mut chunk.entries);
        let dirty = &mut chunk.dirty;
        let len = entries.len();
        // New keys with their place (the index of the entry they go before) and removed
        // entries, applied after the pass.
        let mut inserts: Vec<(usize, Entry<K, S>)> = Vec::new();
        let mut gone = Bits::default();
        let mut any_gone = false;
        let mut same: Vec<(NewKey<K>, std::ops::Range<usize>)> = Vec::new();
        let mut i = 0;
        let mut left = count;
        let mut step = |pass: &mut Self, i: usize, values: &[V], entries: &mut Vec<Entry<K, S>>| {
            let e = &mut entries[i];
            match (pass.f)(&e.key, values, Some(&e.value)) {
                Outcome::Keep => (pass.emit)(p, &e.key, &e.value),
                Outcome::Set { value, changed } => {
                    e.value = value;
                    if changed && tracking {
                        dirty.set(i);
                    }
                    (pass.emit)(p, &e.key, &e.value);
                }
                Outcome::Remove => {
                    gone.set(i);
                    any_gone = true;
                }
            }
        };
        while i < len || left > 0 {
            let next_old = (i < len).then(|| entries[i].hash);
            let next_new = (left > 0).then(|| new.keys.as_slice()[0].hash);
            match (next_old, next_new) {
                (Some(h), k) if k.is_none_or(|k| h < k) => {
                    step(self, i, &[], entries);
                    i += 1;
                }
                (h, Some(k)) if h.is_none_or(|h| k < h) => {
                    let (key, range) = new.next().expect("a key is left");
                    left -= 1;
                    self.insert(p, key, &new.values[range], i, &mut inserts);
                }
                (Some(hash), _) => {
                    // Entries and keys of one hash: one of each, unless hashes collide.
                    let end = i + entries[i..].iter().take_while(|e| e.hash == hash).count();
                    while left > 0 && new.keys.as_slice()[0].hash == hash {
                        same.push(new.next().expect("a key is left"));
                        left -= 1;
                    }
                    for at in i..end {
                        match same.iter().position(|(k, _)| k.key == entries[at].key) {
                            Some(found) => {
                                let (_, range) = same.swap_remove(found);
                                step(self, at, &new.values[range], entries);
                            }
                            None => step(self, at, &[], entries),
                        }
                    }
                    i = end;
                    // The new keys of this hash, in arrival order.
                    same.sort_by_key(|(_, range)| range.start);
                    for (key, range) in same.drain(..) {
                        self.insert(p, key, &new.values[range], end, &mut inserts);
                    }
                }
                (None, _) => unreachable!("the loop ends first"),
            }
        }
        if inserts.is_empty() && !any_gone {
            self.push(chunk);
            return;
        }
        // Rebuild with the new keys in and the removed ones out.
        let mut run = Run {
            entries: Vec::with_capacity(len + inserts.len()),
            dirty: Bits::default(),
            tracking,
        };
        let mut inserts = inserts.into_iter().peekable();
        for (at, e) in std::mem::take(entries).into_iter().enumerate() {
            while let Some((_, added)) = inserts.next_if(|(before, _)| *before == at) {
                run.push(added, true);
            }
            if gone.get(at) {
                if let Some(removed) = &mut self.removed {
                    removed.push(e.key);
                }
            } else {
                run.push(e, chunk.dirty.get(at));
            }
        }
        for (_, added) in inserts {
            run.push(added, true);
        }
        self.push_run(p, run);
    }

    /// Calls the function on a new key; if it gives the key a value, the entry goes before
    /// entry `before` of the chunk being merged.
    fn insert<V>(
        &mut self,
        p: u32,
        key: NewKey<K>,
        values: &[V],
        before: usize,
        inserts: &mut Vec<(usize, Entry<K, S>)>,
    ) where
        F: FnMut(&K, &[V], Option<&S>) -> Outcome<S>,
    {
        if let Outcome::Set { value, .. } = (self.f)(&key.key, values, None) {
            (self.emit)(p, &key.key, &value);
            inserts.push((
                before,
                Entry {
                    hash: key.hash,
                    key: key.key,
                    value,
                },
            ));
        }
    }

    /// Adds a run of entries of partition `p` as one chunk, or several if it is too long.
    fn push_run(&mut self, p: u32, run: Run<K, S>) {
        let Run {
            mut entries, dirty, ..
        } = run;
        if entries.len() <= MAX_CHUNK {
            entries.shrink_to_fit();
            self.push(Chunk {
                partition: p,
                entries: Arc::new(entries),
                dirty,
            });
            return;
        }
        let pieces = entries.len().div_ceil(CHUNK);
        let target = entries.len().div_ceil(pieces);
        let mut rest = entries.into_iter().peekable();
        let mut at = 0;
        while rest.peek().is_some() {
            let mut piece: Vec<Entry<K, S>> = Vec::with_capacity(target + 1);
            piece.extend(rest.by_ref().take(target));
            // Keys of one hash stay in one chunk.
            let last = piece.last().map(|e| e.hash);
            while let Some(e) = rest.next_if(|e| Some(e.hash) == last) {
                piece.push(e);
            }
            let bits = dirty.slice(at..at + piece.len());
            at += piece.len();
            piece.shrink_to_fit();
            self.push(Chunk {
                partition: p,
                entries: Arc::new(piece),
                dirty: bits,
            });
        }
    }

    /// Adds a chunk (dropping it if empty).
    fn push(&mut self, chunk: Chunk<K, S>) {
        if chunk.entries.is_empty() {
            return;
        }
        self.len += chunk.entries.len();
        self.out.push(chunk);
    }
}

/// Entries being gathered for one or more chunks.
struct Run<K, S> {
    entries: Vec<Entry<K, S>>,
    dirty: Bits,
    tracking: bool,
}

impl<K, S> Run<K, S> {
    fn push(&mut self, e: Entry<K, S>, dirty: bool) {
        if dirty && self.tracking {
            self.dirty.set(self.entries.len());
        }
        self.entries.push(e);
    }
}

impl<K: Key, S: Data> Table for OrderedState<K, S> {
    type Key = K;
    type Value = S;

    fn entries(&self) -> u64 {
        self.len() as u64
    }

    fn restore(&mut self, key: K, value: Option<S>) -> Result<(), TableError> {
        let Some(hash) = self.owned_hash(&key) else {
            return Ok(());
        };
        let place = (self.partition_of_hash(hash), hash);
        // Entries in the stable order (a full write of this table) go straight into chunks;
        // from the first that does not (the next file), they are kept as runs to merge.
        match value {
            Some(value)
                if self.restoring.is_empty()
                    && self.building.last_place().is_none_or(|last| last < place) =>
            {
                self.building
                    .push(place.0, Entry { hash, key, value }, false);
            }
            value => {
                let entry = (place.0, hash, key, value);
                match self.restoring.last_mut() {
                    Some(run) if run.last().is_none_or(|l| (l.0, l.1) <= place) => run.push(entry),
                    _ => self.restoring.push(vec![entry]),
                }
            }
        }
        Ok(())
    }

    fn finish_restore(&mut self) {
        // A restored key is not a change: the run's first write is a full one anyway.
        let tracking = self.tracking();
        let (built, built_len) =
            std::mem::replace(&mut self.building, ChunkBuilder::new(tracking)).finish();
        let runs = std::mem::take(&mut self.restoring);
        if runs.is_empty() && self.chunks.is_empty() {
            // One full write of this table (or nothing): in place already.
            (self.chunks, self.len) = (built, built_len);
            return;
        }
        // Entries the table had (normally none), then the chunks built, then the later runs.
        let placement = self.placement;
        let current = self.take_all();
        let mut sources: Vec<Box<dyn Iterator<Item = Restored<K, S>>>> = Vec::new();
        sources.push(Box::new(current.into_iter().map(move |(e, _)| {
            (
                placement.partition_of_hash(e.hash),
                e.hash,
                e.key,
                Some(e.value),
            )
        })));
        sources.push(Box::new(built.into_iter().flat_map(|chunk| {
            let p = chunk.partition;
            Arc::try_unwrap(chunk.entries)
                .unwrap_or_else(|shared| (*shared).clone())
                .into_iter()
                .map(move |e| (p, e.hash, e.key, Some(e.value)))
        })));
        sources.extend(
            runs.into_iter()
                .map(|run| Box::new(run.into_iter()) as Box<dyn Iterator<Item = _>>),
        );
        let mut out = ChunkBuilder::new(tracking);
        merge_runs(sources, &mut out);
        (self.chunks, self.len) = out.finish();
    }

    fn full_writes_only(&self) -> bool {
        !self.tracking()
    }

    fn write(&self, kind: WriteKind, out: &mut EntrySink<'_>) {
        match (kind, &self.removed) {
            (WriteKind::Delta, Some(removed)) => {
                // Removals first: a key removed and added again since the last write ends with
                // its value.
                for k in removed {
                    out.push(k, None::<&S>);
                }
                for chunk in &self.chunks {
                    if !chunk.dirty.any() {
                        continue;
                    }
                    for (i, e) in chunk.entries.iter().enumerate() {
                        if chunk.dirty.get(i) {
                            out.push(&e.key, Some(&e.value));
                        }
                    }
                }
            }
            _ => {
                for (k, _, v) in self.iter() {
                    out.push(k, Some(v));
                }
            }
        }
    }

    fn full_snapshot(&self) -> Option<Snapshot> {
        let chunks: Vec<Arc<Vec<Entry<K, S>>>> =
            self.chunks.iter().map(|c| c.entries.clone()).collect();
        Some(Box::new(move |out: &mut EntrySink<'_>| {
            // Each chunk is let go as soon as it is encoded, so that the worker copies fewer.
            for chunk in chunks {
                for e in chunk.iter() {
                    out.push(&e.key, Some(&e.value));
                }
            }
        }))
    }

    fn written(&mut self, _time: Time) {
        if let Some(removed) = &mut self.removed {
            removed.clear();
            for chunk in &mut self.chunks {
                chunk.dirty = Bits::default();
            }
        }
    }
}

/// Tells whether a value changed by comparing its encodings before and after, which is what a
/// checkpoint would write (values need not be comparable in memory). Keeps its buffers.
#[derive(Default)]
pub(crate) struct ChangeCheck {
    before: Vec<u8>,
    after: Vec<u8>,
}

impl ChangeCheck {
    /// Whether `after` encodes differently from `before` (a value that does not encode counts
    /// as changed).
    pub(crate) fn changed<S: serde::Serialize>(&mut self, before: &S, after: &S) -> bool {
        // Small values (counts, short strings) are encoded on the stack, and compared as whole
        // buffers (both zeroed past their encodings): a few vector compares, not a call.
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        let lengths = match (
            postcard::to_slice(before, &mut a),
            postcard::to_slice(after, &mut b),
        ) {
            (Ok(x), Ok(y)) => Some((x.len(), y.len())),
            _ => None,
        };
        if let Some((x, y)) = lengths {
            // Word by word up to the encoding's end: no call into `memcmp` for a few bytes.
            let word = |buf: &[u8; 64], i: usize| {
                u64::from_ne_bytes(buf[i * 8..i * 8 + 8].try_into().expect("8 bytes"))
            };
            return x != y || (0..x.div_ceil(8)).any(|i| word(&a, i) != word(&b, i));
        }
        let encode = |value: &S, buf: &mut Vec<u8>| {
            let mut bytes = std::mem::take(buf);
            bytes.clear();
            match postcard::to_extend(value, bytes) {
                Ok(bytes) => {
                    *buf = bytes;
                    true
                }
                Err(_) => false,
            }
        };
        if !encode(before, &mut self.before) || !encode(after, &mut self.after) {
            return true;
        }
        self.before != self.after
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::state_files::decode;
    use crate::hash::stable_hash;
    use crate::state::table::test_support::{owner, write_entries};

    type Ordered = OrderedState<String, u64>;

    /// A batch of `(key, values)` with the keys' real hashes, for `table`.
    fn batch(table: &Ordered, keys: &[(&str, &[u64])]) -> NewValues<String, u64> {
        let mut b = NewValues::default();
        for (k, vs) in keys {
            let hash = stable_hash(*k);
            b.push_all(
                table.partition_of_hash(hash),
                hash,
                k.to_string(),
                vs.to_vec(),
            );
        }
        b
    }

    /// Running sums: every key's new values added to its state; a key whose sum reaches 100
    /// is removed. Returns the calls `(key, values, old)` and the emitted `(key, value)`.
    #[allow(clippy::type_complexity)]
    fn sum(
        table: &mut Ordered,
        new: &mut NewValues<String, u64>,
    ) -> (
        Vec<(String, Vec<u64>, Option<u64>)>,
        Vec<(u32, String, u64)>,
    ) {
        let mut calls = Vec::new();
        let mut emitted = Vec::new();
        table.update_all(
            new,
            |k, vs, old| {
                calls.push((k.clone(), vs.to_vec(), old.copied()));
                let total = old.copied().unwrap_or(0) + vs.iter().sum::<u64>();
                match total {
                    100.. => Outcome::Remove,
                    _ => Outcome::Set {
                        value: total,
                        changed: old != Some(&total),
                    },
                }
            },
            |p, k, v| emitted.push((p, k.clone(), *v)),
        );
        (calls, emitted)
    }

    fn entries(table: &Ordered) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = table.iter().map(|(k, _, v)| (k.clone(), *v)).collect();
        out.sort();
        out
    }

    /// The entries a write of `kind` holds, sorted.
    fn written(table: &Ordered, kind: WriteKind) -> Vec<(String, Option<u64>)> {
        decoded(&write_entries(table, kind))
    }

    /// The entries of an encoded write, sorted.
    fn decoded(entries: &crate::checkpoint::Entries) -> Vec<(String, Option<u64>)> {
        let mut out = Vec::new();
        decode::<String, u64, std::convert::Infallible>(entries.bytes(), |k, v| {
            out.push((k, v));
            Ok(())
        })
        .unwrap();
        out.sort();
        out
    }

    fn is_stable_order(table: &Ordered) -> bool {
        let places: Vec<(u32, u64)> = table
            .iter()
            .map(|(_, h, _)| (table.partition_of_hash(h), h))
            .collect();
        places.windows(2).all(|w| w[0] <= w[1])
    }

    #[test]
    fn every_key_with_state_sees_the_function_each_batch_even_without_values() {
        let mut t = Ordered::new(owner(0, 1), 3);
        let mut b = batch(&t, &[("a", &[1, 2]), ("b", &[5])]);
        sum(&mut t, &mut b);
        assert_eq!(entries(&t), [("a".into(), 3), ("b".into(), 5)]);
        // A batch with nothing: both keys are called with no values, in the stable order.
        let (calls, emitted) = sum(&mut t, &mut NewValues::default());
        let mut sorted = calls.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            [("a".into(), vec![], Some(3)), ("b".into(), vec![], Some(5))]
        );
        let order: Vec<(u32, u64)> = emitted
            .iter()
            .map(|(p, k, _)| (*p, stable_hash(k)))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert!(
            emitted
                .iter()
                .all(|(p, k, _)| *p == t.partition_of_hash(stable_hash(k)))
        );
        // New values for one key, a new key; the untouched one still sees the function.
        let mut b = batch(&t, &[("c", &[7]), ("a", &[90, 10])]);
        let (mut calls, emitted) = sum(&mut t, &mut b);
        calls.sort();
        assert_eq!(
            calls,
            [
                ("a".into(), vec![90, 10], Some(3)),
                ("b".into(), vec![], Some(5)),
                ("c".into(), vec![7], None)
            ]
        );
        // `a` reached 100 and is gone, and not emitted.
        assert_eq!(entries(&t), [("b".into(), 5), ("c".into(), 7)]);
        assert_eq!(emitted.len(), 2);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn many_keys_split_into_chunks_and_stay_in_order() {
        let mut t = Ordered::new(owner(1, 2), 4);
        let keys: Vec<String> = (0..20_000).map(|i| format!("k{i}")).collect();
        let owned: Vec<&String> = keys.iter().filter(|k| t.owned_hash(k).is_some()).collect();
        // Loaded in three batches, then every key updated.
        for part in owned.chunks(owned.len() / 3 + 1) {
            let pairs: Vec<(&str, &[u64])> =
                part.iter().map(|k| (k.as_str(), &[1u64][..])).collect();
            let mut b = batch(&t, &pairs);
            sum(&mut t, &mut b);
            assert!(is_stable_order(&t));
        }
        assert_eq!(t.len(), owned.len());
        assert!(t.chunks.len() >= owned.len() / MAX_CHUNK);
        assert!(t.chunks.iter().all(|c| c.entries.len() <= MAX_CHUNK));
        // Every chunk holds one partition.
        assert!(t.chunks.iter().all(|c| {
            c.entries
                .iter()
                .all(|e| t.partition_of_hash(e.hash) == c.partition)
        }));
        let pairs: Vec<(&str, &[u64])> = owned.iter().map(|k| (k.as_str(), &[2u64][..])).collect();
        let mut b = batch(&t, &pairs);
        let (calls, emitted) = sum(&mut t, &mut b);
        assert_eq!(calls.len(), owned.len());
        assert_eq!(emitted.len(), owned.len());
        assert!(t.iter().all(|(_, _, v)| *v == 3));
    }

    #[test]
    fn keys_of_one_hash_are_told_apart() {
        let mut t = Ordered::new(owner(0, 1), 1);
        // Three keys forced onto one hash, arriving over two batches.
        let mut b = NewValues::default();
        b.push(0, 42, "x".to_string(), 1);
        b.push(0, 42, "y".to_string(), 2);
        b.push(0, 7, "w".to_string(), 3);
        sum(&mut t, &mut b);
        let mut b = NewValues::default();
        b.push(0, 42, "z".to_string(), 4);
        b.push(0, 42, "x".to_string(), 10);
        let (mut calls, _) = sum(&mut t, &mut b);
        calls.sort();
        assert_eq!(
            calls,
            [
                ("w".into(), vec![], Some(3)),
                ("x".into(), vec![10], Some(1)),
                ("y".into(), vec![], Some(2)),
                ("z".into(), vec![4], None),
            ]
        );
        assert_eq!(
            entries(&t),
            [
                ("w".into(), 3),
                ("x".into(), 11),
                ("y".into(), 2),
                ("z".into(), 4)
            ]
        );
    }

    #[test]
    fn deltas_hold_only_the_changed_and_removed_keys() {
        let mut t = Ordered::new(owner(0, 1), 2);
        let mut b = batch(&t, &[("a", &[1]), ("b", &[2]), ("c", &[3])]);
        sum(&mut t, &mut b);
        // New keys are changes.
        assert_eq!(
            written(&t, WriteKind::Delta),
            [
                ("a".into(), Some(1)),
                ("b".into(), Some(2)),
                ("c".into(), Some(3))
            ]
        );
        t.written(Time::from_millis(1000));
        // A batch that changes nothing (every key still sees the function): nothing to write.
        sum(&mut t, &mut NewValues::default());
        assert!(written(&t, WriteKind::Delta).is_empty());
        // One key changed, one removed.
        let mut b = batch(&t, &[("a", &[4]), ("c", &[97])]);
        sum(&mut t, &mut b);
        assert_eq!(
            written(&t, WriteKind::Delta),
            [("a".into(), Some(5)), ("c".into(), None)]
        );
        // Changes add up until written; a full write holds every key.
        let mut b = batch(&t, &[("b", &[1])]);
        sum(&mut t, &mut b);
        assert_eq!(
            written(&t, WriteKind::Delta),
            [
                ("a".into(), Some(5)),
                ("b".into(), Some(3)),
                ("c".into(), None)
            ]
        );
        assert_eq!(
            written(&t, WriteKind::Full),
            [("a".into(), Some(5)), ("b".into(), Some(3))]
        );
        t.written(Time::from_millis(2000));
        assert!(written(&t, WriteKind::Delta).is_empty());
    }

    #[test]
    fn a_full_snapshot_keeps_the_state_of_its_batch_while_the_table_goes_on() {
        let mut t = Ordered::new(owner(0, 1), 1);
        let keys: Vec<String> = (0..5000).map(|i| format!("k{i}")).collect();
        let pairs: Vec<(&str, &[u64])> = keys.iter().map(|k| (k.as_str(), &[1u64][..])).collect();
        let mut b = batch(&t, &pairs);
        sum(&mut t, &mut b);
        let expected = written(&t, WriteKind::Full);
        let snapshot = t
            .full_snapshot()
            .expect("ordered tables share their chunks");
        // The next batch changes every key and removes some while the snapshot is held.
        let pairs: Vec<(&str, &[u64])> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                (
                    k.as_str(),
                    if i % 7 == 0 {
                        &[99u64][..]
                    } else {
                        &[1u64][..]
                    },
                )
            })
            .collect();
        let mut b = batch(&t, &pairs);
        sum(&mut t, &mut b);
        sum(&mut t, &mut NewValues::default());
        let mut entries = crate::checkpoint::Entries::default();
        snapshot(&mut EntrySink::new(&mut entries));
        assert_eq!(decoded(&entries), expected);
        assert!(t.iter().all(|(_, _, v)| *v == 2));
        assert_eq!(t.len(), keys.len() - keys.len().div_ceil(7));
    }

    #[test]
    fn restore_in_written_order_or_any_other_gives_the_same_table() {
        let keys: Vec<String> = (0..3000).map(|i| format!("k{i}")).collect();
        let mut writer = Ordered::new(owner(0, 1), 4);
        let pairs: Vec<(&str, &[u64])> = keys.iter().map(|k| (k.as_str(), &[2u64][..])).collect();
        let mut b = batch(&writer, &pairs);
        sum(&mut writer, &mut b);
        let full = write_entries(&writer, WriteKind::Full);
        writer.written(Time::from_millis(1000));
        let mut b = batch(&writer, &[("k1", &[5]), ("k2", &[98]), ("new", &[1])]);
        sum(&mut writer, &mut b);
        let delta = write_entries(&writer, WriteKind::Delta);
        let expected = entries(&writer);

        // The same layout: the full write is in order.
        let mut same = Ordered::new(owner(0, 1), 4);
        for payload in [full.bytes(), delta.bytes()] {
            decode::<String, u64, TableError>(payload, |k, v| same.restore(k, v)).unwrap();
        }
        same.finish_restore();
        assert_eq!(entries(&same), expected);
        assert!(is_stable_order(&same));
        // Restoring is not a change.
        assert!(written(&same, WriteKind::Delta).is_empty());

        // Two workers each keep their own keys, whatever the order.
        let mut found = Vec::new();
        for w in 0..2 {
            let mut t = Ordered::new(owner(w, 2), 4);
            for payload in [full.bytes(), delta.bytes()] {
                decode::<String, u64, TableError>(payload, |k, v| t.restore(k, v)).unwrap();
            }
            t.finish_restore();
            assert!(is_stable_order(&t));
            found.extend(entries(&t));
        }
        found.sort();
        assert_eq!(found, expected);
    }

    #[test]
    fn initial_entries_and_a_rebuild_from_taken_entries() {
        let mut t = Ordered::new(owner(0, 1), 2);
        let mut b = batch(&t, &[("a", &[1]), ("b", &[2])]);
        sum(&mut t, &mut b);
        t.written(Time::from_millis(1000));
        let initial = t.owned(vec![("b".to_string(), 20), ("c".to_string(), 30)]);
        t.insert_all(initial);
        assert_eq!(
            entries(&t),
            [("a".into(), 1), ("b".into(), 20), ("c".into(), 30)]
        );
        assert_eq!(
            written(&t, WriteKind::Delta),
            [("b".into(), Some(20)), ("c".into(), Some(30))]
        );
        let all = t.take_all();
        assert_eq!(t.len(), 0);
        assert_eq!(all.iter().filter(|(_, dirty)| *dirty).count(), 2);
        t.put_all(all);
        assert_eq!(t.len(), 3);
        assert!(is_stable_order(&t));
        assert_eq!(
            written(&t, WriteKind::Delta),
            [("b".into(), Some(20)), ("c".into(), Some(30))]
        );
    }

    #[test]
    fn restored_runs_merge_with_the_latest_entry_of_each_key_winning() {
        let run = |entries: &[(u64, &str, Option<u64>)]| -> Vec<Restored<String, u64>> {
            entries
                .iter()
                .map(|(h, k, v)| (0, *h, k.to_string(), *v))
                .collect()
        };
        let runs = vec![
            // A full write, then deltas: `b` removed, then back; `x` and `y` share a hash.
            run(&[(1, "a", Some(1)), (5, "b", Some(2)), (6, "x", Some(5))]),
            run(&[(5, "b", None), (6, "y", Some(6)), (7, "c", Some(3))]),
            run(&[(1, "a", Some(9)), (6, "x", None)]),
            run(&[(5, "b", Some(4))]),
        ];
        let mut out: ChunkBuilder<String, u64> = ChunkBuilder::new(true);
        merge_runs(
            runs.into_iter()
                .map(|r| Box::new(r.into_iter()) as Box<dyn Iterator<Item = _>>)
                .collect(),
            &mut out,
        );
        let (chunks, len) = out.finish();
        assert_eq!(len, 4);
        assert!(chunks.iter().all(|c| !c.dirty.any()));
        let got: Vec<(u64, String, u64)> = chunks
            .iter()
            .flat_map(|c| c.entries.iter().map(|e| (e.hash, e.key.clone(), e.value)))
            .collect();
        assert_eq!(
            got,
            [
                (1, "a".into(), 9),
                (5, "b".into(), 4),
                (6, "y".into(), 6),
                (7, "c".into(), 3)
            ]
        );
    }

    #[test]
    fn encodings_tell_a_change() {
        let mut check = ChangeCheck::default();
        assert!(!check.changed(&5u64, &5u64));
        assert!(check.changed(&5u64, &6u64));
        assert!(!check.changed(&"abc".to_string(), &"abc".to_string()));
        assert!(check.changed(&vec![1u8], &vec![1u8, 2]));
        // Past the stack buffers.
        let long = vec![7u64; 100];
        let mut other = long.clone();
        assert!(!check.changed(&long, &other));
        other[99] = 8;
        assert!(check.changed(&long, &other));
    }
}
