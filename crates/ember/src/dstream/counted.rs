//! Whole-batch aggregates: `count`, `reduce`, `count_by_value` (Spark's `count`, `reduce`,
//! `countByValue`). `count` emits one element every batch, `0` for an empty batch, as Spark's
//! Scala API does; Spark builds it on `transform`, so a batch where the parent has no RDD fails
//! with `transform`'s message (see `dstream::presence`), while `reduce` has no RDD then.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::data::{Data, Key};
use crate::dstream::DStream;
use crate::dstream::node::BatchNode;
use crate::exec::{BatchLogic, Route};
use crate::scheduler::Tick;
use crate::time::Duration;

/// Folds every record of a batch into one value per worker, then on the driver into one.
struct Fold<T, A> {
    /// Turns a record into a partial value.
    lift: Arc<dyn Fn(T) -> A + Send + Sync>,
    /// Combines two partial values.
    merge: Arc<dyn Fn(A, A) -> A + Send + Sync>,
    /// The value of an empty batch, if there is one (`count`: 0; `reduce`: none).
    empty: Option<A>,
    /// Whether this is the driver stage (emit the final value) or a worker stage.
    last_stage: bool,
    driver: bool,
    slide: Duration,
    /// The counted stream's `Meta::absent_when`: a batch without an RDD has no value, not the
    /// empty one.
    absent_when: Arc<BTreeSet<usize>>,
}

impl<T: Data, A: Data> BatchLogic<T, A> for Fold<T, A> {
    type Acc = Option<A>;

    fn absorb(&mut self, acc: &mut Option<A>, _partition: u32, record: T) {
        let value = (self.lift)(record);
        *acc = Some(match acc.take() {
            None => value,
            Some(a) => (self.merge)(a, value),
        });
    }

    fn finish(&mut self, tick: &Tick, acc: &mut Option<A>, out: &mut Vec<(u32, A)>) {
        let acc = acc.take();
        if !tick.is_slide_time(self.slide) || !tick.has_rdd(&self.absent_when) {
            return;
        }
        // The worker stage forwards its partial value (or the empty value, so that the driver
        // stage hears from every batch); the driver stage emits the batch's value.
        if self.last_stage && !self.driver {
            return;
        }
        if let Some(v) = acc.or_else(|| self.empty.clone()) {
            out.push((0, v));
        }
    }
}

impl<T: Data> DStream<T> {
    fn fold_batch<A: Data>(
        &self,
        name: &'static str,
        lift: Arc<dyn Fn(T) -> A + Send + Sync>,
        merge: Arc<dyn Fn(A, A) -> A + Send + Sync>,
        empty: Option<A>,
    ) -> DStream<A> {
        let slide = self.meta.slide;
        let absent_when = self.meta.absent_when.clone();
        let (m1, e1, a1) = (merge.clone(), empty.clone(), absent_when.clone());
        let local = BatchNode::new(
            self,
            name,
            Route::Local,
            move |w: crate::dstream::node::WorkerInfo| Fold {
                lift: lift.clone(),
                merge: m1.clone(),
                empty: e1.clone(),
                last_stage: false,
                driver: w.driver,
                slide,
                absent_when: a1.clone(),
            },
        );
        let partial: DStream<A> = self.derive(name, slide, 1, &[&self.meta], local);
        let node = BatchNode::new(
            &partial,
            name,
            Route::Driver,
            move |w: crate::dstream::node::WorkerInfo| Fold {
                lift: Arc::new(|a: A| a),
                merge: merge.clone(),
                empty: empty.clone(),
                last_stage: true,
                driver: w.driver,
                slide,
                absent_when: absent_when.clone(),
            },
        );
        partial.derive(name, slide, 1, &[&partial.meta], node)
    }

    /// The number of elements of each batch: one element per batch, `0` when empty.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// let counts = test_operation("local[2]", vec![vec![5, 6, 7], vec![], vec![8]], |s| s.count(), 3)?;
    /// assert_eq!(counts, [[3], [0], [1]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn count(&self) -> DStream<u64> {
        self.fold_batch("count", Arc::new(|_| 1u64), Arc::new(|a, b| a + b), Some(0))
            .requiring_parent_rdds(crate::dstream::presence::MissingRdd::Transform)
    }

    /// Each batch reduced with `f` to one element (none for an empty batch).
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// let sums = test_operation("local[2]", vec![vec![1, 2, 3], vec![], vec![4]], |s| s.reduce(|a, b| a + b), 3)?;
    /// assert_eq!(sums, [vec![6], vec![], vec![4]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn reduce(&self, f: impl Fn(T, T) -> T + Send + Sync + 'static) -> DStream<T> {
        self.fold_batch("reduce", Arc::new(|x| x), Arc::new(f), None)
    }
}

impl<T: Key> DStream<T> {
    /// How often each distinct element occurs in each batch, as `(element, count)`, over
    /// `partitions` partitions (default parallelism when `None`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// let counts = test_operation("local[2]", vec![vec!['a', 'b', 'a']], |s| s.count_by_value(None), 1)?;
    /// assert_eq!(counts, [[('a', 2), ('b', 1)]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn count_by_value(&self, partitions: Option<usize>) -> DStream<(T, u64)> {
        self.map(|x| (x, 1u64))
            .reduce_by_key(|a, b| a + b, partitions)
    }
}
