//! Rate control (Spark's `scheduler/rate/` and `RateController`): how fast each receiver may
//! store records.
//!
//! - `spark.streaming.receiver.maxRate` caps every receiver (records per second). The cap is
//!   applied where a receiver stores (`receiver::rate_limiter`): a receiver at its limit waits,
//!   so a socket receiver stops reading its socket and TCP slows the sender; nothing is dropped.
//! - `spark.streaming.backpressure.enabled` gives each receiver input stream a controller
//!   (`controller`) that, after every batch, estimates the rate at which the batches are
//!   processed in time and sets the receiver's limit to it (never above `maxRate`), starting
//!   from `spark.streaming.backpressure.initialRate`. The estimator is Spark's
//!   [`PidRateEstimator`], formula for formula.
//!
//! # What ember does beyond Spark
//!
//! Spark's estimator sees the backlog only through the scheduling delay, and only after a
//! batch that waited has been processed: records already received and waiting in the
//! receiver's queue, and batches still queued, count only once they have been processed, so
//! after a burst the rate comes down late and the delay drains slowly (each estimate removes a
//! fifth of the estimated backlog, `pid.integral = 0.2`). With
//! `ember.streaming.backpressure.drainLag` (on by default) the controller also counts the
//! *lag*, the records its receiver has stored that no completed batch has processed yet,
//! exactly: beyond one batch's worth at the new rate, the lag is to be processed within the
//! next batch interval, so the rate is also bounded by `processingRate - excess / interval`.
//! The bound only ever lowers the PID's rate, never below `pid.minRate`. And it acts from the
//! first processed batch, whose processing rate seeds Spark's estimator without giving a rate
//! (Spark lets the second batch's estimate be the first limit, so a fast source runs unlimited
//! for two batches). The rate is set on the receiver as the batch completes, before its
//! `on_batch_completed` reaches listeners (Spark posts it asynchronously).
//!
//! # What the estimator is fed
//!
//! In ember a batch's records are processed as they arrive, and what remains when the batch
//! closes (shuffles, state updates) runs before its output jobs; the jobs themselves only hand
//! out results. The *processing delay* given to the estimator is therefore the time the engine
//! spent on the batch after it closed: from its close, or from the end of the previous batch
//! if that was later, to the end of its jobs; the *scheduling delay* is the wait behind the
//! previous batch (its end minus this batch's close, if positive). A pipeline that keeps up has
//! no scheduling delay and a processing delay of the work left at the close; one that falls
//! behind completes batches back to back, and its processing rate is then its throughput.
//! Batches whose data went through the dataflow together (their jobs run one after the other
//! in one step of the driver) are measured as one: their records over the time from the first
//! one's start to the last one's end, the last one's wait; the later ones alone would show
//! almost no processing time and an absurd processing rate.
//!
//! Receivers run in the driver's process (in a cluster too), as the controllers do, so a new
//! rate reaches its receiver directly. [`ReceiverRateStatus`] is what the web UI and the metrics
//! show per receiver: its limit, whether it is throttled now, what it received and its lag
//! ([`StreamingContext::receiver_rates`](crate::StreamingContext::receiver_rates)).

pub(crate) mod controller;
pub mod pid;

pub use pid::PidRateEstimator;

/// Rate control of one receiver input stream, as the web UI and the metrics show it.
///
/// # Examples
///
/// ```
/// use ember::scheduler::rate::ReceiverRateStatus;
///
/// let status = ReceiverRateStatus {
///     stream_id: 0,
///     rate_limit: Some(5000.0),
///     max_rate: None,
///     backpressure: true,
///     throttled: true,
///     received_records: 12_000,
///     processed_records: 9_000,
///     waited_records: 4_000,
///     waited_millis: 800,
/// };
/// assert_eq!(status.lag_records(), 3_000);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ReceiverRateStatus {
    /// The input stream's id.
    pub stream_id: usize,
    /// The receiver's limit now, in records per second; `None`: no limit.
    pub rate_limit: Option<f64>,
    /// `spark.streaming.receiver.maxRate`, if set: the limit backpressure never exceeds.
    pub max_rate: Option<f64>,
    /// Whether backpressure sets the limit (`spark.streaming.backpressure.enabled`).
    pub backpressure: bool,
    /// Whether the receiver is being throttled: a store waits for the limit now, or one did
    /// within the last batch interval (on the streaming context's clock).
    pub throttled: bool,
    /// Records the receiver has stored since it started (lines, for a socket stream).
    pub received_records: u64,
    /// Records of this stream in the completed batches.
    pub processed_records: u64,
    /// Records that had to wait for the limit, since the receiver started.
    pub waited_records: u64,
    /// How long stores waited for the limit in all, in milliseconds of the streaming
    /// context's clock.
    pub waited_millis: u64,
}

impl ReceiverRateStatus {
    /// Records received and not yet processed: in the receiver's queue, in the batch being
    /// received, and in batches not yet completed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let port = server.local_addr().unwrap().port();
    /// t.collect(&t.context().socket_text_stream("127.0.0.1", port))?;
    /// t.run(1)?;
    /// // Nothing was sent: nothing received, nothing waiting.
    /// let status = &t.context().receiver_rates()[0];
    /// assert_eq!((status.received_records, status.lag_records()), (0, 0));
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn lag_records(&self) -> u64 {
        self.received_records.saturating_sub(self.processed_records)
    }
}
