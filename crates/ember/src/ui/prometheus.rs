//! `/metrics`: the figures in Prometheus's text format (version 0.0.4), computed at each scrape.
//!
//! Spark's `StreamingMetrics` gauges are named `ember_streaming_<gauge in snake_case>` (with
//! Spark's -1 where a batch has no such time yet), followed by ember's own figures: state,
//! checkpoints, write-ahead log and sources. A small writer rather than a metrics library: every
//! value is read from the status at scrape time, so there is nothing to register or keep up to
//! date, and the format is a few lines of text (`# HELP`, `# TYPE`, then `name{labels} value`).

use std::fmt::Write as _;

use crate::status::{BatchRecord, CheckpointKind, Status};
use crate::ui::rest;

/// The content type of the text format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Writes metric families in the text format.
struct Writer {
    out: String,
}

impl Writer {
    /// Starts family `name` of `kind` (`gauge` or `counter`) with its help text.
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample of the family just started.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(self.out, "{key}=\"{v}\"");
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
    }

    /// A family of one unlabelled gauge.
    fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.family(name, "gauge", help);
        self.sample(name, &[], value);
    }
}

/// A value as the format writes it (`+Inf`, `-Inf`, `NaN`, or the number).
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        v.to_string()
    }
}

/// A gauge of a batch: its name's end, how it is read from the batch, its help.
type BatchFigure = (&'static str, fn(&BatchRecord) -> Option<u64>, &'static str);

/// A gauge per input stream: its name, its help, how it is read from the stream's row (`None`:
/// no sample).
type SourceFigure = (
    &'static str,
    &'static str,
    fn(&rest::SourceRow) -> Option<f64>,
);

/// A batch's time or delay as Spark's gauges give it: -1 when absent.
fn or_minus_one(v: Option<u64>) -> f64 {
    v.map_or(-1.0, |v| v as f64)
}

/// The whole `/metrics` page.
pub(crate) fn render(status: &Status) -> String {
    let mut w = Writer { out: String::new() };
    let view = status.batches.view();
    let s = "ember_streaming_";
    w.gauge(
        &format!("{s}receivers"),
        "Receivers that have reported.",
        view.receivers.len() as f64,
    );
    w.gauge(
        &format!("{s}total_completed_batches"),
        "Batches completed since the start.",
        view.total_completed as f64,
    );
    w.gauge(
        &format!("{s}total_received_records"),
        "Records of the batches started since the start.",
        view.total_received as f64,
    );
    w.gauge(
        &format!("{s}total_processed_records"),
        "Records of the batches completed since the start.",
        view.total_processed as f64,
    );
    w.gauge(
        &format!("{s}unprocessed_batches"),
        "Batches waiting or running.",
        (view.waiting.len() + view.running.len()) as f64,
    );
    w.gauge(
        &format!("{s}waiting_batches"),
        "Batches closed whose jobs have not started.",
        view.waiting.len() as f64,
    );
    w.gauge(
        &format!("{s}running_batches"),
        "Batches whose jobs are running.",
        view.running.len() as f64,
    );
    w.gauge(
        &format!("{s}retained_completed_batches"),
        "Completed batches kept for the UI (spark.streaming.ui.retainedBatches).",
        view.completed.len() as f64,
    );
    let completed = view.last_completed();
    let completed_figures: [BatchFigure; 6] = [
        (
            "submission_time",
            |b| Some(b.submission_time),
            "When it was closed (ms since the epoch).",
        ),
        (
            "processing_start_time",
            |b| b.processing_start_time,
            "When its jobs started (ms since the epoch).",
        ),
        (
            "processing_end_time",
            |b| b.processing_end_time,
            "When its jobs ended (ms since the epoch).",
        ),
        (
            "processing_delay",
            BatchRecord::processing_delay,
            "How long its jobs ran (ms).",
        ),
        (
            "scheduling_delay",
            BatchRecord::scheduling_delay,
            "How long it waited for its jobs to start (ms).",
        ),
        (
            "total_delay",
            BatchRecord::total_delay,
            "Scheduling delay plus processing delay (ms).",
        ),
    ];
    for (name, figure, help) in completed_figures {
        w.gauge(
            &format!("{s}last_completed_batch_{name}"),
            &format!("The last completed batch: {help} -1 if none."),
            or_minus_one(completed.and_then(figure)),
        );
    }
    let received = view.last_received();
    // Spark's lastReceivedBatch gauges: the completed batch's three times, and its records.
    let records: BatchFigure = ("records", |b| Some(b.num_records()), "Its records.");
    let received_figures = completed_figures[..3].iter().copied().chain([records]);
    for (name, figure, help) in received_figures {
        w.gauge(
            &format!("{s}last_received_batch_{name}"),
            &format!("The newest batch: {help} -1 if none."),
            or_minus_one(received.and_then(figure)),
        );
    }

    let sizes = status.state.sizes();
    w.family(
        "ember_state_keys",
        "gauge",
        "Entries of a stateful stream's state (keys; a window's buffered blocks).",
    );
    for size in &sizes {
        let stream = size.stream.to_string();
        w.sample(
            "ember_state_keys",
            &[("stream", &stream), ("name", &size.name)],
            size.keys as f64,
        );
    }
    w.family(
        "ember_state_bytes",
        "gauge",
        "Estimated bytes of a stateful stream's state (its encoded size per entry at the last \
         full checkpoint times its entries).",
    );
    for size in &sizes {
        let stream = size.stream.to_string();
        w.sample(
            "ember_state_bytes",
            &[("stream", &stream), ("name", &size.name)],
            size.bytes as f64,
        );
    }

    let totals = status.checkpoints.totals();
    let (duration, bytes) = totals.last.unwrap_or((0, 0));
    w.gauge(
        "ember_checkpoint_duration_ms",
        "Time spent writing the last checkpoint, over its files (ms).",
        duration as f64,
    );
    w.gauge(
        "ember_checkpoint_bytes",
        "Bytes of the last checkpoint.",
        bytes as f64,
    );
    w.family(
        "ember_checkpoints_total",
        "counter",
        "Checkpoints since the start, by kind and outcome.",
    );
    for kind in [CheckpointKind::Full, CheckpointKind::Delta] {
        for ok in [true, false] {
            let n = totals.counts.get(&(kind, ok)).copied().unwrap_or(0);
            let outcome = if ok { "ok" } else { "failed" };
            w.sample(
                "ember_checkpoints_total",
                &[("kind", kind.name()), ("status", outcome)],
                n as f64,
            );
        }
    }
    let (_, wal_bytes) = status.wal();
    w.gauge(
        "ember_wal_bytes",
        "Bytes of the receivers' write-ahead logs on disk.",
        wal_bytes as f64,
    );

    let rows = rest::source_rows(status);
    let per_source: [SourceFigure; 5] = [
        (
            "ember_source_received_records",
            "Records an input stream has taken in since the start.",
            |r| Some(r.received as f64),
        ),
        (
            "ember_source_processed_records",
            "Records of an input stream in completed batches since the start.",
            |r| Some(r.processed as f64),
        ),
        (
            "ember_source_lag_records",
            "Records an input stream has taken in and not processed yet.",
            |r| Some(r.lag() as f64),
        ),
        (
            "ember_source_throttled",
            "1 while an input stream's rate limit slows it down, else 0.",
            |r| Some(if r.throttled { 1.0 } else { 0.0 }),
        ),
        (
            "ember_source_rate_limit",
            "An input stream's receive rate limit (records/s); no sample when unlimited.",
            |r| r.rate_limit,
        ),
    ];
    for (name, help, figure) in per_source {
        w.family(name, "gauge", help);
        for row in &rows {
            if let Some(v) = figure(row) {
                let stream = row.id.to_string();
                w.sample(name, &[("stream", &stream), ("kind", row.kind.name())], v);
            }
        }
    }
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_help_are_escaped_and_numbers_written_as_the_format_says() {
        let mut w = Writer { out: String::new() };
        w.family("m", "gauge", "a \\ b\nc");
        w.sample("m", &[("name", "x\"y\\z\n")], 1.5);
        w.sample("m", &[], f64::INFINITY);
        assert_eq!(
            w.out,
            "# HELP m a \\\\ b\\nc\n# TYPE m gauge\nm{name=\"x\\\"y\\\\z\\n\"} 1.5\nm +Inf\n"
        );
        assert_eq!(number(3.0), "3");
        assert_eq!(number(f64::NAN), "NaN");
    }
}
