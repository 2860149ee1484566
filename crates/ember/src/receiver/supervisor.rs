//! Runs one [`Receiver`]: Spark's `ReceiverSupervisor` plus its `BlockGenerator`.
//!
//! Each receiver gets a supervisor thread (`ember-receiver-<id>`) that calls `on_start`, handles
//! the receiver's restart and stop requests, and flushes records stored one by one into blocks
//! every [`BLOCK_INTERVAL`]. Blocks go to a bounded queue that the stream's worker drains with
//! [`ReceiverHandle::try_recv`]; a full queue makes the storing thread wait (back-pressure), which
//! Spark gets from its `blockQueueSize`.
//!
//! Every `on_start` runs in a new *generation*. A context handed to an earlier generation reports
//! itself stopped and its restart requests are ignored, so threads of a previous connection that
//! are still winding down cannot restart the receiver a second time.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, SendTimeoutError, Sender, TrySendError};

use super::Receiver;

/// Records stored one by one are pushed as a block once this many are pending.
pub(crate) const BLOCK_RECORDS: usize = 4096;
/// Records stored one by one are pushed as a block at least this often. Spark's
/// `spark.streaming.blockInterval` is 200 ms; ember batches are cheap, so a shorter interval keeps
/// latency low.
pub(crate) const BLOCK_INTERVAL: Duration = Duration::from_millis(50);
/// How often the supervisor thread wakes to flush pending records.
const TICK: Duration = Duration::from_millis(20);
/// How often a thread waiting on a full block queue checks whether it should give up.
const PUSH_POLL: Duration = Duration::from_millis(10);
/// What a receiver is reported to run on (Spark reports the executor's host).
const LOCATION: &str = "localhost";

const INITIALIZED: u8 = 0;
const STARTED: u8 = 1;
const STOPPED: u8 = 2;

/// A receiver's state as reported to listeners (Spark's `ReceiverInfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiverInfo {
    /// Id of the input stream the receiver feeds.
    pub stream_id: usize,
    /// `<receiver name>-<stream id>`, e.g. `SocketReceiver-0`, as Spark names receivers.
    pub name: String,
    /// Whether the receiver is running (Spark's ACTIVE / INACTIVE).
    pub active: bool,
    /// Where the receiver runs.
    pub location: String,
    /// The last error or stop message, empty if none.
    pub last_error_message: String,
    /// When the last error was reported, in milliseconds since the epoch; -1 if none.
    pub last_error_time: i64,
}

/// What happened to a receiver; becomes the listener's `onReceiver{Started,Error,Stopped}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ReceiverEvent {
    /// `on_start` is about to be called (also after each restart).
    Started(ReceiverInfo),
    /// The receiver called [`ReceiverContext::report_error`].
    Error(ReceiverInfo),
    /// `on_stop` was called, for a restart or for good; `last_error_message` says why.
    Stopped(ReceiverInfo),
}

/// How a receiver is supervised.
#[derive(Clone, Debug)]
pub(crate) struct ReceiverSettings {
    /// Delay of [`ReceiverContext::restart`] (Spark's `spark.streaming.receiverRestartDelay`).
    pub restart_delay: Duration,
    /// Capacity of the block queue, in blocks (Spark's `spark.streaming.blockQueueSize`).
    pub queue_blocks: usize,
}

impl Default for ReceiverSettings {
    fn default() -> Self {
        ReceiverSettings {
            restart_delay: Duration::from_millis(2000),
            queue_blocks: 16,
        }
    }
}

/// Requests to the supervisor thread.
enum Control {
    Restart {
        generation: u64,
        message: String,
        delay: Duration,
    },
    Stop {
        message: String,
    },
}

/// Where a receiver's blocks are written before they are queued: the receiver write-ahead log
/// (Spark's `spark.streaming.receiver.writeAheadLog.enable`).
pub(crate) trait BlockLog<T>: Send + Sync {
    /// Writes a block; its sequence number.
    fn append(&self, items: &[T]) -> Result<u64, String>;
    /// Marks a written block as never queued (the queue was full, or the receiver stopping
    /// dropped it), so that it is not replayed.
    fn void(&self, seq: u64);
}

/// A queued block, with its sequence number in the write-ahead log if there is one.
pub(crate) struct Block<T> {
    pub(crate) seq: Option<u64>,
    pub(crate) items: Vec<T>,
}

/// Records stored one by one and not yet pushed as a block.
struct Pending<T> {
    items: Vec<T>,
    since: Option<Instant>,
}

/// State shared by the supervisor thread, every context and the handle.
struct Shared<T> {
    stream_id: usize,
    name: String,
    blocks: Sender<Block<T>>,
    /// Blocks that did not fit into the full queue at the final flush; drained after the queue.
    leftover: Mutex<VecDeque<Block<T>>>,
    /// The write-ahead log, when enabled.
    log: Option<Arc<dyn BlockLog<T>>>,
    pending: Mutex<Pending<T>>,
    control: Sender<Control>,
    events: Sender<ReceiverEvent>,
    wake: Arc<dyn Fn() + Send + Sync>,
    state: AtomicU8,
    generation: AtomicU64,
    /// The driver asked the receiver to stop ([`ReceiverHandle::stop`]).
    driver_stop: AtomicBool,
    /// The supervisor thread has ended: the receiver is stopped for good.
    terminated: AtomicBool,
    restart_delay: Duration,
    dropped_blocks: AtomicU64,
}

fn lock<M>(mutex: &Mutex<M>) -> MutexGuard<'_, M> {
    // A panic in user code while holding a lock must not make every later store panic too.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl<T: Send + 'static> Shared<T> {
    fn info(&self, active: bool, message: &str, error_time: i64) -> ReceiverInfo {
        ReceiverInfo {
            stream_id: self.stream_id,
            name: self.name.clone(),
            active,
            location: LOCATION.to_string(),
            last_error_message: message.to_string(),
            last_error_time: error_time,
        }
    }

    fn emit(&self, event: ReceiverEvent) {
        // Nobody listening any more is fine: the events are informational.
        let _ = self.events.send(event);
    }

    /// Writes a block to the write-ahead log, if there is one. A block that cannot be written
    /// is still queued (and processed), with an error in the log: it is just not recoverable.
    fn log_block(&self, items: Vec<T>) -> Block<T> {
        let seq = self.log.as_ref().and_then(|log| match log.append(&items) {
            Ok(seq) => Some(seq),
            Err(e) => {
                tracing::error!(
                    "Receiver for stream {}: a block of {} records could not be written to the write-ahead log and will not be recovered after a failure: {e}",
                    self.stream_id,
                    items.len()
                );
                None
            }
        });
        Block { seq, items }
    }

    fn void(&self, block: &Block<T>) {
        if let (Some(log), Some(seq)) = (&self.log, block.seq) {
            log.void(seq);
        }
    }

    /// Queues a block without waiting; gives it back if the queue is full.
    fn try_push(&self, block: Vec<T>) -> Option<Vec<T>> {
        if self.blocks.is_full() {
            return Some(block);
        }
        let block = self.log_block(block);
        match self.blocks.try_send(block) {
            Ok(()) => {
                (self.wake)();
                None
            }
            Err(TrySendError::Full(block)) => {
                self.void(&block);
                Some(block.items)
            }
            Err(TrySendError::Disconnected(block)) => {
                self.void(&block);
                None
            }
        }
    }

    /// Pushes the pending records if they waited for [`BLOCK_INTERVAL`]; never waits on a full
    /// queue (the records then stay pending, and `store` applies back-pressure).
    fn flush_due(&self) {
        let Ok(mut pending) = self.pending.try_lock() else {
            // Someone is pushing the pending records right now.
            return;
        };
        let due = pending
            .since
            .is_some_and(|since| since.elapsed() >= BLOCK_INTERVAL);
        if due && !pending.items.is_empty() {
            let block = std::mem::take(&mut pending.items);
            match self.try_push(block) {
                Some(block) => pending.items = block,
                None => pending.since = None,
            }
        }
    }

    /// Pushes everything pending, putting what does not fit into `leftover`. Used when stopping.
    fn flush_all(&self) {
        let block = {
            let mut pending = lock(&self.pending);
            pending.since = None;
            std::mem::take(&mut pending.items)
        };
        if block.is_empty() {
            return;
        }
        if let Some(block) = self.try_push(block) {
            let block = self.log_block(block);
            lock(&self.leftover).push_back(block);
            (self.wake)();
        }
    }
}

/// What a [`Receiver`] uses to hand over data and to report on itself. Cheap to clone; can be
/// moved to the receiver's own threads.
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
    /// Whether this context belongs to the receiver's current start.
    fn current(&self) -> bool {
        self.shared.generation.load(Ordering::Acquire) == self.generation
    }

    /// Whether a thread waiting to store should give up and drop its data.
    fn abandoned(&self) -> bool {
        !self.current()
            || self.shared.driver_stop.load(Ordering::Acquire)
            || self.shared.terminated.load(Ordering::Acquire)
            || self.shared.state.load(Ordering::Acquire) != STARTED
    }

    /// Stores one record. Records are buffered and pushed as a block once 4096 are pending or
    /// every 50 ms, whichever comes first. Like Spark's `store(item)` this is unreliable: it
    /// returns before the data is in a batch. It waits while the block queue is full.
    pub fn store(&self, item: T) {
        let mut pending = lock(&self.shared.pending);
        if pending.items.is_empty() {
            pending.since = Some(Instant::now());
        }
        pending.items.push(item);
        let due = pending
            .since
            .is_some_and(|since| since.elapsed() >= BLOCK_INTERVAL);
        if pending.items.len() >= BLOCK_RECORDS || due {
            let block = std::mem::take(&mut pending.items);
            pending.since = None;
            // Pushed while holding the lock so that blocks keep the order of the records.
            self.push_block(block);
        }
    }

    /// Stores `items` as one block. Waits while the block queue is full (back-pressure), as
    /// Spark's blocking `store(ArrayBuffer)`; returns early, dropping the block, if the receiver
    /// is being stopped or restarted meanwhile.
    pub fn store_many(&self, items: Vec<T>) {
        if !items.is_empty() {
            self.push_block(items);
        }
    }

    fn push_block(&self, block: Vec<T>) -> bool {
        let mut block = self.shared.log_block(block);
        loop {
            match self.shared.blocks.send_timeout(block, PUSH_POLL) {
                Ok(()) => {
                    (self.shared.wake)();
                    return true;
                }
                Err(SendTimeoutError::Timeout(back)) => {
                    if self.abandoned() {
                        let dropped =
                            self.shared.dropped_blocks.fetch_add(1, Ordering::Relaxed) + 1;
                        tracing::warn!(
                            "Receiver for stream {} is stopping: dropped a block of {} records ({dropped} blocks dropped so far)",
                            self.shared.stream_id,
                            back.items.len()
                        );
                        self.shared.void(&back);
                        return false;
                    }
                    block = back;
                }
                Err(SendTimeoutError::Disconnected(back)) => {
                    self.shared.void(&back);
                    return false;
                }
            }
        }
    }

    /// Reports an error to listeners (`onReceiverError`); receiving continues.
    pub fn report_error(&self, message: &str) {
        tracing::warn!(
            "Error reported by receiver for stream {}: {message}",
            self.shared.stream_id
        );
        let active = self.shared.state.load(Ordering::Acquire) == STARTED;
        self.shared.emit(ReceiverEvent::Error(self.shared.info(
            active,
            message,
            now_millis(),
        )));
    }

    /// Restarts the receiver asynchronously: `on_stop`, then after the configured restart delay
    /// (Spark's `spark.streaming.receiverRestartDelay`, 2 s by default) `on_start` again.
    pub fn restart(&self, message: &str) {
        self.restart_with_delay(message, self.shared.restart_delay);
    }

    /// [`ReceiverContext::restart`] with an explicit delay.
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
    pub fn stop(&self, message: &str) {
        let _ = self.shared.control.send(Control::Stop {
            message: message.to_string(),
        });
    }

    /// Whether the receiver is running: `on_start` was called and no stop or restart began since.
    pub fn is_started(&self) -> bool {
        self.current()
            && self.shared.state.load(Ordering::Acquire) == STARTED
            && !self.is_stopping()
    }

    /// Whether the receiver is stopped, being stopped, or was restarted since this context was
    /// handed out. Receiving loops should end when this turns true.
    pub fn is_stopped(&self) -> bool {
        !self.current()
            || self.shared.state.load(Ordering::Acquire) == STOPPED
            || self.is_stopping()
    }

    fn is_stopping(&self) -> bool {
        self.shared.driver_stop.load(Ordering::Acquire)
            || self.shared.terminated.load(Ordering::Acquire)
    }

    /// Id of the input stream this receiver feeds.
    pub fn stream_id(&self) -> usize {
        self.shared.stream_id
    }
}

/// The driver's side of a launched receiver.
pub(crate) struct ReceiverHandle<T> {
    shared: Arc<Shared<T>>,
    blocks: crossbeam_channel::Receiver<Block<T>>,
    /// Disconnected when the supervisor thread ends.
    done: crossbeam_channel::Receiver<()>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Starts `receiver` on its own supervisor thread `ember-receiver-<stream_id>`.
#[cfg(test)]
pub(crate) fn launch<T: Send + 'static>(
    receiver: Box<dyn Receiver<T>>,
    stream_id: usize,
    settings: ReceiverSettings,
    events: Sender<ReceiverEvent>,
    wake: Arc<dyn Fn() + Send + Sync>,
) -> ReceiverHandle<T> {
    launch_logged(receiver, stream_id, settings, events, wake, None)
}

/// Starts `receiver` on its own supervisor thread `ember-receiver-<stream_id>`, writing its
/// blocks to `log` (if any) before queueing them.
pub(crate) fn launch_logged<T: Send + 'static>(
    receiver: Box<dyn Receiver<T>>,
    stream_id: usize,
    settings: ReceiverSettings,
    events: Sender<ReceiverEvent>,
    wake: Arc<dyn Fn() + Send + Sync>,
    log: Option<Arc<dyn BlockLog<T>>>,
) -> ReceiverHandle<T> {
    let (block_tx, block_rx) = crossbeam_channel::bounded(settings.queue_blocks.max(1));
    let (control_tx, control_rx) = crossbeam_channel::unbounded();
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
    let shared = Arc::new(Shared {
        stream_id,
        name: format!("{}-{stream_id}", receiver.name()),
        blocks: block_tx,
        leftover: Mutex::new(VecDeque::new()),
        log,
        pending: Mutex::new(Pending {
            items: Vec::new(),
            since: None,
        }),
        control: control_tx,
        events,
        wake,
        state: AtomicU8::new(INITIALIZED),
        generation: AtomicU64::new(0),
        driver_stop: AtomicBool::new(false),
        terminated: AtomicBool::new(false),
        restart_delay: settings.restart_delay,
        dropped_blocks: AtomicU64::new(0),
    });
    let thread_shared = Arc::clone(&shared);
    let spawned = thread::Builder::new()
        .name(format!("ember-receiver-{stream_id}"))
        .spawn(move || {
            let _done = done_tx;
            supervise(receiver, &thread_shared, &control_rx);
            thread_shared.terminated.store(true, Ordering::Release);
            thread_shared.flush_all();
        });
    let thread = match spawned {
        Ok(thread) => Some(thread),
        Err(e) => {
            let message = format!("Error starting receiver {stream_id}: {e}");
            tracing::error!("{message}");
            shared.terminated.store(true, Ordering::Release);
            shared.emit(ReceiverEvent::Error(shared.info(
                false,
                &message,
                now_millis(),
            )));
            None
        }
    };
    ReceiverHandle {
        shared,
        blocks: block_rx,
        done: done_rx,
        thread: Mutex::new(thread),
    }
}

/// The supervisor thread's loop: start, then serve restart and stop requests until stopped.
fn supervise<T: Send + 'static>(
    mut receiver: Box<dyn Receiver<T>>,
    shared: &Arc<Shared<T>>,
    control: &crossbeam_channel::Receiver<Control>,
) {
    if !start_receiver(&mut *receiver, shared) {
        return;
    }
    loop {
        match control.recv_timeout(TICK) {
            Err(RecvTimeoutError::Timeout) => shared.flush_due(),
            Ok(Control::Stop { message }) => {
                stop_receiver(&mut *receiver, shared, &message);
                return;
            }
            Err(RecvTimeoutError::Disconnected) => {
                stop_receiver(&mut *receiver, shared, "Stopped by driver");
                return;
            }
            Ok(Control::Restart {
                generation,
                message,
                delay,
            }) => {
                if generation != shared.generation.load(Ordering::Acquire)
                    || shared.state.load(Ordering::Acquire) != STARTED
                {
                    tracing::debug!(
                        "Ignoring a stale restart request of stream {}: {message}",
                        shared.stream_id
                    );
                    continue;
                }
                tracing::info!(
                    "Restarting receiver with delay {}ms: {message}",
                    delay.as_millis()
                );
                stop_receiver(&mut *receiver, shared, &message);
                if !wait_restart_delay(shared, control, delay) {
                    return;
                }
                tracing::info!("Starting receiver again");
                if !start_receiver(&mut *receiver, shared) {
                    return;
                }
                tracing::info!("Receiver started again");
            }
        }
    }
}

/// Waits `delay` while still flushing pending records. Returns false if a stop came meanwhile.
fn wait_restart_delay<T: Send + 'static>(
    shared: &Shared<T>,
    control: &crossbeam_channel::Receiver<Control>,
    delay: Duration,
) -> bool {
    let deadline = Instant::now() + delay;
    loop {
        if shared.driver_stop.load(Ordering::Acquire) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        match control.recv_timeout((deadline - now).min(TICK)) {
            Ok(Control::Stop { message }) => {
                // The receiver is already stopped, so no second Stopped event (as in Spark).
                tracing::info!(
                    "Receiver for stream {} stopped while waiting to restart: {message}",
                    shared.stream_id
                );
                return false;
            }
            // Already restarting: further requests add nothing.
            Ok(Control::Restart { .. }) => {}
            Err(RecvTimeoutError::Timeout) => shared.flush_due(),
            Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
}

/// Spark's `startReceiver`: a new generation, the Started event, then `on_start`. A panicking
/// `on_start` stops the receiver for good, as an exception does in Spark. Returns whether it
/// started.
fn start_receiver<T: Send + 'static>(
    receiver: &mut dyn Receiver<T>,
    shared: &Arc<Shared<T>>,
) -> bool {
    let generation = shared.generation.fetch_add(1, Ordering::AcqRel) + 1;
    shared.state.store(STARTED, Ordering::Release);
    let ctx = ReceiverContext {
        shared: Arc::clone(shared),
        generation,
    };
    tracing::info!("Starting receiver {}", shared.stream_id);
    shared.emit(ReceiverEvent::Started(shared.info(true, "", -1)));
    match catch_unwind(AssertUnwindSafe(|| receiver.on_start(&ctx))) {
        Ok(()) => true,
        Err(panic) => {
            let message = format!("Error starting receiver {}", shared.stream_id);
            tracing::error!("{message}: {}", panic_text(&*panic));
            stop_receiver(receiver, shared, &message);
            false
        }
    }
}

/// Spark's `stopReceiver`: `on_stop` and the Stopped event, once per start.
fn stop_receiver<T: Send + 'static>(
    receiver: &mut dyn Receiver<T>,
    shared: &Shared<T>,
    message: &str,
) {
    if shared.state.swap(STOPPED, Ordering::AcqRel) != STARTED {
        tracing::debug!(
            "Receiver for stream {} has been stopped already",
            shared.stream_id
        );
        return;
    }
    tracing::info!("Stopping receiver with message: {message}");
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| receiver.on_stop())) {
        tracing::error!(
            "Receiver for stream {} panicked in on_stop: {}",
            shared.stream_id,
            panic_text(&*panic)
        );
    }
    tracing::info!("Called receiver onStop");
    shared.emit(ReceiverEvent::Stopped(shared.info(false, message, -1)));
    tracing::info!(
        "Deregistered receiver for stream {}: {message}",
        shared.stream_id
    );
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "panic".to_string()
    }
}

impl<T: Send + 'static> ReceiverHandle<T> {
    /// The next queued block, without waiting.
    #[cfg(test)]
    pub(crate) fn try_recv(&self) -> Option<Vec<T>> {
        self.try_recv_block().map(|b| b.items)
    }

    /// The next queued block with its write-ahead-log sequence number, without waiting.
    pub(crate) fn try_recv_block(&self) -> Option<Block<T>> {
        self.blocks
            .try_recv()
            .ok()
            .or_else(|| lock(&self.shared.leftover).pop_front())
    }

    /// Stops the receiver (`on_stop`, Stopped event "Stopped by driver"), waits at most `timeout`
    /// for its supervisor thread, then moves the pending records into the queue. Idempotent.
    pub(crate) fn stop(&self, timeout: Duration) {
        if !self.shared.driver_stop.swap(true, Ordering::AcqRel) {
            let _ = self.shared.control.send(Control::Stop {
                message: "Stopped by driver".to_string(),
            });
        }
        match self.done.recv_timeout(timeout) {
            Err(RecvTimeoutError::Disconnected) => {
                if let Some(thread) = lock(&self.thread).take() {
                    // The thread has signalled its end, so this join does not wait.
                    if thread.join().is_err() {
                        tracing::error!(
                            "Supervisor thread of receiver {} panicked",
                            self.shared.stream_id
                        );
                    }
                }
            }
            Ok(()) | Err(RecvTimeoutError::Timeout) => {
                tracing::warn!(
                    "Receiver for stream {} did not stop within {} ms; leaving it behind",
                    self.shared.stream_id,
                    timeout.as_millis()
                );
            }
        }
        self.shared.flush_all();
    }

    /// Whether the receiver is stopped for good.
    #[allow(
        dead_code,
        reason = "part of the handle's API; the engine only stops receivers so far"
    )]
    pub(crate) fn is_stopped(&self) -> bool {
        self.shared.terminated.load(Ordering::Acquire)
    }
}

impl<T> Drop for ReceiverHandle<T> {
    fn drop(&mut self) {
        // Never wait here; just make sure an abandoned receiver does not run forever.
        if !self.shared.driver_stop.swap(true, Ordering::AcqRel) {
            let _ = self.shared.control.send(Control::Stop {
                message: "Stopped by driver".to_string(),
            });
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Collects the events of a launched receiver.
    pub(crate) fn events() -> (
        Sender<ReceiverEvent>,
        crossbeam_channel::Receiver<ReceiverEvent>,
    ) {
        crossbeam_channel::unbounded()
    }

    pub(crate) fn settings(restart_ms: u64) -> ReceiverSettings {
        ReceiverSettings {
            restart_delay: Duration::from_millis(restart_ms),
            queue_blocks: 16,
        }
    }

    pub(crate) fn no_wake() -> Arc<dyn Fn() + Send + Sync> {
        Arc::new(|| {})
    }

    /// Receives blocks until `want` records arrived or `timeout` passed.
    pub(crate) fn collect<T: Send + 'static>(
        handle: &ReceiverHandle<T>,
        want: usize,
        timeout: Duration,
    ) -> Vec<T> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < want && Instant::now() < deadline {
            match handle.try_recv() {
                Some(block) => out.extend(block),
                None => thread::sleep(Duration::from_millis(2)),
            }
        }
        out
    }

    /// Log of what a test receiver's callbacks saw.
    #[derive(Default)]
    struct Calls {
        log: Mutex<Vec<(String, Instant)>>,
        starts: AtomicUsize,
    }

    impl Calls {
        fn names(&self) -> Vec<String> {
            lock(&self.log)
                .iter()
                .map(|(name, _)| name.clone())
                .collect()
        }
    }

    /// A receiver driven by a closure called from a thread started in `on_start`.
    struct ScriptReceiver {
        calls: Arc<Calls>,
        script: Arc<dyn Fn(usize, ReceiverContext<u32>) + Send + Sync>,
        thread: Option<JoinHandle<()>>,
    }

    impl Receiver<u32> for ScriptReceiver {
        fn on_start(&mut self, ctx: &ReceiverContext<u32>) {
            let start = self.calls.starts.fetch_add(1, Ordering::SeqCst);
            lock(&self.calls.log).push(("start".into(), Instant::now()));
            let (script, ctx) = (Arc::clone(&self.script), ctx.clone());
            self.thread = Some(thread::spawn(move || script(start, ctx)));
        }
        fn on_stop(&mut self) {
            lock(&self.calls.log).push(("stop".into(), Instant::now()));
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
        fn name(&self) -> String {
            "ScriptReceiver".into()
        }
    }

    fn script_receiver(
        script: impl Fn(usize, ReceiverContext<u32>) + Send + Sync + 'static,
    ) -> (Box<dyn Receiver<u32>>, Arc<Calls>) {
        let calls = Arc::new(Calls::default());
        let receiver = ScriptReceiver {
            calls: Arc::clone(&calls),
            script: Arc::new(script),
            thread: None,
        };
        (Box::new(receiver), calls)
    }

    fn recv_event(rx: &crossbeam_channel::Receiver<ReceiverEvent>) -> ReceiverEvent {
        rx.recv_timeout(Duration::from_secs(5))
            .expect("no receiver event within 5 s")
    }

    #[test]
    fn store_many_delivers_blocks_and_wakes_the_worker() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&wakes);
        let (receiver, _) = script_receiver(|_, ctx| {
            ctx.store_many(vec![1, 2, 3]);
            ctx.store_many(Vec::new());
            ctx.store_many(vec![4]);
        });
        let (tx, _rx) = events();
        let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let handle = launch(receiver, 3, settings(100), tx, wake);
        let got = collect(&handle, 4, Duration::from_secs(5));
        assert_eq!(got, [1, 2, 3, 4]);
        assert_eq!(
            wakes.load(Ordering::SeqCst),
            2,
            "one wake per queued block, none for an empty one"
        );
        handle.stop(Duration::from_secs(5));
        assert!(handle.is_stopped());
    }

    #[test]
    fn store_flushes_full_blocks_and_by_time() {
        let (receiver, _) = script_receiver(|_, ctx| {
            for i in 0..(BLOCK_RECORDS as u32 + 10) {
                ctx.store(i);
            }
        });
        let (tx, _rx) = events();
        let handle = launch(receiver, 0, settings(100), tx, no_wake());
        let first = Instant::now();
        let mut blocks = Vec::new();
        while blocks.iter().map(Vec::len).sum::<usize>() < BLOCK_RECORDS + 10
            && first.elapsed() < Duration::from_secs(5)
        {
            match handle.try_recv() {
                Some(block) => blocks.push(block),
                None => thread::sleep(Duration::from_millis(2)),
            }
        }
        // The full block, then the 10 leftover records once they have waited for the interval.
        assert_eq!(
            blocks.iter().map(Vec::len).collect::<Vec<_>>(),
            [BLOCK_RECORDS, 10]
        );
        assert_eq!(blocks[1][9], BLOCK_RECORDS as u32 + 9);
        assert!(
            first.elapsed() < Duration::from_secs(1),
            "time flush took {:?}",
            first.elapsed()
        );
        handle.stop(Duration::from_secs(5));
    }

    #[test]
    fn single_record_is_flushed_within_the_interval() {
        let stored = Arc::new(Mutex::new(None));
        let stored_at = Arc::clone(&stored);
        let (receiver, _) = script_receiver(move |_, ctx| {
            *lock(&stored_at) = Some(Instant::now());
            ctx.store(7);
        });
        let (tx, _rx) = events();
        let handle = launch(receiver, 0, settings(100), tx, no_wake());
        let got = collect(&handle, 1, Duration::from_secs(5));
        let waited = lock(&stored).unwrap().elapsed();
        assert_eq!(got, [7]);
        assert!(
            waited < Duration::from_millis(250),
            "a record sat for {waited:?}"
        );
        handle.stop(Duration::from_secs(5));
    }

    #[test]
    fn events_are_started_then_stopped_and_stop_is_idempotent_and_bounded() {
        let (receiver, calls) = script_receiver(|_, ctx| {
            ctx.store(1);
        });
        let (tx, rx) = events();
        let handle = launch(receiver, 5, settings(100), tx, no_wake());
        let ReceiverEvent::Started(info) = recv_event(&rx) else {
            panic!("expected Started first")
        };
        assert_eq!(
            info,
            ReceiverInfo {
                stream_id: 5,
                name: "ScriptReceiver-5".into(),
                active: true,
                location: "localhost".into(),
                last_error_message: String::new(),
                last_error_time: -1,
            }
        );
        let began = Instant::now();
        handle.stop(Duration::from_secs(5));
        handle.stop(Duration::from_secs(5));
        assert!(
            began.elapsed() < Duration::from_secs(2),
            "stop took {:?}",
            began.elapsed()
        );
        assert!(handle.is_stopped());
        let ReceiverEvent::Stopped(info) = recv_event(&rx) else {
            panic!("expected Stopped")
        };
        assert!(!info.active);
        assert_eq!(info.last_error_message, "Stopped by driver");
        assert!(
            rx.try_recv().is_err(),
            "a second stop must not emit a second event"
        );
        assert_eq!(calls.names(), ["start", "stop"]);
        // The record stored before the stop is flushed into the queue by stop.
        assert_eq!(collect(&handle, 1, Duration::from_secs(1)), [1]);
    }

    #[test]
    fn restart_calls_on_stop_then_on_start_after_the_delay() {
        let (receiver, calls) = script_receiver(|start, ctx| {
            ctx.store_many(vec![start as u32]);
            if start == 0 {
                ctx.restart("first connection ended");
                // A stale second request from the same start is ignored.
                ctx.restart("again");
            }
        });
        let (tx, rx) = events();
        let handle = launch(receiver, 1, settings(200), tx, no_wake());
        assert_eq!(collect(&handle, 2, Duration::from_secs(5)), [0, 1]);
        let log = lock(&calls.log).clone();
        let names: Vec<_> = log.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["start", "stop", "start"]);
        let gap = log[2].1 - log[1].1;
        assert!(gap >= Duration::from_millis(200), "restarted after {gap:?}");
        assert!(gap < Duration::from_secs(2), "restarted after {gap:?}");

        assert!(matches!(recv_event(&rx), ReceiverEvent::Started(_)));
        match recv_event(&rx) {
            ReceiverEvent::Stopped(info) => {
                assert_eq!(info.last_error_message, "first connection ended")
            }
            other => panic!("expected Stopped, got {other:?}"),
        }
        assert!(matches!(recv_event(&rx), ReceiverEvent::Started(_)));
        handle.stop(Duration::from_secs(5));
        assert!(matches!(recv_event(&rx), ReceiverEvent::Stopped(_)));
        assert_eq!(calls.starts.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn stop_during_the_restart_delay_is_prompt() {
        let (receiver, calls) = script_receiver(|_, ctx| ctx.restart("going away"));
        let (tx, rx) = events();
        let handle = launch(receiver, 0, settings(60_000), tx, no_wake());
        assert!(matches!(recv_event(&rx), ReceiverEvent::Started(_)));
        assert!(matches!(recv_event(&rx), ReceiverEvent::Stopped(_)));
        let began = Instant::now();
        handle.stop(Duration::from_secs(5));
        assert!(
            began.elapsed() < Duration::from_secs(1),
            "stop took {:?}",
            began.elapsed()
        );
        assert!(handle.is_stopped());
        assert_eq!(calls.names(), ["start", "stop"]);
        assert!(
            rx.try_recv().is_err(),
            "no event after the receiver was already stopped"
        );
    }

    #[test]
    fn report_error_and_stop_from_the_receiver() {
        let (receiver, calls) = script_receiver(|_, ctx| {
            ctx.report_error("bad record");
            ctx.stop("done reading");
        });
        let (tx, rx) = events();
        let handle = launch(receiver, 2, settings(100), tx, no_wake());
        assert!(matches!(recv_event(&rx), ReceiverEvent::Started(_)));
        match recv_event(&rx) {
            ReceiverEvent::Error(info) => {
                assert_eq!(info.last_error_message, "bad record");
                assert!(info.active);
                assert!(info.last_error_time > 0);
            }
            other => panic!("expected Error, got {other:?}"),
        }
        match recv_event(&rx) {
            ReceiverEvent::Stopped(info) => assert_eq!(info.last_error_message, "done reading"),
            other => panic!("expected Stopped, got {other:?}"),
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while !handle.is_stopped() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        assert!(handle.is_stopped());
        handle.stop(Duration::from_secs(1));
        assert_eq!(calls.names(), ["start", "stop"]);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn store_many_waits_on_a_full_queue_and_gives_up_when_stopped() {
        let pushed = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&pushed);
        let (receiver, _) = script_receiver(move |_, ctx| {
            for i in 0..100 {
                if ctx.is_stopped() {
                    break;
                }
                ctx.store_many(vec![i]);
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        let (tx, _rx) = events();
        let settings = ReceiverSettings {
            restart_delay: Duration::from_millis(100),
            queue_blocks: 4,
        };
        let handle = launch(receiver, 0, settings, tx, no_wake());
        let wait_for = |count: usize| {
            let deadline = Instant::now() + Duration::from_secs(5);
            while pushed.load(Ordering::SeqCst) < count && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(2));
            }
        };
        wait_for(4);
        thread::sleep(Duration::from_millis(100));
        // Four blocks fit; the fifth store_many waits (back-pressure).
        assert_eq!(pushed.load(Ordering::SeqCst), 4);
        assert_eq!(handle.try_recv(), Some(vec![0]));
        wait_for(5);
        thread::sleep(Duration::from_millis(50));
        assert_eq!(pushed.load(Ordering::SeqCst), 5);
        let began = Instant::now();
        handle.stop(Duration::from_secs(5));
        assert!(
            began.elapsed() < Duration::from_secs(1),
            "stop took {:?}",
            began.elapsed()
        );
        let mut rest = Vec::new();
        while let Some(block) = handle.try_recv() {
            rest.extend(block);
        }
        assert_eq!(rest, [1, 2, 3, 4]);
    }

    #[test]
    fn panicking_on_start_stops_the_receiver() {
        struct Failing;
        impl Receiver<u32> for Failing {
            fn on_start(&mut self, _: &ReceiverContext<u32>) {
                panic!("cannot start");
            }
            fn on_stop(&mut self) {}
            fn name(&self) -> String {
                "Failing".into()
            }
        }
        let (tx, rx) = events();
        let handle = launch(Box::new(Failing), 4, settings(100), tx, no_wake());
        assert!(matches!(recv_event(&rx), ReceiverEvent::Started(_)));
        match recv_event(&rx) {
            ReceiverEvent::Stopped(info) => {
                assert_eq!(info.last_error_message, "Error starting receiver 4")
            }
            other => panic!("expected Stopped, got {other:?}"),
        }
        handle.stop(Duration::from_secs(5));
        assert!(handle.is_stopped());
    }

    #[test]
    fn dropping_the_handle_stops_the_receiver() {
        let (receiver, calls) = script_receiver(|_, _| {});
        let (tx, rx) = events();
        let handle = launch(receiver, 0, settings(100), tx, no_wake());
        assert!(matches!(recv_event(&rx), ReceiverEvent::Started(_)));
        drop(handle);
        assert!(matches!(recv_event(&rx), ReceiverEvent::Stopped(_)));
        assert_eq!(calls.names(), ["start", "stop"]);
    }

    #[test]
    fn context_is_send_sync_clone() {
        fn check<C: Send + Sync + Clone + 'static>() {}
        check::<ReceiverContext<String>>();
        // Not Clone itself, but a context of a non-Clone type is still Clone.
        struct NotClone;
        check::<ReceiverContext<NotClone>>();
    }
}
