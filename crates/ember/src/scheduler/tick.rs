//! The batch clock's tick: what every worker learns at every batch time.
//!
//! A batch-clock concept, not a timely one: `exec` broadcasts ticks through the dataflow, but
//! what a tick says (which batch, relative to which zero time, whether it is the last) is the
//! scheduler's, as Spark's `JobGenerator` owns batch times and the zero time.

use serde::{Deserialize, Serialize};

use crate::time::{Duration, Time};

/// One tick of the batch clock, broadcast to every worker at every batch time, so that every
/// per-batch operator runs once per batch even when it received no records.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct Tick {
    /// The batch time.
    pub(crate) time: Time,
    /// Spark's `zeroTime`: the first batch time minus the batch interval. A stream with slide
    /// `s` produces batches at the times `t` with `(t - zero) % s == 0`.
    pub(crate) zero: Time,
    /// The last batch of a graceful stop: stateful streams checkpoint it.
    pub(crate) last: bool,
}

impl Tick {
    /// Whether a stream sliding every `slide` produces a batch at this tick.
    pub(crate) fn is_slide_time(&self, slide: Duration) -> bool {
        (self.time - self.zero).is_multiple_of(slide)
    }
}
