//! Receivers: long-running sources that push records into the stream (Spark's `Receiver`).
//!
//! A receiver is started once per input stream on its own supervisor thread. Its `on_start`
//! starts whatever threads it needs and returns; those threads hand records over with
//! [`ReceiverContext::store`] or [`ReceiverContext::store_many`], report problems with
//! [`ReceiverContext::report_error`], and ask for a reconnection with
//! [`ReceiverContext::restart`]. [`SocketReceiver`] is the receiver of `socket_text_stream`; the
//! [`Receiver`] trait shows a receiver of one's own.
//!
//! Inside, one file per part: the [`Receiver`] trait here, the context a receiver talks to
//! (`context`), the block generator that turns stored records into blocks (`block_generator`),
//! the supervisor thread and the driver's handle on it (`supervisor`), the receiver's lifecycle
//! state (`state`), the events it reports (`event`) and its rate limit (`rate_limiter`, which
//! every store passes first: `spark.streaming.receiver.maxRate` and backpressure). Restart delays, block intervals and error
//! times are read on the streaming context's clock, so tests on a
//! [`ManualClock`](crate::scheduler::ManualClock) decide when they pass.

pub(crate) mod block_generator;
pub(crate) mod context;
pub(crate) mod event;
pub(crate) mod file_segments;
pub(crate) mod file_selector;
pub(crate) mod lines;
pub(crate) mod rate_limiter;
pub(crate) mod segment_lines;
pub(crate) mod socket;
pub(crate) mod state;
pub(crate) mod supervisor;

pub use context::ReceiverContext;
pub use event::ReceiverInfo;
pub use socket::SocketReceiver;

/// Spark's `Receiver`: a long-running source of records of type `T`.
///
/// `on_start` must not block: start threads that receive data and call the context's `store*`
/// methods, and return. `on_stop` must make those threads end (close sockets, set flags) and
/// should wait for them only for a bounded time. After a restart, `on_start` is called again on
/// the same value, with a new context.
///
/// # Examples
///
/// A receiver that counts from 0 until it is stopped, run on a manual clock by
/// [`StreamTest`](crate::testing::StreamTest):
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::thread::JoinHandle;
///
/// use ember::receiver::{Receiver, ReceiverContext};
/// use ember::testing::StreamTest;
///
/// #[derive(Default)]
/// struct Counter {
///     stop: Arc<AtomicBool>,
///     thread: Option<JoinHandle<()>>,
/// }
///
/// impl Receiver<u64> for Counter {
///     fn on_start(&mut self, ctx: &ReceiverContext<u64>) {
///         let (ctx, stop) = (ctx.clone(), Arc::new(AtomicBool::new(false)));
///         self.stop = stop.clone();
///         self.thread = Some(std::thread::spawn(move || {
///             let mut n = 0;
///             while !stop.load(Ordering::SeqCst) && !ctx.is_stopped() {
///                 ctx.store(n);
///                 n += 1;
///                 std::thread::sleep(std::time::Duration::from_millis(1));
///             }
///         }));
///     }
///
///     fn on_stop(&mut self) {
///         self.stop.store(true, Ordering::SeqCst);
///         if let Some(thread) = self.thread.take() {
///             let _ = thread.join();
///         }
///     }
///
///     fn name(&self) -> String {
///         "Counter".to_string()
///     }
/// }
///
/// let t = StreamTest::new("local[2]", ember::Duration::seconds(1))?;
/// let numbers = t.context().receiver_stream(Counter::default());
/// let out = t.collect(&numbers)?;
/// // Each run closes one batch; what the receiver stored meanwhile goes into the next ones.
/// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
/// while out.batches().concat().len() < 100 {
///     assert!(std::time::Instant::now() < deadline, "the numbers did not arrive");
///     t.run(1)?;
/// }
/// t.stop()?;
/// // Each number arrived once.
/// let mut numbers = out.batches().concat();
/// let received = numbers.len();
/// numbers.sort();
/// numbers.dedup();
/// assert_eq!(numbers.len(), received);
/// # Ok::<(), ember::Error>(())
/// ```
pub trait Receiver<T>: Send + 'static {
    /// Starts receiving. Called on the receiver's supervisor thread.
    fn on_start(&mut self, ctx: &ReceiverContext<T>);
    /// Stops receiving: for a restart or for good.
    fn on_stop(&mut self);
    /// Name shown in listener events, e.g. `"SocketReceiver"`; events carry
    /// `<name>-<stream id>`, as Spark names receivers.
    fn name(&self) -> String;
}
