//! Receivers: long-running sources that push records into the stream (Spark's `Receiver`).
//!
//! A receiver is started once per input stream on its own supervisor thread. Its `on_start`
//! starts whatever threads it needs and returns; those threads hand records over with
//! [`ReceiverContext::store`] or [`ReceiverContext::store_many`], report problems with
//! [`ReceiverContext::report_error`], and ask for a reconnection with
//! [`ReceiverContext::restart`]. [`SocketReceiver`] is the receiver of `socket_text_stream`.
//!
//! ```
//! use ember::receiver::{Receiver, ReceiverContext};
//!
//! /// Emits the numbers 0..10 once.
//! struct Counter(Option<std::thread::JoinHandle<()>>);
//!
//! impl Receiver<u64> for Counter {
//!     fn on_start(&mut self, ctx: &ReceiverContext<u64>) {
//!         let ctx = ctx.clone();
//!         self.0 = Some(std::thread::spawn(move || ctx.store_many((0..10).collect())));
//!     }
//!     fn on_stop(&mut self) {
//!         if let Some(thread) = self.0.take() {
//!             let _ = thread.join();
//!         }
//!     }
//!     fn name(&self) -> String {
//!         "Counter".to_string()
//!     }
//! }
//! ```

pub(crate) mod file_selector;
pub(crate) mod lines;
pub(crate) mod socket;
pub(crate) mod supervisor;

pub use socket::SocketReceiver;
pub use supervisor::{ReceiverContext, ReceiverInfo};

/// Spark's `Receiver`: a long-running source of records of type `T`.
///
/// `on_start` must not block: start threads that receive data and call the context's `store*`
/// methods, and return. `on_stop` must make those threads end (close sockets, set flags) and
/// should wait for them only for a bounded time. After a restart, `on_start` is called again on
/// the same value, with a new context.
pub trait Receiver<T>: Send + 'static {
    /// Starts receiving. Called on the receiver's supervisor thread.
    fn on_start(&mut self, ctx: &ReceiverContext<T>);
    /// Stops receiving: for a restart or for good.
    fn on_stop(&mut self);
    /// Name shown in listener events, e.g. `"SocketReceiver"`; events carry
    /// `<name>-<stream id>`, as Spark names receivers.
    fn name(&self) -> String;
}
