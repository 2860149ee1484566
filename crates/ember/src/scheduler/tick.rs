//! The batch clock's tick: what every worker learns at every batch time.
//!
//! A batch-clock concept, not a timely one: `exec` broadcasts ticks through the dataflow, but
//! what a tick says (which batch, relative to which zero time, whether it is the last) is the
//! scheduler's, as Spark's `JobGenerator` owns batch times and the zero time.

use serde::{Deserialize, Serialize};

use crate::time::{Duration, Time};

/// One tick of the batch clock, broadcast to every worker at every batch time, so that every
/// per-batch operator runs once per batch even when it received no records.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Tick {
    /// The batch time.
    pub(crate) time: Time,
    /// Spark's `zeroTime`: the first batch time minus the batch interval. A stream with slide
    /// `s` produces batches at the times `t` with `(t - zero) % s == 0`.
    pub(crate) zero: Time,
    /// The last batch of a graceful stop: stateful streams checkpoint it.
    pub(crate) last: bool,
    /// The input streams (graph node ids, ascending) that have *no RDD* at this time, which is
    /// not the same as an empty one (Spark's `compute` returning `None`). It travels with the
    /// tick so that every worker, in every process, knows which streams have no batch.
    pub(crate) no_rdd: Vec<usize>,
}

impl Tick {
    /// Whether a stream sliding every `slide` produces a batch at this tick.
    pub(crate) fn is_slide_time(&self, slide: Duration) -> bool {
        (self.time - self.zero).is_multiple_of(slide)
    }

    /// Whether a stream that has no RDD when one of the inputs `absent_when` has none (its
    /// `Meta::absent_when`) has an RDD at this tick.
    pub(crate) fn has_rdd(&self, absent_when: &std::collections::BTreeSet<usize>) -> bool {
        !self.no_rdd.iter().any(|input| absent_when.contains(input))
    }
}
