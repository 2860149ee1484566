//! ember: Spark Streaming's discretized streams (DStreams) on timely dataflow.

#![warn(missing_docs)]

pub mod conf;
pub mod context;
pub mod data;
pub mod dstream;
pub mod error;
mod exec;
pub mod hash;
pub mod rdd;
pub mod receiver;
pub mod scheduler;
pub mod streaming;
pub mod testing;
pub mod time;

pub use conf::Conf;
pub use context::Context;
pub use data::{Data, Key};
pub use dstream::{DStream, RddQueue};
pub use error::{Error, Result};
pub use rdd::Rdd;
pub use streaming::{StreamingContext, StreamingContextState};
pub use time::{Duration, Interval, Time};
