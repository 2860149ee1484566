//! Helpers shared by ember's integration tests: short constructors, a [`Log`] that outputs and
//! listeners append to from the engine's threads, a bounded poll ([`wait_until`]), and the
//! reading of a run's results ([`batch_times`], [`reported_error`]), a bounded accept
//! ([`accept_within`]); and what a test measures
//! outside the engine ([`measure`]).
//!
//! Each test binary compiles this module on its own and uses only part of it.

#![allow(dead_code)]

pub mod measure;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration as StdDuration, Instant};

use ember::testing::{Collected, StreamTest};
use ember::{Duration, Error};

/// One second, the batch interval of most tests.
pub fn sec() -> Duration {
    Duration::seconds(1)
}

/// An owned string, for building test data.
pub fn s(x: &str) -> String {
    x.to_owned()
}

/// A list that the engine's threads (outputs, listeners) append to and the test reads. Clones
/// share the list.
pub struct Log<T>(Arc<Mutex<Vec<T>>>);

impl<T> Clone for Log<T> {
    fn clone(&self) -> Self {
        Log(Arc::clone(&self.0))
    }
}

// Not derived: a derived `Default` would ask `T: Default`, which the entries need not be.
impl<T> Default for Log<T> {
    fn default() -> Self {
        Log(Arc::default())
    }
}

impl<T> Log<T> {
    /// Appends one entry.
    pub fn push(&self, entry: T) {
        self.0.lock().unwrap().push(entry);
    }

    /// How many entries there are so far.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Whether nothing was appended yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of the entries so far.
    pub fn entries(&self) -> Vec<T>
    where
        T: Clone,
    {
        self.0.lock().unwrap().clone()
    }
}

/// Polls `condition` every few milliseconds until it holds or `within` passes; returns whether
/// it held.
pub fn wait_until(within: StdDuration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(StdDuration::from_millis(5));
    }
}

/// The first connection to `listener` within `within` (a non-blocking accept polled until the
/// deadline, so that a receiver that never connects fails the test instead of hanging it), as a
/// blocking stream.
pub fn accept_within(listener: &std::net::TcpListener, within: StdDuration) -> std::net::TcpStream {
    listener.set_nonblocking(true).unwrap();
    let mut accepted = None;
    assert!(
        wait_until(within, || {
            accepted = listener.accept().ok().map(|(c, _)| c);
            accepted.is_some()
        }),
        "no connection to {:?} within {within:?}",
        listener.local_addr()
    );
    let stream = accepted.unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
}

/// The time (ms) of every batch `collected` holds.
pub fn batch_times<T: Clone>(collected: &Collected<T>) -> Vec<u64> {
    collected
        .batches_with_time()
        .iter()
        .map(|(time, _)| time.as_millis())
        .collect()
}

/// The error a failed job left on `t`'s context, asked for without waiting.
pub fn reported_error(t: &StreamTest) -> Error {
    t.context()
        .await_termination_or_timeout(StdDuration::ZERO)
        .unwrap_err()
}

/// How long a call that must return (a stop, a bounded wait) may block before the test calls it
/// a hang. Not a speed claim: it only bounds the test's run time, so it is far above what any
/// loaded machine needs.
pub const HANG_GUARD: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs `f` on its own thread and returns its result, failing the test (instead of hanging it)
/// if `f` has not returned within [`HANG_GUARD`]; `what` names the call in the failure.
pub fn returns<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(HANG_GUARD)
        .unwrap_or_else(|_| panic!("{what} did not return within {HANG_GUARD:?}: a hang"))
}
