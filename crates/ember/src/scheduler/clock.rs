//! Batch clocks: the system clock, and a manual clock that tests advance by hand (Spark's
//! `ManualClock`), so that batch boundaries are deterministic and no test sleeps.

use std::sync::{Arc, Condvar, Mutex};

use crate::sync::RecoverPoison;
use crate::time::{Duration, Time};

/// Source of the current time for the batch timer.
pub trait Clock: Send + Sync + 'static {
    /// The time now.
    fn now(&self) -> Time;
    /// Whether this clock only moves when told to (then the scheduler polls it instead of
    /// sleeping until the next batch time).
    fn is_manual(&self) -> bool {
        false
    }
}

/// Wall-clock time.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Time {
        Time::now()
    }
}

/// A clock that stands still until [`ManualClock::advance`] or [`ManualClock::set`] moves it.
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    inner: Arc<(Mutex<u64>, Condvar)>,
}

impl ManualClock {
    /// A manual clock showing `start`.
    pub fn new(start: Time) -> Self {
        ManualClock {
            inner: Arc::new((Mutex::new(start.as_millis()), Condvar::new())),
        }
    }
    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let (lock, cv) = &*self.inner;
        let mut t = lock.lock().recover();
        *t += d.as_millis();
        cv.notify_all();
    }
    /// Sets the clock to `t` (never backwards).
    pub fn set(&self, t: Time) {
        let (lock, cv) = &*self.inner;
        let mut now = lock.lock().recover();
        *now = (*now).max(t.as_millis());
        cv.notify_all();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Time {
        Time::from_millis(*self.inner.0.lock().recover())
    }
    fn is_manual(&self) -> bool {
        true
    }
}
