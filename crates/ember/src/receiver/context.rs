//! [`ReceiverContext`]: what a [`Receiver`](super::Receiver) uses to hand over data and report on
//! itself (Spark's `Receiver.store*`, `reportError`, `restart` and `stop`, which Spark routes
//! through the `ReceiverSupervisor`).
//!
//! Every context is a view, for one start of the receiver (a *generation*), on the state the
//! receiver's supervisor thread, its contexts and the driver's handle share ([`Shared`]). A
//! context handed to an earlier generation reports itself stopped and its restart requests are
//! ignored, so threads of a previous connection that are still winding down cannot restart the
//! receiver a second time.
//!
//! The examples run receivers with [`StreamTest`](crate::testing::StreamTest), on a manual clock:
//! each `run` moves the clock on by one batch, and blocks that arrived meanwhile go into the next
//! batches. The receiver `Scripted` runs its closure on a thread of its own at each start, as the
//! [`Receiver`](super::Receiver) example does.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_channel::Sender;

use super::block_generator::BlockGenerator;
use super::event::{ReceiverEvent, ReceiverInfo};
use super::rate_limiter::RateLimiter;
use super::state::{AtomicReceiverState, ReceiverState};

/// Requests to the supervisor thread.
pub(super) enum Control {
    /// Stop and start again after `delay`, if `generation` is still the current start.
    Restart {
        generation: u64,
        message: String,
        delay: Duration,
    },
    /// Stop for good.
    Stop { message: String },
}

/// State shared by the supervisor thread, every context and the driver's handle.
pub(super) struct Shared<T> {
    pub(super) stream_id: usize,
    /// `<receiver name>-<stream id>`.
    pub(super) name: String,
    pub(super) generator: BlockGenerator<T>,
    pub(super) control: Sender<Control>,
    pub(super) events: Sender<ReceiverEvent>,
    pub(super) state: AtomicReceiverState,
    /// The current start; contexts of earlier starts are stale.
    pub(super) generation: AtomicU64,
    /// The driver asked the receiver to stop (the handle's `stop`, or its drop).
    pub(super) driver_stop: AtomicBool,
    /// The supervisor thread has ended: the receiver is stopped for good.
    pub(super) terminated: AtomicBool,
    /// Delay of [`ReceiverContext::restart`].
    pub(super) restart_delay: Duration,
    /// The rate limit every store passes first (`spark.streaming.receiver.maxRate`,
    /// backpressure).
    pub(super) limiter: Arc<RateLimiter>,
}

impl<T> Shared<T> {
    /// The receiver's info for listeners.
    pub(super) fn info(&self, active: bool, message: &str, error_time: i64) -> ReceiverInfo {
        ReceiverInfo::local(self.stream_id, &self.name, active, message, error_time)
    }

    /// Sends an event to the listeners.
    pub(super) fn emit(&self, event: ReceiverEvent) {
        // Nobody listening any more is fine: the events are informational.
        let _ = self.events.send(event);
    }

    /// Now on the receiver's clock, as an event's error time (milliseconds since the epoch).
    pub(super) fn error_time(&self) -> i64 {
        i64::try_from(self.generator.clock().now().as_millis()).unwrap_or(i64::MAX)
    }

    /// Marks the receiver as stopped by the driver and asks the supervisor thread to stop it,
    /// once however often it is called.
    pub(super) fn stop_by_driver(&self) {
        if !self.driver_stop.swap(true, Ordering::AcqRel) {
            // A closed channel means the supervisor is gone: the receiver is stopped anyway.
            let _ = self.control.send(Control::Stop {
                message: "Stopped by driver".to_string(),
            });
        }
    }

    /// Whether the driver stopped the receiver or its supervisor thread ended.
    fn stopping(&self) -> bool {
        self.driver_stop.load(Ordering::Acquire) || self.terminated.load(Ordering::Acquire)
    }
}

/// What a [`Receiver`](super::Receiver) uses to hand over data and to report on itself. Cheap to
/// clone; can be moved to the receiver's own threads.
pub struct ReceiverContext<T> {
    shared: Arc<Shared<T>>,
    generation: u64,
}

// Not derived: a derived `Clone` would require `T: Clone`.
impl<T> Clone for ReceiverContext<T> {
    fn clone(&self) -> Self {
        ReceiverContext {
            shared: Arc::clone(&self.shared),
            generation: self.generation,
        }
    }
}

impl<T: Send + 'static> ReceiverContext<T> {
    /// The context of start `generation` of the receiver sharing `shared`.
    pub(super) fn new(shared: Arc<Shared<T>>, generation: u64) -> Self {
        ReceiverContext { shared, generation }
    }

    /// Whether this context belongs to the receiver's current start.
    fn current(&self) -> bool {
        self.shared.generation.load(Ordering::Acquire) == self.generation
    }

    /// Whether a thread waiting to store should give up and drop its data.
    fn abandoned(&self) -> bool {
        !self.current() || self.shared.stopping() || !self.shared.state.is_started()
    }

    /// Stores one record. Records are buffered and pushed as a block once 4096 are pending, or
    /// once the first of them has waited 50 ms on the streaming context's clock, whichever comes
    /// first. Like Spark's `store(item)` this is unreliable: it returns before the data is in a
    /// batch. It waits while the receiver's rate limit is reached
    /// (`spark.streaming.receiver.maxRate`, backpressure) and while the block queue is full.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::thread::JoinHandle;
    /// # use ember::receiver::{Receiver, ReceiverContext};
    /// # use ember::testing::StreamTest;
    /// # struct Scripted<F>(F, Option<JoinHandle<()>>);
    /// # impl<F: Fn(ReceiverContext<u64>) + Clone + Send + 'static> Receiver<u64> for Scripted<F> {
    /// #     fn on_start(&mut self, ctx: &ReceiverContext<u64>) {
    /// #         let (body, ctx) = (self.0.clone(), ctx.clone());
    /// #         self.1 = Some(std::thread::spawn(move || body(ctx)));
    /// #     }
    /// #     fn on_stop(&mut self) {
    /// #         if let Some(thread) = self.1.take() { let _ = thread.join(); }
    /// #     }
    /// #     fn name(&self) -> String { "Scripted".into() }
    /// # }
    /// # fn run_until(t: &StreamTest, mut done: impl FnMut() -> bool) -> ember::Result<()> {
    /// #     let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    /// #     while !done() {
    /// #         assert!(std::time::Instant::now() < deadline, "timed out");
    /// #         t.run(1)?;
    /// #     }
    /// #     Ok(())
    /// # }
    /// let t = StreamTest::new("local[2]", ember::Duration::seconds(1))?;
    /// let stream = t.context().receiver_stream(Scripted(
    ///     |ctx: ReceiverContext<u64>| {
    ///         for n in 0..5 {
    ///             ctx.store(n);
    ///         }
    ///     },
    ///     None,
    /// ));
    /// let out = t.collect(&stream)?;
    /// // The records wait in a block until 4,096 are pending or the first has waited 50 ms on
    /// // the manual clock, which each batch moves on by one second.
    /// run_until(&t, || out.batches().concat().len() == 5)?;
    /// let mut received = out.batches().concat();
    /// received.sort();
    /// assert_eq!(received, [0, 1, 2, 3, 4]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn store(&self, item: T) {
        self.shared.limiter.acquire(1, || self.abandoned());
        self.shared.generator.store(item, || self.abandoned());
        self.shared.limiter.stored(1);
    }

    /// Stores `items` as one block. Waits while the receiver's rate limit is reached (unlike
    /// Spark, whose limit ignores blocks: the whole block waits for its records' share of the
    /// rate, so a batch may hold one block beyond the limit) and while the block queue is full
    /// (back-pressure), as Spark's blocking `store(ArrayBuffer)`; returns early, dropping the
    /// block, if the receiver is being stopped or restarted meanwhile.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::thread::JoinHandle;
    /// # use ember::receiver::{Receiver, ReceiverContext};
    /// # use ember::testing::StreamTest;
    /// # struct Scripted<F>(F, Option<JoinHandle<()>>);
    /// # impl<F: Fn(ReceiverContext<u64>) + Clone + Send + 'static> Receiver<u64> for Scripted<F> {
    /// #     fn on_start(&mut self, ctx: &ReceiverContext<u64>) {
    /// #         let (body, ctx) = (self.0.clone(), ctx.clone());
    /// #         self.1 = Some(std::thread::spawn(move || body(ctx)));
    /// #     }
    /// #     fn on_stop(&mut self) {
    /// #         if let Some(thread) = self.1.take() { let _ = thread.join(); }
    /// #     }
    /// #     fn name(&self) -> String { "Scripted".into() }
    /// # }
    /// # fn run_until(t: &StreamTest, mut done: impl FnMut() -> bool) -> ember::Result<()> {
    /// #     let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    /// #     while !done() {
    /// #         assert!(std::time::Instant::now() < deadline, "timed out");
    /// #         t.run(1)?;
    /// #     }
    /// #     Ok(())
    /// # }
    /// let t = StreamTest::new("local[2]", ember::Duration::seconds(1))?;
    /// let stream = t.context().receiver_stream(Scripted(
    ///     |ctx: ReceiverContext<u64>| ctx.store_many((1..=100).collect()),
    ///     None,
    /// ));
    /// let out = t.collect(&stream)?;
    /// run_until(&t, || out.batches().concat().len() == 100)?;
    /// // A block is never split across batches.
    /// let batch = out.batches().into_iter().find(|b| !b.is_empty()).unwrap();
    /// assert_eq!(batch.iter().sum::<u64>(), 5050);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn store_many(&self, items: Vec<T>) {
        let records = items.len() as u64;
        self.store_records(items, records);
    }

    /// Stores `items`, which hold `records` records in all (chunks of lines), as one block,
    /// as [`store_many`](Self::store_many) does: the rate limit counts records, not items.
    pub(crate) fn store_records(&self, items: Vec<T>, records: u64) {
        self.shared.limiter.acquire(records, || self.abandoned());
        self.shared
            .generator
            .store_block(items, || self.abandoned());
        self.shared.limiter.stored(records);
    }

    /// How many records to store at a time so that the rate limit spreads them evenly over
    /// the batches (a block interval's worth at the current limit); `None` without a limit.
    pub(crate) fn rate_piece(&self) -> Option<usize> {
        self.shared.limiter.piece()
    }

    /// Reports an error to listeners (`onReceiverError`); receiving continues. The error's time
    /// is read on the streaming context's clock.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::{Arc, Mutex};
    /// # use std::thread::JoinHandle;
    /// # use ember::receiver::{Receiver, ReceiverContext, ReceiverInfo};
    /// # use ember::scheduler::StreamingListener;
    /// # use ember::testing::StreamTest;
    /// # struct Scripted<F>(F, Option<JoinHandle<()>>);
    /// # impl<F: Fn(ReceiverContext<u64>) + Clone + Send + 'static> Receiver<u64> for Scripted<F> {
    /// #     fn on_start(&mut self, ctx: &ReceiverContext<u64>) {
    /// #         let (body, ctx) = (self.0.clone(), ctx.clone());
    /// #         self.1 = Some(std::thread::spawn(move || body(ctx)));
    /// #     }
    /// #     fn on_stop(&mut self) {
    /// #         if let Some(thread) = self.1.take() { let _ = thread.join(); }
    /// #     }
    /// #     fn name(&self) -> String { "Scripted".into() }
    /// # }
    /// # fn run_until(t: &StreamTest, mut done: impl FnMut() -> bool) -> ember::Result<()> {
    /// #     let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    /// #     while !done() {
    /// #         assert!(std::time::Instant::now() < deadline, "timed out");
    /// #         t.run(1)?;
    /// #     }
    /// #     Ok(())
    /// # }
    /// /// Keeps the errors that receivers report.
    /// struct Errors(Arc<Mutex<Vec<ReceiverInfo>>>);
    ///
    /// impl StreamingListener for Errors {
    ///     fn on_receiver_error(&self, info: &ReceiverInfo) {
    ///         self.0.lock().unwrap().push(info.clone());
    ///     }
    /// }
    ///
    /// let t = StreamTest::new("local[2]", ember::Duration::seconds(1))?;
    /// let errors = Arc::new(Mutex::new(Vec::new()));
    /// t.context().add_streaming_listener(Errors(errors.clone()));
    /// let stream = t.context().receiver_stream(Scripted(
    ///     |ctx: ReceiverContext<u64>| {
    ///         ctx.report_error("record 7 is malformed");
    ///         ctx.store_many(vec![8, 9]);
    ///     },
    ///     None,
    /// ));
    /// let out = t.collect(&stream)?;
    /// run_until(&t, || out.batches().concat().len() == 2 && !errors.lock().unwrap().is_empty())?;
    /// let error = errors.lock().unwrap()[0].clone();
    /// assert_eq!(error.name, "Scripted-0");
    /// assert_eq!(error.last_error_message, "record 7 is malformed");
    /// assert!(error.active, "receiving went on");
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn report_error(&self, message: &str) {
        tracing::warn!(
            "Error reported by receiver for stream {}: {message}",
            self.shared.stream_id
        );
        let active = self.shared.state.is_started();
        let info = self.shared.info(active, message, self.shared.error_time());
        self.shared.emit(ReceiverEvent::Error(info));
    }

    /// Restarts the receiver asynchronously: `on_stop`, then after the configured restart delay
    /// (Spark's `spark.streaming.receiverRestartDelay`, 2 s by default, on the streaming
    /// context's clock) `on_start` again.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::{Arc, Mutex};
    /// # use std::thread::JoinHandle;
    /// # use ember::receiver::{Receiver, ReceiverContext};
    /// # use ember::scheduler::Clock;
    /// # use ember::testing::StreamTest;
    /// # struct Scripted<F>(F, Option<JoinHandle<()>>);
    /// # impl<F: Fn(ReceiverContext<u64>) + Clone + Send + 'static> Receiver<u64> for Scripted<F> {
    /// #     fn on_start(&mut self, ctx: &ReceiverContext<u64>) {
    /// #         let (body, ctx) = (self.0.clone(), ctx.clone());
    /// #         self.1 = Some(std::thread::spawn(move || body(ctx)));
    /// #     }
    /// #     fn on_stop(&mut self) {
    /// #         if let Some(thread) = self.1.take() { let _ = thread.join(); }
    /// #     }
    /// #     fn name(&self) -> String { "Scripted".into() }
    /// # }
    /// # fn run_until(t: &StreamTest, mut done: impl FnMut() -> bool) -> ember::Result<()> {
    /// #     let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    /// #     while !done() {
    /// #         assert!(std::time::Instant::now() < deadline, "timed out");
    /// #         t.run(1)?;
    /// #     }
    /// #     Ok(())
    /// # }
    /// let t = StreamTest::new("local[2]", ember::Duration::seconds(1))?;
    /// // When each start began, on the test's manual clock.
    /// let starts = Arc::new(Mutex::new(Vec::new()));
    /// let (clock, started) = (t.clock().clone(), starts.clone());
    /// let stream = t.context().receiver_stream(Scripted(
    ///     move |ctx: ReceiverContext<u64>| {
    ///         let mut started = started.lock().unwrap();
    ///         started.push(clock.now());
    ///         ctx.store_many(vec![started.len() as u64]);
    ///         if started.len() == 1 {
    ///             ctx.restart("connection lost");
    ///         }
    ///     },
    ///     None,
    /// ));
    /// let out = t.collect(&stream)?;
    /// run_until(&t, || out.batches().concat() == [1, 2])?;
    /// let starts = starts.lock().unwrap();
    /// assert!(starts[1] - starts[0] >= ember::Duration::seconds(2));
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn restart(&self, message: &str) {
        self.restart_with_delay(message, self.shared.restart_delay);
    }

    /// [`ReceiverContext::restart`] with an explicit delay.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::{Arc, Mutex};
    /// # use std::thread::JoinHandle;
    /// # use ember::receiver::{Receiver, ReceiverContext};
    /// # use ember::scheduler::Clock;
    /// # use ember::testing::StreamTest;
    /// # struct Scripted<F>(F, Option<JoinHandle<()>>);
    /// # impl<F: Fn(ReceiverContext<u64>) + Clone + Send + 'static> Receiver<u64> for Scripted<F> {
    /// #     fn on_start(&mut self, ctx: &ReceiverContext<u64>) {
    /// #         let (body, ctx) = (self.0.clone(), ctx.clone());
    /// #         self.1 = Some(std::thread::spawn(move || body(ctx)));
    /// #     }
    /// #     fn on_stop(&mut self) {
    /// #         if let Some(thread) = self.1.take() { let _ = thread.join(); }
    /// #     }
    /// #     fn name(&self) -> String { "Scripted".into() }
    /// # }
    /// # fn run_until(t: &StreamTest, mut done: impl FnMut() -> bool) -> ember::Result<()> {
    /// #     let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    /// #     while !done() {
    /// #         assert!(std::time::Instant::now() < deadline, "timed out");
    /// #         t.run(1)?;
    /// #     }
    /// #     Ok(())
    /// # }
    /// let t = StreamTest::new("local[2]", ember::Duration::seconds(1))?;
    /// let starts = Arc::new(Mutex::new(Vec::new()));
    /// let (clock, started) = (t.clock().clone(), starts.clone());
    /// let stream = t.context().receiver_stream(Scripted(
    ///     move |ctx: ReceiverContext<u64>| {
    ///         let mut started = started.lock().unwrap();
    ///         started.push(clock.now());
    ///         ctx.store_many(vec![started.len() as u64]);
    ///         if started.len() == 1 {
    ///             // The server asked to come back in 5 s.
    ///             ctx.restart_with_delay("busy", std::time::Duration::from_secs(5));
    ///         }
    ///     },
    ///     None,
    /// ));
    /// let out = t.collect(&stream)?;
    /// run_until(&t, || out.batches().concat() == [1, 2])?;
    /// let starts = starts.lock().unwrap();
    /// assert!(starts[1] - starts[0] >= ember::Duration::seconds(5));
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn restart_with_delay(&self, message: &str, delay: Duration) {
        let request = Control::Restart {
            generation: self.generation,
            message: message.to_string(),
            delay,
        };
        // A closed channel means the supervisor is gone: the receiver is stopped anyway.
        let _ = self.shared.control.send(request);
    }

    /// Stops the receiver for good (asynchronously; `on_stop` runs on the supervisor thread).
    /// What was stored before is still processed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::{Arc, Mutex};
    /// # use std::thread::JoinHandle;
    /// # use ember::receiver::{Receiver, ReceiverContext, ReceiverInfo};
    /// # use ember::scheduler::StreamingListener;
    /// # use ember::testing::StreamTest;
    /// # struct Scripted<F>(F, Option<JoinHandle<()>>);
    /// # impl<F: Fn(ReceiverContext<u64>) + Clone + Send + 'static> Receiver<u64> for Scripted<F> {
    /// #     fn on_start(&mut self, ctx: &ReceiverContext<u64>) {
    /// #         let (body, ctx) = (self.0.clone(), ctx.clone());
    /// #         self.1 = Some(std::thread::spawn(move || body(ctx)));
    /// #     }
    /// #     fn on_stop(&mut self) {
    /// #         if let Some(thread) = self.1.take() { let _ = thread.join(); }
    /// #     }
    /// #     fn name(&self) -> String { "Scripted".into() }
    /// # }
    /// # fn run_until(t: &StreamTest, mut done: impl FnMut() -> bool) -> ember::Result<()> {
    /// #     let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    /// #     while !done() {
    /// #         assert!(std::time::Instant::now() < deadline, "timed out");
    /// #         t.run(1)?;
    /// #     }
    /// #     Ok(())
    /// # }
    /// /// Keeps why receivers stopped.
    /// struct Stops(Arc<Mutex<Vec<String>>>);
    ///
    /// impl StreamingListener for Stops {
    ///     fn on_receiver_stopped(&self, info: &ReceiverInfo) {
    ///         self.0.lock().unwrap().push(info.last_error_message.clone());
    ///     }
    /// }
    ///
    /// let t = StreamTest::new("local[2]", ember::Duration::seconds(1))?;
    /// let stops = Arc::new(Mutex::new(Vec::new()));
    /// t.context().add_streaming_listener(Stops(stops.clone()));
    /// let stream = t.context().receiver_stream(Scripted(
    ///     |ctx: ReceiverContext<u64>| {
    ///         ctx.store_many(vec![1, 2, 3]);
    ///         ctx.stop("all records read");
    ///     },
    ///     None,
    /// ));
    /// let out = t.collect(&stream)?;
    /// run_until(&t, || out.batches().concat().len() == 3 && !stops.lock().unwrap().is_empty())?;
    /// assert_eq!(*stops.lock().unwrap(), ["all records read"]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn stop(&self, message: &str) {
        let _ = self.shared.control.send(Control::Stop {
            message: message.to_string(),
        });
    }

    /// Whether the receiver is running: `on_start` was called and no stop or restart began since.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::thread::JoinHandle;
    /// # use ember::receiver::{Receiver, ReceiverContext};
    /// # use ember::testing::StreamTest;
    /// # struct Scripted<F>(F, Option<JoinHandle<()>>);
    /// # impl<F: Fn(ReceiverContext<bool>) + Clone + Send + 'static> Receiver<bool> for Scripted<F> {
    /// #     fn on_start(&mut self, ctx: &ReceiverContext<bool>) {
    /// #         let (body, ctx) = (self.0.clone(), ctx.clone());
    /// #         self.1 = Some(std::thread::spawn(move || body(ctx)));
    /// #     }
    /// #     fn on_stop(&mut self) {
    /// #         if let Some(thread) = self.1.take() { let _ = thread.join(); }
    /// #     }
    /// #     fn name(&self) -> String { "Scripted".into() }
    /// # }
    /// # fn run_until(t: &StreamTest, mut done: impl FnMut() -> bool) -> ember::Result<()> {
    /// #     let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    /// #     while !done() {
    /// #         assert!(std::time::Instant::now() < deadline, "timed out");
    /// #         t.run(1)?;
    /// #     }
    /// #     Ok(())
    /// # }
    /// let t = StreamTest::new("local[2]", ember::Duration::seconds(1))?;
    /// let stream = t.context().receiver_stream(Scripted(
    ///     // Started while on_start's threads run, until a stop or restart begins.
    ///     |ctx: ReceiverContext<bool>| ctx.store_many(vec![ctx.is_started()]),
    ///     None,
    /// ));
    /// let out = t.collect(&stream)?;
    /// run_until(&t, || !out.batches().concat().is_empty())?;
    /// assert_eq!(out.batches().concat(), [true]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn is_started(&self) -> bool {
        self.current() && self.shared.state.is_started() && !self.shared.stopping()
    }

    /// Whether the receiver is stopped, being stopped, or was restarted since this context was
    /// handed out. Receiving loops should end when this turns true.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::sync::atomic::{AtomicBool, Ordering};
    /// # use std::thread::JoinHandle;
    /// # use ember::receiver::{Receiver, ReceiverContext};
    /// # use ember::testing::StreamTest;
    /// # struct Scripted<F>(F, Option<JoinHandle<()>>);
    /// # impl<F: Fn(ReceiverContext<u64>) + Clone + Send + 'static> Receiver<u64> for Scripted<F> {
    /// #     fn on_start(&mut self, ctx: &ReceiverContext<u64>) {
    /// #         let (body, ctx) = (self.0.clone(), ctx.clone());
    /// #         self.1 = Some(std::thread::spawn(move || body(ctx)));
    /// #     }
    /// #     fn on_stop(&mut self) {
    /// #         if let Some(thread) = self.1.take() { let _ = thread.join(); }
    /// #     }
    /// #     fn name(&self) -> String { "Scripted".into() }
    /// # }
    /// # fn run_until(t: &StreamTest, mut done: impl FnMut() -> bool) -> ember::Result<()> {
    /// #     let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    /// #     while !done() {
    /// #         assert!(std::time::Instant::now() < deadline, "timed out");
    /// #         t.run(1)?;
    /// #     }
    /// #     Ok(())
    /// # }
    /// let t = StreamTest::new("local[2]", ember::Duration::seconds(1))?;
    /// let ended = Arc::new(AtomicBool::new(false));
    /// let thread_ended = ended.clone();
    /// let stream = t.context().receiver_stream(Scripted(
    ///     // Counts until the stream stops; on_stop waits for this thread, so it must end then.
    ///     move |ctx: ReceiverContext<u64>| {
    ///         let mut n = 0;
    ///         while !ctx.is_stopped() {
    ///             ctx.store_many(vec![n]);
    ///             n += 1;
    ///             std::thread::sleep(std::time::Duration::from_millis(1));
    ///         }
    ///         thread_ended.store(true, Ordering::SeqCst);
    ///     },
    ///     None,
    /// ));
    /// let out = t.collect(&stream)?;
    /// run_until(&t, || out.batches().concat().len() >= 10)?;
    /// t.stop()?;
    /// assert!(ended.load(Ordering::SeqCst), "the receiving loop saw the stop");
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn is_stopped(&self) -> bool {
        !self.current()
            || self.shared.state.load() == ReceiverState::Stopped
            || self.shared.stopping()
    }

    /// Id of the input stream this receiver feeds.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::{Arc, Mutex};
    /// # use std::thread::JoinHandle;
    /// # use ember::receiver::{Receiver, ReceiverContext, ReceiverInfo};
    /// # use ember::scheduler::StreamingListener;
    /// # use ember::testing::StreamTest;
    /// # struct Scripted<F>(F, Option<JoinHandle<()>>);
    /// # impl<F: Fn(ReceiverContext<usize>) + Clone + Send + 'static> Receiver<usize> for Scripted<F> {
    /// #     fn on_start(&mut self, ctx: &ReceiverContext<usize>) {
    /// #         let (body, ctx) = (self.0.clone(), ctx.clone());
    /// #         self.1 = Some(std::thread::spawn(move || body(ctx)));
    /// #     }
    /// #     fn on_stop(&mut self) {
    /// #         if let Some(thread) = self.1.take() { let _ = thread.join(); }
    /// #     }
    /// #     fn name(&self) -> String { "Scripted".into() }
    /// # }
    /// # fn run_until(t: &StreamTest, mut done: impl FnMut() -> bool) -> ember::Result<()> {
    /// #     let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    /// #     while !done() {
    /// #         assert!(std::time::Instant::now() < deadline, "timed out");
    /// #         t.run(1)?;
    /// #     }
    /// #     Ok(())
    /// # }
    /// /// Keeps the stream ids of started receivers.
    /// struct Started(Arc<Mutex<Vec<usize>>>);
    ///
    /// impl StreamingListener for Started {
    ///     fn on_receiver_started(&self, info: &ReceiverInfo) {
    ///         self.0.lock().unwrap().push(info.stream_id);
    ///     }
    /// }
    ///
    /// let t = StreamTest::new("local[2]", ember::Duration::seconds(1))?;
    /// let started = Arc::new(Mutex::new(Vec::new()));
    /// t.context().add_streaming_listener(Started(started.clone()));
    /// let stream = t.context().receiver_stream(Scripted(
    ///     |ctx: ReceiverContext<usize>| ctx.store_many(vec![ctx.stream_id()]),
    ///     None,
    /// ));
    /// let out = t.collect(&stream)?;
    /// run_until(&t, || !out.batches().concat().is_empty() && !started.lock().unwrap().is_empty())?;
    /// // The id that listeners see in the receiver's events.
    /// assert_eq!(out.batches().concat(), *started.lock().unwrap());
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn stream_id(&self) -> usize {
        self.shared.stream_id
    }
}
