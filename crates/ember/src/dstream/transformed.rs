//! `transform`, `transform_with` and `StreamingContext::transform`: arbitrary RDD-to-RDD
//! functions run on the driver each batch (Spark's `TransformedDStream`). The batch is gathered on the driver as an [`Rdd`], the
//! function runs there, and the result's partitions go back to their workers. Use the DStream
//! operations for work that should stay spread over the workers.
//!
//! A batch where a parent has no RDD (see `dstream::presence`) fails with Spark's message
//! ("Couldn't generate RDD from parent at time ..."), and the function does not run.
//!
//! Known limit: a stream's partition count is fixed when the graph is built, and a transformed
//! stream takes its parent's. A function that returns more partitions keeps them all, but one
//! that returns fewer, or whose last partitions are empty, is seen downstream with the parent's
//! count (empty partitions added or dropped at the end).

use std::sync::Arc;

use crate::data::Data;
use crate::dstream::node::{OnDriver, into_partitions};
use crate::dstream::pair::Side;
use crate::dstream::presence::MissingRdd;
use crate::dstream::{DStream, Meta, Node, Upstream};
use crate::exec::{Builder, Flow, Route};
use crate::rdd::Rdd;
use crate::streaming::StreamingContext;
use crate::time::Time;

type TransformFn<T, U> = Arc<dyn Fn(Rdd<T>, Time) -> Rdd<U> + Send + Sync>;
type Transform2Fn<A, B, U> = Arc<dyn Fn(Rdd<A>, Rdd<B>, Time) -> Rdd<U> + Send + Sync>;
type TransformManyFn<T, U> = Arc<dyn Fn(Vec<Rdd<T>>, Time) -> Rdd<U> + Send + Sync>;

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
            self.parent.meta.absent_when.clone(),
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
        let absent_when = self
            .left
            .meta
            .absent_when
            .union(&self.right.meta.absent_when)
            .copied()
            .collect();
        let logic = OnDriver::new(
            b.is_driver(),
            meta.slide,
            Arc::new(absent_when),
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

/// Any number of streams of one element type, transformed together (Spark's
/// `StreamingContext.transform`).
struct TransformedMany<T: Data, U: Data> {
    parents: Vec<Upstream<T>>,
    f: TransformManyFn<T, U>,
}

impl<T: Data, U: Data> Node<U> for TransformedMany<T, U> {
    fn build<'s>(&self, b: &mut Builder<'s>, meta: &Meta) -> Flow<'s, U> {
        // Each record travels with the index of its stream, so that the driver can rebuild each
        // stream's RDD from the one gathered batch.
        let mut tagged: Option<Flow<'s, (usize, T)>> = None;
        for (i, parent) in self.parents.iter().enumerate() {
            let flow = parent
                .flow(b)
                .narrow(b, meta.id, "transform", move |p, x, out| {
                    out.push((p, (i, x)));
                    Ok(())
                });
            tagged = Some(match tagged {
                None => flow,
                Some(all) => all.concat(flow),
            });
        }
        let tagged = tagged.expect("a transform of streams has at least one stream");
        let partitions: Vec<usize> = self.parents.iter().map(|p| p.meta.partitions).collect();
        let absent_when = self
            .parents
            .iter()
            .flat_map(|p| p.meta.absent_when.iter().copied())
            .collect();
        let (f, ctx) = (self.f.clone(), b.runtime().ctx.clone());
        let logic = OnDriver::new(
            b.is_driver(),
            meta.slide,
            Arc::new(absent_when),
            move |records: Vec<(u32, (usize, T))>, time, out: &mut Vec<(u32, U)>| {
                let mut per_stream: Vec<Vec<(u32, T)>> =
                    partitions.iter().map(|_| Vec::new()).collect();
                for (p, (i, x)) in records {
                    per_stream[i].push((p, x));
                }
                let rdds = per_stream
                    .into_iter()
                    .zip(&partitions)
                    .map(|(records, n)| Rdd::from_partitions(&ctx, into_partitions(records, *n)))
                    .collect();
                emit(f(rdds, time), out)
            },
        );
        tagged
            .batch(b, Route::Driver, meta.id, "transform", logic)
            .route_by_partition()
    }
}

impl StreamingContext {
    /// Applies a function to the batches of several streams at once, on the driver (Spark's
    /// `StreamingContext.transform(dstreams, transformFunc)`): at every batch time, `f` gets each
    /// stream's RDD, in the order of `streams`, and the batch time. The streams must belong to
    /// this context and have the same slide, and there must be at least one (Spark's
    /// messages otherwise, returned when an output is registered). A batch where one of them
    /// has no RDD fails with Spark's message instead of calling `f`. The result has the first
    /// stream's partition count (see the module's known limit).
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let a = t.input(vec![vec![1, 2], vec![3]]);
    /// let b = t.input(vec![vec![10], vec![20, 30]]);
    /// let c = t.input(vec![vec![100], vec![]]);
    /// let sums = t.context().transform(&[a, b, c], |rdds, time| {
    ///     let sizes: Vec<u64> = rdds.iter().map(|rdd| rdd.count()).collect();
    ///     let sc = rdds[0].context().clone();
    ///     sc.parallelize(vec![(time.as_millis(), sizes)], 1)
    /// });
    /// let out = t.collect(&sums)?;
    /// t.run(2)?;
    /// assert_eq!(out.batches(), [vec![(1000, vec![2, 1, 1])], vec![(2000, vec![1, 2, 0])]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn transform<T: Data, U: Data>(
        &self,
        streams: &[DStream<T>],
        f: impl Fn(Vec<Rdd<T>>, Time) -> Rdd<U> + Send + Sync + 'static,
    ) -> DStream<U> {
        // Spark's `TransformedDStream` checks emptiness, then contexts, then slides.
        let slide = streams
            .first()
            .map_or(self.batch_duration(), |s| s.meta.slide);
        let poison = if streams.is_empty() {
            Some("requirement failed: List of DStreams to transform is empty".to_owned())
        } else if streams.iter().any(|s| !s.ssc.same_as(self)) {
            Some("requirement failed: Some of the DStreams have different contexts".to_owned())
        } else if streams.iter().any(|s| s.meta.slide != slide) {
            Some(
                "requirement failed: Some of the DStreams have different slide durations"
                    .to_owned(),
            )
        } else {
            None
        };
        let partitions = streams.first().map_or(1, |s| s.meta.partitions);
        let metas: Vec<&Meta> = streams.iter().map(|s| &*s.meta).collect();
        let node = TransformedMany {
            parents: streams.iter().map(DStream::upstream).collect(),
            f: Arc::new(f),
        };
        self.new_stream("transform", slide, partitions, &metas, poison, node)
            .requiring_parent_rdds(MissingRdd::Transform)
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
        .requiring_parent_rdds(MissingRdd::Transform)
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
        self.ssc
            .new_stream(
                "transform_with",
                self.meta.slide,
                1,
                &[&self.meta, &other.meta],
                poison,
                node,
            )
            .requiring_parent_rdds(MissingRdd::Transform)
    }
}
