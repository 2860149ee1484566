//! `transform` and `transform_with`: arbitrary RDD-to-RDD functions run on the driver each batch
//! (Spark's `TransformedDStream`). The batch is gathered on the driver as an [`Rdd`], the
//! function runs there, and the result's partitions go back to their workers. Use the DStream
//! operations for work that should stay spread over the workers.
//!
//! Known limit: a stream's partition count is fixed when the graph is built, and a transformed
//! stream takes its parent's. A function that returns more partitions keeps them all, but one
//! that returns fewer, or whose last partitions are empty, is seen downstream with the parent's
//! count (empty partitions added or dropped at the end).

use std::sync::Arc;

use crate::data::Data;
use crate::dstream::node::{OnDriver, into_partitions};
use crate::dstream::pair::Side;
use crate::dstream::{DStream, Meta, Node, Upstream};
use crate::exec::{Builder, Flow, Route};
use crate::rdd::Rdd;
use crate::time::Time;

type TransformFn<T, U> = Arc<dyn Fn(Rdd<T>, Time) -> Rdd<U> + Send + Sync>;
type Transform2Fn<A, B, U> = Arc<dyn Fn(Rdd<A>, Rdd<B>, Time) -> Rdd<U> + Send + Sync>;

/// Emits an RDD's partitions as records tagged with their partition.
fn emit<U>(result: Rdd<U>, out: &mut Vec<(u32, U)>)
where
    U: Data,
{
    for (p, part) in result.into_partitions().into_iter().enumerate() {
        out.extend(part.into_iter().map(|u| (p as u32, u)));
    }
}

struct Transformed<T: Data, U: Data> {
    parent: Upstream<T>,
    f: TransformFn<T, U>,
}

impl<T: Data, U: Data> Node<U> for Transformed<T, U> {
    fn build<'s>(&self, b: &mut Builder<'s>, meta: &Meta) -> Flow<'s, U> {
        let f = self.f.clone();
        let partitions = self.parent.meta.partitions;
        let ctx = b.runtime().ctx.clone();
        let logic = OnDriver::new(
            b.is_driver(),
            meta.slide,
            move |records, time, out: &mut Vec<(u32, U)>| {
                emit(
                    f(
                        Rdd::from_partitions(&ctx, into_partitions(records, partitions)),
                        time,
                    ),
                    out,
                )
            },
        );
        self.parent
            .flow(b)
            .batch(b, Route::Driver, meta.id, "transform", logic)
            .route_by_partition()
    }
}

struct Transformed2<A: Data, B: Data, U: Data> {
    left: Upstream<A>,
    right: Upstream<B>,
    f: Transform2Fn<A, B, U>,
}

impl<A: Data, B: Data, U: Data> Node<U> for Transformed2<A, B, U> {
    fn build<'s>(&self, b: &mut Builder<'s>, meta: &Meta) -> Flow<'s, U> {
        let f = self.f.clone();
        let (left_parts, right_parts) = (self.left.meta.partitions, self.right.meta.partitions);
        let left = self
            .left
            .flow(b)
            .narrow(b, meta.id, "transform_with", |p, a, out| {
                out.push((p, Side::Left(a)));
                Ok(())
            });
        let right = self
            .right
            .flow(b)
            .narrow(b, meta.id, "transform_with", |p, x, out| {
                out.push((p, Side::Right(x)));
                Ok(())
            });
        let ctx = b.runtime().ctx.clone();
        let logic = OnDriver::new(
            b.is_driver(),
            meta.slide,
            move |records: Vec<(u32, Side<A, B>)>, time, out: &mut Vec<(u32, U)>| {
                let (mut ls, mut rs) = (Vec::new(), Vec::new());
                for (p, r) in records {
                    match r {
                        Side::Left(a) => ls.push((p, a)),
                        Side::Right(x) => rs.push((p, x)),
                    }
                }
                let l = Rdd::from_partitions(&ctx, into_partitions(ls, left_parts));
                let r = Rdd::from_partitions(&ctx, into_partitions(rs, right_parts));
                let result = f(l, r, time);
                emit(result, out)
            },
        );
        left.concat(right)
            .batch(b, Route::Driver, meta.id, "transform_with", logic)
            .route_by_partition()
    }
}

/// Spark's `TransformedDStream` requirements on the parents of a two-stream operation
/// (`transform_with`, `cogroup`, joins): the same context, then the same slide.
pub(crate) fn two_stream_poison<A: Data, B: Data>(
    left: &DStream<A>,
    right: &DStream<B>,
) -> Option<String> {
    if !left.ssc.same_as(&right.ssc) {
        Some("requirement failed: Some of the DStreams have different contexts".to_owned())
    } else if left.meta.slide != right.meta.slide {
        Some("requirement failed: Some of the DStreams have different slide durations".to_owned())
    } else {
        None
    }
}

impl<T: Data> DStream<T> {
    /// Applies an RDD-to-RDD function to every batch, on the driver.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// let distinct = test_operation("local[2]", vec![vec![1, 2, 2, 3, 3]], |s| s.transform(|rdd| rdd.distinct(None)), 1)?;
    /// assert_eq!(distinct, [[1, 2, 3]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn transform<U: Data>(
        &self,
        f: impl Fn(Rdd<T>) -> Rdd<U> + Send + Sync + 'static,
    ) -> DStream<U> {
        self.transform_with_time(move |rdd, _| f(rdd))
    }

    /// Applies an RDD-to-RDD function that also gets the batch time to every batch.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_operation;
    /// let timed = test_operation("local[2]", vec![vec!['a'], vec!['b']], |s| {
    ///     s.transform_with_time(|rdd, time| rdd.map(move |x| (time.as_millis(), x)))
    /// }, 2)?;
    /// assert_eq!(timed, [[(1000, 'a')], [(2000, 'b')]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn transform_with_time<U: Data>(
        &self,
        f: impl Fn(Rdd<T>, Time) -> Rdd<U> + Send + Sync + 'static,
    ) -> DStream<U> {
        let node = Transformed {
            parent: self.upstream(),
            f: Arc::new(f),
        };
        self.derive(
            "transform",
            self.meta.slide,
            self.meta.partitions,
            &[&self.meta],
            node,
        )
    }

    /// Combines each batch of this stream with the same batch of `other` (Spark's
    /// `transformWith`). Both streams must have the same slide.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_binary_operation;
    /// let left = test_binary_operation(
    ///     "local[2]",
    ///     vec![vec![1, 2, 3, 4]],
    ///     vec![vec![2, 4]],
    ///     |a, b| a.transform_with(b, |x, y| x.subtract(y, None)),
    ///     1,
    /// )?;
    /// assert_eq!(left, [[1, 3]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn transform_with<B: Data, U: Data>(
        &self,
        other: &DStream<B>,
        f: impl Fn(Rdd<T>, Rdd<B>) -> Rdd<U> + Send + Sync + 'static,
    ) -> DStream<U> {
        self.transform_with_time2(other, move |a, b, _| f(a, b))
    }

    /// As [`transform_with`](Self::transform_with), with the batch time.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_binary_operation;
    /// let timed = test_binary_operation(
    ///     "local[2]",
    ///     vec![vec![1], vec![2]],
    ///     vec![vec![10], vec![20]],
    ///     |a, b| a.transform_with_time2(b, |x, y, time| x.union(y).map(move |v| (time.as_millis(), v))),
    ///     2,
    /// )?;
    /// assert_eq!(timed, [[(1000, 1), (1000, 10)], [(2000, 2), (2000, 20)]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn transform_with_time2<B: Data, U: Data>(
        &self,
        other: &DStream<B>,
        f: impl Fn(Rdd<T>, Rdd<B>, Time) -> Rdd<U> + Send + Sync + 'static,
    ) -> DStream<U> {
        let poison = two_stream_poison(self, other);
        let node = Transformed2 {
            left: self.upstream(),
            right: other.upstream(),
            f: Arc::new(f),
        };
        self.ssc.new_stream(
            "transform_with",
            self.meta.slide,
            1,
            &[&self.meta, &other.meta],
            poison,
            node,
        )
    }
}
