//! Committing a batch: *how* a checkpoint is committed, once the driver has decided *when* (as
//! Spark splits it between `CheckpointWriter` and `JobGenerator`).
//!
//! A commit is the last step of the protocol described in [`crate::checkpoint`]: the workers have
//! written their shares of the state while the batch went through; the committer checks that
//! every share is there, writes the commit record `checkpoint-<ms>` and deletes what the kept
//! commits no longer need.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::checkpoint::source::SourceCheckpoint;
use crate::checkpoint::state_files;
use crate::checkpoint::{
    Checkpointing, Commit, Entries, GraphShape, KEEP_COMMITS, WriteKind, commit,
};
use crate::time::{Duration, Time};

/// What every commit of a run records about its stream graph.
pub(crate) struct GraphRecord {
    /// The batch interval.
    pub(crate) batch: Duration,
    /// The graph's shape, compared with the program's at restore.
    pub(crate) shape: GraphShape,
    /// Ids of the stateful streams, whose state files each commit names.
    pub(crate) stateful: Vec<usize>,
    /// The stateful streams' partitions, by stream id.
    pub(crate) partitions: BTreeMap<usize, usize>,
    /// Workers over all processes.
    pub(crate) workers: usize,
}

/// Commits the batches of one run (on the driver).
pub(crate) struct Committer {
    ck: Arc<Checkpointing>,
    graph: GraphRecord,
    /// The input sources, by input stream id: their checkpoint data goes into each commit.
    sources: Vec<(usize, Arc<dyn SourceCheckpoint>)>,
}

impl Committer {
    /// A committer writing into `ck`'s directory.
    pub(crate) fn new(
        ck: Arc<Checkpointing>,
        graph: GraphRecord,
        sources: Vec<(usize, Arc<dyn SourceCheckpoint>)>,
    ) -> Self {
        Committer { ck, graph, sources }
    }

    /// The commit record of batch `time`: the graph, the stateful streams with the write sets of
    /// their state, and the sources' data as of that batch.
    fn record(&self, time: Time, zero: Time) -> crate::error::Result<Commit> {
        let mut record = Commit::new(time, zero, self.graph.batch, self.graph.shape.clone());
        record.stateful = self.graph.stateful.clone();
        for node in &self.graph.stateful {
            let chain = state_files::chain_at(&self.ck.dir, *node, time)?;
            record.chains.insert(*node, chain);
        }
        record.partitions = self.graph.partitions.clone();
        record.workers = self.graph.workers;
        for (id, source) in &self.sources {
            if let Some(data) = source.checkpoint(time) {
                record.sources.insert(*id, data);
            }
        }
        Ok(record)
    }

    /// Commits the starting point of a fresh run at once (the zero time, empty state, the
    /// sources' initial data such as the directory stream's start time), so that a crash before
    /// the first checkpoint time restarts where this run started instead of from scratch, where
    /// the directory stream would ignore the files moved in meanwhile.
    pub(crate) fn commit_start(&self, zero: Time) {
        let empty = Entries::default();
        for node in &self.graph.stateful {
            if let Err(e) = empty.write(&self.ck.dir, *node, zero, WriteKind::Full, 0, 1) {
                tracing::error!("the starting point is not checkpointed: {e}");
                return;
            }
        }
        if let Err(e) = self.record(zero, zero).and_then(|r| r.write(&self.ck.dir)) {
            tracing::error!("the starting point is not checkpointed: {e}");
        }
    }

    /// Commits batch `time`, which has completed on every worker: every worker has written its
    /// share of the state, so the commit record can say so, unless a share failed or is missing
    /// (then the batch is not committed and the previous commit stays the one a restart uses).
    /// Then what no kept commit needs is deleted.
    pub(crate) fn commit(&self, time: Time, zero: Time) {
        let (at, started) = (std::time::SystemTime::now(), std::time::Instant::now());
        let outcome = self.try_commit(time, zero);
        if let Some(history) = self.ck.history() {
            history.commit(time.as_millis(), at, started.elapsed(), outcome);
        }
    }

    /// [`commit`](Self::commit): the commit record's bytes, or why the batch is not committed.
    fn try_commit(&self, time: Time, zero: Time) -> Result<u64, String> {
        if self.ck.take_failure(time) {
            tracing::warn!(
                "batch {time} is not checkpointed: a share of its state was not written"
            );
            return Err("a share of its state was not written".into());
        }
        if let Some(node) = self
            .graph
            .stateful
            .iter()
            .find(|n| !state_files::complete_at(&self.ck.dir, **n, time))
        {
            tracing::warn!(
                "batch {time} is not checkpointed: the state of stream {node} is incomplete"
            );
            return Err(format!("the state of stream {node} is incomplete"));
        }
        let started = std::time::Instant::now();
        if let Err(e) = self.record(time, zero).and_then(|r| r.write(&self.ck.dir)) {
            tracing::error!("batch {time} is not checkpointed: {e}");
            self.ck.note_write_failure();
            return Err(e.to_string());
        }
        let bytes = std::fs::metadata(commit::path(&self.ck.dir, time)).map_or(0, |m| m.len());
        self.prune();
        tracing::debug!(batch = %time, ms = started.elapsed().as_millis() as u64, "checkpoint committed");
        Ok(bytes)
    }

    /// Deletes all but the [`KEEP_COMMITS`] newest commits, the state files only they needed, and
    /// tells the sources which batch is now the oldest one kept.
    fn prune(&self) {
        match commit::prune(&self.ck.dir, KEEP_COMMITS) {
            Ok(Some(oldest)) => {
                for node in &self.graph.stateful {
                    state_files::prune(&self.ck.dir, *node, oldest, None);
                }
                for (_, source) in &self.sources {
                    source.committed(oldest);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("old checkpoints not cleaned up: {e}"),
        }
    }
}
