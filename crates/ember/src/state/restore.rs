//! Restoring a stateful stream's tables from its checkpoint files, before the stream starts.
//!
//! [`StreamingContext::get_or_create`](crate::StreamingContext::get_or_create) reads and verifies
//! the files, then decodes them here into each local worker's tables, with the table types the
//! program declared now. A file that does not decode (the program's key or state type changed
//! since the checkpoint was written) is therefore an error of `get_or_create`, not a failure of
//! a running worker. The files' bytes are dropped once decoded; each worker takes its tables when
//! it builds its dataflow, so the restored state is held once, by the operators.

use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;

use crate::checkpoint::state_files::EntryError;
use crate::checkpoint::{Restored, RestoredShares};
use crate::conf::Master;
use crate::state::table::{Owner, Table, TableError};

/// Why a stream's checkpointed state could not be restored into this program's tables.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RestoreError {
    /// A file's entries are not of the key and state types the program declares now.
    #[error(
        "the state of stream {node} in {} does not fit this program (did its key or state type \
         change?): {cause}",
        path.display()
    )]
    DoesNotFit {
        /// The stream's id.
        node: usize,
        /// The state file.
        path: PathBuf,
        /// Which entry, and why.
        cause: EntryError<TableError>,
    },
    /// Decoding panicked (a `Deserialize` implementation of the program's types).
    #[error("restoring the state of stream {node} panicked: {message}")]
    Panicked {
        /// The stream's id.
        node: usize,
        /// The panic's message.
        message: String,
    },
}

/// Decodes a stream's restored files into its tables for the workers of this process: the
/// stream's [`Declared`](super::Declared) state, with its types erased.
pub(crate) type Restorer = Arc<
    dyn Fn(usize, Restored, &LocalWorkers) -> Result<RestoredShares, RestoreError> + Send + Sync,
>;

/// The workers of this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LocalWorkers {
    /// The index of the first (timely numbers a process's workers consecutively).
    pub(crate) first: usize,
    /// How many there are.
    pub(crate) count: usize,
    /// Workers over all processes.
    pub(crate) total: usize,
}

impl LocalWorkers {
    /// The workers of this process under `master`.
    pub(crate) fn of(master: &Master) -> Self {
        LocalWorkers {
            first: master.process() * master.threads(),
            count: master.threads(),
            total: master.total_workers(),
        }
    }
}

/// Decodes stream `node`'s `restored` files into tables made by `make`, one per local worker,
/// in parallel. When the layout is the writers' (`same_layout`), a worker reads only the files it
/// wrote itself, which hold exactly its keys; otherwise it reads every file and keeps the keys
/// it owns now. Consumes the files' bytes.
pub(crate) fn restore<T: Table>(
    node: usize,
    restored: Restored,
    local: &LocalWorkers,
    make: &(dyn Fn(Owner) -> T + Send + Sync),
) -> Result<RestoredShares, RestoreError> {
    let restored = &restored;
    let one = |worker: usize| {
        let owner = Owner {
            worker,
            workers: local.total,
            checkpointed: true,
        };
        let mut tables = make(owner);
        for file in &restored.files {
            if restored.same_layout && file.writer != Some((worker, local.total)) {
                continue;
            }
            crate::checkpoint::state_files::decode::<T::Key, T::Value, TableError>(
                &file.payload,
                |k, v| tables.restore(k, v),
            )
            .map_err(|cause| RestoreError::DoesNotFit {
                node,
                path: file.path.clone(),
                cause,
            })?;
        }
        tables.finish_restore();
        Ok::<_, RestoreError>(Box::new(tables) as Box<dyn Any + Send>)
    };
    let workers = local.first..local.first + local.count;
    let shares: Vec<Result<Box<dyn Any + Send>, RestoreError>> = if local.count <= 1 {
        workers.map(one).collect()
    } else {
        // One thread per worker, as the workers would decode their own shares.
        std::thread::scope(|s| {
            let handles: Vec<_> = workers.map(|w| s.spawn(move || one(w))).collect();
            handles
                .into_iter()
                .map(|h| match h.join() {
                    Ok(share) => share,
                    Err(panic) => Err(RestoreError::Panicked {
                        node,
                        message: crate::scheduler::runtime::panic_message(panic),
                    }),
                })
                .collect()
        })
    };
    let shares = shares.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(RestoredShares::new(local.first, shares))
}
