//! Resilient distributed datasets (Spark's `RDD`): partitioned collections whose operations run
//! in parallel on the context's worker threads.
//!
//! ```
//! use ember::{Conf, Context};
//! # let _turn = ember::testing::exclusive(); // no streaming test swaps the context meanwhile
//! let sc = Context::get_or_create(Conf::new().set_master("local[2]")).unwrap();
//! let words: Vec<String> = "to be or not to be".split(' ').map(String::from).collect();
//! let counts = sc.parallelize(words, 2).map(|w| (w, 1)).reduce_by_key(|a, b| a + b, None);
//! let mut counts = counts.collect();
//! counts.sort();
//! let expected = [("be", 2), ("not", 1), ("or", 1), ("to", 2)];
//! assert_eq!(counts, expected.map(|(w, n)| (w.to_string(), n)));
//! ```
//!
//! # Evaluation
//!
//! RDDs are *eager*: a transformation computes all partitions of its result immediately, one
//! rayon task per partition on the context's thread pool ([`Context`]), and returns once they are
//! ready. Cloning an [`Rdd`] is cheap (the partitions are shared). Transformations take `self`
//! by value and move the elements out when that handle is the only one; otherwise they clone
//! them. Actions take `&self`. User closures only need to be `Fn + Send + Sync` (they are never
//! stored). A panic in a user closure propagates to the caller of the operation.
//!
//! # Partitioning
//!
//! Operations that group by key (`reduce_by_key`, `group_by_key`, joins, `distinct`, ...)
//! hash-partition with [`crate::hash::partition_of`], the stable partitioner the streaming engine
//! uses too, into `num_partitions` partitions (at least one). Within an output partition, keys
//! come in the order in which they were first seen (input partition order, then element order),
//! and grouped values keep their input order, so results are deterministic. Sorting operations
//! range-partition, so that [`Rdd::collect`] returns a globally sorted sequence.
//!
//! Pair operations (on `Rdd<(K, V)>`) are documented on the same [`Rdd`] type; they live in the
//! `pair` submodule.

mod actions;
pub(crate) mod join_rows;
mod pair;
mod shuffle;

use std::fmt;
use std::sync::Arc;

use rayon::prelude::*;

use crate::context::Context;
use crate::data::{Data, Key};
use crate::error::{Error, Result};
use crate::hash::partition_of;
use shuffle::{FastMap, concat, distinct_keys, empty_parts, exchange, range_sort, route_by};

/// A partitioned collection of `T`. Cloning is cheap (the partitions are shared).
pub struct Rdd<T> {
    ctx: Context,
    parts: Arc<Vec<Vec<T>>>,
}

impl<T> Clone for Rdd<T> {
    fn clone(&self) -> Self {
        Rdd {
            ctx: self.ctx.clone(),
            parts: self.parts.clone(),
        }
    }
}

impl<T> fmt::Debug for Rdd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rdd")
            .field("partitions", &self.parts.len())
            .field("elements", &self.parts.iter().map(Vec::len).sum::<usize>())
            .finish()
    }
}

impl<T: Data> Rdd<T> {
    /// An RDD made of the given partitions.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::Rdd;
    /// # let sc = ember::testing::context()?;
    /// let rdd = Rdd::from_partitions(&sc, vec![vec![1, 2], vec![], vec![3]]);
    /// assert_eq!(rdd.num_partitions(), 3);
    /// assert_eq!(rdd.collect(), [1, 2, 3]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn from_partitions(ctx: &Context, parts: Vec<Vec<T>>) -> Self {
        Rdd {
            ctx: ctx.clone(),
            parts: Arc::new(parts),
        }
    }

    /// The partitions, moved out when this is the only handle, cloned otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![1, 2, 3], 2);
    /// assert_eq!(rdd.into_partitions(), [vec![1], vec![2, 3]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn into_partitions(self) -> Vec<Vec<T>> {
        self.into_parts().1
    }

    /// The partitions.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![1, 2, 3], 2);
    /// assert_eq!(rdd.partitions(), [vec![1], vec![2, 3]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn partitions(&self) -> &[Vec<T>] {
        &self.parts
    }

    /// The context this RDD belongs to.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![1, 2, 3], 2);
    /// assert_eq!(rdd.context().master().threads(), 2);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The context and the partitions, moved out when this is the only handle, cloned (in
    /// parallel) otherwise.
    fn into_parts(self) -> (Context, Vec<Vec<T>>) {
        match Arc::try_unwrap(self.parts) {
            Ok(parts) => (self.ctx, parts),
            Err(shared) => {
                let parts = self
                    .ctx
                    .run(|| shared.par_iter().map(|p| p.clone()).collect());
                (self.ctx, parts)
            }
        }
    }

    /// Applies `f(partition index, partition)` to every partition in parallel.
    fn transform<U: Data>(self, f: impl Fn(usize, Vec<T>) -> Vec<U> + Send + Sync) -> Rdd<U> {
        let ctx = self.ctx.clone();
        let out = match Arc::try_unwrap(self.parts) {
            Ok(parts) => ctx.run(|| {
                parts
                    .into_par_iter()
                    .enumerate()
                    .map(|(i, p)| f(i, p))
                    .collect()
            }),
            Err(shared) => ctx.run(|| {
                shared
                    .par_iter()
                    .enumerate()
                    .map(|(i, p)| f(i, p.clone()))
                    .collect()
            }),
        };
        Rdd {
            ctx,
            parts: Arc::new(out),
        }
    }

    /// Applies `f` to every element.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![1, 2, 3], 2);
    /// assert_eq!(rdd.map(|x| x * 10).collect(), [10, 20, 30]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn map<U: Data>(self, f: impl Fn(T) -> U + Send + Sync) -> Rdd<U> {
        self.transform(|_, p| p.into_iter().map(&f).collect())
    }

    /// Applies `f` to every element and flattens the results (Spark's `flatMap`).
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![1, 2, 3], 2);
    /// assert_eq!(rdd.flat_map(|n| 0..n).collect(), [0, 0, 1, 0, 1, 2]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn flat_map<U: Data, I: IntoIterator<Item = U>>(
        self,
        f: impl Fn(T) -> I + Send + Sync,
    ) -> Rdd<U> {
        self.transform(|_, p| p.into_iter().flat_map(&f).collect())
    }

    /// The elements for which `f` holds, in their partitions.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![1, 2, 3, 4], 2);
    /// assert_eq!(rdd.filter(|x| x % 2 == 0).into_partitions(), [[2], [4]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn filter(self, f: impl Fn(&T) -> bool + Send + Sync) -> Rdd<T> {
        let ctx = self.ctx.clone();
        let out = match Arc::try_unwrap(self.parts) {
            Ok(parts) => ctx.run(|| {
                parts
                    .into_par_iter()
                    .map(|mut p| {
                        p.retain(|x| f(x));
                        p
                    })
                    .collect()
            }),
            Err(shared) => ctx.run(|| {
                shared
                    .par_iter()
                    .map(|p| p.iter().filter(|x| f(x)).cloned().collect())
                    .collect()
            }),
        };
        Rdd {
            ctx,
            parts: Arc::new(out),
        }
    }

    /// Applies `f` to every whole partition (Spark's `mapPartitions`). `f` receives the partition
    /// as an owned `Vec` (use `.into_iter()` for Spark's iterator style) and returns the
    /// partition's new elements.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![1, 2, 3, 4], 2); // [1, 2] and [3, 4]
    /// let sums = rdd.map_partitions(|part| [part.iter().sum::<i32>()]);
    /// assert_eq!(sums.collect(), [3, 7]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn map_partitions<U: Data, I: IntoIterator<Item = U>>(
        self,
        f: impl Fn(Vec<T>) -> I + Send + Sync,
    ) -> Rdd<U> {
        self.transform(|_, p| f(p).into_iter().collect())
    }

    /// Like [`Rdd::map_partitions`], with the partition's index as first argument (Spark's
    /// `mapPartitionsWithIndex`).
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec!['a', 'b', 'c'], 2); // ['a'] and ['b', 'c']
    /// let tagged = rdd.map_partitions_with_index(|i, part| part.into_iter().map(move |x| (i, x)));
    /// assert_eq!(tagged.collect(), [(0, 'a'), (1, 'b'), (1, 'c')]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn map_partitions_with_index<U: Data, I: IntoIterator<Item = U>>(
        self,
        f: impl Fn(usize, Vec<T>) -> I + Send + Sync,
    ) -> Rdd<U> {
        self.transform(|i, p| f(i, p).into_iter().collect())
    }

    /// Every partition as a single element (Spark's `glom`): one `Vec` per partition, in
    /// partition order, so the result has as many partitions (and elements) as `self` has
    /// partitions.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![1, 2, 3], 2);
    /// assert_eq!(rdd.glom().collect(), [vec![1], vec![2, 3]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn glom(self) -> Rdd<Vec<T>> {
        self.transform(|_, p| vec![p])
    }

    /// The elements of both RDDs, duplicates included (Spark's `union`): the partitions of
    /// `other` follow those of `self`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let both = sc.parallelize(vec![1, 2], 1).union(sc.parallelize(vec![2, 3], 1));
    /// assert_eq!(both.into_partitions(), [[1, 2], [2, 3]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn union(self, other: Rdd<T>) -> Rdd<T> {
        let (ctx, mut parts) = self.into_parts();
        parts.extend(other.into_parts().1);
        Rdd::from_partitions(&ctx, parts)
    }

    /// The union of many RDDs (Spark's `SparkContext.union`): their partitions one after the
    /// other, in order. No RDDs give an RDD with no partitions.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::Rdd;
    /// # let sc = ember::testing::context()?;
    /// let rdds = [vec![1], vec![2, 3], vec![]].map(|v| sc.parallelize(v, 1));
    /// let all = Rdd::union_all(&sc, rdds);
    /// assert_eq!(all.num_partitions(), 3);
    /// assert_eq!(all.collect(), [1, 2, 3]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn union_all(ctx: &Context, rdds: impl IntoIterator<Item = Rdd<T>>) -> Rdd<T> {
        let mut parts = Vec::new();
        for rdd in rdds {
            parts.extend(rdd.into_parts().1);
        }
        Rdd::from_partitions(ctx, parts)
    }

    /// Redistributes the elements into exactly `partitions` partitions (at least one) with a
    /// shuffle (Spark's `repartition`): input partition `i` deals its elements round robin,
    /// starting at output partition `i % partitions`. Output partitions keep the input order
    /// (input partition, then element).
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![1, 2, 3, 4, 5, 6], 1);
    /// assert_eq!(rdd.repartition(3).into_partitions(), [[1, 4], [2, 5], [3, 6]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn repartition(self, partitions: usize) -> Rdd<T> {
        let n = partitions.max(1);
        let (ctx, parts) = self.into_parts();
        let out = exchange(&ctx, parts, n, |i, p| {
            let mut buckets = empty_parts(n);
            for (j, x) in p.into_iter().enumerate() {
                buckets[(i + j) % n].push(x);
            }
            buckets
        });
        Rdd::from_partitions(&ctx, out)
    }

    /// Reduces the number of partitions to `partitions` (at least one) without a shuffle, by
    /// concatenating runs of adjacent partitions (Spark's `coalesce` with `shuffle = false`).
    /// Asking for as many partitions as there are, or more, returns `self` unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![1, 2, 3, 4, 5, 6], 3); // [1, 2], [3, 4], [5, 6]
    /// assert_eq!(rdd.coalesce(2).into_partitions(), [vec![1, 2], vec![3, 4, 5, 6]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn coalesce(self, partitions: usize) -> Rdd<T> {
        let n = partitions.max(1);
        let m = self.num_partitions();
        if n >= m {
            return self;
        }
        let (ctx, parts) = self.into_parts();
        let mut iter = parts.into_iter();
        let out = (0..n)
            .map(|g| {
                let size = (g + 1) * m / n - g * m / n;
                concat(iter.by_ref().take(size).collect())
            })
            .collect();
        Rdd::from_partitions(&ctx, out)
    }

    /// The distinct elements, hash-partitioned into `num_partitions` partitions (default: as
    /// many as `self` has, at least one). Within a partition, elements come in first-seen order.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![3, 1, 3, 2, 1], 2);
    /// let mut distinct = rdd.distinct(None).collect();
    /// distinct.sort();
    /// assert_eq!(distinct, [1, 2, 3]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn distinct(self, num_partitions: Option<usize>) -> Rdd<T>
    where
        T: Key,
    {
        let n = num_partitions.unwrap_or(self.num_partitions()).max(1);
        let (ctx, parts) = self.into_parts();
        let out = distinct_keys(&ctx, parts, n, |x| x);
        Rdd::from_partitions(&ctx, out)
    }

    /// The elements of `self` that do not occur in `other`, duplicates of `self` included
    /// (Spark's `subtract`), hash-partitioned into `num_partitions` partitions (default: as many
    /// as `self` has, at least one). Elements keep their relative order.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![1, 2, 3, 2, 4], 2);
    /// let rest = rdd.subtract(sc.parallelize(vec![2, 5], 1), Some(1));
    /// assert_eq!(rest.collect(), [1, 3, 4]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn subtract(self, other: Rdd<T>, num_partitions: Option<usize>) -> Rdd<T>
    where
        T: Key,
    {
        let n = num_partitions.unwrap_or(self.num_partitions()).max(1);
        let (ctx, left) = self.into_parts();
        let right = distinct_keys(&ctx, other.into_parts().1, n, |x| x);
        let left = exchange(&ctx, left, n, |_, p| route_by(p, n, |x| partition_of(x, n)));
        let out = ctx.run(|| {
            left.into_par_iter()
                .zip(right)
                .map(|(l, r)| {
                    let remove: FastMap<T, ()> = r.into_iter().map(|x| (x, ())).collect();
                    l.into_iter().filter(|x| !remove.contains_key(x)).collect()
                })
                .collect()
        });
        Rdd::from_partitions(&ctx, out)
    }

    /// The distinct elements present in both RDDs (Spark's `intersection`), hash-partitioned into
    /// `num_partitions` partitions (default: the larger partition count of the two, at least
    /// one). Within a partition, elements come in the order first seen in `self`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![1, 2, 3, 3], 2);
    /// let common = rdd.intersection(sc.parallelize(vec![4, 3, 2], 1), Some(1));
    /// assert_eq!(common.collect(), [2, 3]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn intersection(self, other: Rdd<T>, num_partitions: Option<usize>) -> Rdd<T>
    where
        T: Key,
    {
        let default = self.num_partitions().max(other.num_partitions());
        let n = num_partitions.unwrap_or(default).max(1);
        let (ctx, left) = self.into_parts();
        let left = distinct_keys(&ctx, left, n, |x| x);
        let right = distinct_keys(&ctx, other.into_parts().1, n, |x| x);
        let out = ctx.run(|| {
            left.into_par_iter()
                .zip(right)
                .map(|(l, r)| {
                    let keep: FastMap<T, ()> = r.into_iter().map(|x| (x, ())).collect();
                    l.into_iter().filter(|x| keep.contains_key(x)).collect()
                })
                .collect()
        });
        Rdd::from_partitions(&ctx, out)
    }

    /// The elements sorted by `key` (Spark's `sortBy`), ascending or descending, range-partitioned
    /// into `num_partitions` partitions (default: as many as `self` has, at least one) so that
    /// [`Rdd::collect`] is globally sorted. The sort is stable: elements with equal keys keep
    /// their input order, and are never split across partitions (so some partitions may be
    /// smaller than others, or empty). `key` is computed once per element.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![('a', 3), ('b', 1), ('c', 2)], 2);
    /// let by_count = rdd.sort_by(|(_, n)| *n, false, None);
    /// assert_eq!(by_count.collect(), [('a', 3), ('c', 2), ('b', 1)]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn sort_by<K: Ord + Send>(
        self,
        key: impl Fn(&T) -> K + Send + Sync,
        ascending: bool,
        num_partitions: Option<usize>,
    ) -> Rdd<T> {
        let n = num_partitions.unwrap_or(self.num_partitions()).max(1);
        let (ctx, parts) = self.into_parts();
        let keyed: Vec<Vec<(K, T)>> = ctx.run(|| {
            parts
                .into_par_iter()
                .map(|p| p.into_iter().map(|x| (key(&x), x)).collect())
                .collect()
        });
        let sorted = range_sort(&ctx, keyed, n, |a, b| {
            let ord = a.0.cmp(&b.0);
            if ascending { ord } else { ord.reverse() }
        });
        let out = ctx.run(|| {
            sorted
                .into_par_iter()
                .map(|p| p.into_iter().map(|(_, x)| x).collect())
                .collect()
        });
        Rdd::from_partitions(&ctx, out)
    }

    /// Pairs every element with its index in the RDD's order (partition order, then position),
    /// starting at 0 (Spark's `zipWithIndex`). Partitions are kept.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec!['a', 'b', 'c'], 2);
    /// assert_eq!(rdd.zip_with_index().collect(), [('a', 0), ('b', 1), ('c', 2)]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn zip_with_index(self) -> Rdd<(T, u64)> {
        let mut offsets = Vec::with_capacity(self.parts.len());
        let mut total = 0u64;
        for p in self.parts.iter() {
            offsets.push(total);
            total += p.len() as u64;
        }
        self.transform(|i, p| {
            p.into_iter()
                .enumerate()
                .map(|(j, x)| (x, offsets[i] + j as u64))
                .collect()
        })
    }

    /// Pairs every element with the key `f` computes for it: `(f(&x), x)` (Spark's `keyBy`).
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![1, 2, 3], 2);
    /// assert_eq!(rdd.key_by(|x| x % 2).collect(), [(1, 1), (0, 2), (1, 3)]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn key_by<K: Data>(self, f: impl Fn(&T) -> K + Send + Sync) -> Rdd<(K, T)> {
        self.map(|x| (f(&x), x))
    }

    /// Groups the elements by the key `f` computes (Spark's `groupBy`), as
    /// [`Rdd::group_by_key`] on [`Rdd::key_by`]: values keep their input order.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let rdd = sc.parallelize(vec![1, 2, 3, 4, 5], 2);
    /// let mut by_parity = rdd.group_by(|x| x % 2, None).collect();
    /// by_parity.sort();
    /// assert_eq!(by_parity, [(0, vec![2, 4]), (1, vec![1, 3, 5])]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn group_by<K: Key>(
        self,
        f: impl Fn(&T) -> K + Send + Sync,
        num_partitions: Option<usize>,
    ) -> Rdd<(K, Vec<T>)> {
        self.key_by(f).group_by_key(num_partitions)
    }

    /// All pairs `(x, y)` with `x` in `self` and `y` in `other` (Spark's `cartesian`). Partition
    /// `i * other.num_partitions() + j` holds the pairs of partition `i` of `self` and partition
    /// `j` of `other`, `x`-major.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let pairs = sc.parallelize(vec![1, 2], 1).cartesian(sc.parallelize(vec!['x', 'y'], 1));
    /// assert_eq!(pairs.collect(), [(1, 'x'), (1, 'y'), (2, 'x'), (2, 'y')]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn cartesian<U: Data>(self, other: Rdd<U>) -> Rdd<(T, U)> {
        let (left, right) = (&self.parts, &other.parts);
        let m = right.len();
        let out = self.ctx.run(|| {
            (0..left.len() * m)
                .into_par_iter()
                .map(|idx| {
                    let (a, b) = (&left[idx / m], &right[idx % m]);
                    let mut pairs = Vec::with_capacity(a.len() * b.len());
                    for x in a {
                        for y in b {
                            pairs.push((x.clone(), y.clone()));
                        }
                    }
                    pairs
                })
                .collect()
        });
        Rdd::from_partitions(&self.ctx, out)
    }

    /// Pairs the elements of two RDDs that have the same number of partitions and the same
    /// number of elements in every partition (Spark's `zip`); fails otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let numbers = sc.parallelize(vec![1, 2, 3], 2);
    /// let letters = sc.parallelize(vec!['a', 'b', 'c'], 2);
    /// assert_eq!(numbers.clone().zip(letters)?.collect(), [(1, 'a'), (2, 'b'), (3, 'c')]);
    /// assert!(numbers.zip(sc.parallelize(vec!['a', 'b', 'c'], 3)).is_err());
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn zip<U: Data>(self, other: Rdd<U>) -> Result<Rdd<(T, U)>> {
        if self.num_partitions() != other.num_partitions() {
            return Err(Error::InvalidArgument(format!(
                "Can't zip RDDs with unequal numbers of partitions: List({}, {})",
                self.num_partitions(),
                other.num_partitions()
            )));
        }
        let same_sizes = self
            .parts
            .iter()
            .zip(other.parts.iter())
            .all(|(a, b)| a.len() == b.len());
        if !same_sizes {
            return Err(Error::InvalidArgument(
                "Can only zip RDDs with same number of elements in each partition".to_owned(),
            ));
        }
        let (ctx, left) = self.into_parts();
        let right = other.into_parts().1;
        let out = ctx.run(|| {
            left.into_par_iter()
                .zip(right)
                .map(|(a, b)| a.into_iter().zip(b).collect())
                .collect()
        });
        Ok(Rdd::from_partitions(&ctx, out))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::conf::Conf;

    pub(crate) fn sc() -> Context {
        Context::get_or_create(Conf::new().set_master("local[2]")).unwrap()
    }

    fn rdd<T: Data>(parts: Vec<Vec<T>>) -> Rdd<T> {
        Rdd::from_partitions(&sc(), parts)
    }

    #[test]
    fn from_partitions_and_accessors() {
        let r = rdd(vec![vec![1, 2], vec![], vec![3]]);
        assert_eq!(r.partitions(), &[vec![1, 2], vec![], vec![3]]);
        assert_eq!(r.num_partitions(), 3);
        assert!(r.context().default_parallelism() >= 1);
        let shared = r.clone();
        assert_eq!(r.into_partitions(), vec![vec![1, 2], vec![], vec![3]]);
        assert_eq!(shared.into_partitions(), vec![vec![1, 2], vec![], vec![3]]);
        assert_eq!(
            format!("{:?}", rdd(vec![vec![1, 2], vec![3]])),
            "Rdd { partitions: 2, elements: 3 }"
        );
    }

    #[test]
    fn map_keeps_partitions_and_works_on_shared_rdds() {
        let r = rdd(vec![vec![1, 2], vec![], vec![3]]);
        let kept = r.clone();
        let m = r.map(|x| x * 10);
        assert_eq!(m.partitions(), &[vec![10, 20], vec![], vec![30]]);
        // The shared handle is untouched.
        assert_eq!(kept.collect(), vec![1, 2, 3]);
        assert_eq!(kept.map(|x| x.to_string()).collect(), vec!["1", "2", "3"]);
        assert_eq!(sc().empty_rdd::<i32>().map(|x| x + 1).num_partitions(), 0);
    }

    #[test]
    fn flat_map_flattens_in_order() {
        let r = rdd(vec![vec![1, 2], vec![0], vec![3]]);
        let f = r.flat_map(|x| std::iter::repeat_n(x, x as usize));
        assert_eq!(f.partitions(), &[vec![1, 2, 2], vec![], vec![3, 3, 3]]);
        let words = rdd(vec![
            vec!["a b".to_string(), "".to_string()],
            vec!["c".to_string()],
        ]);
        let w = words.flat_map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>());
        assert_eq!(w.collect(), vec!["a", "b", "c"]);
    }

    #[test]
    fn filter_owned_and_shared() {
        let r = rdd(vec![vec![1, 2, 3, 4], vec![5, 6], vec![]]);
        let shared = r.clone();
        assert_eq!(
            r.filter(|x| x % 2 == 0).partitions(),
            &[vec![2, 4], vec![6], vec![]]
        );
        assert_eq!(
            shared.clone().filter(|x| *x > 4).partitions(),
            &[vec![], vec![5, 6], vec![]]
        );
        assert_eq!(shared.count(), 6);
    }

    #[test]
    fn map_partitions_and_with_index() {
        let r = rdd(vec![vec![1, 2, 3], vec![], vec![4, 5]]);
        let sums = r.clone().map_partitions(|p| vec![p.iter().sum::<i32>()]);
        assert_eq!(sums.partitions(), &[vec![6], vec![0], vec![9]]);
        let tagged = r
            .clone()
            .map_partitions_with_index(|i, p| p.into_iter().map(move |x| (i, x)));
        assert_eq!(
            tagged.collect(),
            vec![(0, 1), (0, 2), (0, 3), (2, 4), (2, 5)]
        );
        let dropped = r.map_partitions(|p| p.into_iter().skip(1));
        assert_eq!(dropped.partitions(), &[vec![2, 3], vec![], vec![5]]);
    }

    #[test]
    fn glom_gives_one_element_per_partition() {
        let r = rdd(vec![vec![1, 2], vec![], vec![3]]);
        let g = r.glom();
        assert_eq!(g.num_partitions(), 3);
        assert_eq!(g.collect(), vec![vec![1, 2], vec![], vec![3]]);
        assert_eq!(
            g.partitions(),
            &[vec![vec![1, 2]], vec![vec![]], vec![vec![3]]]
        );
        assert_eq!(sc().empty_rdd::<u8>().glom().count(), 0);
    }

    #[test]
    fn union_appends_partitions() {
        let a = rdd(vec![vec![1, 2], vec![3]]);
        let b = rdd(vec![vec![], vec![3, 4], vec![5]]);
        let u = a.clone().union(b.clone());
        assert_eq!(u.num_partitions(), 5);
        assert_eq!(
            u.partitions(),
            &[vec![1, 2], vec![3], vec![], vec![3, 4], vec![5]]
        );
        assert_eq!(b.union(a.clone()).collect(), vec![3, 4, 5, 1, 2, 3]);
        assert_eq!(
            a.clone().union(sc().empty_rdd()).partitions(),
            a.partitions()
        );
        let all = Rdd::union_all(&sc(), vec![a.clone(), a.clone(), rdd(vec![vec![9]])]);
        assert_eq!(all.num_partitions(), 5);
        assert_eq!(all.collect(), vec![1, 2, 3, 1, 2, 3, 9]);
        assert_eq!(Rdd::<i32>::union_all(&sc(), Vec::new()).num_partitions(), 0);
    }

    #[test]
    fn repartition_deals_round_robin() {
        let r = rdd(vec![vec![1, 2, 3, 4, 5], vec![6, 7]]);
        let p = r.clone().repartition(3);
        assert_eq!(p.num_partitions(), 3);
        // Partition 0 starts at output 0, partition 1 at output 1.
        assert_eq!(p.partitions(), &[vec![1, 4], vec![2, 5, 6], vec![3, 7]]);
        let one = r.clone().repartition(0);
        assert_eq!(one.partitions(), &[vec![1, 2, 3, 4, 5, 6, 7]]);
        let many = r.repartition(10);
        assert_eq!(many.num_partitions(), 10);
        let mut all = many.collect();
        all.sort();
        assert_eq!(all, vec![1, 2, 3, 4, 5, 6, 7]);
        let empty = sc().empty_rdd::<i32>().repartition(4);
        assert_eq!(
            empty.partitions(),
            &[Vec::<i32>::new(), vec![], vec![], vec![]]
        );
    }

    #[test]
    fn repartition_balances_large_inputs() {
        let r = sc()
            .parallelize((0..1000).collect::<Vec<i32>>(), 3)
            .repartition(4);
        let sizes: Vec<usize> = r.partitions().iter().map(Vec::len).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 1000);
        assert!(sizes.iter().all(|&s| (249..=251).contains(&s)), "{sizes:?}");
    }

    #[test]
    fn coalesce_merges_adjacent_partitions() {
        let r = rdd(vec![vec![1], vec![2, 3], vec![], vec![4], vec![5]]);
        let c = r.clone().coalesce(2);
        assert_eq!(c.partitions(), &[vec![1, 2, 3], vec![4, 5]]);
        assert_eq!(r.clone().coalesce(0).partitions(), &[vec![1, 2, 3, 4, 5]]);
        assert_eq!(r.clone().coalesce(5).num_partitions(), 5);
        assert_eq!(r.coalesce(9).num_partitions(), 5);
    }

    #[test]
    fn distinct_dedups_and_hash_partitions() {
        let r = rdd(vec![vec![3, 1, 3, 2], vec![2, 5, 1], vec![]]);
        let d = r.clone().distinct(None);
        assert_eq!(d.num_partitions(), 3);
        let mut all = d.collect();
        all.sort();
        assert_eq!(all, vec![1, 2, 3, 5]);
        for (i, p) in d.partitions().iter().enumerate() {
            assert!(p.iter().all(|x| partition_of(x, 3) == i));
        }
        // One partition: first-seen order.
        assert_eq!(
            r.clone().distinct(Some(1)).partitions(),
            &[vec![3, 1, 2, 5]]
        );
        assert_eq!(r.clone().distinct(Some(5)).num_partitions(), 5);
        assert_eq!(r.clone().distinct(None).partitions(), d.partitions());
        let e = sc().empty_rdd::<i32>().distinct(None);
        assert_eq!(e.num_partitions(), 1);
        assert_eq!(e.count(), 0);
    }

    #[test]
    fn subtract_keeps_duplicates_of_self() {
        let a = rdd(vec![vec![1, 2, 2, 3], vec![4, 1, 5]]);
        let b = rdd(vec![vec![2], vec![], vec![5, 6]]);
        let s = a.clone().subtract(b.clone(), Some(1));
        assert_eq!(s.partitions(), &[vec![1, 3, 4, 1]]);
        let s = a.clone().subtract(b, None);
        assert_eq!(s.num_partitions(), 2);
        let mut all = s.collect();
        all.sort();
        assert_eq!(all, vec![1, 1, 3, 4]);
        assert_eq!(
            a.clone().subtract(sc().empty_rdd(), Some(1)).collect(),
            vec![1, 2, 2, 3, 4, 1, 5]
        );
        assert!(sc().empty_rdd::<i32>().subtract(a, None).is_empty());
    }

    #[test]
    fn intersection_is_distinct() {
        let a = rdd(vec![vec![5, 1, 2, 2], vec![3, 1]]);
        let b = rdd(vec![vec![2, 2], vec![1], vec![7, 1]]);
        let i = a.clone().intersection(b.clone(), Some(1));
        assert_eq!(i.partitions(), &[vec![1, 2]]);
        let i = a.clone().intersection(b, None);
        assert_eq!(i.num_partitions(), 3);
        let mut all = i.collect();
        all.sort();
        assert_eq!(all, vec![1, 2]);
        assert!(a.intersection(sc().empty_rdd(), None).is_empty());
    }

    #[test]
    fn sort_by_is_globally_sorted_and_stable() {
        let r = rdd(vec![vec![5, 3, 9, 1], vec![7, 2], vec![], vec![8, 4, 6, 0]]);
        let s = r.clone().sort_by(|x| *x, true, Some(3));
        assert_eq!(
            s.partitions(),
            &[vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8, 9]]
        );
        let d = r.clone().sort_by(|x| *x, false, None);
        assert_eq!(d.num_partitions(), 4);
        assert_eq!(d.collect(), vec![9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
        assert_eq!(
            d.partitions(),
            &[vec![9, 8], vec![7, 6, 5], vec![4, 3], vec![2, 1, 0]]
        );
        // Stable: equal keys keep input order, in both directions.
        let words = rdd(vec![
            vec!["bb".to_string(), "a".to_string(), "cc".to_string()],
            vec!["d".to_string(), "eee".to_string()],
        ]);
        let by_len = words.clone().sort_by(|w| w.len(), true, Some(2));
        assert_eq!(by_len.collect(), vec!["a", "d", "bb", "cc", "eee"]);
        let by_len_desc = words.sort_by(|w| w.len(), false, Some(1));
        assert_eq!(by_len_desc.collect(), vec!["eee", "bb", "cc", "a", "d"]);
        let e = sc().empty_rdd::<i32>().sort_by(|x| *x, true, None);
        assert_eq!(e.num_partitions(), 1);
        assert!(e.is_empty());
    }

    #[test]
    fn sort_by_large_is_sorted() {
        let data: Vec<u64> = (0..5000u64).map(|i| (i * 7919) % 5003).collect();
        let s = sc()
            .parallelize(data.clone(), 4)
            .sort_by(|x| *x, true, Some(5));
        let mut expected = data;
        expected.sort();
        assert_eq!(s.num_partitions(), 5);
        assert_eq!(s.collect(), expected);
        assert!(s.partitions().iter().all(|p| p.len() == 1000));
    }

    #[test]
    fn zip_with_index_counts_across_partitions() {
        let r = rdd(vec![vec!['a', 'b'], vec![], vec!['c'], vec!['d', 'e']]);
        let z = r.zip_with_index();
        assert_eq!(z.num_partitions(), 4);
        assert_eq!(
            z.collect(),
            vec![('a', 0), ('b', 1), ('c', 2), ('d', 3), ('e', 4)]
        );
        assert_eq!(z.partitions()[2], vec![('c', 2)]);
    }

    #[test]
    fn key_by_and_group_by() {
        let r = rdd(vec![vec![1, 2, 3], vec![4, 5, 6, 7]]);
        let k = r.clone().key_by(|x| x % 3);
        assert_eq!(
            k.partitions(),
            &[
                vec![(1, 1), (2, 2), (0, 3)],
                vec![(1, 4), (2, 5), (0, 6), (1, 7)]
            ]
        );
        let g = r.group_by(|x| x % 2 == 0, Some(1));
        assert_eq!(
            g.collect(),
            vec![(false, vec![1, 3, 5, 7]), (true, vec![2, 4, 6])]
        );
    }

    #[test]
    fn cartesian_pairs_every_partition() {
        let a = rdd(vec![vec![1, 2], vec![3]]);
        let b = rdd(vec![vec!['x'], vec![], vec!['y', 'z']]);
        let c = a.clone().cartesian(b.clone());
        assert_eq!(c.num_partitions(), 6);
        assert_eq!(
            c.partitions(),
            &[
                vec![(1, 'x'), (2, 'x')],
                vec![],
                vec![(1, 'y'), (1, 'z'), (2, 'y'), (2, 'z')],
                vec![(3, 'x')],
                vec![],
                vec![(3, 'y'), (3, 'z')],
            ]
        );
        assert_eq!(a.cartesian(sc().empty_rdd::<char>()).num_partitions(), 0);
    }

    #[test]
    fn zip_requires_matching_partitions() {
        let a = rdd(vec![vec![1, 2], vec![3]]);
        let b = rdd(vec![vec!['a', 'b'], vec!['c']]);
        let z = a.clone().zip(b).unwrap();
        assert_eq!(z.partitions(), &[vec![(1, 'a'), (2, 'b')], vec![(3, 'c')]]);
        let err = a.clone().zip(rdd(vec![vec![1, 2, 3]])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Can't zip RDDs with unequal numbers of partitions: List(2, 1)"
        );
        let err = a.zip(rdd(vec![vec![1], vec![2, 3]])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Can only zip RDDs with same number of elements in each partition"
        );
    }

    #[test]
    fn transformations_are_deterministic() {
        let data: Vec<u32> = (0..2000).map(|i| (i * 31) % 97).collect();
        let run = || {
            let r = sc().parallelize(data.clone(), 4);
            (
                r.clone().distinct(Some(3)).into_partitions(),
                r.clone().repartition(5).into_partitions(),
                r.sort_by(|x| *x, false, Some(3)).into_partitions(),
            )
        };
        assert_eq!(run(), run());
    }
}
