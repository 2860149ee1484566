//! Batch durations and batch times, as Spark Streaming's `Duration` and `Time`.
//!
//! Both are whole milliseconds. A [`Time`] is milliseconds since the Unix epoch; batch times are
//! multiples of the batch interval, so every process of a cluster agrees on them.
//!
//! ```
//! use ember::{Duration, Time};
//!
//! let batch = Duration::seconds(1);
//! let t = Time::from_millis(10_500);
//! assert_eq!(t.floor(batch), Time::from_millis(10_000)); // the batch 10_500 ms falls in
//! assert_eq!(t + batch * 2, Time::from_millis(12_500));
//! assert_eq!(Duration::seconds(30) / Duration::seconds(10), 3.0);
//! assert_eq!(Duration::milliseconds(1500).to_string(), "1500 ms");
//! assert_eq!(Duration::milliseconds(90_000).pretty_print(), "1.5 m");
//! let windows: Vec<u64> = Time::from_millis(1000)
//!     .to(Time::from_millis(3000), batch)
//!     .map(Time::as_millis)
//!     .collect();
//! assert_eq!(windows, [1000, 2000, 3000]);
//! ```

use std::fmt;
use std::ops::{Add, Div, Mul, Sub};

use serde::{Deserialize, Serialize};

/// A span of time in milliseconds (Spark's `Duration`). Prints as `"<ms> ms"`, as Spark does.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Duration(u64);

impl Duration {
    /// A duration of `ms` milliseconds (Spark's `Milliseconds(ms)`).
    pub const fn milliseconds(ms: u64) -> Self {
        Duration(ms)
    }
    /// A duration of `s` seconds (Spark's `Seconds(s)`).
    pub const fn seconds(s: u64) -> Self {
        Duration(s * 1000)
    }
    /// A duration of `m` minutes (Spark's `Minutes(m)`).
    pub const fn minutes(m: u64) -> Self {
        Duration(m * 60_000)
    }
    /// The length in milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0
    }
    /// Whether this is zero milliseconds long.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
    /// Whether `self` is a whole multiple of `other` (false when `other` is zero).
    pub const fn is_multiple_of(self, other: Duration) -> bool {
        other.0 != 0 && self.0.is_multiple_of(other.0)
    }
    /// The shorter of the two.
    pub fn min(self, other: Duration) -> Duration {
        Duration(self.0.min(other.0))
    }
    /// The longer of the two.
    pub fn max(self, other: Duration) -> Duration {
        Duration(self.0.max(other.0))
    }
    /// Spark's `prettyPrint`: `500 ms`, `1.5 s`, `1.5 m`, `2 h`.
    pub fn pretty_print(self) -> String {
        let ms = self.0 as f64;
        let (value, unit) = if self.0 < 1000 {
            return format!("{} ms", self.0);
        } else if self.0 < 60_000 {
            (ms / 1000.0, "s")
        } else if self.0 < 3_600_000 {
            (ms / 60_000.0, "m")
        } else {
            (ms / 3_600_000.0, "h")
        };
        let text = format!("{value:.1}");
        let text = text.strip_suffix(".0").unwrap_or(&text);
        format!("{text} {unit}")
    }
    /// The same span as a [`std::time::Duration`].
    pub const fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0)
    }
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Self {
        Duration(d.as_millis() as u64)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ms", self.0)
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        Duration(self.0 + rhs.0)
    }
}

impl Sub for Duration {
    type Output = Duration;
    fn sub(self, rhs: Duration) -> Duration {
        Duration(self.0.saturating_sub(rhs.0))
    }
}

impl Mul<u64> for Duration {
    type Output = Duration;
    fn mul(self, rhs: u64) -> Duration {
        Duration(self.0 * rhs)
    }
}

/// How many times `rhs` fits into `self`, as Spark's `Duration / Duration` (a `Double`).
impl Div for Duration {
    type Output = f64;
    fn div(self, rhs: Duration) -> f64 {
        self.0 as f64 / rhs.0 as f64
    }
}

/// A point in time in milliseconds since the Unix epoch (Spark's `Time`). Prints as `"<ms> ms"`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Time(u64);

impl Time {
    /// The time `ms` milliseconds after the Unix epoch.
    pub const fn from_millis(ms: u64) -> Self {
        Time(ms)
    }
    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }
    /// The wall-clock time now.
    pub fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Time(since.as_millis() as u64)
    }
    /// The largest multiple of `d` that is not after `self` (Spark's `floor`).
    pub fn floor(self, d: Duration) -> Time {
        if d.is_zero() {
            self
        } else {
            Time(self.0 - self.0 % d.0)
        }
    }
    /// The largest time `zero + k * d` not after `self` (Spark's `floor(d, zeroTime)`).
    pub fn floor_from(self, d: Duration, zero: Time) -> Time {
        if d.is_zero() || self.0 < zero.0 {
            return self;
        }
        Time(self.0 - (self.0 - zero.0) % d.0)
    }
    /// Whether this time is a whole multiple of `d` since the epoch.
    pub const fn is_multiple_of(self, d: Duration) -> bool {
        d.0 != 0 && self.0.is_multiple_of(d.0)
    }
    /// The times `self, self + step, ...` strictly before `end` (Spark's `until`).
    pub fn until(self, end: Time, step: Duration) -> impl Iterator<Item = Time> {
        let step = step.0.max(1);
        (self.0..end.0).step_by(step as usize).map(Time)
    }
    /// The times `self, self + step, ...` up to and including `end` (Spark's `to`).
    pub fn to(self, end: Time, step: Duration) -> impl Iterator<Item = Time> {
        let step = step.0.max(1);
        (self.0..=end.0).step_by(step as usize).map(Time)
    }
    /// PySpark's rendering of a batch time: `str(datetime.fromtimestamp(ms / 1000))`, local time,
    /// e.g. `2026-11-24 10:00:01`, or `2026-11-24 10:00:01.500000` when not on a whole second.
    pub fn to_local_datetime_string(self) -> String {
        use chrono::{Local, TimeZone};
        let secs = (self.0 / 1000) as i64;
        let micros = (self.0 % 1000) * 1000;
        match Local.timestamp_opt(secs, (micros * 1000) as u32).single() {
            Some(dt) if micros == 0 => dt.format("%Y-%m-%d %H:%M:%S").to_string(),
            Some(dt) => format!("{}.{micros:06}", dt.format("%Y-%m-%d %H:%M:%S")),
            None => format!("{} ms", self.0),
        }
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ms", self.0)
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, rhs: Duration) -> Time {
        Time(self.0 + rhs.0)
    }
}

impl Sub<Duration> for Time {
    type Output = Time;
    fn sub(self, rhs: Duration) -> Time {
        Time(self.0.saturating_sub(rhs.0))
    }
}

impl Sub for Time {
    type Output = Duration;
    fn sub(self, rhs: Time) -> Duration {
        Duration(self.0.saturating_sub(rhs.0))
    }
}

/// A closed interval of batch times, as Spark's `Interval` (used by `slice`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    /// First time of the interval.
    pub begin: Time,
    /// Last time of the interval (inclusive).
    pub end: Time,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_spark_does() {
        assert_eq!(Duration::milliseconds(1500).to_string(), "1500 ms");
        assert_eq!(Time::from_millis(1234).to_string(), "1234 ms");
        assert_eq!(Duration::milliseconds(90_000).pretty_print(), "1.5 m");
        assert_eq!(Duration::milliseconds(500).pretty_print(), "500 ms");
        assert_eq!(Duration::seconds(2).pretty_print(), "2 s");
    }

    #[test]
    fn arithmetic_and_multiples() {
        let t = Time::from_millis(10_500);
        assert_eq!(t.floor(Duration::seconds(1)), Time::from_millis(10_000));
        assert_eq!(
            t.floor_from(Duration::seconds(2), Time::from_millis(9_000)),
            Time::from_millis(9_000)
        );
        assert!(Duration::seconds(4).is_multiple_of(Duration::seconds(2)));
        assert!(!Duration::milliseconds(1500).is_multiple_of(Duration::seconds(1)));
        assert!(!Duration::seconds(1).is_multiple_of(Duration::milliseconds(0)));
        assert_eq!(
            Time::from_millis(3000) - Time::from_millis(1000),
            Duration::seconds(2)
        );
        assert_eq!(Duration::seconds(3) / Duration::seconds(2), 1.5);
        let times: Vec<_> = Time::from_millis(0)
            .to(Time::from_millis(2000), Duration::seconds(1))
            .collect();
        assert_eq!(times.len(), 3);
        let times: Vec<_> = Time::from_millis(0)
            .until(Time::from_millis(2000), Duration::seconds(1))
            .collect();
        assert_eq!(times.len(), 2);
    }
}
