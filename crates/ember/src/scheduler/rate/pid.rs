//! Spark's `PIDRateEstimator`, formula for formula: the rate a receiver should take in for the
//! processing time of a batch to match the batch interval.
//!
//! After each batch it is given the batch's end time, its records, its processing delay and its
//! scheduling delay, and computes (rates in records per second, times in milliseconds):
//!
//! ```text
//! processingRate  = records / processingDelay * 1000
//! error           = latestRate - processingRate
//! historicalError = schedulingDelay * processingRate / batchInterval
//! dError          = (error - latestError) / ((time - latestTime) / 1000)
//! newRate         = max(minRate, latestRate - kp*error - ki*historicalError - kd*dError)
//! ```
//!
//! It estimates only when `time > latestTime`, `records > 0` and `processingDelay > 0`; the
//! first such batch only seeds `latestRate = processingRate` and gives no rate. The gains must
//! be at least 0 and the minimum rate more than 0, with Spark's messages. What the engine feeds
//! it, and what it adds, are described in [the module above](super).

use crate::error::{Error, Result};

/// Spark's `PIDRateEstimator`: a proportional-integral-derivative controller of a receiver's
/// rate (`spark.streaming.backpressure.pid.*`).
///
/// # Examples
///
/// A batch interval of 1 s and Spark's default gains (1.0, 0.2, 0.0, minimum 100 records/s):
///
/// ```
/// use ember::scheduler::rate::PidRateEstimator;
///
/// let mut pid = PidRateEstimator::new(1000, 1.0, 0.2, 0.0, 100.0)?;
/// // The first batch (10,000 records processed in 2 s) only seeds the estimator.
/// assert_eq!(pid.compute(1000, 10_000, 2000, 0), None);
/// assert_eq!(pid.latest_rate(), Some(5000.0));
/// // Then 5,000 records in 1.25 s after waiting 500 ms: processing rate 4,000/s,
/// // error 5,000 - 4,000 = 1,000, historical error 500 * 4,000 / 1,000 = 2,000,
/// // new rate 5,000 - 1,000 - 0.2 * 2,000 = 3,600.
/// assert_eq!(pid.compute(2000, 5000, 1250, 500), Some(3600.0));
///
/// let bad = PidRateEstimator::new(1000, -1.0, 0.2, 0.0, 100.0).unwrap_err();
/// assert_eq!(
///     bad.to_string(),
///     "requirement failed: Proportional term -1.0 in PIDRateEstimator should be >= 0."
/// );
/// # Ok::<(), ember::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct PidRateEstimator {
    batch_interval_ms: u64,
    proportional: f64,
    integral: f64,
    derivative: f64,
    min_rate: f64,
    first_run: bool,
    latest_time: i64,
    latest_rate: f64,
    latest_error: f64,
}

impl PidRateEstimator {
    /// An estimator for batches of `batch_interval_ms`, with gains `proportional`, `integral`
    /// and `derivative` (each at least 0) and a floor of `min_rate` records/s (more than 0).
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::scheduler::rate::PidRateEstimator;
    ///
    /// assert!(PidRateEstimator::new(1000, 1.0, 0.2, 0.0, 100.0).is_ok());
    /// let e = PidRateEstimator::new(1000, 1.0, 0.2, 0.0, 0.0).unwrap_err();
    /// assert_eq!(e.to_string(), "requirement failed: Minimum rate in PIDRateEstimator should be > 0");
    /// let e = PidRateEstimator::new(0, 1.0, 0.2, 0.0, 100.0).unwrap_err();
    /// assert_eq!(
    ///     e.to_string(),
    ///     "requirement failed: Specified batch interval 0 in PIDRateEstimator is invalid."
    /// );
    /// ```
    pub fn new(
        batch_interval_ms: u64,
        proportional: f64,
        integral: f64,
        derivative: f64,
        min_rate: f64,
    ) -> Result<Self> {
        // Spark's `require`s, in Spark's order.
        if batch_interval_ms == 0 {
            return Err(Error::Requirement(format!(
                "Specified batch interval {batch_interval_ms} in PIDRateEstimator is invalid."
            )));
        }
        for (value, refusal) in [
            (
                proportional,
                refuse_proportional as fn(f64) -> Option<String>,
            ),
            (integral, refuse_integral),
            (derivative, refuse_derivative),
            (min_rate, refuse_min_rate),
        ] {
            if let Some(message) = refusal(value) {
                return Err(Error::Requirement(message));
            }
        }
        tracing::info!(
            "Created PIDRateEstimator with proportional = {}, integral = {}, derivative = {}, min rate = {}",
            java_double(proportional),
            java_double(integral),
            java_double(derivative),
            java_double(min_rate)
        );
        Ok(PidRateEstimator {
            batch_interval_ms,
            proportional,
            integral,
            derivative,
            min_rate,
            first_run: true,
            latest_time: -1,
            latest_rate: -1.0,
            latest_error: -1.0,
        })
    }

    /// Spark's `compute`: the new rate (records/s) after a batch that ended at `time` (ms),
    /// held `num_elements` records, took `processing_delay` ms to process and waited
    /// `scheduling_delay` ms before processing; `None` when the batch is skipped (not later than
    /// the last one estimated, no records, or no processing time) or only seeds the estimator
    /// (the first batch estimated).
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::scheduler::rate::PidRateEstimator;
    ///
    /// let mut pid = PidRateEstimator::new(1000, 1.0, 0.2, 0.0, 100.0)?;
    /// assert_eq!(pid.compute(1000, 0, 500, 0), None); // no records: skipped
    /// assert_eq!(pid.latest_rate(), None);
    /// assert_eq!(pid.compute(1000, 2000, 1000, 0), None); // seeds 2,000/s
    /// assert_eq!(pid.compute(1000, 2000, 1000, 0), None); // not later: skipped
    /// // 1,000 records in 2 s: 500/s, error 1,500, new rate 2,000 - 1,500 = 500.
    /// assert_eq!(pid.compute(2000, 1000, 2000, 0), Some(500.0));
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn compute(
        &mut self,
        time: i64,
        num_elements: u64,
        processing_delay: i64,
        scheduling_delay: i64,
    ) -> Option<f64> {
        tracing::trace!(
            "time = {time}, # records = {num_elements}, processing time = {processing_delay}, scheduling delay = {scheduling_delay}"
        );
        if !(time > self.latest_time && num_elements > 0 && processing_delay > 0) {
            tracing::trace!("Rate estimation skipped");
            return None;
        }
        // In seconds, about the batch interval.
        let delay_since_update = (time - self.latest_time) as f64 / 1000.0;
        let processing_rate = num_elements as f64 / processing_delay as f64 * 1000.0;
        // The desired rate is the latest one; the error is how far processing fell short of it.
        let error = self.latest_rate - processing_rate;
        // A scheduling delay s stands for s * processingRate records that earlier batches could
        // not process; spread over one batch interval, they are a rate of "historical" error.
        let historical_error =
            scheduling_delay as f64 * processing_rate / self.batch_interval_ms as f64;
        let d_error = (error - self.latest_error) / delay_since_update;
        let new_rate = (self.latest_rate
            - self.proportional * error
            - self.integral * historical_error
            - self.derivative * d_error)
            .max(self.min_rate);
        tracing::trace!(
            "latestRate = {}, error = {error}, latestError = {}, historicalError = {historical_error}, delaySinceUpdate = {delay_since_update}, dError = {d_error}",
            self.latest_rate,
            self.latest_error
        );
        self.latest_time = time;
        if self.first_run {
            self.latest_rate = processing_rate;
            self.latest_error = 0.0;
            self.first_run = false;
            tracing::trace!("First run, rate estimation skipped");
            None
        } else {
            self.latest_rate = new_rate;
            self.latest_error = error;
            tracing::trace!("New rate = {new_rate}");
            Some(new_rate)
        }
    }

    /// The rate of the last estimate, or the processing rate the first batch seeded (Spark's
    /// `latestRate`); `None` before any batch was estimated.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::scheduler::rate::PidRateEstimator;
    ///
    /// let mut pid = PidRateEstimator::new(1000, 1.0, 0.2, 0.0, 100.0)?;
    /// assert_eq!(pid.latest_rate(), None);
    /// pid.compute(1000, 300, 100, 0);
    /// assert_eq!(pid.latest_rate(), Some(3000.0));
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn latest_rate(&self) -> Option<f64> {
        (!self.first_run).then_some(self.latest_rate)
    }

    /// The end time (ms) of the last batch estimated or seeded from, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::scheduler::rate::PidRateEstimator;
    ///
    /// let mut pid = PidRateEstimator::new(1000, 1.0, 0.2, 0.0, 100.0)?;
    /// assert_eq!(pid.latest_time(), None);
    /// pid.compute(1000, 300, 100, 0);
    /// assert_eq!(pid.latest_time(), Some(1000));
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn latest_time(&self) -> Option<i64> {
        (!self.first_run).then_some(self.latest_time)
    }

    /// The minimum rate.
    pub(crate) fn min_rate(&self) -> f64 {
        self.min_rate
    }
}

/// Spark's message for a proportional gain below 0, if `value` is one.
pub(crate) fn refuse_proportional(value: f64) -> Option<String> {
    // Written as Spark's `require(value >= 0)`, which NaN fails.
    let valid = value >= 0.0;
    (!valid).then(|| {
        format!(
            "Proportional term {} in PIDRateEstimator should be >= 0.",
            java_double(value)
        )
    })
}

/// Spark's message for an integral gain below 0, if `value` is one.
pub(crate) fn refuse_integral(value: f64) -> Option<String> {
    // Written as Spark's `require(value >= 0)`, which NaN fails.
    let valid = value >= 0.0;
    (!valid).then(|| {
        format!(
            "Integral term {} in PIDRateEstimator should be >= 0.",
            java_double(value)
        )
    })
}

/// Spark's message for a derivative gain below 0, if `value` is one.
pub(crate) fn refuse_derivative(value: f64) -> Option<String> {
    // Written as Spark's `require(value >= 0)`, which NaN fails.
    let valid = value >= 0.0;
    (!valid).then(|| {
        format!(
            "Derivative term {} in PIDRateEstimator should be >= 0.",
            java_double(value)
        )
    })
}

/// Spark's message for a minimum rate that is not more than 0, if `value` is one.
pub(crate) fn refuse_min_rate(value: f64) -> Option<String> {
    let valid = value > 0.0;
    (!valid).then(|| "Minimum rate in PIDRateEstimator should be > 0".to_string())
}

/// A double as Java's `Double.toString` writes it, which Spark's messages show: `-1.0`, `0.25`,
/// `-1.0E7`, `1.0E-4`.
pub(crate) fn java_double(value: f64) -> String {
    if !value.is_finite() {
        return if value.is_nan() {
            "NaN".into()
        } else if value > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let magnitude = value.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        // Rust's shortest round-trip digits; Java always shows a fractional part.
        let text = value.to_string();
        if text.contains('.') {
            text
        } else {
            format!("{text}.0")
        }
    } else {
        let text = format!("{value:E}");
        match text.split_once('E') {
            Some((mantissa, exponent)) if !mantissa.contains('.') => {
                format!("{mantissa}.0E{exponent}")
            }
            _ => text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spark's defaults on 1 s batches.
    fn spark_default() -> PidRateEstimator {
        PidRateEstimator::new(1000, 1.0, 0.2, 0.0, 100.0).unwrap()
    }

    #[test]
    fn the_first_batch_estimated_only_seeds_the_rate() {
        let mut pid = spark_default();
        // 20,000 records in 4 s: 5,000/s.
        assert_eq!(pid.compute(10_000, 20_000, 4000, 3000), None);
        assert_eq!(pid.latest_rate(), Some(5000.0));
        assert_eq!(pid.latest_time(), Some(10_000));
        // The seed's error is 0: with kd = 1 the next derivative term is error / Δt alone.
        let mut pid = PidRateEstimator::new(1000, 0.0, 0.0, 1.0, 1.0).unwrap();
        pid.compute(1000, 1000, 1000, 0); // seeds 1,000/s
        // 500 records in 1 s: error 1,000 - 500 = 500, dError (500 - 0) / 2 s = 250,
        // new rate 1,000 - 250 = 750.
        assert_eq!(pid.compute(3000, 500, 1000, 0), Some(750.0));
    }

    #[test]
    fn the_guards_skip_a_batch_without_touching_the_state() {
        let mut pid = spark_default();
        assert_eq!(pid.compute(1000, 0, 100, 0), None, "no records");
        assert_eq!(pid.compute(1000, 100, 0, 0), None, "no processing time");
        assert_eq!(
            pid.compute(1000, 100, -5, 0),
            None,
            "negative processing time"
        );
        assert_eq!(
            pid.compute(-1, 100, 100, 0),
            None,
            "not after latestTime = -1"
        );
        assert_eq!(pid.latest_rate(), None, "nothing seeded yet");
        assert_eq!(pid.compute(1000, 100, 100, 0), None, "seeds 1,000/s");
        assert_eq!(pid.compute(1000, 100, 100, 0), None, "same time");
        assert_eq!(pid.compute(999, 100, 100, 0), None, "earlier time");
        assert_eq!(pid.compute(2000, 0, 100, 0), None, "no records");
        assert_eq!(pid.compute(2000, 100, 0, 0), None, "no processing time");
        assert_eq!(pid.latest_rate(), Some(1000.0));
        assert_eq!(pid.latest_time(), Some(1000));
    }

    #[test]
    fn hand_computed_vectors_with_all_three_terms() {
        // batch interval 500 ms, kp = 0.5, ki = 0.1, kd = 0.25, minimum 10/s.
        let mut pid = PidRateEstimator::new(500, 0.5, 0.1, 0.25, 10.0).unwrap();
        // Seed: 1,000 records in 500 ms = 2,000/s; latestError = 0.
        assert_eq!(pid.compute(500, 1000, 500, 0), None);
        // t = 1,000: 800 records in 400 ms = 2,000/s; error 2,000 - 2,000 = 0;
        // historical 100 * 2,000 / 500 = 400; dError (0 - 0) / 0.5 = 0;
        // new = 2,000 - 0 - 0.1 * 400 - 0 = 1,960.
        assert_eq!(pid.compute(1000, 800, 400, 100), Some(1960.0));
        // t = 1,500: 600 records in 400 ms = 1,500/s; error 1,960 - 1,500 = 460;
        // historical 250 * 1,500 / 500 = 750; dError (460 - 0) / 0.5 = 920;
        // new = 1,960 - 0.5 * 460 - 0.1 * 750 - 0.25 * 920 = 1,960 - 230 - 75 - 230 = 1,425.
        assert_eq!(pid.compute(1500, 600, 400, 250), Some(1425.0));
        // t = 2,500 (a batch skipped): 1,500 records in 250 ms = 6,000/s;
        // error 1,425 - 6,000 = -4,575; historical 0; dError (-4,575 - 460) / 1 s = -5,035;
        // new = 1,425 + 2,287.5 - 0 + 1,258.75 = 4,971.25.
        assert_eq!(pid.compute(2500, 1500, 250, 0), Some(4971.25));
        assert_eq!(pid.latest_rate(), Some(4971.25));
    }

    #[test]
    fn the_rate_never_falls_below_the_minimum() {
        let mut pid = spark_default();
        pid.compute(1000, 1000, 1000, 0); // seeds 1,000/s
        // 10 records in 1 s after 10 s of scheduling delay: error 990, historical 100,
        // new = 1,000 - 990 - 20 = -10, floored at 100.
        assert_eq!(pid.compute(2000, 10, 1000, 10_000), Some(100.0));
        // latestRate is the floored rate: 100 records in 1 s, error 0, historical 0.
        assert_eq!(pid.compute(3000, 100, 1000, 0), Some(100.0));
        assert_eq!(pid.latest_rate(), Some(100.0));
    }

    #[test]
    fn invalid_settings_fail_with_sparks_messages() {
        let fails = |interval, p, i, d, min| {
            PidRateEstimator::new(interval, p, i, d, min)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            fails(1000, -0.5, 0.2, 0.0, 100.0),
            "requirement failed: Proportional term -0.5 in PIDRateEstimator should be >= 0."
        );
        assert_eq!(
            fails(1000, 1.0, -1.0, 0.0, 100.0),
            "requirement failed: Integral term -1.0 in PIDRateEstimator should be >= 0."
        );
        assert_eq!(
            fails(1000, 1.0, 0.2, -2.0, 100.0),
            "requirement failed: Derivative term -2.0 in PIDRateEstimator should be >= 0."
        );
        assert_eq!(
            fails(1000, 1.0, 0.2, 0.0, -1.0),
            "requirement failed: Minimum rate in PIDRateEstimator should be > 0"
        );
        assert_eq!(
            fails(1000, f64::NAN, 0.2, 0.0, 100.0),
            "requirement failed: Proportional term NaN in PIDRateEstimator should be >= 0."
        );
        // Zero gains are allowed; a zero minimum rate is not.
        assert!(PidRateEstimator::new(1, 0.0, 0.0, 0.0, 0.001).is_ok());
    }

    #[test]
    fn doubles_print_as_java_prints_them() {
        for (value, java) in [
            (-1.0, "-1.0"),
            (0.0, "0.0"),
            (-0.25, "-0.25"),
            (1e7, "1.0E7"),
            (-1.5e-5, "-1.5E-5"),
            (1234567.0, "1234567.0"),
            (0.001, "0.001"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(java_double(value), java, "{value}");
        }
    }
}
