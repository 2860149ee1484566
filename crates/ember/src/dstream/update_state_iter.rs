//! `update_state_by_key`'s iterator form (Spark's `updateStateByKey` with
//! `Iterator[(K, Seq[V], Option[S])] => Iterator[(K, S)]`): the function gets a whole partition
//! at once and returns the partition's new state.
//!
//! Spark cogroups the batch with the previous state and maps each partition with the function,
//! so the function is called once per partition in every batch, empty partitions included, with
//! every key that has state or new values. What it returns *is* the new state: a key it leaves
//! out is removed, and it may return keys it was not given. ember does the same on the worker
//! that owns each partition (see `update_state.rs` for the per-key forms): the partition's keys
//! are taken out of the worker's table, handed to the function in the order of their stable hash,
//! and what it returns goes back in and out as the batch's partition, in the function's order.
//!
//! The state stays where its key's partition is (ember never shuffles state), so a returned key
//! must belong to a partition of the same worker: then it joins its own partition, as in Spark
//! without `remember_partitioner`. A key of another worker's partition fails the batch (the
//! partition keeps its previous state), since state cannot move between workers.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;

use crate::data::{Data, Key};
use crate::dstream::DStream;
use crate::dstream::node::{BatchNode, WorkerInfo};
use crate::dstream::window::default_checkpoint_interval;
use crate::exec::{BatchLogic, Route};
use crate::hash::stable_hash;
use crate::partitioner::Partitioning;
use crate::placement::Placement;
use crate::rdd::Rdd;
use crate::scheduler::Tick;
use crate::state::{ChangeCheck, Checkpointed, Declared, Entry, NewValues, OrderedState};
use crate::time::Duration;

/// What the function of [`DStream::update_state_by_key_iter`] gets: a partition's keys, each
/// with its new values (empty when it got none) and its previous state (`None` for a new key).
pub type StateRows<K, V, S> = std::vec::IntoIter<(K, Vec<V>, Option<S>)>;

/// The function, type-erased: one partition's rows in, its new state out.
type PartitionFn<K, V, S> = Arc<dyn Fn(StateRows<K, V, S>) -> Vec<(K, S)> + Send + Sync>;

/// A key's state before the batch, with whether it changed since the last checkpoint write.
type Previous<K, S> = (Entry<K, S>, bool);

struct UpdatePartitions<K, V, S> {
    update: PartitionFn<K, V, S>,
    slide: Duration,
    /// This worker and its partitions.
    worker: usize,
    placement: Placement,
    states: Checkpointed<OrderedState<K, S>>,
    /// The initial state's keys owned here (with their hashes), merged in the first batch.
    initial: Option<Vec<(u64, K, S)>>,
    changes: ChangeCheck,
}

/// The next new key of the batch (if it is of `partition` and has `hash`), with its values.
fn next_new<K, V>(
    keys: &mut std::iter::Peekable<std::vec::Drain<'_, crate::state::NewKey<K>>>,
    values: &mut std::vec::Drain<'_, V>,
    partition: u32,
    hash: Option<u64>,
) -> Option<(K, Vec<V>)> {
    let k = keys.next_if(|k| k.partition == partition && hash.is_none_or(|h| k.hash == h))?;
    Some((k.key, values.by_ref().take(k.count as usize).collect()))
}

impl<K: Key, V: Data, S: Data> UpdatePartitions<K, V, S> {
    /// The rows of `partition`: its keys with state (`previous`, in hash order) and its new
    /// keys, each with its new values, in hash order.
    fn rows(
        previous: &[Previous<K, S>],
        keys: &mut std::iter::Peekable<std::vec::Drain<'_, crate::state::NewKey<K>>>,
        values: &mut std::vec::Drain<'_, V>,
        partition: u32,
    ) -> Vec<(K, Vec<V>, Option<S>)> {
        let mut rows = Vec::with_capacity(previous.len());
        let mut i = 0;
        let mut same_new: Vec<(K, Vec<V>)> = Vec::new();
        loop {
            let next_previous = previous.get(i).map(|(e, _)| e.hash);
            let next_key = keys
                .peek()
                .filter(|k| k.partition == partition)
                .map(|k| k.hash);
            let hash = match (next_previous, next_key) {
                (None, None) => break,
                (Some(h), None) | (None, Some(h)) => h,
                (Some(a), Some(b)) => a.min(b),
            };
            while let Some(new) = next_new(keys, values, partition, Some(hash)) {
                same_new.push(new);
            }
            while let Some((e, _)) = previous.get(i).filter(|(e, _)| e.hash == hash) {
                let new = match same_new.iter().position(|(k, _)| *k == e.key) {
                    Some(at) => same_new.remove(at).1,
                    None => Vec::new(),
                };
                rows.push((e.key.clone(), new, Some(e.value.clone())));
                i += 1;
            }
            rows.extend(same_new.drain(..).map(|(k, vs)| (k, vs, None)));
        }
        rows
    }

    /// Calls the function on `partition`'s rows; what it returns goes into `produced` (the new
    /// state, in call order) and `out`. On a panic the partition keeps `previous`. A returned
    /// key of another worker's partition is an error (its state is dropped).
    fn update_partition(
        &self,
        partition: u32,
        rows: Vec<(K, Vec<V>, Option<S>)>,
        previous: &[Previous<K, S>],
        produced: &mut Vec<(u32, Entry<K, S>)>,
        out: &mut Vec<(u32, (K, S))>,
    ) -> Result<(), Box<dyn std::any::Any + Send>> {
        let update = &self.update;
        let returned = match catch_unwind(AssertUnwindSafe(|| update(rows.into_iter()))) {
            Ok(returned) => returned,
            Err(panic) => {
                produced.extend(previous.iter().map(|(e, _)| (partition, e.clone())));
                return Err(panic);
            }
        };
        let mut foreign = None;
        out.reserve(returned.len());
        for (k, s) in returned {
            let hash = stable_hash(&k);
            let own = self.placement.partition_of_hash(hash);
            if self.placement.owns(self.worker, own) {
                let entry = Entry {
                    hash,
                    key: k.clone(),
                    value: s.clone(),
                };
                produced.push((own, entry));
                out.push((partition, (k, s)));
            } else {
                foreign.get_or_insert((hash, own));
            }
        }
        match foreign {
            None => Ok(()),
            Some((hash, own)) => Err(Box::new(format!(
                "updateStateByKey: the function returned a key (stable hash {hash:#018x}) for \
                 partition {partition}, \
                 but the key belongs to partition {own}, on worker {} (ember keeps each key's \
                 state on the worker of its partition and cannot move it)",
                self.placement.worker_of(own)
            ))),
        }
    }

    /// The new state from what the functions returned (`produced`, in call order: of a key
    /// returned twice the last wins), each key marked changed unless its encoding is the one
    /// it had (`previous`); keys no longer there are noted as removed.
    fn store(&mut self, mut produced: Vec<(u32, Entry<K, S>)>, previous: Vec<Previous<K, S>>) {
        produced.sort_by_key(|(p, e)| (*p, e.hash));
        let placement = self.placement;
        let mut fresh: Vec<Previous<K, S>> = Vec::with_capacity(produced.len());
        let mut run_start = 0;
        for (_, e) in produced {
            if fresh.last().is_none_or(|(last, _)| last.hash != e.hash) {
                run_start = fresh.len();
            }
            match fresh[run_start..].iter_mut().find(|(x, _)| x.key == e.key) {
                Some(slot) => slot.0 = e,
                None => fresh.push((e, true)),
            }
        }
        // Which keys changed: a merge of the old and the new state, both in the stable order.
        let place = |e: &Entry<K, S>| (placement.partition_of_hash(e.hash), e.hash);
        let mut previous = previous.into_iter().peekable();
        let mut i = 0;
        while i < fresh.len() || previous.peek().is_some() {
            let next = fresh.get(i).map(|(e, _)| place(e));
            let old = previous.peek().map(|(e, _)| place(e));
            match (next, old) {
                (Some(n), Some(o)) if o < n => {
                    let (e, _) = previous.next().expect("peeked");
                    self.states.note_removed(e.key);
                }
                (None, Some(_)) => {
                    let (e, _) = previous.next().expect("peeked");
                    self.states.note_removed(e.key);
                }
                (Some(n), Some(o)) if o == n => {
                    // Every key of this hash on both sides.
                    let end = fresh[i..]
                        .iter()
                        .position(|(e, _)| place(e) != n)
                        .map_or(fresh.len(), |len| i + len);
                    while let Some((e, was_dirty)) = previous.next_if(|(e, _)| place(e) == o) {
                        match fresh[i..end].iter_mut().find(|(x, _)| x.key == e.key) {
                            Some((x, dirty)) => {
                                *dirty = was_dirty || self.changes.changed(&e.value, &x.value);
                            }
                            None => self.states.note_removed(e.key),
                        }
                    }
                    i = end;
                }
                _ => i += 1,
            }
        }
        self.states.put_all(fresh);
    }
}

impl<K: Key, V: Data, S: Data> UpdatePartitions<K, V, S> {
    fn update_batch(
        &mut self,
        tick: &Tick,
        new: &mut NewValues<K, V>,
        out: &mut Vec<(u32, (K, S))>,
    ) {
        if !tick.is_slide_time(self.slide) {
            new.clear();
            return;
        }
        if let Some(initial) = self.initial.take() {
            self.states.insert_all(initial);
        }
        new.prepare();
        let previous = self.states.take_all();
        let mut produced = Vec::with_capacity(previous.len() + new.len());
        let mut first_failure = None;
        {
            let NewValues { keys, values, .. } = &mut *new;
            let mut keys = keys.drain(..).peekable();
            let mut values = values.drain(..);
            let mut at = 0;
            // Every partition of this worker, empty ones included, as Spark maps every partition.
            for partition in self.placement.partitions_of(self.worker) {
                // (Keys of partitions this worker does not hold cannot come; if any did, they
                // are dropped rather than looping on them.)
                while keys.next_if(|k| k.partition < partition).is_some() {}
                let end = at
                    + previous[at..].partition_point(|(e, _)| {
                        self.placement.partition_of_hash(e.hash) <= partition
                    });
                let part = &previous[at..end];
                let rows = Self::rows(part, &mut keys, &mut values, partition);
                if let Err(failure) =
                    self.update_partition(partition, rows, part, &mut produced, out)
                {
                    first_failure.get_or_insert(failure);
                }
                at = end;
            }
        }
        new.clear();
        self.store(produced, previous);
        self.states.checkpoint(tick);
        if let Some(failure) = first_failure {
            resume_unwind(failure);
        }
    }
}

impl<K: Key, V: Data, S: Data> BatchLogic<(K, Vec<V>), (K, S)> for UpdatePartitions<K, V, S> {
    type Acc = NewValues<K, V>;

    fn absorb(&mut self, acc: &mut Self::Acc, _partition: u32, (k, vs): (K, Vec<V>)) {
        let hash = stable_hash(&k);
        acc.push_all(self.placement.partition_of_hash(hash), hash, k, vs);
    }

    fn finish(&mut self, tick: &Tick, acc: &mut Self::Acc, out: &mut Vec<(u32, (K, S))>) {
        self.update_batch(tick, acc, out);
    }
}

impl<K: Key, V: Data, S: Data> BatchLogic<(K, V), (K, S)> for UpdatePartitions<K, V, S> {
    type Acc = NewValues<K, V>;

    fn absorb(&mut self, acc: &mut Self::Acc, _partition: u32, (k, v): (K, V)) {
        let hash = stable_hash(&k);
        acc.push(self.placement.partition_of_hash(hash), hash, k, v);
    }

    fn finish(&mut self, tick: &Tick, acc: &mut Self::Acc, out: &mut Vec<(u32, (K, S))>) {
        self.update_batch(tick, acc, out);
    }
}

impl<K: Key, V: Data> DStream<(K, V)> {
    /// A running state per key computed a partition at a time (Spark's `updateStateByKey` with
    /// an iterator function): in every batch `update` is called once for each partition, empty
    /// ones included, with every key of the partition that has state or new values (see
    /// [`StateRows`]), and returns the partition's new state. A key it does not return is
    /// removed; it may return keys it was not given, of partitions of the same worker (another
    /// worker's fails the batch: ember does not move state between workers). A key returned twice
    /// keeps the last state. The stream's batches hold what the function returned, partition by
    /// partition.
    ///
    /// `partitions` is `None` (the default parallelism), a count or a
    /// [`Partitioner`](crate::Partitioner). `remember_partitioner` is Spark's: there it decides
    /// whether the state keeps its partitioner, which spares a shuffle of the state in the next
    /// batch and would keep a key returned for another partition there. ember's state never
    /// shuffles and always lives in its key's partition, so both values give the same stream;
    /// a key returned for another partition joins its own partition from the next batch on, as
    /// in Spark with `false`.
    ///
    /// Needs a checkpoint directory, as every state; see [`update_state_by_key`](Self::update_state_by_key).
    ///
    /// # Examples
    ///
    /// Spark's own test function: running counts, from an iterator.
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::{Duration, Partitioner};
    ///
    /// # fn main() -> ember::Result<()> {
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let dir = tempfile::tempdir().unwrap();
    /// t.context().checkpoint(dir.path())?;
    ///
    /// let w = |word: &str| (word.to_string(), 1u64);
    /// let words = t.input(vec![vec![w("a"), w("b"), w("a")], vec![w("b")]]);
    /// let totals = words.update_state_by_key_iter(
    ///     |rows| {
    ///         rows.map(|(word, new, total): (String, Vec<u64>, Option<u64>)| {
    ///             (word, total.unwrap_or(0) + new.iter().sum::<u64>())
    ///         })
    ///     },
    ///     Partitioner::hash(2),
    ///     true,
    /// );
    /// let out = t.collect(&totals)?;
    /// t.run(2)?;
    /// assert_eq!(out.sorted_batches(), vec![
    ///     vec![("a".to_string(), 2), ("b".to_string(), 1)],
    ///     vec![("a".to_string(), 2), ("b".to_string(), 2)],
    /// ]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn update_state_by_key_iter<S: Data, I>(
        &self,
        update: impl Fn(StateRows<K, V, S>) -> I + Send + Sync + 'static,
        partitions: impl Partitioning,
        remember_partitioner: bool,
    ) -> DStream<(K, S)>
    where
        I: IntoIterator<Item = (K, S)>,
    {
        self.update_partitions(update, partitions, remember_partitioner, None)
    }

    /// [`update_state_by_key_iter`](Self::update_state_by_key_iter) starting from `initial`
    /// (Spark's variant with an `initialRDD`): its keys are in the first batch's rows, with
    /// their initial state.
    ///
    /// # Examples
    ///
    /// Keys that only the initial state has still go through the function, and are removed
    /// when it leaves them out:
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// # fn main() -> ember::Result<()> {
    /// let t = StreamTest::new("local[1]", Duration::seconds(1))?;
    /// let dir = tempfile::tempdir().unwrap();
    /// t.context().checkpoint(dir.path())?;
    ///
    /// let sc = t.context().context();
    /// let initial = sc.parallelize(vec![("a".to_string(), 10u64), ("z".to_string(), 1)], 1);
    /// let words = t.input(vec![vec![("a".to_string(), 1u64)], vec![]]);
    /// let seen = words.update_state_by_key_iter_with_initial(
    ///     // Keeps only the keys with new values, adding them up.
    ///     |rows| {
    ///         rows.filter(|(_, new, _): &(String, Vec<u64>, Option<u64>)| !new.is_empty())
    ///             .map(|(k, new, old)| (k, old.unwrap_or(0) + new.iter().sum::<u64>()))
    ///             .collect::<Vec<_>>()
    ///     },
    ///     None,
    ///     false,
    ///     initial,
    /// );
    /// let out = t.collect(&seen)?;
    /// t.run(2)?;
    /// assert_eq!(out.batches(), vec![vec![("a".to_string(), 11)], vec![]]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn update_state_by_key_iter_with_initial<S: Data, I>(
        &self,
        update: impl Fn(StateRows<K, V, S>) -> I + Send + Sync + 'static,
        partitions: impl Partitioning,
        remember_partitioner: bool,
        initial: Rdd<(K, S)>,
    ) -> DStream<(K, S)>
    where
        I: IntoIterator<Item = (K, S)>,
    {
        self.update_partitions(update, partitions, remember_partitioner, Some(initial))
    }

    fn update_partitions<S: Data, I>(
        &self,
        update: impl Fn(StateRows<K, V, S>) -> I + Send + Sync + 'static,
        partitions: impl Partitioning,
        // Accepted for Spark's signature: ember's state keeps its partitioning either way.
        _remember_partitioner: bool,
        initial: Option<Rdd<(K, S)>>,
    ) -> DStream<(K, S)>
    where
        I: IntoIterator<Item = (K, S)>,
    {
        let n = partitions
            .partition_count()
            .unwrap_or_else(|| self.ssc.context().default_parallelism())
            .max(1);
        let update: PartitionFn<K, V, S> = Arc::new(move |rows| update(rows).into_iter().collect());
        let slide = self.meta.slide;
        let tables = Declared::new(move |owner| OrderedState::<K, S>::new(owner, n));
        let open = tables.clone();
        let make = move |w: WorkerInfo| {
            let states = open.open(&w);
            // A restored state already holds what the initial state became.
            let initial = match &initial {
                Some(rdd) if !states.was_restored() => Some(states.owned(rdd.collect())),
                _ => None,
            };
            UpdatePartitions {
                update: update.clone(),
                slide,
                worker: w.index,
                placement: Placement::new(w.workers, n),
                states,
                initial,
                changes: ChangeCheck::default(),
            }
        };
        let name = "update_state_by_key_iter";
        let stream = if self.meta.key_partitions == Some(n) {
            // Each key's values are on its worker already.
            let node = BatchNode::new(self, name, Route::Local, make);
            self.derive(name, slide, n, &[&self.meta], node)
        } else {
            let grouped = self.group_by_key(n);
            let node = BatchNode::new(&grouped, name, Route::Local, make);
            grouped.derive(name, slide, n, &[&grouped.meta], node)
        };
        self.ssc.register_stateful(
            stream.meta.id,
            Some(default_checkpoint_interval(slide)),
            tables.restorer(),
        );
        stream
    }
}
