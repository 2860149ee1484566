//! The rate controllers of a run (Spark's `ReceiverRateController`, one per receiver input
//! stream): the driver registers each receiver's limiter when the receiver starts, and after
//! every completed batch each controller feeds its [`PidRateEstimator`] and sets the new rate
//! on its receiver. What the estimator is fed and the lag rule are described in the
//! [module docs](super).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::{PidRateEstimator, ReceiverRateStatus};
use crate::conf::{Conf, settings};
use crate::error::Result;
use crate::receiver::rate_limiter::RateLimiter;
use crate::scheduler::listener::BatchInfo;
use crate::sync::RecoverPoison;
use crate::time::Duration;

/// Rate control of one run: the settings, and a controller per registered receiver.
pub(crate) struct RateControl {
    interval: Duration,
    /// `spark.streaming.receiver.maxRate` (0 and unset: `None`).
    max_rate: Option<f64>,
    /// The limit a receiver starts with.
    initial_rate: Option<f64>,
    /// With backpressure: the estimator every receiver's controller starts from, and whether
    /// the lag rule applies.
    backpressure: Option<(PidRateEstimator, bool)>,
    streams: Mutex<BTreeMap<usize, Controlled>>,
}

/// One receiver input stream under control.
struct Controlled {
    limiter: Arc<RateLimiter>,
    estimator: Option<PidRateEstimator>,
    /// Records of the stream in the completed batches.
    processed: u64,
    /// When the previous batch's jobs ended (ms), to tell a batch's wait from its work.
    last_end: Option<u64>,
    /// Batches completed together with the next one, not yet given to the estimator.
    group: Option<Measured>,
}

/// What the estimator is given: Spark's inputs, of one batch or of batches whose data went
/// through the dataflow together.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Measured {
    /// When the (last) batch's jobs ended, ms.
    end: u64,
    records: u64,
    /// Time the engine spent on the batches after they closed, ms.
    processing: u64,
    /// How long the (last) batch waited behind the one before, ms.
    scheduling: u64,
}

impl RateControl {
    /// The rate control of a run with batches of `interval`, as `conf` sets it. Fails with
    /// Spark's messages on invalid estimator settings (a checked configuration has none).
    pub(crate) fn from_conf(conf: &Conf, interval: Duration) -> Result<Self> {
        let max_rate = settings::RECEIVER_MAX_RATE
            .get(conf)?
            .filter(|r| *r > 0)
            .map(|r| r as f64);
        let enabled = settings::BACKPRESSURE_ENABLED.get(conf)?;
        let backpressure = if enabled {
            // `pid` is the only estimator: the setting refuses any other name.
            settings::BACKPRESSURE_RATE_ESTIMATOR.get(conf)?;
            let pid = PidRateEstimator::new(
                interval.as_millis(),
                settings::PID_PROPORTIONAL.get(conf)?,
                settings::PID_INTEGRAL.get(conf)?,
                settings::PID_DERIVED.get(conf)?,
                settings::PID_MIN_RATE.get(conf)?,
            )?;
            Some((pid, settings::BACKPRESSURE_DRAIN_LAG.get(conf)?))
        } else {
            None
        };
        // As Spark's receiver `RateLimiter`: the initial rate falls back to maxRate and never
        // exceeds it. Spark applies it even without backpressure; its documentation, and ember,
        // only with.
        let initial_rate = match settings::BACKPRESSURE_INITIAL_RATE.get(conf)? {
            Some(initial) if enabled => {
                Some(max_rate.map_or(initial as f64, |m| m.min(initial as f64)))
            }
            _ => max_rate,
        };
        Ok(RateControl {
            interval,
            max_rate,
            initial_rate,
            backpressure,
            streams: Mutex::new(BTreeMap::new()),
        })
    }

    /// Puts the receiver of stream `stream_id`, stored through `limiter`, under control: its
    /// limit starts at the initial rate.
    pub(crate) fn register(&self, stream_id: usize, limiter: Arc<RateLimiter>) {
        limiter.set_rate(self.initial_rate);
        let estimator = self.backpressure.as_ref().map(|(pid, _)| pid.clone());
        self.streams.lock().recover().insert(
            stream_id,
            Controlled {
                limiter,
                estimator,
                processed: 0,
                last_end: None,
                group: None,
            },
        );
    }

    /// After a completed batch: counts its records as processed and, with backpressure, sets
    /// each receiver's new rate. `with_next`: the next batch's data went through the dataflow
    /// together with this one's and it completes next; the two are measured as one batch (the
    /// second would otherwise show almost no processing time, and an absurd processing rate).
    pub(crate) fn on_batch_completed(&self, info: &BatchInfo, with_next: bool) {
        let mut streams = self.streams.lock().recover();
        for (id, stream) in streams.iter_mut() {
            let Some(input) = info.stream_id_to_input_info.get(id) else {
                continue;
            };
            let records = input.num_records;
            stream.processed += records;
            let Some((_, drain_lag)) = &self.backpressure else {
                continue;
            };
            let Some(measured) = stream.measure(info, records) else {
                continue;
            };
            if with_next {
                continue;
            }
            if let Some(rate) = stream.estimate(measured, info, self.interval, *drain_lag) {
                // Spark's controller publishes whole records per second, and a receiver ignores
                // a rate that is not more than 0.
                let whole = rate.floor();
                if whole >= 1.0 {
                    let limit = self.max_rate.map_or(whole, |max| whole.min(max));
                    tracing::debug!(
                        stream = id,
                        batch = %info.batch_time,
                        "backpressure: rate limit {limit} records/s"
                    );
                    stream.limiter.set_rate(Some(limit));
                }
            }
        }
    }

    /// What rate control does for each receiver, in stream order.
    pub(crate) fn statuses(&self) -> Vec<ReceiverRateStatus> {
        let streams = self.streams.lock().recover();
        streams
            .iter()
            .map(|(id, stream)| {
                let (waited_records, waited_millis) = stream.limiter.waited();
                ReceiverRateStatus {
                    stream_id: *id,
                    rate_limit: stream.limiter.rate(),
                    max_rate: self.max_rate,
                    backpressure: self.backpressure.is_some(),
                    throttled: stream.limiter.throttled_within(self.interval),
                    received_records: stream.limiter.admitted(),
                    processed_records: stream.processed,
                    waited_records,
                    waited_millis,
                }
            })
            .collect()
    }
}

impl Controlled {
    /// Spark's inputs after batch `info`, which held `records` of this stream, together with
    /// the batches before it that completed with it; `None` for a batch without an end.
    fn measure(&mut self, info: &BatchInfo, records: u64) -> Option<Measured> {
        let end = info.processing_end_time?;
        let close = info.submission_time;
        // The batch waited behind the previous one until that ended, then was worked on.
        let start = self.last_end.map_or(close, |previous| previous.max(close));
        self.last_end = Some(end);
        let mut measured = Measured {
            end,
            records,
            processing: end.saturating_sub(start),
            scheduling: start - close,
        };
        if let Some(group) = self.group.take() {
            measured.records += group.records;
            measured.processing += group.processing;
        }
        self.group = Some(measured);
        Some(measured)
    }

    /// The new rate from `measured`, the last of which is batch `info`; `None` when the
    /// estimator learnt nothing from it or gave no rate.
    fn estimate(
        &mut self,
        measured: Measured,
        info: &BatchInfo,
        interval: Duration,
        drain_lag: bool,
    ) -> Option<f64> {
        self.group = None;
        let Measured {
            end,
            records,
            processing,
            scheduling,
        } = measured;
        let estimator = self.estimator.as_mut()?;
        let before = estimator.latest_time();
        let rate = estimator.compute(
            i64::try_from(end).unwrap_or(i64::MAX),
            records,
            i64::try_from(processing).unwrap_or(i64::MAX),
            i64::try_from(scheduling).unwrap_or(i64::MAX),
        );
        if !drain_lag {
            return rate;
        }
        if estimator.latest_time() == before {
            // Skipped by the estimator's guards: the batch says nothing about the pipeline.
            return None;
        }
        // The first batch only seeds Spark's estimator; its processing rate is a rate already.
        let proposed = rate.or(estimator.latest_rate())?;
        let processing_rate = records as f64 / processing as f64 * 1000.0;
        let seconds = interval.as_millis() as f64 / 1000.0;
        let lag = self.limiter.admitted().saturating_sub(self.processed) as f64;
        // One batch being received at the new rate is normal; the rest is to be processed
        // within the next interval, besides what will arrive meanwhile.
        let excess = (lag - proposed * seconds).max(0.0);
        let bound = processing_rate - excess / seconds;
        let rate = proposed.min(bound).max(estimator.min_rate());
        tracing::debug!(
            "backpressure: up to batch {} {records} records, processed in {processing} ms after waiting {scheduling} ms ({processing_rate:.0}/s); lag {lag}; PID {proposed:.0}/s, bound {bound:.0}/s",
            info.batch_time
        );
        Some(rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::clock::ManualClock;
    use crate::scheduler::listener::StreamInputInfo;
    use crate::time::Time;

    /// A batch of stream 0 closed at `close`, whose jobs ended at `end`, holding `records`.
    fn batch(close: u64, end: u64, records: u64) -> BatchInfo {
        let input = StreamInputInfo {
            input_stream_id: 0,
            num_records: records,
            description: String::new(),
        };
        BatchInfo {
            batch_time: Time::from_millis(close),
            stream_id_to_input_info: [(0, input)].into(),
            submission_time: close,
            processing_start_time: Some(end),
            processing_end_time: Some(end),
            output_operation_infos: BTreeMap::new(),
        }
    }

    /// Rate control of 1 s batches set by `settings`, with one receiver (stream 0) registered.
    fn control(settings: &[(&str, &str)]) -> (RateControl, Arc<RateLimiter>) {
        let mut conf = Conf::new();
        for (key, value) in settings {
            conf = conf.set(key, value);
        }
        let control = RateControl::from_conf(&conf, Duration::seconds(1)).unwrap();
        let clock = ManualClock::new(Time::from_millis(0));
        let limiter = Arc::new(RateLimiter::new(Arc::new(clock), None));
        control.register(0, Arc::clone(&limiter));
        (control, limiter)
    }

    const ON: (&str, &str) = ("spark.streaming.backpressure.enabled", "true");
    const SPARK_ONLY: (&str, &str) = ("ember.streaming.backpressure.drainLag", "false");

    #[test]
    fn max_rate_and_initial_rate_set_the_starting_limit() {
        assert_eq!(control(&[]).1.rate(), None);
        let max = ("spark.streaming.receiver.maxRate", "500");
        assert_eq!(control(&[max]).1.rate(), Some(500.0));
        assert_eq!(
            control(&[("spark.streaming.receiver.maxRate", "0")])
                .1
                .rate(),
            None
        );
        let initial = ("spark.streaming.backpressure.initialRate", "200");
        assert_eq!(control(&[ON, initial]).1.rate(), Some(200.0));
        assert_eq!(
            control(&[ON, max, ("spark.streaming.backpressure.initialRate", "900")])
                .1
                .rate(),
            Some(500.0),
            "never above maxRate"
        );
        assert_eq!(
            control(&[ON, max]).1.rate(),
            Some(500.0),
            "falls back to maxRate"
        );
        assert_eq!(control(&[initial]).1.rate(), None, "only with backpressure");
    }

    #[test]
    fn sparks_pid_alone_sets_the_rate_from_the_second_batch_within_max_rate() {
        let (control, limiter) = control(&[ON, SPARK_ONLY]);
        // 1,000 records closed at 1 s, done at 1.5 s: seeds 2,000/s, sets nothing.
        control.on_batch_completed(&batch(1000, 1500, 1000), false);
        assert_eq!(limiter.rate(), None);
        // Closed at 2 s, done at 3 s: 1,000 records in 1 s = 1,000/s, no wait; error 1,000;
        // new rate 2,000 - 1,000 = 1,000.
        control.on_batch_completed(&batch(2000, 3000, 1000), false);
        assert_eq!(limiter.rate(), Some(1000.0));
        // Closed at 3 s, when the previous one had ended, done at 4.5 s: no wait, 1.5 s of work
        // on 600 records = 400/s; error 600; new rate 1,000 - 600 = 400.
        control.on_batch_completed(&batch(3000, 4500, 600), false);
        assert_eq!(limiter.rate(), Some(400.0));
        // Closed at 4 s but the previous one ended at 4.5 s: waited 500 ms, worked 500 ms on
        // 400 records = 800/s; error -400, historical 500 * 800 / 1,000 = 400;
        // new rate 400 + 400 - 80 = 720.
        control.on_batch_completed(&batch(4000, 5000, 400), false);
        assert_eq!(limiter.rate(), Some(720.0));
        let (control, limiter) =
            self::control(&[ON, SPARK_ONLY, ("spark.streaming.receiver.maxRate", "300")]);
        control.on_batch_completed(&batch(1000, 1500, 1000), false);
        control.on_batch_completed(&batch(2000, 3000, 1000), false);
        assert_eq!(limiter.rate(), Some(300.0), "min(1,000, maxRate)");
        assert_eq!(control.statuses()[0].max_rate, Some(300.0));
    }

    #[test]
    fn the_lag_rule_acts_from_the_first_batch_and_drains_what_is_queued() {
        let (control, limiter) = control(&[ON]);
        // The receiver stored 1,000 records, then 9,000 more that no batch has processed.
        limiter.stored(10_000);
        // The first batch (1,000 records in 500 ms: 2,000/s) seeds the PID; the lag is 9,000,
        // 7,000 beyond one batch at 2,000/s, to be processed within the next second:
        // 2,000 - 7,000 < 0, so the minimum rate.
        control.on_batch_completed(&batch(1000, 1500, 1000), false);
        assert_eq!(limiter.rate(), Some(100.0));
        let status = &control.statuses()[0];
        assert_eq!(
            (
                status.received_records,
                status.processed_records,
                status.lag_records()
            ),
            (10_000, 1000, 9000)
        );
        // The next batch took 8,000 of them in 1 s (8,000/s). The PID keeps its own latest
        // rate, the seed: 2,000 - (2,000 - 8,000) = 8,000; the lag, 1,000, is within one batch
        // at 8,000/s: the PID's rate.
        control.on_batch_completed(&batch(2000, 3000, 8000), false);
        assert_eq!(limiter.rate(), Some(8000.0));
        // Without lag, the lag rule never lowers Spark's rate.
        control.on_batch_completed(&batch(3000, 3500, 1000), false);
        assert_eq!(control.statuses()[0].lag_records(), 0);
        // 1,000 in 500 ms = 2,000/s: error 6,000; new rate 8,000 - 6,000 = 2,000.
        assert_eq!(limiter.rate(), Some(2000.0));
    }

    #[test]
    fn batches_completed_together_are_measured_as_one() {
        let (control, limiter) = control(&[ON, SPARK_ONLY]);
        control.on_batch_completed(&batch(1000, 1500, 1000), false); // seeds 2,000/s
        // The batch of 3 s went through with the one of 2 s and completes right after it: alone
        // it would have no processing time (skipped), and the first 600 records in 1 s.
        control.on_batch_completed(&batch(2000, 3000, 600), true);
        assert_eq!(
            limiter.rate(),
            None,
            "waits for the batch completed with it"
        );
        control.on_batch_completed(&batch(3000, 3000, 400), false);
        // Together: 1,000 records in 1 s; error 2,000 - 1,000; new rate 1,000.
        assert_eq!(limiter.rate(), Some(1000.0));
        assert_eq!(control.statuses()[0].processed_records, 2000);
    }

    #[test]
    fn batches_the_estimator_skips_change_nothing() {
        let (control, limiter) = control(&[ON, ("spark.streaming.backpressure.initialRate", "50")]);
        // No records, or done in the millisecond it closed.
        control.on_batch_completed(&batch(1000, 1500, 0), false);
        control.on_batch_completed(&batch(2000, 2000, 10), false);
        assert_eq!(limiter.rate(), Some(50.0));
        // Processed records still count, also without backpressure.
        assert_eq!(control.statuses()[0].processed_records, 10);
        let (control, _) = self::control(&[]);
        control.on_batch_completed(&batch(1000, 1500, 7), false);
        assert_eq!(control.statuses()[0].processed_records, 7);
        assert!(!control.statuses()[0].backpressure);
    }

    #[test]
    fn an_unknown_estimator_or_a_negative_gain_fails_with_sparks_message() {
        let conf = Conf::new()
            .set("spark.streaming.backpressure.enabled", "true")
            .set("spark.streaming.backpressure.pid.integral", "-0.5");
        let e = RateControl::from_conf(&conf, Duration::seconds(1))
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "setting spark.streaming.backpressure.pid.integral=-0.5 is invalid: requirement failed: Integral term -0.5 in PIDRateEstimator should be >= 0."
        );
        let conf = Conf::new()
            .set("spark.streaming.backpressure.enabled", "true")
            .set("spark.streaming.backpressure.rateEstimator", "kalman");
        let e = RateControl::from_conf(&conf, Duration::seconds(1))
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "setting spark.streaming.backpressure.rateEstimator=kalman is invalid: Unknown rate estimator: kalman"
        );
    }
}
