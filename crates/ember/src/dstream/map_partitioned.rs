//! Whole-partition transformations: `map_partitions`, `map_partitions_with_index`, `glom`
//! (Spark's `MapPartitionedDStream`, `GlommedDStream`). They see each partition of a batch
//! whole, so they run once the batch is complete.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::data::Data;
use crate::dstream::DStream;
use crate::dstream::node::{BatchNode, WorkerInfo};
use crate::exec::{BatchLogic, Route};
use crate::scheduler::Tick;

type PartitionFn<T, U> = Arc<dyn Fn(usize, Vec<T>) -> Vec<U> + Send + Sync>;

struct PerPartition<T, U> {
    f: PartitionFn<T, U>,
    worker: WorkerInfo,
    partitions: usize,
    slide: crate::time::Duration,
    /// The parent's `Meta::absent_when`: without a parent RDD there are no partitions to run on.
    absent_when: Arc<BTreeSet<usize>>,
}

impl<T: Data, U: Data> BatchLogic<T, U> for PerPartition<T, U> {
    type Acc = BTreeMap<u32, Vec<T>>;

    fn absorb(&mut self, acc: &mut Self::Acc, partition: u32, record: T) {
        acc.entry(partition).or_default().push(record);
    }

    fn finish(&mut self, tick: &Tick, acc: &mut Self::Acc, out: &mut Vec<(u32, U)>) {
        let mut acc = std::mem::take(acc);
        if !tick.is_slide_time(self.slide) || !tick.has_rdd(&self.absent_when) {
            return;
        }
        // Every partition this worker owns is processed, empty or not, as Spark runs a task per
        // partition; partitions beyond the usual count (inputs whose batches vary) too.
        let mut parts: Vec<u32> = self.worker.owned(self.partitions).collect();
        parts.extend(
            acc.keys()
                .copied()
                .filter(|p| *p as usize >= self.partitions),
        );
        for p in parts {
            let records = acc.remove(&p).unwrap_or_default();
            out.extend((self.f)(p as usize, records).into_iter().map(|u| (p, u)));
        }
    }
}

impl<T: Data> DStream<T> {
    /// Applies `f` to each partition of each batch as a whole.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// // With `local[2]`, the test input cuts [1, 2, 3, 4] into the partitions [1, 2] and [3, 4].
    /// let sums = test_operation("local[2]", vec![vec![1, 2, 3, 4]], |s| {
    ///     s.map_partitions(|part| [part.iter().sum::<i32>()])
    /// }, 1)?;
    /// assert_eq!(sums, [[3, 7]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn map_partitions<U: Data, I>(
        &self,
        f: impl Fn(Vec<T>) -> I + Send + Sync + 'static,
    ) -> DStream<U>
    where
        I: IntoIterator<Item = U>,
    {
        self.map_partitions_with_index(move |_, part| f(part))
    }

    /// Applies `f` to each partition of each batch as a whole, with the partition's index.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// let tagged = test_operation("local[2]", vec![vec![1, 2, 3, 4]], |s| {
    ///     s.map_partitions_with_index(|i, part| part.into_iter().map(move |x| (i, x)))
    /// }, 1)?;
    /// assert_eq!(tagged, [[(0, 1), (0, 2), (1, 3), (1, 4)]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn map_partitions_with_index<U: Data, I>(
        &self,
        f: impl Fn(usize, Vec<T>) -> I + Send + Sync + 'static,
    ) -> DStream<U>
    where
        I: IntoIterator<Item = U>,
    {
        let f: PartitionFn<T, U> = Arc::new(move |i, part| f(i, part).into_iter().collect());
        self.per_partition("map_partitions", f)
    }

    /// One vector per partition of each batch, holding the partition's elements.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// let parts = test_operation("local[2]", vec![vec![1, 2, 3]], |s| s.glom(), 1)?;
    /// assert_eq!(parts, [[vec![1], vec![2, 3]]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn glom(&self) -> DStream<Vec<T>> {
        self.per_partition("glom", Arc::new(|_, part| vec![part]))
    }

    fn per_partition<U: Data>(&self, name: &'static str, f: PartitionFn<T, U>) -> DStream<U> {
        let partitions = self.meta.partitions;
        let slide = self.meta.slide;
        let absent_when = self.meta.absent_when.clone();
        let node = BatchNode::new(self, name, Route::Local, move |worker| PerPartition {
            f: f.clone(),
            worker,
            partitions,
            slide,
            absent_when: absent_when.clone(),
        });
        self.derive(name, slide, partitions, &[&self.meta], node)
    }
}
