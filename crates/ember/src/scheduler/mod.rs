//! Scheduling: the batch clock, the shared run state, output jobs, listener events and rate
//! control (Spark's `scheduler/`). Nothing here knows timely; `exec` drives these types.

pub mod clock;
pub mod listener;
pub mod rate;
pub(crate) mod runtime;
mod tick;

pub use clock::{Clock, ManualClock, SystemClock};
pub use listener::{BatchInfo, OutputOperationInfo, StreamInputInfo, StreamingListener};
pub(crate) use tick::Tick;
