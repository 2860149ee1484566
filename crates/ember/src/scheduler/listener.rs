//! Monitoring: Spark's `StreamingListener` events, delivered in order on a dedicated thread.
//!
//! For every batch the order is `batch submitted → batch started → (output operation started →
//! output operation completed) for each output operation in definition order → batch completed`,
//! after one `streaming started` at the beginning. A listener that panics is logged and skipped;
//! it never disturbs the stream.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

pub use crate::receiver::ReceiverInfo;
use crate::sync::RecoverPoison;
use crate::time::Time;

/// Records one input stream contributed to a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInputInfo {
    /// Id of the input stream (order of creation, from 0).
    pub input_stream_id: usize,
    /// Records it contributed.
    pub num_records: u64,
    /// Human-readable description (file names for file streams).
    pub description: String,
}

/// One output operation's run for one batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputOperationInfo {
    /// The batch.
    pub batch_time: Time,
    /// Index of the output operation, in definition order.
    pub id: usize,
    /// Short name, e.g. `print`, `foreach_rdd`.
    pub name: String,
    /// Longer description.
    pub description: String,
    /// When it started (ms since the epoch, batch clock).
    pub start_time: Option<u64>,
    /// When it ended.
    pub end_time: Option<u64>,
    /// Why it failed, if it did.
    pub failure_reason: Option<String>,
}

impl OutputOperationInfo {
    /// How long it ran, in ms, once ended.
    pub fn duration(&self) -> Option<u64> {
        Some(self.end_time?.saturating_sub(self.start_time?))
    }
}

/// What happened to one batch (Spark's `BatchInfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchInfo {
    /// The batch time.
    pub batch_time: Time,
    /// Records per input stream.
    pub stream_id_to_input_info: BTreeMap<usize, StreamInputInfo>,
    /// When the batch was closed and handed to the engine (ms since the epoch).
    pub submission_time: u64,
    /// When its jobs started.
    pub processing_start_time: Option<u64>,
    /// When its last job ended.
    pub processing_end_time: Option<u64>,
    /// Its output operations.
    pub output_operation_infos: BTreeMap<usize, OutputOperationInfo>,
}

impl BatchInfo {
    /// Time from submission to the start of processing, in ms.
    pub fn scheduling_delay(&self) -> Option<u64> {
        Some(
            self.processing_start_time?
                .saturating_sub(self.submission_time),
        )
    }
    /// Time from the start to the end of processing, in ms.
    pub fn processing_delay(&self) -> Option<u64> {
        Some(
            self.processing_end_time?
                .saturating_sub(self.processing_start_time?),
        )
    }
    /// Scheduling delay plus processing delay, in ms.
    pub fn total_delay(&self) -> Option<u64> {
        Some(self.scheduling_delay()? + self.processing_delay()?)
    }
    /// Records over all inputs.
    pub fn num_records(&self) -> u64 {
        self.stream_id_to_input_info
            .values()
            .map(|i| i.num_records)
            .sum()
    }
}

/// Receives the events of a running [`StreamingContext`](crate::streaming::StreamingContext).
/// Every method has an empty default; implement the ones you need.
#[allow(unused_variables)]
pub trait StreamingListener: Send + Sync + 'static {
    /// The stream started at `time` (ms since the epoch).
    fn on_streaming_started(&self, time: u64) {}
    /// A receiver started.
    fn on_receiver_started(&self, info: &ReceiverInfo) {}
    /// A receiver reported an error; it keeps running or restarts.
    fn on_receiver_error(&self, info: &ReceiverInfo) {}
    /// A receiver stopped.
    fn on_receiver_stopped(&self, info: &ReceiverInfo) {}
    /// A batch was closed and submitted.
    fn on_batch_submitted(&self, info: &BatchInfo) {}
    /// A batch's jobs started.
    fn on_batch_started(&self, info: &BatchInfo) {}
    /// A batch's jobs all ended.
    fn on_batch_completed(&self, info: &BatchInfo) {}
    /// An output operation started for a batch.
    fn on_output_operation_started(&self, info: &OutputOperationInfo) {}
    /// An output operation ended for a batch (see `failure_reason`).
    fn on_output_operation_completed(&self, info: &OutputOperationInfo) {}
}

/// One event, as posted to the bus.
#[derive(Clone, Debug)]
pub(crate) enum Event {
    StreamingStarted(u64),
    ReceiverStarted(ReceiverInfo),
    ReceiverError(ReceiverInfo),
    ReceiverStopped(ReceiverInfo),
    BatchSubmitted(BatchInfo),
    BatchStarted(BatchInfo),
    BatchCompleted(BatchInfo),
    OutputStarted(OutputOperationInfo),
    OutputCompleted(OutputOperationInfo),
}

enum Message {
    Event(Event),
    Flush(Sender<()>),
    Add(Arc<dyn StreamingListener>),
    /// Ends the bus thread after everything posted before it.
    Close,
}

/// Delivers events to listeners in posting order on the `ember-listener-bus` thread.
pub(crate) struct ListenerBus {
    tx: Sender<Message>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl ListenerBus {
    pub(crate) fn new(listeners: Vec<Arc<dyn StreamingListener>>) -> ListenerBus {
        let (tx, rx) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("ember-listener-bus".into())
            .spawn(move || deliver(rx, listeners))
            .ok();
        ListenerBus {
            tx,
            thread: Mutex::new(thread),
        }
    }

    pub(crate) fn post(&self, event: Event) {
        // The bus thread ends only after `close`; a send error means the bus is gone, and an
        // event nobody can receive is dropped on purpose.
        let _ = self.tx.send(Message::Event(event));
    }

    /// Adds a listener; it receives the events posted from now on.
    pub(crate) fn add(&self, listener: Arc<dyn StreamingListener>) {
        let _ = self.tx.send(Message::Add(listener));
    }

    /// Waits until every event posted before this call has been delivered.
    pub(crate) fn flush(&self) {
        let (done_tx, done_rx) = crossbeam_channel::bounded(1);
        if self.tx.send(Message::Flush(done_tx)).is_ok() {
            let _ = done_rx.recv_timeout(std::time::Duration::from_secs(30));
        }
    }

    /// Delivers what is queued and ends the bus thread.
    pub(crate) fn close(&self) {
        let thread = self.thread.lock().recover().take();
        if self.tx.send(Message::Close).is_ok()
            && let Some(thread) = thread
        {
            // Bounded: a listener stuck in a callback must not hold up `stop`.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while !thread.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

fn deliver(rx: Receiver<Message>, mut listeners: Vec<Arc<dyn StreamingListener>>) {
    for msg in rx {
        match msg {
            Message::Add(l) => listeners.push(l),
            Message::Close => break,
            Message::Flush(done) => {
                let _ = done.send(());
            }
            Message::Event(event) => {
                for l in &listeners {
                    let outcome = catch_unwind(AssertUnwindSafe(|| dispatch(l.as_ref(), &event)));
                    if outcome.is_err() {
                        tracing::error!(?event, "Listener threw an exception");
                    }
                }
            }
        }
    }
}

fn dispatch(l: &dyn StreamingListener, event: &Event) {
    match event {
        Event::StreamingStarted(t) => l.on_streaming_started(*t),
        Event::ReceiverStarted(i) => l.on_receiver_started(i),
        Event::ReceiverError(i) => l.on_receiver_error(i),
        Event::ReceiverStopped(i) => l.on_receiver_stopped(i),
        Event::BatchSubmitted(b) => l.on_batch_submitted(b),
        Event::BatchStarted(b) => l.on_batch_started(b),
        Event::BatchCompleted(b) => l.on_batch_completed(b),
        Event::OutputStarted(o) => l.on_output_operation_started(o),
        Event::OutputCompleted(o) => l.on_output_operation_completed(o),
    }
}
