//! Checkpoints: state written as data, not code, and read back by
//! [`StreamingContext::get_or_create`](crate::StreamingContext::get_or_create).
//!
//! Spark serializes the whole stream graph with the user's closures, so a checkpoint breaks as
//! soon as the code changes. ember rebuilds the graph by running the program again and restores
//! only data into it: the state of every stateful stream, the batch clock, the directory
//! sources' lists of processed files and the receivers' write-ahead-log positions. A program
//! whose stream graph has the same shape restores fine, whatever its closures do now.
//!
//! Layout of a checkpoint directory:
//!
//! ```text
//! checkpoint-<ms>                         commit of batch <ms> (the newest two are kept)
//! state/node-<id>/<ms>-full/w<i>-of-<n>   a stateful stream's state, one file per worker
//! state/node-<id>/<ms>-delta/w<i>-of-<n>  the changes since the worker's previous write
//! receivedData/stream-<id>/...            receiver write-ahead log
//! ```
//!
//! The protocol, at every checkpoint time `t` (a multiple of the checkpoint interval since the
//! first batch): each worker, when it finishes batch `t` of a stateful stream, hands its share of
//! that stream's state to the process's checkpoint writer (`writer.rs`) and goes on; the writer
//! writes it (temporary file, fsync, rename). Once batch `t` has completed on every worker, the
//! driver hands the commit of `t` to its writer, after its own workers' shares: the writer writes
//! the commit record `checkpoint-<t>` the same way once every share of every process is on disk,
//! and deletes what no kept commit needs. A commit is never made over a missing share, of its
//! batch or of any write its state chain needs. A crash at any moment leaves the previous commit
//! intact; restoring from it reprocesses the batches after it (files not in its list, logged
//! blocks not in its batches), so nothing is lost and nothing counted twice in the state.

pub(crate) mod commit;
mod committer;
pub(crate) mod framed;
pub(crate) mod shape;
mod shares;
mod source;
pub(crate) mod state_files;
pub(crate) mod wal;
mod writer;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::sync::RecoverPoison;
use crate::time::{Duration, Time};

pub(crate) use commit::Commit;
pub(crate) use committer::{Committer, GraphRecord};
pub(crate) use shape::{GraphShape, ShapeEntry};
pub(crate) use shares::RestoredShares;
pub(crate) use source::SourceCheckpoint;
pub(crate) use state_files::{Entries, Restored, WriteKind};
pub(crate) use writer::Payload;
use writer::{Failures, Share, Writer};

/// A stateful stream writes its whole state at every this many checkpoints, and only its changes
/// in between (so most checkpoints cost the changed state, not the whole of it).
pub(crate) const FULL_EVERY: u64 = 10;

/// Commits kept on disk; the older one is the fallback if the newest is damaged.
pub(crate) const KEEP_COMMITS: usize = 2;

/// What a restarted program restores: the newest commit and the state it names, read, verified
/// and decoded before the stream starts (so a damaged checkpoint, or one whose state no longer
/// fits the program, is reported by `get_or_create`).
pub(crate) struct Recovered {
    pub(crate) commit: Commit,
    /// Per stateful stream: each local worker's restored tables, until the worker takes them.
    pub(crate) state: HashMap<usize, Arc<RestoredShares>>,
}

/// The lock file of a checkpoint directory, held by the driver process of the run that writes
/// into it.
pub(crate) const LOCK_FILE: &str = ".lock";

/// Whether a directory holding entries named `names` is an ember checkpoint directory: the lock
/// file next to commit records (`checkpoint-<ms>`, or one set aside as unusable). A directory
/// stream never reads such a directory as input, whichever program checkpoints into it.
pub(crate) fn is_checkpoint_listing<I>(names: I) -> bool
where
    I: IntoIterator,
    I::Item: AsRef<std::ffi::OsStr>,
{
    let (mut lock, mut commit) = (false, false);
    for name in names {
        let Some(name) = name.as_ref().to_str() else {
            continue;
        };
        lock |= name == LOCK_FILE;
        commit |= name.starts_with(commit::PREFIX);
    }
    lock && commit
}

/// The checkpoint directories whose lock this process holds, by canonical path.
static HELD_LOCKS: Mutex<BTreeMap<PathBuf, std::fs::File>> = Mutex::new(BTreeMap::new());

/// Takes the lock of checkpoint directory `dir` for this process (creating the directory and the
/// lock file), unless it holds it already: an advisory lock of the operating system, which ends
/// with the process, so a crash never leaves it stuck. Fails with [`Error::CheckpointInUse`]
/// while another process holds it. Taken before a restore touches the directory, and kept
/// until the run stops ([`unlock_directory`]).
///
/// [`Error::CheckpointInUse`]: crate::Error::CheckpointInUse
pub(crate) fn lock_directory(dir: &std::path::Path) -> crate::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        crate::Error::io(
            format!("creating checkpoint directory {}", dir.display()),
            e,
        )
    })?;
    let key = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut held = HELD_LOCKS.lock().recover();
    if held.contains_key(&key) {
        return Ok(());
    }
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| crate::Error::io(format!("opening {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => {
            held.insert(key, file);
            Ok(())
        }
        Err(std::fs::TryLockError::WouldBlock) => Err(crate::Error::CheckpointInUse {
            dir: dir.to_path_buf(),
            lock: path,
        }),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(crate::Error::io(format!("locking {}", path.display()), e))
        }
    }
}

/// Gives up this process's lock of checkpoint directory `dir`, if it holds it.
pub(crate) fn unlock_directory(dir: &std::path::Path) {
    let key = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    HELD_LOCKS.lock().recover().remove(&key);
}

/// Checkpointing of one run, shared by the workers of a process.
pub(crate) struct Checkpointing {
    /// The checkpoint directory.
    pub(crate) dir: PathBuf,
    /// Time between checkpoints.
    pub(crate) interval: Duration,
    /// State restored at start, by stateful stream id.
    restored: HashMap<usize, Arc<RestoredShares>>,
    /// Input streams' restored checkpoint data, by input stream id.
    sources: BTreeMap<usize, Vec<u8>>,
    /// What could not be written.
    failures: Arc<Failures>,
    /// The thread that writes shares and commits.
    writer: Writer,
    /// Where the writes are reported, for the web UI (shared with the writer thread).
    history: Arc<std::sync::OnceLock<Arc<dyn WriteReport>>>,
}

/// Where a run's checkpoint writes are reported as they happen (the web UI's checkpoint
/// history implements it; this module knows nothing of the UI). Times are the batch's (ms);
/// `Ok` carries the bytes written, `Err` why nothing was.
pub(crate) trait WriteReport: Send + Sync {
    /// A worker wrote (or failed to write) its share of a stream's state, fully or as changes;
    /// the write started at `started` and took `took`.
    fn share(
        &self,
        batch: u64,
        full: bool,
        started: std::time::SystemTime,
        took: std::time::Duration,
        outcome: Result<u64, String>,
    );
    /// The driver committed the batch (or did not); the commit started at `started` and took
    /// `took`.
    fn commit(
        &self,
        batch: u64,
        started: std::time::SystemTime,
        took: std::time::Duration,
        outcome: Result<u64, String>,
    );
}

impl Checkpointing {
    pub(crate) fn new(
        dir: PathBuf,
        interval: Duration,
        restored: HashMap<usize, Arc<RestoredShares>>,
        sources: BTreeMap<usize, Vec<u8>>,
    ) -> Self {
        let failures = Arc::new(Failures::default());
        let history: Arc<std::sync::OnceLock<Arc<dyn WriteReport>>> = Arc::default();
        Checkpointing {
            writer: Writer::new(dir.clone(), failures.clone(), history.clone()),
            dir,
            interval,
            restored,
            sources,
            failures,
            history,
        }
    }

    /// Reports every share and commit written from now on to `history`.
    pub(crate) fn report_to(&self, history: Arc<dyn WriteReport>) {
        let _ = self.history.set(history);
    }

    /// Where the writes are reported, if anywhere.
    pub(crate) fn history(&self) -> Option<&dyn WriteReport> {
        self.history.get().map(|h| &**h)
    }

    /// Whether batch `time` (of a run with zero time `zero`) is a checkpoint time.
    pub(crate) fn is_checkpoint_time(&self, time: Time, zero: Time) -> bool {
        (time - zero).is_multiple_of(self.interval)
    }

    /// The restored state of stream `node`, if the run was recovered.
    pub(crate) fn restored(&self, node: usize) -> Option<&RestoredShares> {
        self.restored.get(&node).map(|shares| &**shares)
    }

    /// Input stream `stream`'s restored checkpoint data, if the run was recovered.
    pub(crate) fn restored_source(&self, stream: usize) -> Option<&[u8]> {
        self.sources.get(&stream).map(Vec::as_slice)
    }

    /// Whether batch `time` (of a run with zero time `zero`) is checkpointed: a checkpoint time,
    /// or the `last` batch of a graceful stop (so that a restart does not redo what was already
    /// done). The arguments are a batch-clock tick's fields; this module does not depend on the
    /// scheduler, whose run state holds a `Checkpointing`.
    pub(crate) fn is_due(&self, time: Time, zero: Time, last: bool) -> bool {
        last || self.is_checkpoint_time(time, zero)
    }

    /// Gives up the directory's lock (the run has ended), so that another context of this or
    /// another program may use the directory.
    pub(crate) fn release_lock(&self) {
        unlock_directory(&self.dir);
    }

    /// Counts a checkpoint file (a share or a commit record) that could not be written.
    pub(crate) fn note_write_failure(&self) {
        self.failures.file();
    }

    /// Checkpoint files that could not be written, over the run.
    pub(crate) fn failures(&self) -> u64 {
        self.failures.count()
    }

    /// Whether a share of batch `time` failed to be written (forgetting it).
    pub(crate) fn take_failure(&self, time: Time) -> bool {
        self.failures.take(time)
    }

    /// Hands a commit to the checkpoint writer (after the shares handed over before it).
    pub(crate) fn submit_commit(&self, commit: Box<dyn writer::PendingCommit>) {
        self.writer.commit(commit);
    }

    /// Waits until every share and commit handed over so far is written (or given up).
    pub(crate) fn wait_written(&self) {
        self.writer.wait();
    }

    /// Writes what was handed over and ends the writer (the run is over).
    pub(crate) fn finish_writes(&self) {
        self.writer.finish();
    }

    /// Gives up the commits not yet made, and any later one: the run cannot go on (the
    /// cluster failed).
    pub(crate) fn abandon(&self) {
        self.writer.abandon();
    }
}

/// A stateful stream's writer of its worker's shares.
pub(crate) struct ShareWriter {
    ck: Arc<Checkpointing>,
    node: usize,
    worker: usize,
    workers: usize,
    /// Shares handed over since the run started.
    written: u64,
    /// A write failed: write nothing until the next scheduled full write (no batch is committed
    /// in between: the failed share's write set is incomplete).
    blocked: bool,
    /// Set by the checkpoint writer when a share of this worker could not be written.
    failed: Arc<AtomicBool>,
}

impl ShareWriter {
    pub(crate) fn new(ck: Arc<Checkpointing>, node: usize, worker: usize, workers: usize) -> Self {
        ShareWriter {
            ck,
            node,
            worker,
            workers,
            written: 0,
            blocked: false,
            failed: Arc::default(),
        }
    }

    /// What to write at batch `time` (zero time `zero`, `last` of a graceful stop: a tick's
    /// fields), if it is checkpointed: a full write at the first checkpoint of a run and at every
    /// [`FULL_EVERY`]th checkpoint time since the stream's first batch (the same schedule on
    /// every worker), changes otherwise.
    pub(crate) fn due(&mut self, time: Time, zero: Time, last: bool) -> Option<WriteKind> {
        if self.failed.swap(false, Ordering::SeqCst) {
            self.blocked = true;
        }
        if !self.ck.is_due(time, zero, last) {
            return None;
        }
        let nth = (time - zero).as_millis() / self.ck.interval.as_millis().max(1);
        let scheduled = self.ck.is_checkpoint_time(time, zero);
        if scheduled && nth.is_multiple_of(FULL_EVERY) {
            Some(WriteKind::Full)
        } else if self.blocked {
            None
        } else if self.written == 0 {
            Some(WriteKind::Full)
        } else {
            Some(WriteKind::Delta)
        }
    }

    /// Hands this worker's share of batch `time` to the checkpoint writer. A failure to write it
    /// is logged there, keeps the batch from being committed and blocks this worker's writes
    /// until the next scheduled full write ([`due`](Self::due)).
    pub(crate) fn write(&mut self, time: Time, kind: WriteKind, payload: Payload) {
        self.written += 1;
        self.blocked = false;
        self.ck.writer.share(Share {
            node: self.node,
            time,
            kind,
            worker: self.worker,
            workers: self.workers,
            payload,
            failed: self.failed.clone(),
        });
    }
}
