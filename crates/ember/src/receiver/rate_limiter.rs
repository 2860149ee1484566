//! A receiver's rate limit (Spark's receiver `RateLimiter`): `spark.streaming.receiver.maxRate`,
//! and the rate that backpressure sets after every batch.
//!
//! Every record a receiver stores passes here first. While the limit is reached, the storing
//! thread waits: the socket receiver then does not read its socket, so TCP pushes back on the
//! sender; records are delayed, never dropped. A thread that waits while the receiver stops goes
//! on without waiting, and what it stores still reaches the last batch of a graceful stop.
//!
//! It is a token bucket of its own rather than a crate (`governor`, the well-kept one) because:
//! it must read the streaming context's [`Clock`], so that a test's manual clock decides when
//! records may pass; its rate changes after every batch (a governor quota is fixed for the life
//! of a limiter, and replacing the limiter would forget what was already taken); a block of many
//! records must pass as one (governor refuses a request above its burst); and a waiting thread
//! must give up when its receiver stops (governor only waits asynchronously).
//!
//! The bucket holds at most one second of records, as Guava's `RateLimiter` (Spark's) stores at
//! most one second of unused permits, and starts empty when a limit is set. A store of `n`
//! records waits until `min(n, bucket size)` tokens are there and then takes `n`: a block larger
//! than the bucket leaves a debt that the next stores wait out, so the rate holds on average.
//! Time is read in whole milliseconds on the clock; the waits themselves are real time, only
//! pacing how often a waiting thread looks at the clock again.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::block_generator::BLOCK_INTERVAL;
use crate::scheduler::clock::Clock;
use crate::sync::RecoverPoison;
use crate::time::{Duration, Time};

/// The longest a waiting store sleeps before it looks at the clock, the rate and the receiver's
/// state again. Shorter spins more; longer makes a manual clock's moves and stops seen later.
const WAIT_POLL: std::time::Duration = std::time::Duration::from_millis(5);

/// The token bucket.
#[derive(Debug)]
struct Bucket {
    /// Records per second; `None`: no limit.
    rate: Option<f64>,
    /// Records that may pass now; negative after a block larger than the bucket (a debt).
    tokens: f64,
    /// When `tokens` was last brought up to date, on the clock.
    last: Time,
}

impl Bucket {
    /// The most tokens the bucket holds at `rate`: one second of records, at least one.
    fn capacity(rate: f64) -> f64 {
        rate.max(1.0)
    }

    /// Adds the tokens earned since the last update, up to the capacity.
    fn refill(&mut self, now: Time) {
        if let Some(rate) = self.rate
            && now > self.last
        {
            let earned = (now - self.last).as_millis() as f64 * rate / 1000.0;
            self.tokens = (self.tokens + earned).min(Self::capacity(rate));
        }
        self.last = self.last.max(now);
    }

    /// Takes `records` tokens if enough are there (`None`), or says how many milliseconds of
    /// the clock until they are.
    fn take(&mut self, records: u64, now: Time) -> Option<u64> {
        let rate = self.rate?;
        self.refill(now);
        let needed = (records as f64).min(Self::capacity(rate));
        if self.tokens >= needed {
            self.tokens -= records as f64;
            None
        } else {
            Some((((needed - self.tokens) * 1000.0 / rate).ceil() as u64).max(1))
        }
    }
}

/// The rate limit of one receiver, shared by the threads that store and the rate controller
/// that sets it (see the module doc).
pub(crate) struct RateLimiter {
    clock: Arc<dyn Clock>,
    bucket: Mutex<Bucket>,
    /// Whether a rate is set; stores without a limit take no lock.
    limited: AtomicBool,
    /// Records stored since the receiver started (counted once stored, after the limit).
    admitted: AtomicU64,
    /// Threads waiting for the limit right now.
    waiting: AtomicUsize,
    /// When (clock ms + 1) a store last waited for the limit; 0: never.
    last_wait: AtomicU64,
    /// Records that had to wait for the limit, and the clock milliseconds they waited in all.
    waited_records: AtomicU64,
    waited_millis: AtomicU64,
}

impl RateLimiter {
    /// A limiter on `clock` letting `rate` records per second pass (`None`: no limit).
    pub(crate) fn new(clock: Arc<dyn Clock>, rate: Option<f64>) -> Self {
        let now = clock.now();
        let limiter = RateLimiter {
            clock,
            bucket: Mutex::new(Bucket {
                rate: None,
                tokens: 0.0,
                last: now,
            }),
            limited: AtomicBool::new(false),
            admitted: AtomicU64::new(0),
            waiting: AtomicUsize::new(0),
            last_wait: AtomicU64::new(0),
            waited_records: AtomicU64::new(0),
            waited_millis: AtomicU64::new(0),
        };
        limiter.set_rate(rate);
        limiter
    }

    /// Sets the limit to `rate` records per second (`None`, or a rate that is not more than 0:
    /// no limit). Stores that wait see the new rate at once. A limit set where there was none
    /// starts with an empty bucket; a changed limit keeps the tokens earned, up to its bucket.
    pub(crate) fn set_rate(&self, rate: Option<f64>) {
        let rate = rate.filter(|r| *r > 0.0 && r.is_finite());
        let now = self.clock.now();
        let mut bucket = self.bucket.lock().recover();
        bucket.refill(now);
        match (bucket.rate, rate) {
            (None, Some(_)) => bucket.tokens = 0.0,
            (Some(_), Some(new)) => bucket.tokens = bucket.tokens.min(Bucket::capacity(new)),
            (_, None) => bucket.tokens = 0.0,
        }
        bucket.rate = rate;
        self.limited.store(rate.is_some(), Ordering::Release);
    }

    /// The limit, in records per second; `None`: no limit.
    pub(crate) fn rate(&self) -> Option<f64> {
        self.bucket.lock().recover().rate
    }

    /// How many records to store at a time for the limit to spread them evenly: one block
    /// interval's worth at the current rate (at least one); `None` without a limit.
    pub(crate) fn piece(&self) -> Option<usize> {
        if !self.limited.load(Ordering::Acquire) {
            return None;
        }
        let rate = self.rate()?;
        let per_block = rate * BLOCK_INTERVAL.as_millis() as f64 / 1000.0;
        Some((per_block.floor() as usize).max(1))
    }

    /// Waits until `records` records may pass. Gives up waiting (and lets them pass) as soon
    /// as `abandoned` says the receiver is stopping.
    pub(crate) fn acquire(&self, records: u64, abandoned: impl Fn() -> bool) {
        if self.limited.load(Ordering::Acquire) {
            self.wait_for(records, abandoned);
        }
    }

    /// Counts `records` records that passed as stored.
    pub(crate) fn stored(&self, records: u64) {
        self.admitted.fetch_add(records, Ordering::Relaxed);
    }

    fn wait_for(&self, records: u64, abandoned: impl Fn() -> bool) {
        let mut began: Option<Time> = None;
        loop {
            let now = self.clock.now();
            let wait = self.bucket.lock().recover().take(records, now);
            let Some(wait_ms) = wait else { break };
            if abandoned() {
                break;
            }
            if began.is_none() {
                began = Some(now);
                self.waiting.fetch_add(1, Ordering::AcqRel);
                self.waited_records.fetch_add(records, Ordering::Relaxed);
            }
            self.note_wait(now);
            std::thread::sleep(std::time::Duration::from_millis(wait_ms).min(WAIT_POLL));
        }
        if let Some(began) = began {
            let now = self.clock.now();
            self.note_wait(now);
            self.waited_millis
                .fetch_add((now - began).as_millis(), Ordering::Relaxed);
            self.waiting.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn note_wait(&self, now: Time) {
        self.last_wait
            .fetch_max(now.as_millis().saturating_add(1), Ordering::AcqRel);
    }

    /// Records stored so far.
    pub(crate) fn admitted(&self) -> u64 {
        self.admitted.load(Ordering::Relaxed)
    }

    /// Whether a store waits for the limit now or waited within the last `window` of the
    /// clock (its end included: a clock moved on by exactly one batch still shows a store
    /// that waited at the batch before).
    pub(crate) fn throttled_within(&self, window: Duration) -> bool {
        if self.waiting.load(Ordering::Acquire) > 0 {
            return true;
        }
        match self.last_wait.load(Ordering::Acquire) {
            0 => false,
            last => self.clock.now().as_millis() <= (last - 1).saturating_add(window.as_millis()),
        }
    }

    /// Records that had to wait for the limit so far, and the clock milliseconds they waited.
    pub(crate) fn waited(&self) -> (u64, u64) {
        (
            self.waited_records.load(Ordering::Relaxed),
            self.waited_millis.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::clock::ManualClock;
    use std::sync::mpsc;
    use std::thread;

    /// The generous real-time bound of every wait of these tests: reaching it fails the test.
    const WAIT: std::time::Duration = std::time::Duration::from_secs(10);

    fn limiter(rate: Option<f64>) -> (Arc<RateLimiter>, ManualClock) {
        let clock = ManualClock::new(Time::from_millis(10_000));
        let limiter = Arc::new(RateLimiter::new(Arc::new(clock.clone()), rate));
        (limiter, clock)
    }

    fn never() -> bool {
        false
    }

    /// Stores `records` on a thread of its own; the channel says when they passed.
    fn store(limiter: &Arc<RateLimiter>, records: u64) -> mpsc::Receiver<()> {
        let (tx, rx) = mpsc::channel();
        let limiter = Arc::clone(limiter);
        thread::spawn(move || {
            limiter.acquire(records, never);
            limiter.stored(records);
            let _ = tx.send(());
        });
        rx
    }

    /// Waits until a store is blocked on the limit (it registers before sleeping).
    fn until_waiting(limiter: &RateLimiter) {
        let deadline = std::time::Instant::now() + WAIT;
        while limiter.waiting.load(Ordering::Acquire) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the store never waited"
            );
            thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    #[test]
    fn without_a_limit_records_pass_at_once_and_are_counted() {
        let (limiter, _clock) = limiter(None);
        limiter.acquire(5, never);
        limiter.acquire(1_000_000, never);
        limiter.stored(1_000_005);
        assert_eq!(limiter.admitted(), 1_000_005);
        assert_eq!(limiter.rate(), None);
        assert_eq!(limiter.piece(), None);
        assert!(!limiter.throttled_within(Duration::seconds(1)));
    }

    #[test]
    fn records_pass_as_the_clock_earns_them_and_no_faster() {
        let (limiter, clock) = limiter(Some(100.0));
        // The bucket starts empty: a record waits until the clock has earned it (10 ms).
        let passed = store(&limiter, 1);
        until_waiting(&limiter);
        assert!(limiter.throttled_within(Duration::seconds(1)));
        clock.advance(Duration::milliseconds(9));
        assert!(passed.recv_timeout(WAIT / 100).is_err(), "passed early");
        clock.advance(Duration::milliseconds(1));
        passed.recv_timeout(WAIT).expect("the record did not pass");
        // One second of the clock earns 100 records, and the bucket holds no more than that.
        clock.advance(Duration::seconds(5));
        for _ in 0..100 {
            limiter.acquire(1, never);
            limiter.stored(1);
        }
        let next = store(&limiter, 1);
        until_waiting(&limiter);
        clock.advance(Duration::milliseconds(10));
        next.recv_timeout(WAIT).expect("the record did not pass");
        assert_eq!(limiter.admitted(), 102);
        let (records, millis) = limiter.waited();
        assert_eq!(records, 2);
        assert!(millis >= 20, "{millis}");
    }

    #[test]
    fn a_block_larger_than_the_bucket_passes_and_leaves_a_debt() {
        let (limiter, clock) = limiter(Some(10.0));
        clock.advance(Duration::seconds(1));
        // 10 tokens: a block of 25 passes once the bucket is full, leaving a debt of 15.
        limiter.acquire(25, never);
        let next = store(&limiter, 1);
        until_waiting(&limiter);
        // 1.5 s pays the debt, 0.1 s more earns the record.
        clock.advance(Duration::milliseconds(1500));
        assert!(
            next.recv_timeout(WAIT / 100).is_err(),
            "passed during the debt"
        );
        clock.advance(Duration::milliseconds(100));
        next.recv_timeout(WAIT).expect("the record did not pass");
    }

    #[test]
    fn a_new_rate_applies_to_a_waiting_store_and_removing_the_limit_frees_it() {
        let (limiter, clock) = limiter(Some(1.0));
        let passed = store(&limiter, 1);
        until_waiting(&limiter);
        // At 1,000/s, 1 ms earns the record the old rate needed a second for.
        limiter.set_rate(Some(1000.0));
        assert_eq!(limiter.piece(), Some(50), "a block interval of 50 ms");
        clock.advance(Duration::milliseconds(1));
        passed.recv_timeout(WAIT).expect("the record did not pass");
        let blocked = store(&limiter, 5000);
        until_waiting(&limiter);
        limiter.set_rate(None);
        blocked
            .recv_timeout(WAIT)
            .expect("removing the limit did not free the store");
        assert_eq!(limiter.admitted(), 5001);
        // Throttled within the window after the last wait (its end included), then no longer.
        assert!(limiter.throttled_within(Duration::seconds(1)));
        clock.advance(Duration::seconds(1));
        assert!(limiter.throttled_within(Duration::seconds(1)));
        clock.advance(Duration::milliseconds(1));
        assert!(!limiter.throttled_within(Duration::seconds(1)));
    }

    #[test]
    fn a_stopping_receiver_stops_waiting_and_its_records_pass() {
        let (limiter, _clock) = limiter(Some(1.0));
        let stopping = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let (l, s) = (Arc::clone(&limiter), Arc::clone(&stopping));
        thread::spawn(move || {
            l.acquire(3, || s.load(Ordering::SeqCst));
            let _ = tx.send(());
        });
        until_waiting(&limiter);
        stopping.store(true, Ordering::SeqCst);
        rx.recv_timeout(WAIT).expect("the store kept waiting");
    }

    #[test]
    fn zero_negative_and_non_finite_rates_mean_no_limit() {
        for rate in [0.0, -5.0, f64::INFINITY, f64::NAN] {
            let (limiter, _clock) = limiter(Some(rate));
            assert_eq!(limiter.rate(), None, "{rate}");
            limiter.acquire(10, never);
        }
        // A tiny rate still lets one record pass per 1/rate seconds: the bucket holds one.
        let (limiter, clock) = limiter(Some(0.5));
        assert_eq!(limiter.piece(), Some(1));
        clock.advance(Duration::seconds(2));
        limiter.acquire(1, never);
    }
}
