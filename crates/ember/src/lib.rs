//! ember: Spark Streaming's discretized streams (DStreams) on timely dataflow.
//!
//! The seed notebook's word count, on a queue of batches and a manual clock so that it runs
//! anywhere (with a socket it is `ssc.socket_text_stream("localhost", 9999)` and the real clock,
//! `StreamingContext::new`):
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use ember::scheduler::ManualClock;
//! use ember::{Conf, Context, Duration, RddQueue, StreamingContext, Time};
//!
//! # fn main() -> ember::Result<()> {
//! # let _turn = ember::testing::exclusive();
//! let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
//! let clock = ManualClock::new(Time::from_millis(0));
//! let ssc = StreamingContext::with_clock(&sc, Duration::seconds(1), Arc::new(clock.clone()))?;
//!
//! let batches = RddQueue::new();
//! batches.push(sc.parallelize(vec!["to be or".to_string(), "not to be".to_string()], 2));
//! let counts = ssc
//!     .queue_stream(batches, true, None)
//!     .flat_map(|line: String| line.split(' ').map(str::to_owned).collect::<Vec<_>>())
//!     .map(|word| (word, 1))
//!     .reduce_by_key(|a, b| a + b, None);
//!
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let sink = seen.clone();
//! counts.foreach_rdd(move |rdd, _time| sink.lock().unwrap().extend(rdd.collect()))?;
//! counts.pprint(10)?; // the notebook's output, on stdout
//!
//! ssc.start()?;
//! clock.set(Time::from_millis(1000)); // the first batch closes
//! let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
//! while seen.lock().unwrap().len() < 4 {
//!     assert!(std::time::Instant::now() < deadline, "batch 1000 did not complete");
//!     std::thread::sleep(std::time::Duration::from_millis(5));
//! }
//! ssc.stop(false, true)?;
//!
//! let mut counts = seen.lock().unwrap().clone();
//! counts.sort();
//! assert_eq!(counts, [("be".to_string(), 2), ("not".to_string(), 1), ("or".to_string(), 1), ("to".to_string(), 2)]);
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod checkpoint;
pub mod conf;
pub mod context;
pub mod data;
pub mod dstream;
pub mod error;
mod exec;
pub mod hash;
pub mod output;
pub mod partitioner;
mod placement;
pub mod rdd;
pub mod receiver;
pub mod scheduler;
pub mod state;
mod status;
pub mod streaming;
pub mod sync;
pub mod testing;
pub mod time;
mod ui;

pub use conf::Conf;
pub use context::Context;
pub use data::{Data, Key};
pub use dstream::{DStream, RddQueue};
pub use error::{Error, Result};
pub use partitioner::{Partitioner, Partitioning};
pub use rdd::Rdd;
pub use streaming::{StreamingContext, StreamingContextState};
pub use time::{Duration, Interval, Time};

/// The README's Rust code, compiled (and run, unless marked `no_run`) as doctests, so that the
/// first program a reader copies keeps building.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
