//! Spark's monitoring REST API (`/api/v1/applications/...`), with Spark's paths, field names and
//! JSON shapes (Spark's `ApplicationInfo`, `StreamingStatistics`, `ReceiverInfo`, `BatchInfo`
//! and `OutputOperationInfo`), plus ember's own figures (`.../streaming/ember`).
//!
//! As Spark's JSON writer: absent optional fields are left out, dates are written
//! `2026-12-03T10:00:00.000GMT`, and the output is indented. Each function here builds one
//! answer from a [`Status`] and returns it, or why there is none ([`Problem`]).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::status::{BatchRecord, BatchStatus, BatchesView, SourceKind, Status};
use crate::ui::App;

/// Why a request has no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    /// 404, with Spark's message (`unknown app: ...`).
    NotFound(String),
    /// 400: a parameter that means nothing.
    BadRequest(String),
}

/// Spark's date format: `yyyy-MM-dd'T'HH:mm:ss.SSS'GMT'`, in GMT.
pub(crate) fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fGMT")
        .to_string()
}

/// Spark's `ApplicationInfo`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApplicationInfo {
    id: String,
    name: String,
    attempts: Vec<ApplicationAttemptInfo>,
}

/// Spark's `ApplicationAttemptInfo` of a running application (no attempt id in local mode).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApplicationAttemptInfo {
    start_time: String,
    end_time: String,
    last_updated: String,
    duration: u64,
    spark_user: String,
    completed: bool,
    app_spark_version: String,
    start_time_epoch: i64,
    end_time_epoch: i64,
    last_updated_epoch: i64,
}

/// The application (`/api/v1/applications/{appId}`): running since the context was made. Its
/// end is Spark's "not yet" (-1), its duration the time since the start.
pub(crate) fn application(app: &App) -> ApplicationInfo {
    let now = now_ms();
    ApplicationInfo {
        id: app.id.clone(),
        name: app.name.clone(),
        attempts: vec![ApplicationAttemptInfo {
            start_time: date(app.start_time as i64),
            end_time: date(-1),
            last_updated: date(now as i64),
            duration: now.saturating_sub(app.start_time),
            spark_user: app.user.clone(),
            completed: false,
            app_spark_version: format!("ember {}", env!("CARGO_PKG_VERSION")),
            start_time_epoch: app.start_time as i64,
            end_time_epoch: -1,
            last_updated_epoch: now as i64,
        }],
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Spark's `StreamingStatistics`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StreamingStatistics {
    start_time: String,
    batch_duration: u64,
    num_receivers: usize,
    num_active_receivers: usize,
    num_inactive_receivers: usize,
    num_total_completed_batches: u64,
    num_retained_completed_batches: usize,
    num_active_batches: usize,
    num_processed_records: u64,
    num_received_records: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    avg_input_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    avg_scheduling_delay: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    avg_processing_time: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    avg_total_delay: Option<u64>,
}

fn average(values: impl Iterator<Item = u64>) -> Option<u64> {
    let (sum, n) = values.fold((0u64, 0u64), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n)
}

/// The stream's start (ms, the context's clock): when it started, else (before the start, while
/// a checkpoint is restored) the application's.
fn start_time(view: &BatchesView, app: &App) -> u64 {
    view.start_time.unwrap_or(app.start_time)
}

/// `.../streaming/statistics`, as Spark computes it: averages over the retained batches whose
/// record counts are known (Spark's integer division for the times).
pub(crate) fn statistics(app: &App, status: &Status) -> StreamingStatistics {
    let view = status.batches.view();
    let batch_ms = status.batch.as_millis().max(1);
    let counted: Vec<&BatchRecord> = view.counted().collect();
    let rates: Vec<f64> = counted
        .iter()
        .map(|b| b.num_records() as f64 * 1000.0 / batch_ms as f64)
        .collect();
    let active = view.receivers.values().filter(|r| r.active).count();
    StreamingStatistics {
        start_time: date(start_time(&view, app) as i64),
        batch_duration: batch_ms,
        num_receivers: view.receivers.len(),
        num_active_receivers: active,
        num_inactive_receivers: view.receivers.len() - active,
        num_total_completed_batches: view.total_completed,
        num_retained_completed_batches: view.completed.len(),
        num_active_batches: view.waiting.len() + view.running.len(),
        num_processed_records: view.total_processed,
        num_received_records: view.total_received,
        avg_input_rate: (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64),
        avg_scheduling_delay: average(counted.iter().filter_map(|b| b.scheduling_delay())),
        avg_processing_time: average(counted.iter().filter_map(|b| b.processing_delay())),
        avg_total_delay: average(counted.iter().filter_map(|b| b.total_delay())),
    }
}

/// Spark's `ReceiverInfo` (of the REST API).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReceiverInfo {
    stream_id: usize,
    stream_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_active: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    executor_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    executor_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    avg_event_rate: Option<f64>,
    event_rates: Vec<(u64, f64)>,
}

/// `.../streaming/receivers`: every input stream fed by a receiver, by stream id, with its
/// records/s in each retained batch. Receivers run in the driver's process: their executor is
/// Spark's `driver`.
pub(crate) fn receivers(status: &Status) -> Vec<ReceiverInfo> {
    let view = status.batches.view();
    let batch_ms = status.batch.as_millis().max(1) as f64;
    let counted: Vec<&BatchRecord> = view.counted().collect();
    status
        .sources
        .all()
        .into_iter()
        .filter(|(_, s)| s.kind == SourceKind::Receiver)
        .map(|(id, source)| {
            let info = view.receivers.get(&id);
            let event_rates: Vec<(u64, f64)> = counted
                .iter()
                .map(|b| {
                    let n = b.records.as_ref().and_then(|r| r.get(&id)).copied();
                    (b.batch_time, n.unwrap_or(0) as f64 * 1000.0 / batch_ms)
                })
                .collect();
            let avg_event_rate = (!event_rates.is_empty())
                .then(|| event_rates.iter().map(|r| r.1).sum::<f64>() / event_rates.len() as f64);
            let message = info
                .map(|i| i.last_error_message.clone())
                .filter(|m| !m.is_empty());
            ReceiverInfo {
                stream_id: id,
                stream_name: info.map_or_else(|| source.name.clone(), |i| i.name.clone()),
                is_active: info.map(|i| i.active),
                executor_id: info.map(|_| "driver".to_owned()),
                executor_host: info.map(|i| i.location.clone()),
                last_error_time: info
                    .filter(|i| i.last_error_time >= 0)
                    .map(|i| date(i.last_error_time)),
                last_error: message.clone(),
                last_error_message: message,
                avg_event_rate,
                event_rates,
            }
        })
        .collect()
}

/// `.../streaming/receivers/{streamId}`.
pub(crate) fn receiver(status: &Status, id: &str) -> Result<ReceiverInfo, Problem> {
    let unknown = || Problem::NotFound(format!("unknown receiver: {id}"));
    let id: usize = id.parse().map_err(|_| unknown())?;
    receivers(status)
        .into_iter()
        .find(|r| r.stream_id == id)
        .ok_or_else(unknown)
}

/// Spark's `BatchInfo` (of the REST API).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BatchInfo {
    batch_id: u64,
    batch_time: String,
    status: &'static str,
    batch_duration: u64,
    input_size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduling_delay: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    processing_time: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_delay: Option<u64>,
    num_active_output_ops: usize,
    num_completed_output_ops: usize,
    num_failed_output_ops: usize,
    num_total_output_ops: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_failure_reason: Option<String>,
}

fn batch_info(b: &BatchRecord, batch_ms: u64) -> BatchInfo {
    BatchInfo {
        batch_id: b.batch_time,
        batch_time: date(b.batch_time as i64),
        status: b.status.name(),
        batch_duration: batch_ms,
        input_size: b.num_records(),
        scheduling_delay: b.scheduling_delay(),
        processing_time: b.processing_delay(),
        total_delay: b.total_delay(),
        num_active_output_ops: b.active_output_ops(),
        num_completed_output_ops: b.completed_output_ops(),
        num_failed_output_ops: b.failed_output_ops(),
        num_total_output_ops: b.output_ops.len(),
        first_failure_reason: b.first_failure_reason().map(str::to_owned),
    }
}

/// The `status` parameters of a query (`status=COMPLETED&status=QUEUED`, Spark's names).
pub(crate) fn statuses(query: Option<&str>) -> Result<Vec<BatchStatus>, Problem> {
    let mut out = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != "status" {
            continue;
        }
        let status = BatchStatus::parse(value).ok_or_else(|| {
            Problem::BadRequest(format!(
                "unknown status: {value} (one of COMPLETED, PROCESSING, QUEUED)"
            ))
        })?;
        out.push(status);
    }
    Ok(out)
}

/// `.../streaming/batches`: the retained batches with one of `statuses` (all when empty), newest
/// first.
pub(crate) fn batches(status: &Status, statuses: &[BatchStatus]) -> Vec<BatchInfo> {
    let view = status.batches.view();
    let batch_ms = status.batch.as_millis();
    let mut all: Vec<BatchInfo> = view
        .completed
        .iter()
        .chain(&view.running)
        .chain(&view.waiting)
        .filter(|b| statuses.is_empty() || statuses.contains(&b.status))
        .map(|b| batch_info(b, batch_ms))
        .collect();
    all.sort_by_key(|b| std::cmp::Reverse(b.batch_id));
    all
}

fn batch_id(id: &str) -> Result<u64, Problem> {
    id.parse()
        .map_err(|_| Problem::NotFound(format!("unknown batch: {id}")))
}

/// `.../streaming/batches/{batchId}`.
pub(crate) fn batch(status: &Status, id: &str) -> Result<BatchInfo, Problem> {
    let time = batch_id(id)?;
    let view = status.batches.view();
    view.batch(time)
        .map(|b| batch_info(b, status.batch.as_millis()))
        .ok_or_else(|| Problem::NotFound(format!("unknown batch: {id}")))
}

/// Spark's `OutputOperationInfo` (of the REST API). ember runs no Spark jobs: `jobIds` is empty.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OutputOperationInfo {
    output_op_id: usize,
    name: String,
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
    job_ids: Vec<u64>,
}

/// `.../streaming/batches/{batchId}/operations`, by output operation id.
pub(crate) fn operations(status: &Status, id: &str) -> Result<Vec<OutputOperationInfo>, Problem> {
    let time = batch_id(id)?;
    let view = status.batches.view();
    let batch = view
        .batch(time)
        .ok_or_else(|| Problem::NotFound(format!("unknown batch: {id}")))?;
    Ok(batch
        .output_ops
        .values()
        .map(|op| OutputOperationInfo {
            output_op_id: op.id,
            name: op.name.clone(),
            description: op.description.clone(),
            start_time: op.start_time.map(|t| date(t as i64)),
            end_time: op.end_time.map(|t| date(t as i64)),
            duration: op.duration(),
            failure_reason: op.failure_reason.clone(),
            job_ids: Vec::new(),
        })
        .collect())
}

/// `.../streaming/batches/{batchId}/operations/{outputOpId}`.
pub(crate) fn operation(
    status: &Status,
    id: &str,
    op: &str,
) -> Result<OutputOperationInfo, Problem> {
    let unknown = || Problem::NotFound(format!("unknown output operation: {op}"));
    let op: usize = op.parse().map_err(|_| unknown())?;
    operations(status, id)?
        .into_iter()
        .find(|o| o.output_op_id == op)
        .ok_or_else(unknown)
}

/// ember's own figures (`.../streaming/ember`): what Spark's UI does not show.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EmberStatus {
    batch_duration: u64,
    start_time_epoch: u64,
    uptime: u64,
    retained_batches: usize,
    state: Vec<StateJson>,
    checkpoints: Vec<CheckpointJson>,
    wal: WalJson,
    sources: Vec<SourceJson>,
    progress: Vec<ProgressJson>,
    kill_enabled: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StateJson {
    stream_id: usize,
    name: String,
    keys: u64,
    bytes: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CheckpointJson {
    batch_time_epoch: u64,
    start_time_epoch: u64,
    duration_ms: u64,
    bytes: u64,
    kind: &'static str,
    status: &'static str,
    error: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WalJson {
    enabled: bool,
    bytes: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SourceJson {
    stream_id: usize,
    name: String,
    kind: &'static str,
    received_records: u64,
    processed_records: u64,
    lag_records: u64,
    rate_limit: Option<f64>,
    throttled: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProgressJson {
    task: &'static str,
    done: u64,
    total: u64,
    finished: bool,
}

/// One input stream's records taken in and processed (in completed batches), whose difference is
/// its lag, with its rate limit: a row of the JSON and of the metrics.
pub(crate) struct SourceRow {
    pub(crate) id: usize,
    pub(crate) name: String,
    pub(crate) kind: SourceKind,
    pub(crate) received: u64,
    pub(crate) processed: u64,
    pub(crate) rate_limit: Option<f64>,
    pub(crate) throttled: bool,
}

impl SourceRow {
    /// Records received and not processed yet.
    pub(crate) fn lag(&self) -> u64 {
        self.received.saturating_sub(self.processed)
    }
}

/// The input streams' rows, by id.
pub(crate) fn source_rows(status: &Status) -> Vec<SourceRow> {
    let processed: BTreeMap<usize, u64> = status.batches.processed_by_stream();
    status
        .sources
        .all()
        .into_iter()
        .map(|(id, s)| {
            let processed = processed.get(&id).copied().unwrap_or(0);
            SourceRow {
                id,
                name: s.name.clone(),
                kind: s.kind,
                // Read after the processed records: a batch that completes in between counts
                // on both sides rather than only as processed, so the lag is never negative.
                received: s.received_records().max(processed),
                processed,
                rate_limit: s.rate_limit(),
                throttled: s.throttled(),
            }
        })
        .collect()
}

/// `.../streaming/ember`.
pub(crate) fn ember(app: &App, status: &Status) -> EmberStatus {
    let view = status.batches.view();
    let start = start_time(&view, app);
    let uptime = match view.start_time {
        Some(started) => status.clock.now().as_millis().saturating_sub(started),
        None => 0,
    };
    let (wal_enabled, wal_bytes) = status.wal();
    EmberStatus {
        batch_duration: status.batch.as_millis(),
        start_time_epoch: start,
        uptime,
        retained_batches: status.retained,
        state: status
            .state
            .sizes()
            .into_iter()
            .map(|s| StateJson {
                stream_id: s.stream,
                name: s.name,
                keys: s.keys,
                bytes: s.bytes,
            })
            .collect(),
        checkpoints: status
            .checkpoints
            .records()
            .into_iter()
            .map(|c| CheckpointJson {
                batch_time_epoch: c.batch_time,
                start_time_epoch: c.start_time,
                duration_ms: c.duration_ms,
                bytes: c.bytes,
                kind: c.kind.name(),
                status: if c.error.is_none() { "ok" } else { "failed" },
                error: c.error,
            })
            .collect(),
        wal: WalJson {
            enabled: wal_enabled,
            bytes: wal_bytes,
        },
        sources: source_rows(status)
            .into_iter()
            .map(|s| SourceJson {
                stream_id: s.id,
                kind: s.kind.name(),
                received_records: s.received,
                processed_records: s.processed,
                lag_records: s.lag(),
                rate_limit: s.rate_limit,
                throttled: s.throttled,
                name: s.name,
            })
            .collect(),
        progress: status
            .work
            .tasks()
            .into_iter()
            .map(|t| ProgressJson {
                task: t.work.name(),
                done: t.done,
                total: t.total,
                finished: t.finished,
            })
            .collect(),
        kill_enabled: app.kill_enabled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_spark_writes_them() {
        assert_eq!(date(-1), "1969-12-31T23:59:59.999GMT");
        assert_eq!(date(1_000), "1970-01-01T00:00:01.000GMT");
    }

    #[test]
    fn statuses_are_read_from_repeated_parameters() {
        assert_eq!(statuses(None), Ok(vec![]));
        assert_eq!(
            statuses(Some("status=COMPLETED&x=1&status=queued")),
            Ok(vec![BatchStatus::Completed, BatchStatus::Queued])
        );
        assert_eq!(
            statuses(Some("status=DONE")),
            Err(Problem::BadRequest(
                "unknown status: DONE (one of COMPLETED, PROCESSING, QUEUED)".into()
            ))
        );
    }
}
