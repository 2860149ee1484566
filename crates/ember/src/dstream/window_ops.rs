//! The window operations Spark composes from `window`, `reduce_by_key` and
//! `reduce_by_key_and_window_inv`: `reduce_by_window`, `count_by_window`,
//! `count_by_value_and_window`, `reduce_by_key_and_window`, `group_by_key_and_window`. Each is
//! built exactly as Spark builds it, so it has Spark's semantics and Spark's validation messages
//! (`WindowedDStream`'s for the compositions of `window`, `ReducedWindowedDStream`'s for the
//! incremental ones).

use std::sync::Arc;

use crate::data::{Data, Key};
use crate::dstream::DStream;
use crate::partitioner::Partitioning;
use crate::time::Duration;

impl<T: Data> DStream<T> {
    /// Every `slide_duration`, the elements of the last `window_duration` reduced with `f` to one
    /// element (none for an empty window); Spark's `reduceByWindow` without an inverse:
    /// `reduce(f).window(w, s).reduce(f)`. Each slide reduces the window's per-batch results
    /// again; [`reduce_by_window_inv`](Self::reduce_by_window_inv) does it incrementally.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::{testing::test_operation, Duration};
    /// // Sums over the last 2 batches, every batch.
    /// let sums = test_operation("local[2]", vec![vec![1], vec![2], vec![3]], |s| {
    ///     s.reduce_by_window(|a, b| a + b, Duration::seconds(2), Duration::seconds(1))
    /// }, 3)?;
    /// assert_eq!(sums, [[1], [3], [5]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn reduce_by_window(
        &self,
        f: impl Fn(T, T) -> T + Send + Sync + 'static,
        window_duration: Duration,
        slide_duration: Duration,
    ) -> DStream<T> {
        let f = Arc::new(f);
        let g = f.clone();
        self.reduce(move |a, b| f(a, b))
            .window(window_duration, slide_duration)
            .reduce(move |a, b| g(a, b))
    }

    /// [`reduce_by_window`](Self::reduce_by_window) computed incrementally with `inv_f`, the
    /// inverse of `f` (Spark's `reduceByWindow` with `invReduceFunc`: the elements under a single
    /// key through [`reduce_by_key_and_window_inv`](Self::reduce_by_key_and_window_inv) over one
    /// partition). Once the stream has had an element, every slide emits one element, also when
    /// the window has become empty (the value `inv_f` leaves then, e.g. `0`), as in Spark's Scala
    /// API; before that, nothing. Needs a checkpoint directory, as in Spark.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::{testing::StreamTest, Duration};
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// # let dir = tempfile::tempdir()?;
    /// t.context().checkpoint(dir.path())?; // incremental windows keep state
    /// let numbers = t.input(vec![vec![1], vec![2], vec![3]]);
    /// let sums = numbers.reduce_by_window_inv(|a, b| a + b, |a, b| a - b, Duration::seconds(2), Duration::seconds(1));
    /// let out = t.collect(&sums)?;
    /// t.run(5)?;
    /// // The last window holds no elements: what is left is 3 - 3.
    /// assert_eq!(out.batches(), [[1], [3], [5], [3], [0]]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reduce_by_window_inv(
        &self,
        f: impl Fn(T, T) -> T + Send + Sync + 'static,
        inv_f: impl Fn(T, T) -> T + Send + Sync + 'static,
        window_duration: Duration,
        slide_duration: Duration,
    ) -> DStream<T> {
        self.map(|x| ((), x))
            .reduce_by_key_and_window_inv(f, inv_f, window_duration, slide_duration, Some(1), None)
            .map(|((), x)| x)
    }

    /// Every `slide_duration`, the number of elements in the last `window_duration` (Spark's
    /// `countByWindow`, incremental). As in Spark's Scala API, once the stream has had an element
    /// it keeps emitting a count at every slide, `0` when the window is empty; before the first
    /// element it emits nothing. Needs a checkpoint directory, as in Spark.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::{testing::StreamTest, Duration};
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// # let dir = tempfile::tempdir()?;
    /// t.context().checkpoint(dir.path())?; // incremental windows keep state
    /// let numbers = t.input(vec![vec![], vec![7, 8], vec![9], vec![]]);
    /// let counts = t.collect(&numbers.count_by_window(Duration::seconds(2), Duration::seconds(1)))?;
    /// t.run(5)?;
    /// assert_eq!(counts.batches(), [vec![], vec![2], vec![3], vec![1], vec![0]]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn count_by_window(
        &self,
        window_duration: Duration,
        slide_duration: Duration,
    ) -> DStream<u64> {
        self.map(|_| 1u64).reduce_by_window_inv(
            |a, b| a + b,
            |a, b| a - b,
            window_duration,
            slide_duration,
        )
    }
}

impl<T: Key> DStream<T> {
    /// Every `slide_duration`, how often each distinct element occurs in the last
    /// `window_duration`, as `(element, count)` (Spark's `countByValueAndWindow`, incremental).
    /// Elements whose count falls to 0 are dropped. `partitions` defaults to the default
    /// parallelism. Needs a checkpoint directory, as in Spark.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::{testing::StreamTest, Duration};
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// # let dir = tempfile::tempdir()?;
    /// t.context().checkpoint(dir.path())?; // incremental windows keep state
    /// let letters = t.input(vec![vec!['a', 'a', 'b'], vec!['a'], vec![]]);
    /// let counts = letters.count_by_value_and_window(Duration::seconds(2), Duration::seconds(1), None);
    /// let out = t.collect(&counts)?;
    /// t.run(4)?;
    /// assert_eq!(out.sorted_batches(), [
    ///     vec![('a', 2), ('b', 1)],
    ///     vec![('a', 3), ('b', 1)],
    ///     vec![('a', 1)],
    ///     vec![],
    /// ]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn count_by_value_and_window(
        &self,
        window_duration: Duration,
        slide_duration: Duration,
        partitions: impl Partitioning,
    ) -> DStream<(T, u64)> {
        self.map(|x| (x, 1u64)).reduce_by_key_and_window_inv(
            |a, b| a + b,
            |a, b| a - b,
            window_duration,
            slide_duration,
            partitions,
            Some(Arc::new(|_: &T, count: &u64| *count != 0)),
        )
    }
}

impl<K: Key, V: Data> DStream<(K, V)> {
    /// Every `slide_duration`, the values of each key over the last `window_duration` reduced
    /// with `f` (Spark's `reduceByKeyAndWindow` without an inverse:
    /// `reduce_by_key(f).window(w, s).reduce_by_key(f)`). Each slide reduces the window's
    /// per-batch results again;
    /// [`reduce_by_key_and_window_inv`](Self::reduce_by_key_and_window_inv) does it
    /// incrementally. `partitions` defaults to the default parallelism.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::{testing::test_operation, Duration};
    /// let input = vec![vec![('a', 1)], vec![('a', 2), ('b', 1)], vec![]];
    /// let sums = test_operation("local[2]", input, |s| {
    ///     s.reduce_by_key_and_window(|a, b| a + b, Duration::seconds(2), Duration::seconds(1), None)
    /// }, 3)?;
    /// assert_eq!(sums, [vec![('a', 1)], vec![('a', 3), ('b', 1)], vec![('a', 2), ('b', 1)]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn reduce_by_key_and_window(
        &self,
        f: impl Fn(V, V) -> V + Send + Sync + 'static,
        window_duration: Duration,
        slide_duration: Duration,
        partitions: impl Partitioning,
    ) -> DStream<(K, V)> {
        let n = partitions
            .partition_count()
            .unwrap_or_else(|| self.ssc.context().default_parallelism());
        let f = Arc::new(f);
        let g = f.clone();
        self.reduce_by_key(move |a, b| f(a, b), Some(n))
            .window(window_duration, slide_duration)
            .reduce_by_key(move |a, b| g(a, b), Some(n))
    }

    /// Every `slide_duration`, the values of each key over the last `window_duration`, together
    /// (Spark's `groupByKeyAndWindow`: `group_by_key().window(w, s)` then the groups of each key
    /// concatenated, oldest batch first). `partitions` defaults to the default parallelism.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::{testing::test_operation, Duration};
    /// let input = vec![vec![('a', 1)], vec![('a', 2)], vec![]];
    /// let groups = test_operation("local[2]", input, |s| {
    ///     s.group_by_key_and_window(Duration::seconds(2), Duration::seconds(1), None)
    /// }, 3)?;
    /// assert_eq!(groups, [[('a', vec![1])], [('a', vec![1, 2])], [('a', vec![2])]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn group_by_key_and_window(
        &self,
        window_duration: Duration,
        slide_duration: Duration,
        partitions: impl Partitioning,
    ) -> DStream<(K, Vec<V>)> {
        let n = partitions
            .partition_count()
            .unwrap_or_else(|| self.ssc.context().default_parallelism());
        let append = |mut a: Vec<V>, mut b: Vec<V>| {
            a.append(&mut b);
            a
        };
        self.group_by_key(Some(n))
            .window(window_duration, slide_duration)
            .combine_by_key(|vs| vs, append, append, Some(n))
    }
}
