//! Operations on streams of key-value pairs that are not aggregations: `map_values`,
//! `flat_map_values`, and the per-batch `cogroup` and joins (Spark's `PairDStreamFunctions`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::data::{Data, Key};
use crate::dstream::node::NarrowNode;
use crate::dstream::presence::MissingRdd;
use crate::dstream::{DStream, Meta, Node, Upstream};
use crate::exec::{BatchLogic, Builder, Flow, Route};
use crate::hash::{partition_of_hash, stable_hash};
use crate::partitioner::Partitioning;
use crate::rdd::join_rows;
use crate::scheduler::Tick;

impl<K: Key, V: Data> DStream<(K, V)> {
    /// Applies `f` to every value, keeping keys (and partitions).
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// let tens = test_operation("local[2]", vec![vec![('a', 1), ('b', 2)]], |s| s.map_values(|v| v * 10), 1)?;
    /// assert_eq!(tens, [[('a', 10), ('b', 20)]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn map_values<U: Data>(
        &self,
        f: impl Fn(V) -> U + Send + Sync + 'static,
    ) -> DStream<(K, U)> {
        let node = NarrowNode::new(self, "map_values", move |(k, v)| Some((k, f(v))));
        self.derive(
            "map_values",
            self.meta.slide,
            self.meta.partitions,
            &[&self.meta],
            node,
        )
    }

    /// Applies `f` to every value and pairs each result with the key.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// let ranges = test_operation("local[2]", vec![vec![('a', 2), ('b', 1)]], |s| s.flat_map_values(|n| 0..n), 1)?;
    /// assert_eq!(ranges, [[('a', 0), ('a', 1), ('b', 0)]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn flat_map_values<U: Data, I>(
        &self,
        f: impl Fn(V) -> I + Send + Sync + 'static,
    ) -> DStream<(K, U)>
    where
        I: IntoIterator<Item = U>,
    {
        let node = NarrowNode::new(self, "flat_map_values", move |(k, v)| {
            f(v).into_iter().map(move |u| (k.clone(), u))
        });
        self.derive(
            "flat_map_values",
            self.meta.slide,
            self.meta.partitions,
            &[&self.meta],
            node,
        )
    }

    /// For each key of either stream's batch, the values of both (Spark's `cogroup`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_binary_operation;
    /// let grouped = test_binary_operation(
    ///     "local[2]",
    ///     vec![vec![('a', 1), ('b', 2)]],
    ///     vec![vec![('a', 10)]],
    ///     |left, right| left.cogroup(right, None),
    ///     1,
    /// )?;
    /// assert_eq!(grouped, [[('a', (vec![1], vec![10])), ('b', (vec![2], vec![]))]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    // Spark's shape for a cogroup, nested tuples and all: users match on it as in Spark.
    #[allow(clippy::type_complexity)]
    pub fn cogroup<W: Data>(
        &self,
        other: &DStream<(K, W)>,
        partitions: impl Partitioning,
    ) -> DStream<(K, (Vec<V>, Vec<W>))> {
        let n = partitions
            .partition_count()
            .unwrap_or_else(|| self.ssc.context().default_parallelism())
            .max(1);
        let poison = crate::dstream::transformed::two_stream_poison(self, other);
        let node = Cogroup {
            left: self.upstream(),
            right: other.upstream(),
            partitions: n,
        };
        // Spark builds it on `transformWith`: a batch where a side has no RDD fails.
        self.ssc
            .new_stream(
                "cogroup",
                self.meta.slide,
                n,
                &[&self.meta, &other.meta],
                poison,
                node,
            )
            .requiring_parent_rdds(MissingRdd::Transform)
    }

    /// Pairs of values for keys present in both batches (Spark's `join`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_binary_operation;
    /// let joined = test_binary_operation(
    ///     "local[2]",
    ///     vec![vec![('a', 1), ('b', 2)]],
    ///     vec![vec![('a', 10), ('c', 30)]],
    ///     |left, right| left.join(right, None),
    ///     1,
    /// )?;
    /// assert_eq!(joined, [[('a', (1, 10))]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn join<W: Data>(
        &self,
        other: &DStream<(K, W)>,
        partitions: impl Partitioning,
    ) -> DStream<(K, (V, W))> {
        self.cogroup(other, partitions).flat_map(join_rows::inner)
    }

    /// Every value of this batch, with the other batch's values of its key or `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_binary_operation;
    /// let joined = test_binary_operation(
    ///     "local[2]",
    ///     vec![vec![('a', 1), ('b', 2)]],
    ///     vec![vec![('a', 10), ('c', 30)]],
    ///     |left, right| left.left_outer_join(right, None),
    ///     1,
    /// )?;
    /// assert_eq!(joined, [[('a', (1, Some(10))), ('b', (2, None))]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn left_outer_join<W: Data>(
        &self,
        other: &DStream<(K, W)>,
        partitions: impl Partitioning,
    ) -> DStream<(K, (V, Option<W>))> {
        self.cogroup(other, partitions)
            .flat_map(join_rows::left_outer)
    }

    /// Every value of the other batch, with this batch's values of its key or `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_binary_operation;
    /// let joined = test_binary_operation(
    ///     "local[2]",
    ///     vec![vec![('a', 1), ('b', 2)]],
    ///     vec![vec![('a', 10), ('c', 30)]],
    ///     |left, right| left.right_outer_join(right, None),
    ///     1,
    /// )?;
    /// assert_eq!(joined, [[('a', (Some(1), 10)), ('c', (None, 30))]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn right_outer_join<W: Data>(
        &self,
        other: &DStream<(K, W)>,
        partitions: impl Partitioning,
    ) -> DStream<(K, (Option<V>, W))> {
        self.cogroup(other, partitions)
            .flat_map(join_rows::right_outer)
    }

    /// Every key of either batch, with the values of each side or `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_binary_operation;
    /// let joined = test_binary_operation(
    ///     "local[2]",
    ///     vec![vec![('a', 1), ('b', 2)]],
    ///     vec![vec![('a', 10), ('c', 30)]],
    ///     |left, right| left.full_outer_join(right, None),
    ///     1,
    /// )?;
    /// assert_eq!(joined, [[('a', (Some(1), Some(10))), ('b', (Some(2), None)), ('c', (None, Some(30)))]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    // Spark's shape for a full outer join, nested tuples and all: users match on it as in Spark.
    #[allow(clippy::type_complexity)]
    pub fn full_outer_join<W: Data>(
        &self,
        other: &DStream<(K, W)>,
        partitions: impl Partitioning,
    ) -> DStream<(K, (Option<V>, Option<W>))> {
        self.cogroup(other, partitions)
            .flat_map(join_rows::full_outer)
    }
}

/// A record of either side of a two-stream operation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Side<A, B> {
    Left(A),
    Right(B),
}

struct Cogroup<K: Data, V: Data, W: Data> {
    left: Upstream<(K, V)>,
    right: Upstream<(K, W)>,
    partitions: usize,
}

type Groups<K, V, W> = HashMap<K, (Vec<V>, Vec<W>), foldhash::fast::RandomState>;

/// A key's groups with its partition and stable hash (the output order).
type PlacedGroups<K, V, W> = (u32, u64, K, (Vec<V>, Vec<W>));

/// The element types, for `PhantomData`.
type Elements<K, V, W> = fn() -> (K, V, W);

struct CogroupLogic<K, V, W> {
    partitions: usize,
    _t: std::marker::PhantomData<Elements<K, V, W>>,
}

/// A key with its values from each side.
type Cogrouped<K, V, W> = (K, (Vec<V>, Vec<W>));

impl<K: Key, V: Data, W: Data> BatchLogic<(K, Side<V, W>), Cogrouped<K, V, W>>
    for CogroupLogic<K, V, W>
{
    type Acc = Groups<K, V, W>;

    fn absorb(&mut self, acc: &mut Self::Acc, _partition: u32, (k, side): (K, Side<V, W>)) {
        let entry = acc.entry(k).or_default();
        match side {
            Side::Left(v) => entry.0.push(v),
            Side::Right(w) => entry.1.push(w),
        }
    }

    fn finish(
        &mut self,
        _tick: &Tick,
        acc: &mut Self::Acc,
        out: &mut Vec<(u32, (K, (Vec<V>, Vec<W>)))>,
    ) {
        let n = self.partitions;
        let mut rows: Vec<PlacedGroups<K, V, W>> = acc
            .drain()
            .map(|(k, g)| {
                let hash = stable_hash(&k);
                (partition_of_hash(hash, n), hash, k, g)
            })
            .collect();
        rows.sort_unstable_by_key(|r| (r.0, r.1));
        out.extend(rows.into_iter().map(|(p, _, k, g)| (p, (k, g))));
    }
}

impl<K: Key, V: Data, W: Data> Node<(K, (Vec<V>, Vec<W>))> for Cogroup<K, V, W> {
    fn build<'s>(&self, b: &mut Builder<'s>, meta: &Meta) -> Flow<'s, (K, (Vec<V>, Vec<W>))> {
        let n = self.partitions;
        let left = self
            .left
            .flow(b)
            .narrow(b, meta.id, "cogroup", move |_p, (k, v), out| {
                out.push((partition_of_hash(stable_hash(&k), n), (k, Side::Left(v))));
                Ok(())
            });
        let right = self
            .right
            .flow(b)
            .narrow(b, meta.id, "cogroup", move |_p, (k, w), out| {
                out.push((partition_of_hash(stable_hash(&k), n), (k, Side::Right(w))));
                Ok(())
            });
        let logic = CogroupLogic {
            partitions: self.partitions,
            _t: std::marker::PhantomData,
        };
        left.concat(right)
            .batch(b, Route::ByPartition, meta.id, "cogroup", logic)
    }
}
