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

use std::collections::BTreeMap;
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
use crate::state::{Checkpointed, Declared, FastMap, KeyedState, Writes};
use crate::time::Duration;

/// What the function of [`DStream::update_state_by_key_iter`] gets: a partition's keys, each
/// with its new values (empty when it got none) and its previous state (`None` for a new key).
pub type StateRows<K, V, S> = std::vec::IntoIter<(K, Vec<V>, Option<S>)>;

/// The function, type-erased: one partition's rows in, its new state out.
type PartitionFn<K, V, S> = Arc<dyn Fn(StateRows<K, V, S>) -> Vec<(K, S)> + Send + Sync>;

struct UpdatePartitions<K, V, S> {
    update: PartitionFn<K, V, S>,
    slide: Duration,
    /// This worker and its partitions.
    worker: usize,
    placement: Placement,
    states: Checkpointed<KeyedState<K, S>>,
    /// The initial state's keys owned here (with their hashes), merged in the first batch.
    initial: Option<Vec<(u64, K, S)>>,
}

/// One key's row before the call: its hash, new values and previous state.
type Row<K, V, S> = (u64, K, Vec<V>, Option<S>);

impl<K: Key, V: Data, S: Data> UpdatePartitions<K, V, S> {
    /// Takes every key with state or new values out of the table, grouped by partition and
    /// sorted by hash within each.
    fn take_rows(&mut self, acc: &mut FastMap<K, Vec<V>>) -> BTreeMap<u32, Vec<Row<K, V, S>>> {
        let keys: Vec<K> = self.states.iter().map(|(k, _, _)| k.clone()).collect();
        let mut rows: Vec<Row<K, V, S>> = Vec::with_capacity(keys.len() + acc.len());
        for k in keys {
            if let Some((hash, state)) = self.states.remove(&k) {
                let values = acc.remove(&k).unwrap_or_default();
                rows.push((hash, k, values, Some(state)));
            }
        }
        rows.extend(
            acc.drain()
                .map(|(k, values)| (stable_hash(&k), k, values, None)),
        );
        let mut by_partition: BTreeMap<u32, Vec<Row<K, V, S>>> = BTreeMap::new();
        for row in rows {
            let p = self.placement.partition_of_hash(row.0);
            by_partition.entry(p).or_default().push(row);
        }
        for part in by_partition.values_mut() {
            part.sort_unstable_by_key(|row| row.0);
        }
        by_partition
    }

    /// Calls the function on `partition`'s rows and stores what it returns; on a panic the
    /// partition keeps its previous state. A returned key of another worker's partition is an
    /// error (its state is dropped).
    fn update_partition(
        &mut self,
        partition: u32,
        rows: Vec<Row<K, V, S>>,
        out: &mut Vec<(u32, (K, S))>,
    ) -> Result<(), Box<dyn std::any::Any + Send>> {
        let previous: Vec<(u64, K, S)> = rows
            .iter()
            .filter_map(|(h, k, _, s)| Some((*h, k.clone(), s.clone()?)))
            .collect();
        let input: Vec<(K, Vec<V>, Option<S>)> =
            rows.into_iter().map(|(_, k, vs, s)| (k, vs, s)).collect();
        let update = &self.update;
        let returned = match catch_unwind(AssertUnwindSafe(|| update(input.into_iter()))) {
            Ok(returned) => returned,
            Err(panic) => {
                for (hash, k, s) in previous {
                    self.states.insert_hashed(k, hash, s);
                }
                return Err(panic);
            }
        };
        let mut foreign = None;
        for (k, s) in returned {
            let hash = stable_hash(&k);
            let own = self.placement.partition_of_hash(hash);
            if self.placement.owns(self.worker, own) {
                self.states.insert_hashed(k.clone(), hash, s.clone());
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
}

impl<K: Key, V: Data, S: Data> BatchLogic<(K, Vec<V>), (K, S)> for UpdatePartitions<K, V, S> {
    type Acc = FastMap<K, Vec<V>>;

    fn absorb(&mut self, acc: &mut Self::Acc, _partition: u32, (k, mut vs): (K, Vec<V>)) {
        acc.entry(k)
            .and_modify(|old| old.append(&mut vs))
            .or_insert(vs);
    }

    fn finish(&mut self, tick: &Tick, acc: &mut Self::Acc, out: &mut Vec<(u32, (K, S))>) {
        if !tick.is_slide_time(self.slide) {
            return;
        }
        if let Some(initial) = self.initial.take() {
            for (hash, k, state) in initial {
                self.states.insert_hashed(k, hash, state);
            }
        }
        let mut rows = self.take_rows(acc);
        let mut first_failure = None;
        // Every partition of this worker, empty ones included, as Spark maps every partition.
        for partition in self.placement.partitions_of(self.worker) {
            let part = rows.remove(&partition).unwrap_or_default();
            if let Err(failure) = self.update_partition(partition, part, out) {
                first_failure.get_or_insert(failure);
            }
        }
        self.states.checkpoint(tick);
        if let Some(failure) = first_failure {
            resume_unwind(failure);
        }
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
        let grouped = self.group_by_key(n);
        let update: PartitionFn<K, V, S> = Arc::new(move |rows| update(rows).into_iter().collect());
        let slide = self.meta.slide;
        // Every key may change in every batch: every write is a full one.
        let tables = Declared::new(move |owner| KeyedState::<K, S>::new(owner, n, Writes::Full));
        let open = tables.clone();
        let node = BatchNode::new(
            &grouped,
            "update_state_by_key_iter",
            Route::Local,
            move |w: WorkerInfo| {
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
                }
            },
        );
        let stream = grouped.derive("update_state_by_key_iter", slide, n, &[&grouped.meta], node);
        self.ssc.register_stateful(
            stream.meta.id,
            Some(default_checkpoint_interval(slide)),
            tables.restorer(),
        );
        stream
    }
}
