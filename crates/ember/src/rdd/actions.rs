//! Actions: operations that return a result to the caller instead of a new RDD. Partitions are
//! processed in parallel; per-partition results are combined in partition order, so results are
//! deterministic.

use std::collections::HashMap;

use rayon::prelude::*;

use super::Rdd;
use super::shuffle::{FastMap, fast_map};
use crate::data::{Data, Key};

impl<T: Data> Rdd<T> {
    /// Every element, partition by partition.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::Rdd;
    /// # let sc = ember::testing::context()?;
    /// let rdd = Rdd::from_partitions(&sc, vec![vec![3, 1], vec![], vec![2]]);
    /// assert_eq!(rdd.collect(), [3, 1, 2]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn collect(&self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.parts.iter().map(Vec::len).sum());
        for p in self.parts.iter() {
            out.extend(p.iter().cloned());
        }
        out
    }

    /// The number of partitions.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// assert_eq!(sc.parallelize(vec![1, 2, 3], 2).num_partitions(), 2);
    /// assert_eq!(sc.parallelize(Vec::<i32>::new(), 3).num_partitions(), 3);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn num_partitions(&self) -> usize {
        self.parts.len()
    }

    /// The number of elements.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// assert_eq!(sc.parallelize(vec![1, 2, 3], 2).count(), 3);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn count(&self) -> u64 {
        self.parts.iter().map(|p| p.len() as u64).sum()
    }

    /// Whether the RDD has no elements (it may still have partitions).
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// assert!(sc.parallelize(Vec::<i32>::new(), 2).is_empty());
    /// assert!(!sc.parallelize(vec![1], 2).is_empty());
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(Vec::is_empty)
    }

    /// The first element (of the first non-empty partition), if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::Rdd;
    /// # let sc = ember::testing::context()?;
    /// let rdd = Rdd::from_partitions(&sc, vec![vec![], vec![7, 8]]);
    /// assert_eq!(rdd.first(), Some(7));
    /// assert_eq!(sc.parallelize(Vec::<i32>::new(), 2).first(), None);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn first(&self) -> Option<T> {
        self.parts.iter().flatten().next().cloned()
    }

    /// The first `n` elements, scanning partitions in order (Spark's `take`).
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![1, 2, 3, 4, 5], 2);
    /// assert_eq!(rdd.take(3), [1, 2, 3]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn take(&self, n: usize) -> Vec<T> {
        self.parts.iter().flatten().take(n).cloned().collect()
    }

    /// Combines all elements with the associative function `f`: first inside every partition
    /// (in parallel), then the partition results in partition order. `None` when empty.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![1, 2, 3, 4], 2);
    /// assert_eq!(rdd.reduce(|a, b| a + b), Some(10));
    /// assert_eq!(sc.parallelize(Vec::<i32>::new(), 2).reduce(|a, b| a + b), None);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn reduce(&self, f: impl Fn(T, T) -> T + Send + Sync) -> Option<T> {
        let partials: Vec<Option<T>> = self.ctx.run(|| {
            self.parts
                .par_iter()
                .map(|p| p.iter().cloned().reduce(&f))
                .collect()
        });
        partials.into_iter().flatten().reduce(&f)
    }

    /// Folds every partition starting from `zero`, then folds the partition results starting
    /// from `zero` again, as Spark's `fold` does (so `zero` must be neutral for `f`).
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![1, 2, 3, 4], 2);
    /// assert_eq!(rdd.fold(0, |a, b| a + b), 10);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn fold(&self, zero: T, f: impl Fn(T, T) -> T + Send + Sync) -> T {
        let partials: Vec<T> = self.ctx.run(|| {
            self.parts
                .par_iter()
                .map(|p| p.iter().cloned().fold(zero.clone(), &f))
                .collect()
        });
        partials.into_iter().fold(zero, &f)
    }

    /// Spark's `aggregate`: every partition is folded into a `U` with `seq_op` starting from
    /// `zero`, and the partition results are combined with `comb_op` starting from `zero`, in
    /// partition order.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![1, 2, 3, 4], 2);
    /// // (sum, count) in one pass.
    /// let (sum, count) = rdd.aggregate((0, 0), |(s, n), x| (s + x, n + 1), |(s1, n1), (s2, n2)| (s1 + s2, n1 + n2));
    /// assert_eq!((sum, count), (10, 4));
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn aggregate<U: Clone + Send + Sync>(
        &self,
        zero: U,
        seq_op: impl Fn(U, T) -> U + Send + Sync,
        comb_op: impl Fn(U, U) -> U + Send + Sync,
    ) -> U {
        let partials: Vec<U> = self.ctx.run(|| {
            self.parts
                .par_iter()
                .map(|p| p.iter().cloned().fold(zero.clone(), &seq_op))
                .collect()
        });
        partials.into_iter().fold(zero, &comb_op)
    }

    /// Calls `f` on every element; partitions are processed in parallel, the elements of one
    /// partition in order.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// # use std::sync::atomic::{AtomicI32, Ordering};
    /// let total = AtomicI32::new(0);
    /// sc.parallelize(vec![1, 2, 3, 4], 2).foreach(|x| {
    ///     total.fetch_add(*x, Ordering::Relaxed);
    /// });
    /// assert_eq!(total.into_inner(), 10);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn foreach(&self, f: impl Fn(&T) + Send + Sync) {
        self.ctx
            .run(|| self.parts.par_iter().for_each(|p| p.iter().for_each(&f)));
    }

    /// Calls `f` once on every partition (as a slice), in parallel (Spark's `foreachPartition`).
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// # use std::sync::Mutex;
    /// let sizes = Mutex::new(Vec::new());
    /// sc.parallelize(vec![1, 2, 3], 2).foreach_partition(|part| sizes.lock().unwrap().push(part.len()));
    /// let mut sizes = sizes.into_inner().unwrap();
    /// sizes.sort();
    /// assert_eq!(sizes, [1, 2]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn foreach_partition(&self, f: impl Fn(&[T]) + Send + Sync) {
        self.ctx.run(|| self.parts.par_iter().for_each(|p| f(p)));
    }

    /// How many times each distinct element occurs (Spark's `countByValue`).
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// # use std::collections::HashMap;
    /// let rdd = sc.parallelize(vec!['a', 'b', 'a'], 2);
    /// assert_eq!(rdd.count_by_value(), HashMap::from([('a', 2), ('b', 1)]));
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn count_by_value(&self) -> HashMap<T, u64>
    where
        T: Key,
    {
        let partials: Vec<FastMap<&T, u64>> = self.ctx.run(|| {
            self.parts
                .par_iter()
                .map(|p| {
                    let mut counts = fast_map();
                    for x in p {
                        *counts.entry(x).or_insert(0) += 1;
                    }
                    counts
                })
                .collect()
        });
        let mut total: HashMap<T, u64> = HashMap::new();
        for counts in partials {
            for (x, c) in counts {
                match total.get_mut(x) {
                    Some(t) => *t += c,
                    None => {
                        total.insert(x.clone(), c);
                    }
                }
            }
        }
        total
    }

    /// The largest element, if any (the last one of equal largest elements).
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// assert_eq!(sc.parallelize(vec![3, 1, 4, 1, 5], 2).max(), Some(5));
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn max(&self) -> Option<T>
    where
        T: Ord,
    {
        let partials: Vec<Option<&T>> = self
            .ctx
            .run(|| self.parts.par_iter().map(|p| p.iter().max()).collect());
        partials.into_iter().flatten().max().cloned()
    }

    /// The smallest element, if any (the first one of equal smallest elements).
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// assert_eq!(sc.parallelize(vec![3, 1, 4, 1, 5], 2).min(), Some(1));
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn min(&self) -> Option<T>
    where
        T: Ord,
    {
        let partials: Vec<Option<&T>> = self
            .ctx
            .run(|| self.parts.par_iter().map(|p| p.iter().min()).collect());
        partials.into_iter().flatten().min().cloned()
    }

    /// The `n` largest elements, largest first (Spark's `top`).
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// assert_eq!(sc.parallelize(vec![3, 1, 4, 1, 5], 2).top(2), [5, 4]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn top(&self, n: usize) -> Vec<T>
    where
        T: Ord,
    {
        self.smallest_by(n, |a, b| b.cmp(a))
    }

    /// The `n` smallest elements, smallest first (Spark's `takeOrdered`).
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// assert_eq!(sc.parallelize(vec![3, 1, 4, 1, 5], 2).take_ordered(3), [1, 1, 3]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn take_ordered(&self, n: usize) -> Vec<T>
    where
        T: Ord,
    {
        self.smallest_by(n, |a, b| a.cmp(b))
    }

    /// The first `n` elements in the order `cmp` (stable: ties in RDD order).
    fn smallest_by(
        &self,
        n: usize,
        cmp: impl Fn(&T, &T) -> std::cmp::Ordering + Send + Sync,
    ) -> Vec<T> {
        if n == 0 {
            return Vec::new();
        }
        let partials: Vec<Vec<&T>> = self.ctx.run(|| {
            self.parts
                .par_iter()
                .map(|p| {
                    let mut refs: Vec<&T> = p.iter().collect();
                    refs.sort_by(|a, b| cmp(a, b));
                    refs.truncate(n);
                    refs
                })
                .collect()
        });
        let mut all: Vec<&T> = partials.into_iter().flatten().collect();
        all.sort_by(|a, b| cmp(a, b));
        all.into_iter().take(n).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::rdd::tests::sc;

    fn rdd<T: Data>(parts: Vec<Vec<T>>) -> Rdd<T> {
        Rdd::from_partitions(&sc(), parts)
    }

    #[test]
    fn collect_count_is_empty() {
        let r = rdd(vec![vec![3, 1], vec![], vec![2]]);
        assert_eq!(r.collect(), vec![3, 1, 2]);
        assert_eq!(r.count(), 3);
        assert_eq!(r.num_partitions(), 3);
        assert!(!r.is_empty());
        let empty_parts = rdd::<i32>(vec![vec![], vec![]]);
        assert!(empty_parts.is_empty());
        assert_eq!(empty_parts.count(), 0);
        assert_eq!(empty_parts.num_partitions(), 2);
        assert!(sc().empty_rdd::<i32>().is_empty());
        assert_eq!(sc().empty_rdd::<i32>().collect(), Vec::<i32>::new());
    }

    #[test]
    fn first_skips_empty_partitions() {
        assert_eq!(rdd(vec![vec![], vec![], vec![7, 8]]).first(), Some(7));
        assert_eq!(rdd::<i32>(vec![vec![], vec![]]).first(), None);
        assert_eq!(sc().empty_rdd::<i32>().first(), None);
    }

    #[test]
    fn take_crosses_partition_boundaries() {
        let r = rdd(vec![vec![1, 2], vec![], vec![3, 4, 5], vec![6]]);
        assert_eq!(r.take(0), Vec::<i32>::new());
        assert_eq!(r.take(1), vec![1]);
        assert_eq!(r.take(2), vec![1, 2]);
        assert_eq!(r.take(3), vec![1, 2, 3]);
        assert_eq!(r.take(5), vec![1, 2, 3, 4, 5]);
        assert_eq!(r.take(100), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(sc().empty_rdd::<i32>().take(3), Vec::<i32>::new());
    }

    #[test]
    fn reduce_combines_in_partition_order() {
        let r = rdd(vec![vec![1, 2, 3], vec![], vec![4, 5]]);
        assert_eq!(r.reduce(|a, b| a + b), Some(15));
        // A non-commutative function shows the order: partitions and elements in order.
        let s = rdd(vec![
            vec!["a".to_string(), "b".to_string()],
            vec![],
            vec!["c".to_string()],
        ]);
        assert_eq!(s.reduce(|a, b| a + &b), Some("abc".to_string()));
        assert_eq!(rdd::<i32>(vec![vec![], vec![]]).reduce(|a, b| a + b), None);
        assert_eq!(rdd(vec![vec![], vec![42]]).reduce(|a, b| a + b), Some(42));
    }

    #[test]
    fn fold_applies_zero_per_partition_and_once_more() {
        let r = rdd(vec![vec![1, 2], vec![3], vec![]]);
        assert_eq!(r.fold(0, |a, b| a + b), 6);
        // Like Spark, a non-neutral zero is counted once per partition plus once.
        assert_eq!(r.fold(10, |a, b| a + b), 6 + 10 * 4);
        assert_eq!(sc().empty_rdd::<i32>().fold(5, |a, b| a + b), 5);
    }

    #[test]
    fn aggregate_computes_sum_and_count() {
        let r = rdd(vec![vec![1, 2, 3], vec![], vec![4]]);
        let (sum, n) = r.aggregate(
            (0, 0),
            |(s, n), x| (s + x, n + 1),
            |a, b| (a.0 + b.0, a.1 + b.1),
        );
        assert_eq!((sum, n), (10, 4));
        let strings = r.aggregate(
            String::new(),
            |s, x| s + &x.to_string(),
            |a, b| a + "|" + &b,
        );
        assert_eq!(strings, "|123||4");
    }

    #[test]
    fn foreach_visits_every_element() {
        let r = rdd(vec![vec![1, 2, 3], vec![], vec![4, 5]]);
        let sum = AtomicU64::new(0);
        r.foreach(|x| {
            sum.fetch_add(*x as u64, Ordering::SeqCst);
        });
        assert_eq!(sum.load(Ordering::SeqCst), 15);
        let seen = Mutex::new(Vec::new());
        r.foreach_partition(|p| seen.lock().unwrap().push(p.to_vec()));
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        assert_eq!(seen, vec![vec![], vec![1, 2, 3], vec![4, 5]]);
    }

    #[test]
    fn count_by_value_counts() {
        let r = rdd(vec![vec!['a', 'b', 'a'], vec![], vec!['b', 'a', 'c']]);
        let counts = r.count_by_value();
        assert_eq!(counts, HashMap::from([('a', 3), ('b', 2), ('c', 1)]));
        assert!(sc().empty_rdd::<char>().count_by_value().is_empty());
    }

    #[test]
    fn max_min_top_take_ordered() {
        let r = rdd(vec![vec![5, 1, 9], vec![], vec![3, 9, 0, 7]]);
        assert_eq!(r.max(), Some(9));
        assert_eq!(r.min(), Some(0));
        assert_eq!(r.top(3), vec![9, 9, 7]);
        assert_eq!(r.take_ordered(3), vec![0, 1, 3]);
        assert_eq!(r.top(0), Vec::<i32>::new());
        assert_eq!(r.take_ordered(100), vec![0, 1, 3, 5, 7, 9, 9]);
        let e = sc().empty_rdd::<i32>();
        assert_eq!((e.max(), e.min()), (None, None));
        assert!(e.top(2).is_empty());
    }

    #[test]
    fn actions_are_deterministic() {
        let data: Vec<u64> = (0..3000).map(|i| (i * 37) % 101).collect();
        let r = sc().parallelize(data, 5);
        let f = |a: u64, b: u64| a.wrapping_mul(3).wrapping_add(b);
        let once = (r.reduce(f), r.top(4), r.count_by_value(), r.take(7));
        let twice = (r.reduce(f), r.top(4), r.count_by_value(), r.take(7));
        assert_eq!(once, twice);
    }
}
