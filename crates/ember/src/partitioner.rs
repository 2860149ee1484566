//! [`Partitioner`]: a value that says how keys are spread over partitions, Spark's
//! `HashPartitioner`, and [`Partitioning`], what keyed operations accept for their partitions.
//!
//! Spark's keyed operations come in forms that take a partition count and forms that take a
//! `Partitioner`. ember's take either through one parameter: `None` (the default parallelism),
//! `Some(n)` or `n` (a hash partitioner with `n` partitions), or a [`Partitioner`]. Every
//! partitioner is a hash partitioner on ember's stable hash ([`crate::hash::partition_of`]), the
//! one rule that places a key everywhere (shuffles, state, checkpoints), so two operations with
//! equal partitioners place every key alike.

use serde::Serialize;

use crate::hash::partition_of;

/// Spark's `HashPartitioner`: key `k` goes to partition `stable_hash(k) % partitions`. Zero
/// partitions count as one, as everywhere in ember.
///
/// # Examples
///
/// ```
/// use ember::Partitioner;
/// use ember::hash::partition_of;
///
/// let p = Partitioner::hash(4);
/// assert_eq!(p.num_partitions(), 4);
/// assert_eq!(p.partition_of("word"), partition_of("word", 4));
/// assert_eq!(Partitioner::hash(0).num_partitions(), 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Partitioner {
    partitions: usize,
}

impl Partitioner {
    /// A hash partitioner with `partitions` partitions (at least one).
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// use ember::Partitioner;
    ///
    /// // Where Spark takes a partitioner, ember takes one too.
    /// let sums = test_operation("local[2]", vec![vec![('a', 1), ('a', 2)]], |s| {
    ///     s.reduce_by_key(|a, b| a + b, Partitioner::hash(3))
    /// }, 1)?;
    /// assert_eq!(sums, [[('a', 3)]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn hash(partitions: usize) -> Self {
        Partitioner {
            partitions: partitions.max(1),
        }
    }

    /// The number of partitions.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ember::Partitioner::hash(8).num_partitions(), 8);
    /// ```
    pub fn num_partitions(&self) -> usize {
        self.partitions
    }

    /// The partition of `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = ember::Partitioner::hash(3);
    /// assert!(p.partition_of(&("a", 1)) < 3);
    /// ```
    pub fn partition_of<K: Serialize + ?Sized>(&self, key: &K) -> usize {
        partition_of(key, self.partitions)
    }
}

/// What a keyed operation takes for its partitions: `None` (the context's default
/// parallelism), a count (`Some(n)` or `n`), or a [`Partitioner`].
///
/// # Examples
///
/// ```
/// use ember::{Partitioner, Partitioning};
///
/// assert_eq!(None.partition_count(), None);
/// assert_eq!(Some(4).partition_count(), Some(4));
/// assert_eq!(4usize.partition_count(), Some(4));
/// assert_eq!(Partitioner::hash(4).partition_count(), Some(4));
/// ```
pub trait Partitioning {
    /// The number of partitions asked for, or `None` for the default parallelism.
    fn partition_count(self) -> Option<usize>;
}

impl Partitioning for Option<usize> {
    fn partition_count(self) -> Option<usize> {
        self
    }
}

impl Partitioning for usize {
    fn partition_count(self) -> Option<usize> {
        Some(self)
    }
}

impl Partitioning for Partitioner {
    fn partition_count(self) -> Option<usize> {
        Some(self.partitions)
    }
}
