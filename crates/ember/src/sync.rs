//! Locks that keep working after a panic: the one way ember recovers a poisoned lock.
//!
//! ember runs user code (map functions, reduce functions, `foreach_rdd` bodies, receivers) on its
//! own threads and catches its panics: a panic fails that batch's jobs and the stream goes on, as
//! Spark's task failures do. A thread that panics while it holds a `Mutex` poisons it, and with
//! `lock().unwrap()` every later batch, stop and `await_termination` that takes the same lock
//! would panic too: one bad record would wedge the whole engine. Poison only says that a holder
//! panicked; ember's locks guard its own bookkeeping (queues, maps, flags, the first error), which
//! a panic in the middle of a batch leaves usable, and the batch itself is already reported as
//! failed. So ember takes the guard and goes on, everywhere, through [`RecoverPoison::recover`].

use std::sync::{LockResult, PoisonError};

/// Takes the guard out of a [`LockResult`] whether or not the lock is poisoned (see the
/// [module](self) for why that is right here). Works for `Mutex::lock`, `RwLock::read`/`write`
/// and `Condvar::wait`/`wait_timeout` alike:
///
/// ```
/// use std::sync::Mutex;
/// use ember::sync::RecoverPoison;
///
/// let counter = Mutex::new(0);
/// let _ = std::panic::catch_unwind(|| {
///     let _guard = counter.lock().recover();
///     panic!("user code panicked while holding the lock");
/// });
/// assert!(counter.is_poisoned());
/// *counter.lock().recover() += 1;
/// assert_eq!(*counter.lock().recover(), 1);
/// ```
pub trait RecoverPoison<G> {
    /// The guard (or the guard and timeout flag of `wait_timeout`), poisoned or not.
    fn recover(self) -> G;
}

impl<G> RecoverPoison<G> for LockResult<G> {
    fn recover(self) -> G {
        self.unwrap_or_else(PoisonError::into_inner)
    }
}
