//! Key-based aggregation per batch (Spark's `ShuffledDStream`): `combine_by_key` and the
//! operations built on it (`reduce_by_key`, `group_by_key`, `fold_by_key`).
//!
//! Two stages, as Spark's map-side combine: each worker combines the values of each key as
//! records arrive, so most of the work overlaps with receiving; when the batch closes, the
//! partial results travel to the worker of their key's partition (a stable hash of the key) and
//! are merged. Keys come out of a partition in the order of their stable hash, so output does not
//! depend on arrival order, worker count or process count.

use std::sync::Arc;

use crate::data::{Data, Key};
use crate::dstream::DStream;
use crate::dstream::combine_map::CombineMap;
use crate::dstream::node::{BatchNode, WorkerInfo};
use crate::exec::{BatchLogic, Route};
use crate::hash::{partition_of_hash, stable_hash};
use crate::partitioner::Partitioning;
use crate::scheduler::Tick;

/// Spark's `Aggregator`: how values of one key become a combiner.
pub(crate) struct Combiner<V, C> {
    pub(crate) create: Arc<dyn Fn(V) -> C + Send + Sync>,
    pub(crate) merge_value: Arc<dyn Fn(C, V) -> C + Send + Sync>,
    pub(crate) merge_combiners: Arc<dyn Fn(C, C) -> C + Send + Sync>,
}

impl<V, C> Clone for Combiner<V, C> {
    fn clone(&self) -> Self {
        Combiner {
            create: self.create.clone(),
            merge_value: self.merge_value.clone(),
            merge_combiners: self.merge_combiners.clone(),
        }
    }
}

/// Stage one: combine locally, then address each key to its partition.
struct CombineLocally<K, V, C> {
    agg: Combiner<V, C>,
    partitions: usize,
    /// The finished batch's combiners, given a step at a time (see `emit_more`): never copied
    /// whole into one output next to the map.
    finished: Option<crate::dstream::combine_map::IntoIter<K, C>>,
}

impl<K: Key, V: Data, C: Data> BatchLogic<(K, V), (K, C)> for CombineLocally<K, V, C> {
    type Acc = CombineMap<K, C>;

    fn absorb(&mut self, acc: &mut Self::Acc, _partition: u32, (k, v): (K, V)) {
        // One hash and probe per record, whether the key is new or not.
        acc.add(k, v, &*self.agg.create, &*self.agg.merge_value);
    }

    fn absorb_run(&mut self, acc: &mut Self::Acc, run: &mut Vec<(u32, (K, V))>) {
        acc.add_run(run, &*self.agg.create, &*self.agg.merge_value);
    }

    fn finish(&mut self, _tick: &Tick, acc: &mut Self::Acc, _out: &mut Vec<(u32, (K, C))>) {
        self.finished = Some(acc.take());
    }

    fn emit_more(&mut self, out: &mut Vec<(u32, (K, C))>, budget: usize) -> bool {
        let Some(left) = &mut self.finished else {
            return true;
        };
        out.reserve(budget.min(left.len()));
        out.extend(
            left.by_ref()
                .take(budget)
                .map(|(k, c)| (partition_of_hash(stable_hash(&k), self.partitions), (k, c))),
        );
        let done = left.len() == 0;
        if done {
            self.finished = None;
        }
        done
    }
}

/// Stage two: merge the partial combiners of each key in its partition.
struct MergeCombiners<K, C> {
    merge: Arc<dyn Fn(C, C) -> C + Send + Sync>,
    /// The finished batch's keys in order, given a step at a time (see `emit_more`).
    finished: Option<std::vec::IntoIter<(u32, u64, K, C)>>,
}

impl<K: Key, C: Data> BatchLogic<(K, C), (K, C)> for MergeCombiners<K, C> {
    /// Each key's partition (as the first stage addressed it) and combiner.
    type Acc = CombineMap<K, (u32, C)>;

    fn absorb(&mut self, acc: &mut Self::Acc, partition: u32, (k, c): (K, C)) {
        acc.add(
            k,
            c,
            |c| (partition, c),
            |(p, old), c| (p, (self.merge)(old, c)),
        );
    }

    fn finish(&mut self, _tick: &Tick, acc: &mut Self::Acc, _out: &mut Vec<(u32, (K, C))>) {
        let mut rows: Vec<(u32, u64, K, C)> = Vec::with_capacity(acc.len());
        rows.extend(acc.drain().map(|(k, (p, c))| (p, stable_hash(&k), k, c)));
        rows.sort_unstable_by_key(|r| (r.0, r.1));
        self.finished = Some(rows.into_iter());
    }

    fn emit_more(&mut self, out: &mut Vec<(u32, (K, C))>, budget: usize) -> bool {
        let Some(left) = &mut self.finished else {
            return true;
        };
        out.reserve(budget.min(left.len()));
        out.extend(left.by_ref().take(budget).map(|(p, _, k, c)| (p, (k, c))));
        let done = left.len() == 0;
        if done {
            self.finished = None;
        }
        done
    }
}

impl<K: Key, V: Data> DStream<(K, V)> {
    /// Combines the values of each key in each batch (Spark's `combineByKey`), over `partitions`
    /// partitions (default parallelism when `None`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// // (sum, count) of each key's values.
    /// let stats = test_operation("local[2]", vec![vec![('a', 1), ('a', 3), ('b', 5)]], |s| {
    ///     s.combine_by_key(|v| (v, 1), |(sum, n), v| (sum + v, n + 1), |(s1, n1), (s2, n2)| (s1 + s2, n1 + n2), None)
    /// }, 1)?;
    /// assert_eq!(stats, [[('a', (4, 2)), ('b', (5, 1))]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn combine_by_key<C: Data>(
        &self,
        create: impl Fn(V) -> C + Send + Sync + 'static,
        merge_value: impl Fn(C, V) -> C + Send + Sync + 'static,
        merge_combiners: impl Fn(C, C) -> C + Send + Sync + 'static,
        partitions: impl Partitioning,
    ) -> DStream<(K, C)> {
        let agg = Combiner {
            create: Arc::new(create),
            merge_value: Arc::new(merge_value),
            merge_combiners: Arc::new(merge_combiners),
        };
        self.combine_with("combine_by_key", agg, partitions)
    }

    pub(crate) fn combine_with<C: Data>(
        &self,
        name: &'static str,
        agg: Combiner<V, C>,
        partitions: impl Partitioning,
    ) -> DStream<(K, C)> {
        let n = partitions
            .partition_count()
            .unwrap_or_else(|| self.ssc.context().default_parallelism())
            .max(1);
        let slide = self.meta.slide;
        let local_agg = agg.clone();
        let local = BatchNode::new(self, name, Route::Local, move |_w: WorkerInfo| {
            CombineLocally {
                agg: local_agg.clone(),
                partitions: n,
                finished: None,
            }
        });
        let partial: DStream<(K, C)> = self.derive(name, slide, n, &[&self.meta], local);
        let merge = agg.merge_combiners.clone();
        let node = BatchNode::new(&partial, name, Route::ByPartition, move |_w: WorkerInfo| {
            MergeCombiners {
                merge: merge.clone(),
                finished: None,
            }
        });
        partial
            .derive(name, slide, n, &[&partial.meta], node)
            .partitioned_by_key(n)
    }

    /// Merges the values of each key in each batch with `f` (Spark's `reduceByKey`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// let input = vec![vec![('a', 1), ('b', 2), ('a', 3)], vec![('b', 4)]];
    /// let sums = test_operation("local[2]", input, |s| s.reduce_by_key(|a, b| a + b, None), 2)?;
    /// assert_eq!(sums, [vec![('a', 4), ('b', 2)], vec![('b', 4)]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn reduce_by_key(
        &self,
        f: impl Fn(V, V) -> V + Send + Sync + 'static,
        partitions: impl Partitioning,
    ) -> DStream<(K, V)> {
        let f: Arc<dyn Fn(V, V) -> V + Send + Sync> = Arc::new(f);
        let agg = Combiner {
            create: Arc::new(|v| v),
            merge_value: f.clone(),
            merge_combiners: f,
        };
        self.combine_with("reduce_by_key", agg, partitions)
    }

    /// Folds the values of each key in each batch, starting from `zero` (Spark's `foldByKey`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// let input = vec![vec![('a', 2), ('a', 3), ('b', 5)]];
    /// let products = test_operation("local[2]", input, |s| s.fold_by_key(1, |a, b| a * b, None), 1)?;
    /// assert_eq!(products, [[('a', 6), ('b', 5)]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn fold_by_key(
        &self,
        zero: V,
        f: impl Fn(V, V) -> V + Send + Sync + 'static,
        partitions: impl Partitioning,
    ) -> DStream<(K, V)> {
        let f: Arc<dyn Fn(V, V) -> V + Send + Sync> = Arc::new(f);
        let g = f.clone();
        let agg = Combiner {
            create: Arc::new(move |v| g(zero.clone(), v)),
            merge_value: f.clone(),
            merge_combiners: f,
        };
        self.combine_with("fold_by_key", agg, partitions)
    }

    /// The values of each key in each batch, together (Spark's `groupByKey`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// let input = vec![vec![('a', 1), ('a', 3), ('b', 2), ('b', 4)]];
    /// let groups = test_operation("local[2]", input, |s| s.group_by_key(None), 1)?;
    /// assert_eq!(groups, [[('a', vec![1, 3]), ('b', vec![2, 4])]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn group_by_key(&self, partitions: impl Partitioning) -> DStream<(K, Vec<V>)> {
        let agg = Combiner {
            create: Arc::new(|v| vec![v]),
            merge_value: Arc::new(|mut c: Vec<V>, v| {
                c.push(v);
                c
            }),
            merge_combiners: Arc::new(|mut a: Vec<V>, mut b: Vec<V>| {
                a.append(&mut b);
                a
            }),
        };
        self.combine_with("group_by_key", agg, partitions)
    }
}
