//! The status of a streaming context, as the web UI, the REST API and `/metrics` show it.
//!
//! One [`Status`] per [`StreamingContext`](crate::StreamingContext), made with it (so that the
//! restore of a checkpoint in `get_or_create` can already report its progress), fed while it
//! runs and read by the UI server's thread:
//!
//! - `batches`: the batches and receivers, from the listener events (Spark's
//!   `StreamingJobProgressListener`);
//! - `sources`: each input stream's records taken in, for its lag, and its rate limit;
//! - `state_size`: each stateful stream's entries and estimated bytes;
//! - `checkpoints`: the history of the checkpoints written;
//! - `long_work`: the progress of restoring a checkpoint and of catching up missed batches;
//! - `wal_size`: the size of the receivers' write-ahead logs, measured when asked.
//!
//! The engine's reports are cheap by design: atomics per block or per batch, a short lock per
//! batch or per checkpoint, nothing per record; the listener part runs on the listener bus's
//! thread.

mod batches;
mod checkpoints;
mod long_work;
mod sources;
mod state_size;
mod wal_size;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub(crate) use batches::{BatchProgress, BatchRecord, BatchStatus, BatchesView};
pub(crate) use checkpoints::{CheckpointHistory, CheckpointKind};
pub(crate) use long_work::{LongWork, Work};
pub(crate) use sources::{Source, SourceKind, Sources};
pub(crate) use state_size::{StateShare, StateSizes};

use crate::scheduler::clock::Clock;
use crate::sync::RecoverPoison;
use crate::time::Duration;

/// Everything the UI shows about one streaming context.
pub(crate) struct Status {
    /// The batch interval.
    pub(crate) batch: Duration,
    /// `spark.streaming.ui.retainedBatches`.
    pub(crate) retained: usize,
    /// The context's clock (batch times, the uptime).
    pub(crate) clock: Arc<dyn Clock>,
    /// Batches and receivers, fed by the listener events.
    pub(crate) batches: Arc<BatchProgress>,
    /// The input streams.
    pub(crate) sources: Sources,
    /// The stateful streams' sizes.
    pub(crate) state: StateSizes,
    /// The checkpoints written.
    pub(crate) checkpoints: Arc<CheckpointHistory>,
    /// Restoring and catching up.
    pub(crate) work: Arc<LongWork>,
    /// The receivers' write-ahead-log directory, when the log is on.
    wal: Mutex<Option<PathBuf>>,
}

impl Status {
    /// The status of a context with batch interval `batch` on `clock`, keeping `retained`
    /// completed batches and checkpoints.
    pub(crate) fn new(batch: Duration, retained: usize, clock: Arc<dyn Clock>) -> Self {
        let work = Arc::new(LongWork::default());
        Status {
            batch,
            retained,
            clock,
            batches: Arc::new(BatchProgress::new(retained, work.clone())),
            sources: Sources::default(),
            state: StateSizes::default(),
            checkpoints: Arc::new(CheckpointHistory::new(retained)),
            work,
            wal: Mutex::new(None),
        }
    }

    /// The receivers write their write-ahead logs under `dir`.
    pub(crate) fn set_wal_dir(&self, dir: PathBuf) {
        *self.wal.lock().recover() = Some(dir);
    }

    /// Whether the write-ahead log is on, and its bytes on disk (measured now: a listing of
    /// its few segment files, on the caller's thread).
    pub(crate) fn wal(&self) -> (bool, u64) {
        match self.wal.lock().recover().clone() {
            Some(dir) => (true, wal_size::bytes_under(&dir)),
            None => (false, 0),
        }
    }
}
