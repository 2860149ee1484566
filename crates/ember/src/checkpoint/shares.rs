//! Decoded state handed from a restore to the workers: each worker takes its own tables once,
//! when it builds its dataflow, so the restored state is then held by the operators alone.
//!
//! The tables' types are erased here (`Any`): the checkpoint module holds them for the run
//! without knowing any stream's key or state type, which the `state` module owns.

use crate::sync::RecoverPoison;
use std::any::Any;
use std::sync::Mutex;

/// A stream's restored tables, one per local worker, each taken once by its worker.
pub(crate) struct RestoredShares {
    first: usize,
    shares: Mutex<Vec<Option<Box<dyn Any + Send>>>>,
}

impl RestoredShares {
    /// The tables of the workers of this process, the first of which is worker `first`.
    pub(crate) fn new(first: usize, shares: Vec<Box<dyn Any + Send>>) -> Self {
        RestoredShares {
            first,
            shares: Mutex::new(shares.into_iter().map(Some).collect()),
        }
    }

    /// Takes worker `worker`'s tables (`None` if already taken or not of this process).
    ///
    /// # Panics
    /// If they are not a `T`: the stream's node builds other tables than it declared.
    pub(crate) fn take<T: 'static>(&self, worker: usize) -> Option<T> {
        let share = {
            let mut shares = self.shares.lock().recover();
            shares.get_mut(worker.checked_sub(self.first)?)?.take()?
        };
        let tables = share
            .downcast::<T>()
            .expect("a stateful stream restores the tables it declared");
        Some(*tables)
    }

    /// Whether every worker has taken its tables.
    #[cfg(test)]
    pub(crate) fn all_taken(&self) -> bool {
        let shares = self.shares.lock().recover();
        shares.iter().all(Option::is_none)
    }
}
