//! `reduce_by_key_and_window_inv` (Spark's `ReducedWindowedDStream`): a window's value per key
//! computed incrementally from the previous window's, with an inverse function.
//!
//! Each batch is reduced per key first (`reduce_by_key`, which combines on each worker before
//! anything crosses workers), so each key's reduced value of a batch lands on the worker of the
//! key's partition. That worker keeps, for the keys of the partitions it owns:
//!
//! - the window's value per key as of the last slide time;
//! - the reduced values of the batches that later window computations still need (a ring of
//!   per-batch rows, by batch time).
//!
//! At a slide time `t` every key's value follows Spark's formula,
//! `new = f(inv(prev, reduce(old slices)), reduce(new slices))`, where the new slices are the
//! batches in `(t - slide, t]` and the old ones those in `(t - slide - window, t - window]`
//! (for a window shorter than its slide, the two windows' batches: see `slide_window`). Only
//! the keys found in those slices are computed, so a batch costs in proportion to the data of the
//! batches entering and leaving the window, plus emitting the result, whatever the window's
//! length. As in Spark, a key stays once seen, also when its value returns to the identity (e.g.
//! `("b", 0)`), unless the filter removes it; a key the filter removes is gone from the carried
//! state too (Spark carries the filtered result forward), so if it has values in later new slices
//! it starts again from those alone.
//!
//! The window values and the ring are checkpointed (changed keys and the batches added and
//! dropped since the previous write, with a full write every tenth checkpoint); the stream
//! requires a checkpoint directory, as in Spark.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;

use crate::data::{Data, Key};
use crate::dstream::DStream;
use crate::dstream::node::{BatchNode, WorkerInfo};
use crate::dstream::window::{
    WindowCheck, default_checkpoint_interval, next_slide_time, window_poison,
};
use crate::exec::{BatchLogic, Route};
use crate::partitioner::Partitioning;
use crate::scheduler::Tick;
use crate::state::{BatchBuffer, Checkpointed, Declared, FastMap, KeyedState, Parts};
use crate::time::Duration;

/// A filter of [`reduce_by_key_and_window_inv`](DStream::reduce_by_key_and_window_inv)'s
/// results (Spark's `filterFunc`): the keys for which it returns `false` are dropped from the
/// window and from the state carried to the next one. It must be a pure function of its
/// arguments: a key whose value did not change is not asked again.
///
/// # Examples
///
/// Word counts over the last two batches, without the words whose count fell to zero:
///
/// ```
/// use std::sync::Arc;
/// use ember::dstream::WindowFilter;
/// use ember::testing::StreamTest;
/// use ember::Duration;
///
/// # fn main() -> ember::Result<()> {
/// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
/// let dir = tempfile::tempdir().unwrap();
/// t.context().checkpoint(dir.path())?;
///
/// let w = |word: &str| (word.to_string(), 1i64);
/// let words = t.input(vec![vec![w("a"), w("b")], vec![w("a")], vec![]]);
/// let nonzero: WindowFilter<String, i64> = Arc::new(|_word, count| *count != 0);
/// let counts = words.reduce_by_key_and_window_inv(
///     |a, b| a + b,
///     |a, b| a - b,
///     Duration::seconds(2),
///     Duration::seconds(1),
///     None,
///     Some(nonzero),
/// );
/// let out = t.collect(&counts)?;
/// t.run(3)?;
/// let (a, b) = (|n| ("a".to_string(), n), |n| ("b".to_string(), n));
/// // "b" leaves the window at the third batch: its count is 0, and it is dropped.
/// assert_eq!(out.sorted_batches(), vec![vec![a(1), b(1)], vec![a(2), b(1)], vec![a(1)]]);
/// # Ok(())
/// # }
/// ```
pub type WindowFilter<K, V> = Arc<dyn Fn(&K, &V) -> bool + Send + Sync>;

type ReduceFn<V> = Arc<dyn Fn(V, V) -> V + Send + Sync>;
type Panic = Box<dyn std::any::Any + Send>;

/// The state of a `reduce_by_key_and_window_inv` stream on one worker: the window's value per
/// key as of the last slide time, and the reduced values of the parent's batches that coming
/// window computations still need (by batch time and partition: `(key, value)` rows, one per
/// key and batch). Both go into the worker's share: the changed keys and the batches added and
/// dropped since the previous write, with a full write every tenth checkpoint.
type Tables<K, V> = (KeyedState<K, V>, BatchBuffer<(K, V)>);

/// A key's reduced values from some slices: its partition, and `None` if `f` failed on them.
type Reduced<K, V> = FastMap<K, (u32, Option<V>)>;

struct ReducedWindow<K, V> {
    f: ReduceFn<V>,
    inv: ReduceFn<V>,
    filter: Option<WindowFilter<K, V>>,
    window: Duration,
    slide: Duration,
    state: Checkpointed<Tables<K, V>>,
}

impl<K: Key, V: Data> ReducedWindow<K, V> {
    /// Folds `v` into `k`'s reduced value; a panic in `f` marks the key as failed.
    fn fold(&self, map: &mut Reduced<K, V>, p: u32, k: K, v: V, panicked: &mut Option<Panic>) {
        match map.get_mut(&k) {
            Some((_, slot)) => {
                if let Some(acc) = slot.take() {
                    match catch_unwind(AssertUnwindSafe(|| (self.f)(acc, v))) {
                        Ok(r) => *slot = Some(r),
                        Err(e) => {
                            panicked.get_or_insert(e);
                        }
                    }
                }
            }
            None => {
                map.insert(k, (p, Some(v)));
            }
        }
    }

    /// Computes the window ending at `t` from the previous one and drops the batches no later
    /// computation needs.
    fn slide_window(&mut self, t: u64, panicked: &mut Option<Panic>) {
        let (w, s) = (self.window.as_millis(), self.slide.as_millis());
        // The new slices are the batches of this window the previous one did not have, the old
        // ones the batches of the previous window this one does not have: Spark's (t - s, t] and
        // (t - s - w, t - w] when the window is at least the slide. With a shorter window the
        // two windows are disjoint, and Spark's ranges would also take the batches between them
        // into both sides, which gives a key first seen there a wrong value; those batches are
        // left out here (see `finish`).
        let m = w.min(s);
        let new_from = t.saturating_sub(m);
        let old_from = t.saturating_sub(s + w);
        let old_to = old_from + m;
        let mut new_values: Reduced<K, V> = FastMap::default();
        for (_, parts) in self.state.1.range(new_from + 1..=t) {
            for (p, rows) in parts {
                for (k, v) in rows {
                    self.fold(&mut new_values, *p, k.clone(), v.clone(), panicked);
                }
            }
        }
        // Every batch at or before `t - w` leaves the buffer now (no later window has it): the
        // old slices are moved out of it.
        let mut old_values: Reduced<K, V> = FastMap::default();
        while let Some((batch, parts)) = self.state.1.pop_through(t.saturating_sub(w)) {
            if batch > old_from && batch <= old_to {
                for (p, rows) in parts {
                    for (k, v) in rows {
                        self.fold(&mut old_values, p, k, v, panicked);
                    }
                }
            }
        }
        for (k, (_, old)) in old_values.drain() {
            let new = new_values.remove(&k);
            self.update(k, Some(old), new, panicked);
        }
        for (k, new) in new_values.drain() {
            self.update(k, None, Some(new), panicked);
        }
    }

    /// One key's new window value from its reduced old and new slices (`Some(None)`: `f` failed
    /// on them, and the key keeps its value).
    fn update(
        &mut self,
        k: K,
        old: Option<Option<V>>,
        new: Option<(u32, Option<V>)>,
        panicked: &mut Option<Panic>,
    ) {
        if matches!(old, Some(None)) || matches!(new, Some((_, None))) {
            return;
        }
        let old = old.flatten();
        let new = new.map(|(_, v)| v.expect("checked above"));
        let (hash, value) = match (self.state.0.get_hashed(&k), new) {
            // Spark: without a previous value the window's value is the new slices' alone.
            (None, Some(value)) => (crate::hash::stable_hash(&k), value),
            // Spark throws "Neither previous window has value for key, nor new values found"
            // here (a key the filter removed, still in old slices): nothing to carry.
            (None, None) => return,
            (Some((hash, prev)), new) => {
                let prev = prev.clone();
                let computed = catch_unwind(AssertUnwindSafe(|| {
                    let mut value = prev;
                    if let Some(old) = old {
                        value = (self.inv)(value, old);
                    }
                    if let Some(n) = new {
                        value = (self.f)(value, n);
                    }
                    value
                }));
                match computed {
                    Ok(value) => (hash, value),
                    Err(e) => {
                        // The key keeps its previous value: it is unchanged.
                        panicked.get_or_insert(e);
                        return;
                    }
                }
            }
        };
        let keep = match &self.filter {
            None => true,
            Some(filter) => match catch_unwind(AssertUnwindSafe(|| filter(&k, &value))) {
                Ok(keep) => keep,
                Err(e) => {
                    panicked.get_or_insert(e);
                    true
                }
            },
        };
        if keep {
            self.state.0.insert_hashed(k, hash, value);
        } else {
            self.state.0.remove(&k);
        }
    }
}

impl<K: Key, V: Data> BatchLogic<(K, V), (K, V)> for ReducedWindow<K, V> {
    type Acc = Parts<(K, V)>;

    fn absorb(&mut self, acc: &mut Self::Acc, partition: u32, record: (K, V)) {
        acc.entry(partition).or_default().push(record);
    }

    fn finish(&mut self, tick: &Tick, acc: &mut Self::Acc, out: &mut Vec<(u32, (K, V))>) {
        let t = tick.time.as_millis();
        let slide_time = tick.is_slide_time(self.slide);
        // A batch between two slide times that the next window does not reach (the window is
        // shorter than the slide) is in no window: it is not kept.
        let next_start = next_slide_time(tick, self.slide).saturating_sub(self.window.as_millis());
        if slide_time || t > next_start {
            if !acc.is_empty() {
                self.state.1.insert(t, std::mem::take(acc));
            }
        } else {
            acc.clear();
        }
        let mut panicked = None;
        if slide_time {
            self.slide_window(t, &mut panicked);
            self.state.0.emit(out, |k, v| (k.clone(), v.clone()));
        }
        // Written at every checkpoint time, slide time or not: the commit of any batch needs
        // every stateful stream's share.
        self.state.checkpoint(tick);
        if let Some(p) = panicked {
            resume_unwind(p);
        }
    }
}

impl<K: Key, V: Data> DStream<(K, V)> {
    /// Every `slide_duration`, the values of each key over the last `window_duration` reduced
    /// with `f`, computed incrementally (Spark's `reduceByKeyAndWindow` with `invReduceFunc`):
    /// the batches entering the window are added with `f` and those leaving it removed with
    /// `inv_f`, which must undo `f` (`inv_f(f(a, b), b) == a`). A batch costs in proportion to
    /// the data entering and leaving the window (plus the output), not to the window's length.
    ///
    /// As in Spark, a key stays in the results once seen, also when its value returns to the
    /// identity (e.g. `("b", 0)`), unless `filter` returns `false` for it: then it is dropped,
    /// from the results and from the state carried to the next window (see [`WindowFilter`]).
    /// Both durations must be multiples of this stream's slide; `partitions` defaults to the
    /// default parallelism.
    ///
    /// Needs a checkpoint directory ([`StreamingContext::checkpoint`](crate::StreamingContext::checkpoint)),
    /// as in Spark; the state is written every checkpoint interval (by default the smallest
    /// multiple of the slide that is at least 10 s; see [`DStream::checkpoint`]).
    ///
    /// # Examples
    ///
    /// Word counts over the last two batches, every batch:
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// # fn main() -> ember::Result<()> {
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let dir = tempfile::tempdir().unwrap();
    /// t.context().checkpoint(dir.path())?;
    ///
    /// let w = |word: &str| (word.to_string(), 1i64);
    /// let words = t.input(vec![vec![w("a"), w("b")], vec![w("a")], vec![], vec![]]);
    /// let counts = words.reduce_by_key_and_window_inv(
    ///     |a, b| a + b, // a batch enters the window
    ///     |a, b| a - b, // a batch leaves it
    ///     Duration::seconds(2),
    ///     Duration::seconds(1),
    ///     None,
    ///     None,
    /// );
    /// let out = t.collect(&counts)?;
    /// t.run(4)?;
    /// let (a, b) = (|n| ("a".to_string(), n), |n| ("b".to_string(), n));
    /// // As in Spark, a key stays once seen, also at zero.
    /// assert_eq!(out.sorted_batches(), vec![
    ///     vec![a(1), b(1)],
    ///     vec![a(2), b(1)],
    ///     vec![a(1), b(0)],
    ///     vec![a(0), b(0)],
    /// ]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn reduce_by_key_and_window_inv(
        &self,
        f: impl Fn(V, V) -> V + Send + Sync + 'static,
        inv_f: impl Fn(V, V) -> V + Send + Sync + 'static,
        window_duration: Duration,
        slide_duration: Duration,
        partitions: impl Partitioning,
        filter: Option<WindowFilter<K, V>>,
    ) -> DStream<(K, V)> {
        let n = partitions
            .partition_count()
            .unwrap_or_else(|| self.ssc.context().default_parallelism())
            .max(1);
        let poison = window_poison(
            WindowCheck::Reduced,
            self.meta.slide,
            window_duration,
            slide_duration,
        );
        let f: ReduceFn<V> = Arc::new(f);
        let inv: ReduceFn<V> = Arc::new(inv_f);
        let per_batch = f.clone();
        let reduced = self.reduce_by_key(move |a, b| per_batch(a, b), Some(n));
        let tables = Declared::new(move |owner| -> Tables<K, V> {
            (KeyedState::new(owner, n), BatchBuffer::by_key(owner, n))
        });
        let open = tables.clone();
        let node = BatchNode::new(
            &reduced,
            "reduce_by_key_and_window",
            Route::Local,
            move |w: WorkerInfo| ReducedWindow {
                f: f.clone(),
                inv: inv.clone(),
                filter: filter.clone(),
                window: window_duration,
                slide: slide_duration,
                state: open.open(&w),
            },
        );
        reduced.derive_window(
            "reduce_by_key_and_window",
            slide_duration,
            poison,
            node,
            Some(default_checkpoint_interval(slide_duration)),
            tables.restorer(),
        )
    }
}
