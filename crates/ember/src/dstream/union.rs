//! `union`: the batches of several streams together (Spark's `UnionDStream`). The result's
//! partitions are the first stream's, then the second's, and so on, as Spark's `UnionRDD`. A
//! batch where a stream has no RDD (see `dstream::presence`) fails with Spark's message.

use crate::data::Data;
use crate::dstream::presence::MissingRdd;
use crate::dstream::{DStream, Meta, Node, Upstream};
use crate::exec::{Builder, Flow};
use crate::streaming::StreamingContext;

struct Union<T: Data> {
    parents: Vec<Upstream<T>>,
}

impl<T: Data> Node<T> for Union<T> {
    fn build<'s>(&self, b: &mut Builder<'s>, meta: &Meta) -> Flow<'s, T> {
        let mut offset = 0u32;
        let mut result: Option<Flow<'s, T>> = None;
        for parent in &self.parents {
            let flow = parent.flow(b);
            let shifted = if offset == 0 {
                flow
            } else {
                let shift = offset;
                flow.narrow(b, meta.id, "union", move |p, x, out| {
                    out.push((p + shift, x));
                    Ok(())
                })
                .route_by_partition()
            };
            offset += parent.meta.partitions as u32;
            result = Some(match result {
                None => shifted,
                Some(acc) => acc.concat(shifted),
            });
        }
        result.expect("a union has at least one stream")
    }
}

pub(crate) fn union_all<T: Data>(ssc: &StreamingContext, streams: &[DStream<T>]) -> DStream<T> {
    let slide = streams
        .first()
        .map(|s| s.meta.slide)
        .unwrap_or(ssc.batch_duration());
    // Spark's `UnionDStream` checks the contexts before the slides.
    let poison = if streams.is_empty() {
        Some("requirement failed: Empty sequence of DStreams to union".to_owned())
    } else if streams.iter().any(|s| !s.ssc.same_as(ssc)) {
        Some("requirement failed: Some of the DStreams have different contexts".to_owned())
    } else if streams.iter().any(|s| s.meta.slide != slide) {
        Some("requirement failed: Some of the DStreams have different slide durations".to_owned())
    } else {
        None
    };
    let partitions = streams.iter().map(|s| s.meta.partitions).sum();
    let metas: Vec<&Meta> = streams.iter().map(|s| &*s.meta).collect();
    let node = Union {
        parents: streams.iter().map(DStream::upstream).collect(),
    };
    ssc.new_stream("union", slide, partitions, &metas, poison, node)
        .requiring_parent_rdds(MissingRdd::Union)
}

impl<T: Data> DStream<T> {
    /// The elements of this stream's batch and then those of `other`'s, per batch. Both streams
    /// must have the same slide.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::testing::test_binary_operation;
    /// let both = test_binary_operation(
    ///     "local[2]",
    ///     vec![vec![1, 2], vec![3]],
    ///     vec![vec![10], vec![]],
    ///     |a, b| a.union(b),
    ///     2,
    /// )?;
    /// assert_eq!(both, [vec![1, 2, 10], vec![3]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn union(&self, other: &DStream<T>) -> DStream<T> {
        union_all(&self.ssc, &[self.clone(), other.clone()])
    }
}
