//! A receiver's lifecycle state (Spark's `ReceiverState`): initialized, started, stopped.
//!
//! The state is read on every store that has to wait and in every receiving loop
//! (`is_stopped`), from any thread, so it lives in an atomic cell rather than behind a lock.

use std::sync::atomic::{AtomicU8, Ordering};

/// Where a receiver is in its life. A restart goes `Started` -> `Stopped` -> `Started`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum ReceiverState {
    /// Launched; `on_start` not called yet.
    Initialized = 0,
    /// `on_start` was called and no stop began since.
    Started = 1,
    /// `on_stop` was called (or is being called), for a restart or for good.
    Stopped = 2,
}

impl ReceiverState {
    fn from_u8(value: u8) -> Self {
        match value {
            0 => ReceiverState::Initialized,
            1 => ReceiverState::Started,
            // Only the three discriminants above are ever stored.
            _ => ReceiverState::Stopped,
        }
    }
}

/// A [`ReceiverState`] shared between the supervisor thread, the contexts and the handle.
#[derive(Debug)]
pub(crate) struct AtomicReceiverState(AtomicU8);

impl AtomicReceiverState {
    /// A cell holding `state`.
    pub(crate) fn new(state: ReceiverState) -> Self {
        AtomicReceiverState(AtomicU8::new(state as u8))
    }

    /// The current state.
    pub(crate) fn load(&self) -> ReceiverState {
        ReceiverState::from_u8(self.0.load(Ordering::Acquire))
    }

    /// Sets the state.
    pub(crate) fn store(&self, state: ReceiverState) {
        self.0.store(state as u8, Ordering::Release);
    }

    /// Sets the state; the state it replaced.
    pub(crate) fn swap(&self, state: ReceiverState) -> ReceiverState {
        ReceiverState::from_u8(self.0.swap(state as u8, Ordering::AcqRel))
    }

    /// Whether the state is [`ReceiverState::Started`].
    pub(crate) fn is_started(&self) -> bool {
        self.load() == ReceiverState::Started
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_round_trips_through_the_cell() {
        let cell = AtomicReceiverState::new(ReceiverState::Initialized);
        assert_eq!(cell.load(), ReceiverState::Initialized);
        assert!(!cell.is_started());
        cell.store(ReceiverState::Started);
        assert!(cell.is_started());
        assert_eq!(cell.swap(ReceiverState::Stopped), ReceiverState::Started);
        assert_eq!(cell.load(), ReceiverState::Stopped);
        assert_eq!(cell.swap(ReceiverState::Stopped), ReceiverState::Stopped);
    }
}
