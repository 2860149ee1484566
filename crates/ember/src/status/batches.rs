//! What the listener events say about batches and receivers (Spark's
//! `StreamingJobProgressListener`): the waiting, running and retained completed batches, the
//! run's totals, and the receivers' last reports.
//!
//! It is a [`StreamingListener`] on the context's listener bus, so it is fed on the bus thread,
//! off the engine's path; the web UI reads it under the same short lock. One ember detail: the
//! "batch submitted" event comes when a batch's data has gone through the dataflow (its record
//! counts are final only then), so the driver also says when it closes a batch
//! ([`BatchProgress::batch_closed`]); a closed batch is shown as waiting (`QUEUED`) until its
//! jobs start.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use crate::receiver::ReceiverInfo;
use crate::scheduler::listener::{BatchInfo, OutputOperationInfo, StreamingListener};
use crate::status::long_work::LongWork;
use crate::sync::RecoverPoison;
use std::sync::Arc;

/// Where a batch is in its life (Spark's `BatchStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BatchStatus {
    /// Closed, its jobs not started.
    Queued,
    /// Its jobs are running.
    Processing,
    /// Its jobs have ended.
    Completed,
}

impl BatchStatus {
    /// Spark's name of the status.
    pub(crate) fn name(self) -> &'static str {
        match self {
            BatchStatus::Queued => "QUEUED",
            BatchStatus::Processing => "PROCESSING",
            BatchStatus::Completed => "COMPLETED",
        }
    }

    /// The status named `name` (Spark's names, any case).
    pub(crate) fn parse(name: &str) -> Option<BatchStatus> {
        [
            BatchStatus::Queued,
            BatchStatus::Processing,
            BatchStatus::Completed,
        ]
        .into_iter()
        .find(|s| s.name().eq_ignore_ascii_case(name))
    }
}

/// One batch as the UI shows it (Spark's `BatchUIData`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BatchRecord {
    /// The batch time (ms since the epoch); Spark's batch id.
    pub(crate) batch_time: u64,
    /// Where it is.
    pub(crate) status: BatchStatus,
    /// Records per input stream; known once the batch is submitted.
    pub(crate) records: Option<BTreeMap<usize, u64>>,
    /// When the batch was closed (ms since the epoch, the context's clock).
    pub(crate) submission_time: u64,
    /// When its jobs started.
    pub(crate) processing_start_time: Option<u64>,
    /// When its jobs ended.
    pub(crate) processing_end_time: Option<u64>,
    /// Its output operations, by id.
    pub(crate) output_ops: BTreeMap<usize, OutputOperationInfo>,
}

impl BatchRecord {
    fn closed(batch_time: u64, submission_time: u64) -> Self {
        BatchRecord {
            batch_time,
            status: BatchStatus::Queued,
            records: None,
            submission_time,
            processing_start_time: None,
            processing_end_time: None,
            output_ops: BTreeMap::new(),
        }
    }

    fn update(&mut self, info: &BatchInfo) {
        self.records = Some(
            info.stream_id_to_input_info
                .iter()
                .map(|(id, input)| (*id, input.num_records))
                .collect(),
        );
        self.submission_time = info.submission_time;
        self.processing_start_time = info.processing_start_time.or(self.processing_start_time);
        self.processing_end_time = info.processing_end_time.or(self.processing_end_time);
        for (id, op) in &info.output_operation_infos {
            self.output_ops.insert(*id, op.clone());
        }
    }

    /// Records over every input (0 until the batch is submitted).
    pub(crate) fn num_records(&self) -> u64 {
        self.records.as_ref().map_or(0, |r| r.values().sum())
    }

    /// Time from closing to the start of the jobs, in ms.
    pub(crate) fn scheduling_delay(&self) -> Option<u64> {
        Some(
            self.processing_start_time?
                .saturating_sub(self.submission_time),
        )
    }

    /// Time the jobs took, in ms.
    pub(crate) fn processing_delay(&self) -> Option<u64> {
        Some(
            self.processing_end_time?
                .saturating_sub(self.processing_start_time?),
        )
    }

    /// Scheduling delay plus processing time, in ms.
    pub(crate) fn total_delay(&self) -> Option<u64> {
        Some(self.scheduling_delay()? + self.processing_delay()?)
    }

    /// Output operations that started and have not ended.
    pub(crate) fn active_output_ops(&self) -> usize {
        self.output_ops
            .values()
            .filter(|o| o.end_time.is_none())
            .count()
    }

    /// Output operations that ended without a failure.
    pub(crate) fn completed_output_ops(&self) -> usize {
        self.output_ops
            .values()
            .filter(|o| o.end_time.is_some() && o.failure_reason.is_none())
            .count()
    }

    /// Output operations that ended with a failure.
    pub(crate) fn failed_output_ops(&self) -> usize {
        self.output_ops
            .values()
            .filter(|o| o.failure_reason.is_some())
            .count()
    }

    /// The failure of the first output operation that failed.
    pub(crate) fn first_failure_reason(&self) -> Option<&str> {
        self.output_ops
            .values()
            .find_map(|o| o.failure_reason.as_deref())
    }
}

/// The figures of the batches and receivers at one moment.
#[derive(Clone, Debug, Default)]
pub(crate) struct BatchesView {
    /// When the stream started (ms since the epoch, the context's clock), once it has.
    pub(crate) start_time: Option<u64>,
    /// Closed batches whose jobs have not started, oldest first.
    pub(crate) waiting: Vec<BatchRecord>,
    /// Batches whose jobs run, oldest first.
    pub(crate) running: Vec<BatchRecord>,
    /// The retained completed batches, oldest first.
    pub(crate) completed: Vec<BatchRecord>,
    /// Batches completed over the run.
    pub(crate) total_completed: u64,
    /// Records of the batches whose jobs started, over the run (Spark's received records).
    pub(crate) total_received: u64,
    /// Records of the completed batches, over the run.
    pub(crate) total_processed: u64,
    /// Each receiver's last report, by stream id.
    pub(crate) receivers: BTreeMap<usize, ReceiverInfo>,
}

impl BatchesView {
    /// Every retained batch whose record counts are known, oldest first: the batches the
    /// statistics and the receivers' rates are computed over.
    pub(crate) fn counted(&self) -> impl Iterator<Item = &BatchRecord> {
        let mut all: Vec<&BatchRecord> = self
            .completed
            .iter()
            .chain(&self.running)
            .chain(&self.waiting)
            .filter(|b| b.records.is_some())
            .collect();
        all.sort_by_key(|b| b.batch_time);
        all.into_iter()
    }

    /// The batch `time` if it is retained.
    pub(crate) fn batch(&self, time: u64) -> Option<&BatchRecord> {
        self.completed
            .iter()
            .chain(&self.running)
            .chain(&self.waiting)
            .find(|b| b.batch_time == time)
    }

    /// The newest retained batch, whatever its status (Spark's `lastReceivedBatch`).
    pub(crate) fn last_received(&self) -> Option<&BatchRecord> {
        self.completed
            .iter()
            .chain(&self.running)
            .chain(&self.waiting)
            .max_by_key(|b| b.batch_time)
    }

    /// The newest completed batch (Spark's `lastCompletedBatch`).
    pub(crate) fn last_completed(&self) -> Option<&BatchRecord> {
        self.completed.iter().max_by_key(|b| b.batch_time)
    }
}

#[derive(Default)]
struct Batches {
    start_time: Option<u64>,
    waiting: BTreeMap<u64, BatchRecord>,
    running: BTreeMap<u64, BatchRecord>,
    completed: VecDeque<BatchRecord>,
    total_completed: u64,
    total_received: u64,
    total_processed: u64,
    processed_by_stream: BTreeMap<usize, u64>,
    receivers: BTreeMap<usize, ReceiverInfo>,
}

/// The batches and receivers of one run, fed by the listener events.
pub(crate) struct BatchProgress {
    retained: usize,
    batches: Mutex<Batches>,
    /// Where the catching up of missed batches is counted.
    work: Arc<LongWork>,
}

impl BatchProgress {
    /// Keeps the newest `retained` completed batches (`spark.streaming.ui.retainedBatches`).
    pub(crate) fn new(retained: usize, work: Arc<LongWork>) -> Self {
        BatchProgress {
            retained: retained.max(1),
            batches: Mutex::new(Batches::default()),
            work,
        }
    }

    /// The driver closed batch `time` at `submission_time` and sent it into the dataflow.
    pub(crate) fn batch_closed(&self, time: u64, submission_time: u64) {
        let mut b = self.batches.lock().recover();
        if !b.running.contains_key(&time) && !b.completed.iter().any(|c| c.batch_time == time) {
            b.waiting
                .entry(time)
                .or_insert_with(|| BatchRecord::closed(time, submission_time));
        }
    }

    /// The driver dropped batch `time` without running its jobs (an immediate stop): it will
    /// never run, so it is no longer waiting.
    pub(crate) fn batch_discarded(&self, time: u64) {
        self.batches.lock().recover().waiting.remove(&time);
    }

    /// A copy of everything, taken under the lock.
    pub(crate) fn view(&self) -> BatchesView {
        let b = self.batches.lock().recover();
        BatchesView {
            start_time: b.start_time,
            waiting: b.waiting.values().cloned().collect(),
            running: b.running.values().cloned().collect(),
            completed: b.completed.iter().cloned().collect(),
            total_completed: b.total_completed,
            total_received: b.total_received,
            total_processed: b.total_processed,
            receivers: b.receivers.clone(),
        }
    }

    /// Records of the completed batches per input stream, over the run.
    pub(crate) fn processed_by_stream(&self) -> BTreeMap<usize, u64> {
        self.batches.lock().recover().processed_by_stream.clone()
    }

    fn with_batch(&self, time: u64, f: impl FnOnce(&mut BatchRecord)) {
        let mut b = self.batches.lock().recover();
        if let Some(batch) = b.running.get_mut(&time) {
            f(batch);
        } else if let Some(batch) = b.waiting.get_mut(&time) {
            f(batch);
        }
    }
}

impl StreamingListener for BatchProgress {
    fn on_streaming_started(&self, time: u64) {
        self.batches.lock().recover().start_time = Some(time);
    }

    fn on_receiver_started(&self, info: &ReceiverInfo) {
        let mut b = self.batches.lock().recover();
        b.receivers.insert(info.stream_id, info.clone());
    }

    fn on_receiver_error(&self, info: &ReceiverInfo) {
        let mut b = self.batches.lock().recover();
        b.receivers.insert(info.stream_id, info.clone());
    }

    fn on_receiver_stopped(&self, info: &ReceiverInfo) {
        let mut b = self.batches.lock().recover();
        b.receivers.insert(info.stream_id, info.clone());
    }

    fn on_batch_submitted(&self, info: &BatchInfo) {
        let time = info.batch_time.as_millis();
        let mut b = self.batches.lock().recover();
        let batch = b
            .waiting
            .entry(time)
            .or_insert_with(|| BatchRecord::closed(time, info.submission_time));
        batch.update(info);
    }

    fn on_batch_started(&self, info: &BatchInfo) {
        let time = info.batch_time.as_millis();
        let mut b = self.batches.lock().recover();
        let mut batch = b
            .waiting
            .remove(&time)
            .unwrap_or_else(|| BatchRecord::closed(time, info.submission_time));
        batch.update(info);
        batch.status = BatchStatus::Processing;
        b.total_received += batch.num_records();
        b.running.insert(time, batch);
    }

    fn on_batch_completed(&self, info: &BatchInfo) {
        let time = info.batch_time.as_millis();
        let mut b = self.batches.lock().recover();
        b.waiting.remove(&time);
        let mut batch = b
            .running
            .remove(&time)
            .unwrap_or_else(|| BatchRecord::closed(time, info.submission_time));
        batch.update(info);
        batch.status = BatchStatus::Completed;
        b.total_completed += 1;
        b.total_processed += batch.num_records();
        for (id, n) in batch.records.iter().flatten() {
            *b.processed_by_stream.entry(*id).or_default() += n;
        }
        b.completed.push_back(batch);
        while b.completed.len() > self.retained {
            b.completed.pop_front();
        }
        // Under the lock: whoever sees the batch completed sees the catching up count it.
        self.work.batch_completed(time);
    }

    fn on_output_operation_started(&self, info: &OutputOperationInfo) {
        self.with_batch(info.batch_time.as_millis(), |b| {
            b.output_ops.insert(info.id, info.clone());
        });
    }

    fn on_output_operation_completed(&self, info: &OutputOperationInfo) {
        self.with_batch(info.batch_time.as_millis(), |b| {
            b.output_ops.insert(info.id, info.clone());
        });
    }
}
