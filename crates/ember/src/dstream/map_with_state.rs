//! `map_with_state` (Spark's `MapWithStateDStream`): a state per key that the user's function
//! reads and changes once per record, emitting what it returns.
//!
//! Unlike `update_state_by_key`, a batch costs in proportion to its records, not to the state:
//! the function runs only for keys with data (and for keys timing out, found through an index
//! ordered by last update), only changed keys are written at checkpoints (with a full write every
//! tenth checkpoint), and the whole state is emitted only if [`state_snapshots`] is used.
//!
//! [`state_snapshots`]: MapWithStateDStream::state_snapshots

use std::collections::BTreeMap;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::data::{Data, Key};
use crate::dstream::DStream;
use crate::dstream::node::{BatchNode, NarrowNode, WorkerInfo};
use crate::exec::{BatchLogic, Route};
use crate::scheduler::Tick;
use crate::state::{
    BatchMappingFn, Checkpointed, Declared, KeyBatch, KeyOutcome, KeyedState, Mapping, MappingFn,
    State, StateSpec,
};
use crate::time::{Duration, Time};

/// What the state operator emits: mapped values, and the state when snapshots are wanted.
#[derive(Clone, Serialize, Deserialize)]
enum Emitted<K, S, M> {
    Mapped(M),
    Snapshot(K, S),
}

/// The state of a `map_with_state` stream on one worker: each key's state with the batch of
/// its last data (idle timeouts count from it). Only the keys changed since the previous
/// checkpoint are written, with a full write every tenth checkpoint.
type Tables<K, S> = KeyedState<K, (S, Time)>;

struct MapWithState<K, V, S, M> {
    func: Mapping<K, V, S, M>,
    slide: Duration,
    timeout: Option<Duration>,
    states: Checkpointed<Tables<K, S>>,
    /// Keys by last update, for timeouts: (update time, hash) -> keys.
    idle: BTreeMap<(Time, u64), Vec<K>>,
    snapshots: bool,
    /// The initial state's keys owned here (with their hashes), merged in the first batch.
    initial: Option<Vec<(u64, K, S)>>,
    _v: std::marker::PhantomData<fn(V)>,
}

impl<K: Key, V: Data, S: Data, M: Data> MapWithState<K, V, S, M> {
    fn new(
        states: Checkpointed<Tables<K, S>>,
        spec: &StateSpec<K, V, S, M>,
        slide: Duration,
        snapshots: bool,
    ) -> Self {
        let initial = match &spec.initial {
            Some(rdd) if !states.was_restored() => Some(states.owned(rdd.collect())),
            _ => None,
        };
        let mut idle: BTreeMap<(Time, u64), Vec<K>> = BTreeMap::new();
        if spec.timeout.is_some() {
            for (k, hash, (_, updated)) in states.iter() {
                idle.entry((*updated, hash)).or_default().push(k.clone());
            }
        }
        MapWithState {
            func: spec.func.clone(),
            slide,
            timeout: spec.timeout,
            states,
            idle,
            snapshots,
            initial,
            _v: std::marker::PhantomData,
        }
    }

    /// Sets a key's state (and its place in the idle index).
    fn put(&mut self, k: K, hash: u64, state: S, updated: Time) {
        if self.timeout.is_some() {
            self.idle
                .entry((updated, hash))
                .or_default()
                .push(k.clone());
        }
        self.states.insert_hashed(k, hash, (state, updated));
    }

    /// Takes a key's hash, state and last update out of the state (and out of the idle index).
    fn take(&mut self, k: &K) -> Option<(u64, S, Time)> {
        let (hash, (state, updated)) = self.states.remove(k)?;
        if self.timeout.is_some()
            && let Some(keys) = self.idle.get_mut(&(updated, hash))
        {
            keys.retain(|x| x != k);
            if keys.is_empty() {
                self.idle.remove(&(updated, hash));
            }
        }
        Some((hash, state, updated))
    }

    /// Takes out the keys whose last update is before `time - timeout` (Spark's rule), with
    /// their hashes and states.
    fn take_timed_out(&mut self, time: Time) -> Vec<(u64, K, S)> {
        let mut taken = Vec::new();
        let Some(timeout) = self.timeout else {
            return taken;
        };
        let threshold = Time::from_millis(time.as_millis().saturating_sub(timeout.as_millis()));
        while let Some(entry) = self.idle.first_entry() {
            if entry.key().0 >= threshold {
                break;
            }
            for k in entry.remove() {
                if let Some((hash, (state, _))) = self.states.remove(&k) {
                    taken.push((hash, k, state));
                }
            }
        }
        taken
    }

    /// The per-record function over the batch: each key's values in order, then the keys
    /// timing out. A panic is kept in `panicked` (the first of the batch) and the state stays
    /// as the function left it.
    fn map_records(
        &mut self,
        f: &MappingFn<K, V, S, M>,
        time: Time,
        acc: &mut Vec<(u32, (K, Vec<V>))>,
        out: &mut Vec<(u32, Emitted<K, S, M>)>,
        panicked: &mut Option<Box<dyn std::any::Any + Send>>,
    ) {
        let mut call =
            |k: &K, v: Option<V>, state: &mut State<S>| match catch_unwind(AssertUnwindSafe(|| {
                f(time, k, v, state)
            })) {
                Ok(m) => m.map(Emitted::Mapped),
                Err(p) => {
                    panicked.get_or_insert(p);
                    None
                }
            };
        for (partition, (k, values)) in acc.drain(..) {
            let old = self.take(&k);
            let hash = old
                .as_ref()
                .map(|(hash, _, _)| *hash)
                .unwrap_or_else(|| crate::hash::stable_hash(&k));
            let mut current = old.map(|(_, s, _)| s);
            for v in values {
                let mut state = State::new(current.take(), false);
                if let Some(e) = call(&k, Some(v), &mut state) {
                    out.push((partition, e));
                }
                current = state.into_value();
            }
            if let Some(s) = current {
                self.put(k, hash, s, time);
            }
        }
        for (hash, k, state) in self.take_timed_out(time) {
            let partition = self.states.partition_of_hash(hash);
            let mut state = State::new(Some(state), true);
            if let Some(e) = call(&k, None, &mut state) {
                out.push((partition, e));
            }
        }
    }

    /// The batch function over the batch: one call with every key that has values or times
    /// out. If it panics (or answers for another number of keys), the keys with values keep
    /// the state they had, and the panic fails the batch.
    fn map_batch(
        &mut self,
        f: &BatchMappingFn<K, V, S, M>,
        time: Time,
        acc: &mut Vec<(u32, (K, Vec<V>))>,
        out: &mut Vec<(u32, Emitted<K, S, M>)>,
        panicked: &mut Option<Box<dyn std::any::Any + Send>>,
    ) {
        // Per call: its partition, its key's hash and, for a key with values, its last update
        // before this batch (None: a new key, or one timing out).
        let mut places: Vec<(u32, u64, Option<Time>)> = Vec::with_capacity(acc.len());
        let mut calls: Vec<KeyBatch<K, V, S>> = Vec::with_capacity(acc.len());
        for (partition, (key, values)) in acc.drain(..) {
            let (hash, state, updated) = match self.take(&key) {
                Some((hash, state, updated)) => (hash, Some(state), Some(updated)),
                None => (crate::hash::stable_hash(&key), None, None),
            };
            places.push((partition, hash, updated));
            calls.push(KeyBatch {
                key,
                values,
                state,
                timing_out: false,
            });
        }
        for (hash, key, state) in self.take_timed_out(time) {
            places.push((self.states.partition_of_hash(hash), hash, None));
            calls.push(KeyBatch {
                key,
                values: Vec::new(),
                state: Some(state),
                timing_out: true,
            });
        }
        if calls.is_empty() {
            return;
        }
        let outcomes = catch_unwind(AssertUnwindSafe(|| f(time, &calls))).and_then(|outcomes| {
            if outcomes.len() == calls.len() {
                Ok(outcomes)
            } else {
                let message = format!(
                    "the map_with_state batch function returned {} outcomes for {} keys",
                    outcomes.len(),
                    calls.len()
                );
                Err(Box::new(message) as Box<dyn std::any::Any + Send>)
            }
        });
        match outcomes {
            Ok(outcomes) => {
                for ((call, (partition, hash, _)), outcome) in
                    calls.into_iter().zip(places).zip(outcomes)
                {
                    let KeyOutcome { state, emitted } = outcome;
                    out.extend(emitted.into_iter().map(|m| (partition, Emitted::Mapped(m))));
                    // A key timing out loses its state whatever the call did (Spark's rule).
                    if let (false, Some(s)) = (call.timing_out, state) {
                        self.put(call.key, hash, s, time);
                    }
                }
            }
            Err(p) => {
                for (call, (_, hash, updated)) in calls.into_iter().zip(places) {
                    if let (false, Some(s), Some(updated)) = (call.timing_out, call.state, updated)
                    {
                        self.put(call.key, hash, s, updated);
                    }
                }
                panicked.get_or_insert(p);
            }
        }
    }
}

impl<K: Key, V: Data, S: Data, M: Data> BatchLogic<(K, Vec<V>), Emitted<K, S, M>>
    for MapWithState<K, V, S, M>
{
    type Acc = Vec<(u32, (K, Vec<V>))>;

    fn absorb(&mut self, acc: &mut Self::Acc, partition: u32, record: (K, Vec<V>)) {
        acc.push((partition, record));
    }

    fn finish(&mut self, tick: &Tick, acc: &mut Self::Acc, out: &mut Vec<(u32, Emitted<K, S, M>)>) {
        if !tick.is_slide_time(self.slide) {
            return;
        }
        let time = tick.time;
        let mut panicked = None;
        if let Some(initial) = self.initial.take() {
            // Initial keys count as updated in the first batch (Spark's rule).
            for (hash, k, s) in initial {
                self.put(k, hash, s, time);
            }
        }
        match self.func.clone() {
            Mapping::Record(f) => self.map_records(&f, time, acc, out, &mut panicked),
            Mapping::Batch(f) => self.map_batch(&f, time, acc, out, &mut panicked),
        }
        if self.snapshots {
            self.states
                .emit(out, |k, (s, _)| Emitted::Snapshot(k.clone(), s.clone()));
        }
        self.states.checkpoint(tick);
        if let Some(p) = panicked {
            resume_unwind(p);
        }
    }
}

/// The stream of a [`map_with_state`](DStream::map_with_state): the function's results (it
/// dereferences to that `DStream<M>`), and the state itself through
/// [`state_snapshots`](Self::state_snapshots).
///
/// # Examples
///
/// ```
/// use ember::state::{State, StateSpec};
/// use ember::testing::StreamTest;
/// use ember::Duration;
///
/// # fn main() -> ember::Result<()> {
/// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
/// let dir = tempfile::tempdir().unwrap();
/// t.context().checkpoint(dir.path())?;
///
/// let w = |word: &str| (word.to_string(), 1u64);
/// let words = t.input(vec![vec![w("a"), w("b"), w("a")], vec![w("b")]]);
/// // Emits each word with its count so far.
/// let spec = StateSpec::function(|word: &String, one: Option<u64>, state: &mut State<u64>| {
///     let total = state.get_option().copied().unwrap_or(0) + one.unwrap_or(0);
///     state.update(total);
///     (word.clone(), total)
/// });
/// let counts = words.map_with_state(spec);
/// let out = t.collect(&counts)?; // the function's results
/// let state = t.collect(&counts.state_snapshots())?; // every key's state
/// t.run(2)?;
/// let a = |n| ("a".to_string(), n);
/// let b = |n| ("b".to_string(), n);
/// assert_eq!(out.sorted_batches(), vec![vec![a(1), a(2), b(1)], vec![b(2)]]);
/// assert_eq!(state.sorted_batches(), vec![vec![a(2), b(1)], vec![a(2), b(2)]]);
/// # Ok(())
/// # }
/// ```
pub struct MapWithStateDStream<K: Key, S: Data, M: Data> {
    mapped: DStream<M>,
    emitted: DStream<Emitted<K, S, M>>,
    snapshots: Arc<AtomicBool>,
}

impl<K: Key, S: Data, M: Data> Deref for MapWithStateDStream<K, S, M> {
    type Target = DStream<M>;
    fn deref(&self) -> &DStream<M> {
        &self.mapped
    }
}

impl<K: Key, S: Data, M: Data> MapWithStateDStream<K, S, M> {
    /// Every key's state after each batch (Spark's `stateSnapshots`). Asking for it makes every
    /// batch emit the whole state, which costs in proportion to the state.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::state::{State, StateSpec};
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// # fn main() -> ember::Result<()> {
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let dir = tempfile::tempdir().unwrap();
    /// t.context().checkpoint(dir.path())?;
    ///
    /// let w = |word: &str| (word.to_string(), 1u64);
    /// let words = t.input(vec![vec![w("a"), w("b"), w("a")], vec![w("b")]]);
    /// // Emits each word with its count so far.
    /// let spec = StateSpec::function(|word: &String, one: Option<u64>, state: &mut State<u64>| {
    ///     let total = state.get_option().copied().unwrap_or(0) + one.unwrap_or(0);
    ///     state.update(total);
    ///     (word.clone(), total)
    /// });
    /// let counts = words.map_with_state(spec);
    /// let snapshots = t.collect(&counts.state_snapshots())?;
    /// t.run(2)?;
    /// let a = |n| ("a".to_string(), n);
    /// let b = |n| ("b".to_string(), n);
    /// // Also the keys without data in the batch ("a" in the second).
    /// assert_eq!(snapshots.sorted_batches(), vec![vec![a(2), b(1)], vec![a(2), b(2)]]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn state_snapshots(&self) -> DStream<(K, S)> {
        self.snapshots.store(true, Ordering::SeqCst);
        let node = NarrowNode::new(&self.emitted, "state_snapshots", |e| match e {
            Emitted::Snapshot(k, s) => Some((k, s)),
            _ => None,
        });
        self.emitted.derive(
            "state_snapshots",
            self.emitted.meta.slide,
            self.emitted.meta.partitions,
            &[&self.emitted.meta],
            node,
        )
    }

    /// The mapped values as a plain stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::state::{State, StateSpec};
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// # fn main() -> ember::Result<()> {
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let dir = tempfile::tempdir().unwrap();
    /// t.context().checkpoint(dir.path())?;
    ///
    /// let w = |word: &str| (word.to_string(), 1u64);
    /// let words = t.input(vec![vec![w("a"), w("b"), w("a")], vec![w("b")]]);
    /// // Emits each word with its count so far.
    /// let spec = StateSpec::function(|word: &String, one: Option<u64>, state: &mut State<u64>| {
    ///     let total = state.get_option().copied().unwrap_or(0) + one.unwrap_or(0);
    ///     state.update(total);
    ///     (word.clone(), total)
    /// });
    /// let counts = words.map_with_state(spec);
    /// let plain: ember::DStream<(String, u64)> = counts.stream();
    /// let out = t.collect(&plain.filter(|(_, n)| *n > 1))?;
    /// t.run(2)?;
    /// assert_eq!(out.sorted_batches(), vec![vec![("a".to_string(), 2)], vec![("b".to_string(), 2)]]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn stream(&self) -> DStream<M> {
        self.mapped.clone()
    }

    /// Sets how often the state is checkpointed (forwarded to the state, as in Spark).
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::state::{State, StateSpec};
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// # fn main() -> ember::Result<()> {
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let dir = tempfile::tempdir().unwrap();
    /// t.context().checkpoint(dir.path())?;
    ///
    /// let w = |word: &str| (word.to_string(), 1u64);
    /// let words = t.input(vec![vec![w("a"), w("b"), w("a")], vec![w("b")]]);
    /// // Emits each word with its count so far.
    /// let spec = StateSpec::function(|word: &String, one: Option<u64>, state: &mut State<u64>| {
    ///     let total = state.get_option().copied().unwrap_or(0) + one.unwrap_or(0);
    ///     state.update(total);
    ///     (word.clone(), total)
    /// });
    /// let counts = words.map_with_state(spec);
    /// counts.checkpoint(Duration::seconds(2))?;
    /// t.collect(&counts)?;
    /// t.run(2)?;
    /// // The first checkpoint is that of batch 2 (the default would be every 10 batches).
    /// assert!(!dir.path().join("checkpoint-1000").exists());
    /// assert!(dir.path().join("checkpoint-2000").is_file());
    /// # Ok(())
    /// # }
    /// ```
    pub fn checkpoint(&self, interval: Duration) -> crate::Result<()> {
        self.emitted.checkpoint(interval)
    }
}

impl<K: Key, V: Data> DStream<(K, V)> {
    /// A state per key that `spec`'s function reads and updates for every record of the batch,
    /// emitting what the function returns (Spark's `mapWithState`). Keys without data in a batch
    /// cost nothing, except when they time out (see [`StateSpec::timeout`]).
    ///
    /// Needs a checkpoint directory, as in Spark; the state is checkpointed every 10 batches by
    /// default (Spark's default for `mapWithState`).
    ///
    /// # Examples
    ///
    /// A running count per word, emitted for every occurrence:
    ///
    /// ```
    /// use ember::state::{State, StateSpec};
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// # fn main() -> ember::Result<()> {
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let dir = tempfile::tempdir().unwrap();
    /// t.context().checkpoint(dir.path())?;
    ///
    /// let w = |word: &str| (word.to_string(), 1u64);
    /// let words = t.input(vec![vec![w("a"), w("b"), w("a")], vec![w("b")]]);
    /// // Emits each word with its count so far.
    /// let spec = StateSpec::function(|word: &String, one: Option<u64>, state: &mut State<u64>| {
    ///     let total = state.get_option().copied().unwrap_or(0) + one.unwrap_or(0);
    ///     state.update(total);
    ///     (word.clone(), total)
    /// });
    /// let counts = words.map_with_state(spec);
    /// let out = t.collect(&counts)?;
    /// t.run(2)?;
    /// let a = |n| ("a".to_string(), n);
    /// let b = |n| ("b".to_string(), n);
    /// assert_eq!(out.sorted_batches(), vec![vec![a(1), a(2), b(1)], vec![b(2)]]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn map_with_state<S: Data, M: Data>(
        &self,
        spec: StateSpec<K, V, S, M>,
    ) -> MapWithStateDStream<K, S, M> {
        let n = spec
            .partitions
            .unwrap_or_else(|| self.ssc.context().default_parallelism())
            .max(1);
        let grouped = self.group_by_key(Some(n));
        let slide = self.meta.slide;
        let snapshots = Arc::new(AtomicBool::new(false));
        let wanted = snapshots.clone();
        let tables = Declared::new(move |owner| Tables::<K, S>::new(owner, n));
        let open = tables.clone();
        let node = BatchNode::new(
            &grouped,
            "map_with_state",
            Route::Local,
            move |w: WorkerInfo| {
                MapWithState::new(open.open(&w), &spec, slide, wanted.load(Ordering::SeqCst))
            },
        );
        // Spark's `InternalMapWithStateDStream` reads a missing parent RDD as an empty one: the
        // state (timeouts included) moves on at every batch, and the stream has an RDD.
        let emitted: DStream<Emitted<K, S, M>> = grouped
            .derive("map_with_state", slide, n, &[&grouped.meta], node)
            .always_has_rdd();
        self.ssc.register_stateful(
            emitted.meta.id,
            Some(Duration::milliseconds(slide.as_millis() * 10)),
            tables.restorer(),
        );
        let pick = NarrowNode::new(&emitted, "map_with_state", |e| match e {
            Emitted::Mapped(m) => Some(m),
            _ => None,
        });
        let mapped = emitted.derive("map_with_state", slide, n, &[&emitted.meta], pick);
        MapWithStateDStream {
            mapped,
            emitted,
            snapshots,
        }
    }
}
