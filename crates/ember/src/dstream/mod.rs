//! Discretized streams (Spark's `DStream`): a sequence of RDDs, one per batch, and the
//! operations that transform them. One small type per operation, as in Spark's `dstream/`.
//!
//! A [`DStream`] is a node of the stream graph held by its
//! [`StreamingContext`]. Nothing runs until the context
//! starts; then every worker builds the same dataflow from the graph (see `exec`).
//!
//! Transformations never fail when called; one made after the context started carries Spark's
//! error, and registering an output operation on it returns that error.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::data::Data;
use crate::exec::{Builder, Chain, Flow};
use crate::streaming::StreamingContext;
use crate::time::Duration;

pub(crate) mod combine_map;
pub(crate) mod counted;
pub(crate) mod input;
pub(crate) mod map_partitioned;
pub(crate) mod map_with_state;
pub(crate) mod mapped;
pub(crate) mod node;
pub(crate) mod output;
pub(crate) mod pair;
pub(crate) mod presence;
pub(crate) mod reduced_window;
pub(crate) mod repartitioned;
pub(crate) mod shuffled;
pub(crate) mod slice;
pub(crate) mod transformed;
pub(crate) mod union;
pub(crate) mod update_state;
pub(crate) mod update_state_iter;
pub(crate) mod window;
pub(crate) mod window_args;
pub(crate) mod window_ops;

pub use input::RddQueue;
pub use map_with_state::MapWithStateDStream;
pub use reduced_window::WindowFilter;
pub use update_state_iter::StateRows;
pub use window_args::{WindowArgument, WindowError};

/// What every stream knows about itself, independent of its element type.
#[derive(Clone)]
pub(crate) struct Meta {
    /// Node id, unique in its graph; the order of creation.
    pub(crate) id: usize,
    /// Operation name (`map`, `reduce_by_key`, ...), used in logs and the graph fingerprint.
    pub(crate) name: &'static str,
    /// Interval between the stream's batches (the batch interval unless windowed).
    pub(crate) slide: Duration,
    /// Partitions of its batches (for inputs whose batches vary, the usual count).
    pub(crate) partitions: usize,
    /// This node and every node it depends on.
    pub(crate) lineage: Arc<BTreeSet<usize>>,
    /// Why this stream cannot be used (made after start, invalid arguments).
    pub(crate) poisoned: Option<Arc<str>>,
    /// The input streams whose batch without an RDD leaves this stream without one at that time
    /// (see [`presence`]): the stream's own id for an input, the parents' for a map, none for a
    /// window or a stateful stream, which always have an RDD.
    pub(crate) absent_when: Arc<BTreeSet<usize>>,
    /// For an operation that fails a batch where a parent has no RDD (`union`, `transform`):
    /// which inputs that means and what the failure says.
    pub(crate) requires_rdds: Option<Arc<presence::RddRequirement>>,
    /// `Some(n)` when every record is a `(key, value)` pair tagged with its key's partition among
    /// `n` (stable hash modulo `n`) and held by that partition's worker, as a `reduce_by_key`
    /// leaves them (Spark's RDD `partitioner`): a keyed operation over `n` partitions then
    /// needs no shuffle.
    pub(crate) key_partitions: Option<usize>,
}

/// How a node builds its part of the dataflow.
pub(crate) trait Node<T: Data>: Send + Sync + 'static {
    fn build<'s>(&self, b: &mut Builder<'s>, meta: &Meta) -> Flow<'s, T>;

    /// This stream as per-record functions still to run, for its one consumer to run in its own
    /// operator (see `exec::chain`); `None` (the default) for streams built as operators.
    fn fused<'s>(&self, _b: &mut Builder<'s>, _meta: &Meta) -> Option<Chain<'s, T>> {
        None
    }
}

/// A discretized stream of `T`: at every batch time (every slide), one RDD of `T`.
pub struct DStream<T: Data> {
    pub(crate) ssc: StreamingContext,
    pub(crate) node: Arc<dyn Node<T>>,
    pub(crate) meta: Arc<Meta>,
    /// Batches kept for `slice` when the context remembers (see `StreamingContext::remember`).
    pub(crate) retained: slice::Retained<T>,
}

/// What the graph keeps of a stream: how to build it, without its context.
///
/// Nodes and output operations hold their parents as `Upstream`s, never as [`DStream`]s. The
/// context owns its output operations, which own their nodes and, through them, every node
/// upstream; if those held the context back, no context would ever be freed (nor the closures,
/// queues and restored state its graph holds). With this, the program's own handles (its
/// `StreamingContext`s and `DStream`s) are what keeps a context alive.
pub(crate) struct Upstream<T: Data> {
    pub(crate) node: Arc<dyn Node<T>>,
    pub(crate) meta: Arc<Meta>,
    pub(crate) retained: slice::Retained<T>,
}

impl<T: Data> Clone for Upstream<T> {
    fn clone(&self) -> Self {
        Upstream {
            node: self.node.clone(),
            meta: self.meta.clone(),
            retained: self.retained.clone(),
        }
    }
}

impl<T: Data> Upstream<T> {
    /// The stream's part of the dataflow, built once per worker.
    /// The stream for a consumer that can run per-record functions in its own operator: still
    /// a chain of functions where this stream's only consumer is the caller (see
    /// `exec::chain`), else built as [`flow`](Self::flow) builds it.
    pub(crate) fn chain<'s>(&self, b: &mut Builder<'s>) -> Chain<'s, T> {
        if self.meta.requires_rdds.is_none()
            && b.may_fuse(self.meta.id)
            && let Some(chain) = self.node.fused(b, &self.meta)
        {
            b.mark_fused(self.meta.id);
            return chain;
        }
        Chain::Built(self.flow(b))
    }

    pub(crate) fn flow<'s>(&self, b: &mut Builder<'s>) -> Flow<'s, T> {
        let node = self.node.clone();
        let meta = self.meta.clone();
        let retained = self.retained.clone();
        b.memo(meta.id, move |b| {
            if let Some(requirement) = &meta.requires_rdds
                && b.is_driver()
            {
                let kind = requirement.kind;
                b.runtime().require_rdds(
                    meta.id,
                    meta.name,
                    requirement.inputs.clone(),
                    move |time| kind.message(time),
                );
            }
            let flow = node.build(b, &meta);
            slice::retain(b, &flow, &meta, &retained);
            flow
        })
    }
}

impl<T: Data> Clone for DStream<T> {
    fn clone(&self) -> Self {
        DStream {
            ssc: self.ssc.clone(),
            node: self.node.clone(),
            meta: self.meta.clone(),
            retained: self.retained.clone(),
        }
    }
}

impl<T: Data> std::fmt::Debug for DStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DStream")
            .field("id", &self.meta.id)
            .field("operation", &self.meta.name)
            .field("slide", &self.meta.slide)
            .finish()
    }
}

impl<T: Data> DStream<T> {
    /// The streaming context this stream belongs to.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::{testing::StreamTest, Duration};
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let numbers = t.input(vec![vec![1]]);
    /// assert_eq!(numbers.context().batch_duration(), Duration::seconds(1));
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn context(&self) -> &StreamingContext {
        &self.ssc
    }

    /// Time between this stream's batches.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::{testing::StreamTest, Duration};
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let numbers = t.input(vec![vec![1]]);
    /// assert_eq!(numbers.slide_duration(), Duration::seconds(1));
    /// let windowed = numbers.window(Duration::seconds(4), Duration::seconds(2));
    /// assert_eq!(windowed.slide_duration(), Duration::seconds(2));
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn slide_duration(&self) -> Duration {
        self.meta.slide
    }

    /// Sets how often this stream's state is checkpointed (Spark's `DStream.checkpoint`): a
    /// multiple of its slide. ember checkpoints state, not data: on a stream without state this
    /// only validates the interval. With several stateful streams, checkpoints happen at the
    /// least common multiple of their intervals, so that every commit has all the state.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::{testing::StreamTest, Duration};
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let numbers = t.input(vec![vec![1]]);
    /// numbers.checkpoint(Duration::seconds(3))?;
    /// // Not a multiple of the 1 s slide.
    /// assert!(numbers.checkpoint(Duration::milliseconds(1500)).is_err());
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn checkpoint(&self, interval: Duration) -> crate::Result<()> {
        let slide = self.meta.slide;
        let name = self.meta.name;
        if interval < slide {
            return Err(crate::Error::Requirement(format!(
                "The checkpoint interval for {name} has been set to {interval} which is lower than its slide time ({slide}). Please set it to at least {slide}."
            )));
        }
        if !interval.is_multiple_of(slide) {
            return Err(crate::Error::Requirement(format!(
                "The checkpoint interval for {name} has been set to  {interval} which not a multiple of its slide time ({slide}). Please set it to a multiple of {slide}."
            )));
        }
        self.ssc.set_checkpoint_interval(self.meta.id, interval)
    }

    /// The stream as a parent of a node or an output: without the context (see [`Upstream`]).
    pub(crate) fn upstream(&self) -> Upstream<T> {
        Upstream {
            node: self.node.clone(),
            meta: self.meta.clone(),
            retained: self.retained.clone(),
        }
    }

    /// This stream, marked as holding each key in its partition among `n` (see
    /// [`Meta::key_partitions`]).
    pub(crate) fn partitioned_by_key(mut self, n: usize) -> Self {
        let mut meta = (*self.meta).clone();
        meta.key_partitions = Some(n);
        self.meta = Arc::new(meta);
        self
    }

    /// A new stream computed from `parents` by `node`.
    pub(crate) fn derive<U: Data>(
        &self,
        name: &'static str,
        slide: Duration,
        partitions: usize,
        parents: &[&Meta],
        node: impl Node<U>,
    ) -> DStream<U> {
        self.ssc
            .new_stream(name, slide, partitions, parents, None, node)
    }
}
