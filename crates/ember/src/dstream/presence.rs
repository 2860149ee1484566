//! Batches without an RDD, which are not the same as empty batches (Spark's `compute`
//! returning `None`).
//!
//! An input can have no RDD at a batch time: a queue stream made with
//! [`optional_queue_stream`](crate::StreamingContext::optional_queue_stream) whose next entry is
//! `None`, or whose queue is empty and whose default is "no RDD". Spark's operations then do one
//! of three things, and each stream's [`Meta`] says which:
//!
//! - most have no RDD either (`map`, `filter`, `glom`, `map_partitions`, `reduce_by_key`, ...):
//!   `Meta::absent_when` holds the inputs whose missing batch they inherit, and an output
//!   operation on such a stream does not run at that time (no job, no listener event);
//! - windows and stateful streams always have one: a window leaves the missing batch out,
//!   `update_state_by_key` calls its function for every key with no new values
//!   ([`DStream::always_has_rdd`]);
//! - what Spark builds on `UnionDStream` or `TransformedDStream` (`union`, `transform`,
//!   `transform_with`, `StreamingContext::transform`, `count`, `repartition`, `cogroup` and the
//!   joins) fails the batch with Spark's error ([`DStream::requiring_parent_rdds`]); the jobs
//!   that depend on it fail with that message, later batches run on.
//!
//! The driver learns which inputs have no RDD when it closes a batch, and the batch's tick
//! carries them (`Tick::no_rdd`) to every worker of every process, before any operator finishes
//! that batch.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::data::Data;
use crate::dstream::{DStream, Meta};
use crate::time::Time;

/// Which of Spark's errors an operation fails a batch with when a parent has no RDD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MissingRdd {
    /// `UnionDStream`'s.
    Union,
    /// `TransformedDStream`'s (also `transformWith`, `StreamingContext.transform`, and what
    /// Spark builds on them: `count`, `repartition`, `cogroup`, joins).
    Transform,
}

impl MissingRdd {
    /// Spark's message for batch `time`.
    pub(crate) fn message(self, time: Time) -> String {
        match self {
            MissingRdd::Union => {
                format!("Could not generate RDD from a parent for unifying at time {time}")
            }
            MissingRdd::Transform => format!("Couldn't generate RDD from parent at time {time}"),
        }
    }
}

/// An operation that fails a batch where one of `inputs` has no RDD, with `kind`'s message.
pub(crate) struct RddRequirement {
    /// The inputs whose missing batch its parents would inherit.
    pub(crate) inputs: Arc<BTreeSet<usize>>,
    /// Which error.
    pub(crate) kind: MissingRdd,
}

impl<T: Data> DStream<T> {
    /// This stream has an RDD at every one of its batch times, whatever its parents have (a
    /// window, a stateful stream).
    pub(crate) fn always_has_rdd(self) -> Self {
        self.with_presence(None)
    }

    /// This stream fails a batch where a parent has no RDD, with `kind`'s message; otherwise it
    /// has an RDD.
    pub(crate) fn requiring_parent_rdds(self, kind: MissingRdd) -> Self {
        let inputs = self.meta.absent_when.clone();
        if inputs.is_empty() {
            // Its parents always have RDDs: nothing can fail.
            return self.always_has_rdd();
        }
        self.with_presence(Some(Arc::new(RddRequirement { inputs, kind })))
    }

    fn with_presence(mut self, requires_rdds: Option<Arc<RddRequirement>>) -> Self {
        let m = &self.meta;
        self.meta = Arc::new(Meta {
            id: m.id,
            name: m.name,
            slide: m.slide,
            partitions: m.partitions,
            lineage: m.lineage.clone(),
            poisoned: m.poisoned.clone(),
            absent_when: Arc::new(BTreeSet::new()),
            requires_rdds,
            key_partitions: m.key_partitions,
        });
        self
    }
}
