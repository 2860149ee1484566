//! Committing a batch: *how* a checkpoint is committed, once the driver has decided *when* (as
//! Spark splits it between `CheckpointWriter` and `JobGenerator`).
//!
//! A commit is the last step of the protocol described in [`crate::checkpoint`]: the workers have
//! written their shares of the state while the batch went through; the committer checks that
//! every share is there, writes the commit record `checkpoint-<ms>` and deletes what the kept
//! commits no longer need.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use crate::checkpoint::source::SourceCheckpoint;
use crate::checkpoint::state_files;
use crate::checkpoint::writer::{Attempt, PendingCommit};
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
    /// The workers of this process (whose shares are written before the commit is handed over;
    /// only other processes' shares may still be on their way).
    pub(crate) local: Range<usize>,
}

/// Commits the batches of one run (on the driver).
pub(crate) struct Committer {
    inner: Arc<Inner>,
}

struct Inner {
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
        Committer {
            inner: Arc::new(Inner { ck, graph, sources }),
        }
    }

    /// Commits the starting point of a fresh run at once (the zero time, empty state, the
    /// sources' initial data such as the directory stream's start time), so that a crash before
    /// the first checkpoint time restarts where this run started instead of from scratch, where
    /// the directory stream would ignore the files moved in meanwhile.
    pub(crate) fn commit_start(&self, zero: Time) {
        let inner = &self.inner;
        let empty = Entries::default();
        for node in &inner.graph.stateful {
            if let Err(e) = empty.write(&inner.ck.dir, *node, zero, WriteKind::Full, 0, 1) {
                tracing::error!("the starting point is not checkpointed: {e}");
                return;
            }
        }
        let mut record = inner.record(zero, zero);
        let written = inner
            .add_chains(&mut record)
            .and_then(|()| record.write(&inner.ck.dir));
        if let Err(e) = written {
            tracing::error!("the starting point is not checkpointed: {e}");
        }
    }

    /// Commits batch `time`, which has completed on every worker, each having handed its share
    /// of the state to the checkpoint writer: the commit is handed over after them, with the
    /// sources' data as of this batch. The writer writes the commit record once every share is
    /// on disk, unless a share failed or is missing (then the batch is not committed and the
    /// previous commit stays the one a restart uses), and deletes what no kept commit needs.
    pub(crate) fn commit(&self, time: Time, zero: Time) {
        let record = self.inner.record(time, zero);
        self.inner.ck.submit_commit(Box::new(Pending {
            inner: self.inner.clone(),
            record,
            at: std::time::SystemTime::now(),
            started: std::time::Instant::now(),
        }));
    }
}

impl Inner {
    /// The commit record of batch `time` without its state's write sets: the graph, the
    /// stateful streams and the sources' data as of that batch.
    fn record(&self, time: Time, zero: Time) -> Commit {
        let mut record = Commit::new(time, zero, self.graph.batch, self.graph.shape.clone());
        record.stateful = self.graph.stateful.clone();
        record.partitions = self.graph.partitions.clone();
        record.workers = self.graph.workers;
        for (id, source) in &self.sources {
            if let Some(data) = source.checkpoint(time) {
                record.sources.insert(*id, data);
            }
        }
        record
    }

    /// Lists in `record` the write sets each stateful stream's state is made of.
    fn add_chains(&self, record: &mut Commit) -> crate::error::Result<()> {
        for node in &self.graph.stateful {
            let chain = state_files::chain_at(&self.ck.dir, *node, record.time)?;
            record.chains.insert(*node, chain);
        }
        Ok(())
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

/// A commit handed to the checkpoint writer, waiting for its shares.
struct Pending {
    inner: Arc<Inner>,
    record: Commit,
    /// When the commit was handed over: the checkpoint history reports the commit from then to
    /// its record on disk, the wait for the shares included.
    at: std::time::SystemTime,
    started: std::time::Instant,
}

impl Pending {
    /// One attempt: `None` while shares of other processes are on their way, else the commit
    /// record's bytes or why the batch is not committed.
    fn try_commit(&self) -> Option<Result<u64, String>> {
        let inner = &self.inner;
        let (dir, time) = (&inner.ck.dir, self.record.time);
        if inner.ck.take_failure(time) {
            return Some(Err(
                self.give_up_with("a share of its state was not written")
            ));
        }
        for node in &inner.graph.stateful {
            let missing = state_files::missing_shares(dir, *node, time, inner.graph.workers);
            if missing.iter().any(|w| inner.graph.local.contains(w)) {
                // This process's shares were handed over before the commit: one that is not
                // there was not written (its worker is blocked after a failed write).
                return Some(Err(
                    self.give_up_with(&format!("the state of stream {node} is incomplete"))
                ));
            }
            if !missing.is_empty() {
                return None;
            }
        }
        let started = std::time::Instant::now();
        let mut record = self.record.clone();
        if let Err(e) = inner.add_chains(&mut record) {
            tracing::error!("batch {time} is not checkpointed: {e}");
            inner.ck.note_write_failure();
            return Some(Err(e.to_string()));
        }
        // A share written after an earlier one of its worker failed (the worker learns of the
        // failure late) must not be applied without it: a chain is used whole or not at all.
        for (node, chain) in &record.chains {
            if let Some(set) = chain
                .iter()
                .find(|set| !state_files::is_complete(&set.files))
            {
                return Some(Err(self.give_up_with(&format!(
                    "the state of stream {node} at batch {} misses a share",
                    set.time
                ))));
            }
        }
        if let Err(e) = record.write(dir) {
            tracing::error!("batch {time} is not checkpointed: {e}");
            inner.ck.note_write_failure();
            return Some(Err(e.to_string()));
        }
        let bytes = std::fs::metadata(commit::path(dir, time)).map_or(0, |m| m.len());
        inner.prune();
        tracing::debug!(batch = %time, ms = started.elapsed().as_millis() as u64, "checkpoint committed");
        Some(Ok(bytes))
    }

    /// Logs why the batch is not committed, and gives the reason for the history.
    fn give_up_with(&self, why: &str) -> String {
        tracing::warn!("batch {} is not checkpointed: {why}", self.record.time);
        why.to_owned()
    }

    fn report(&self, outcome: Result<u64, String>) {
        if let Some(history) = self.inner.ck.history() {
            history.commit(
                self.record.time.as_millis(),
                self.at,
                self.started.elapsed(),
                outcome,
            );
        }
    }
}

impl PendingCommit for Pending {
    fn time(&self) -> Time {
        self.record.time
    }

    fn attempt(&mut self) -> Attempt {
        let Some(outcome) = self.try_commit() else {
            return Attempt::Waiting;
        };
        self.report(outcome);
        Attempt::Done
    }

    fn give_up(&mut self, why: &str) {
        let why = self.give_up_with(why);
        self.report(Err(why));
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::checkpoint::{Payload, ShareWriter};

    const NODE: usize = 7;

    fn committer(
        dir: &Path,
        workers: usize,
        local: Range<usize>,
    ) -> (Arc<Checkpointing>, Committer) {
        let ck = Arc::new(Checkpointing::new(
            dir.to_path_buf(),
            Duration::seconds(1),
            Default::default(),
            Default::default(),
        ));
        let graph = GraphRecord {
            batch: Duration::seconds(1),
            shape: GraphShape::default(),
            stateful: vec![NODE],
            partitions: [(NODE, workers)].into(),
            workers,
            local,
        };
        (ck.clone(), Committer::new(ck, graph, Vec::new()))
    }

    /// Worker `w`'s share of batch `ms`, written as the checkpoint writer would.
    fn share(dir: &Path, ms: u64, kind: WriteKind, w: usize, workers: usize) {
        let mut entries = Entries::default();
        entries.push(&format!("key of {w}"), Some(&ms));
        entries
            .write(dir, NODE, Time::from_millis(ms), kind, w, workers)
            .unwrap();
    }

    fn pending(c: &Committer, ms: u64) -> Pending {
        Pending {
            inner: c.inner.clone(),
            record: c.inner.record(Time::from_millis(ms), Time::from_millis(0)),
            at: std::time::SystemTime::now(),
            started: std::time::Instant::now(),
        }
    }

    fn committed(dir: &Path, ms: u64) -> Option<Commit> {
        let path = commit::path(dir, Time::from_millis(ms));
        path.exists().then(|| Commit::read(&path).unwrap())
    }

    #[test]
    fn a_commit_waits_for_the_shares_of_other_processes() {
        let dir = tempfile::tempdir().unwrap();
        // This process runs worker 0 of 2.
        let (_ck, c) = committer(dir.path(), 2, 0..1);
        share(dir.path(), 1000, WriteKind::Full, 0, 2);
        share(dir.path(), 1000, WriteKind::Full, 1, 2);
        share(dir.path(), 2000, WriteKind::Delta, 0, 2);
        let mut commit = pending(&c, 2000);
        // Worker 1's share is on its way: the commit waits, nothing is written.
        assert_eq!(commit.attempt(), Attempt::Waiting);
        assert!(committed(dir.path(), 2000).is_none());
        share(dir.path(), 2000, WriteKind::Delta, 1, 2);
        assert_eq!(commit.attempt(), Attempt::Done);
        let record = committed(dir.path(), 2000).expect("committed");
        let chain: Vec<(u64, WriteKind)> = record.chains[&NODE]
            .iter()
            .map(|set| (set.time.as_millis(), set.kind))
            .collect();
        assert_eq!(chain, [(1000, WriteKind::Full), (2000, WriteKind::Delta)]);
    }

    #[test]
    fn no_commit_misses_a_share_of_its_batch_or_of_a_write_before_it() {
        let dir = tempfile::tempdir().unwrap();
        // Both workers in this process; worker 0's share of batch 2 failed, and it wrote its
        // share of batch 3 before it learned so.
        let (_ck, c) = committer(dir.path(), 2, 0..2);
        share(dir.path(), 1000, WriteKind::Full, 0, 2);
        share(dir.path(), 1000, WriteKind::Full, 1, 2);
        share(dir.path(), 2000, WriteKind::Delta, 1, 2);
        share(dir.path(), 3000, WriteKind::Delta, 0, 2);
        share(dir.path(), 3000, WriteKind::Delta, 1, 2);
        // A share of this process is missing: not committed, and not waited for.
        assert_eq!(pending(&c, 2000).attempt(), Attempt::Done);
        assert!(committed(dir.path(), 2000).is_none());
        // Batch 3's shares are all there, but its chain would apply batch 2's changes half.
        assert_eq!(pending(&c, 3000).attempt(), Attempt::Done);
        assert!(committed(dir.path(), 3000).is_none());
        // The next full write is whole again.
        share(dir.path(), 10_000, WriteKind::Full, 0, 2);
        share(dir.path(), 10_000, WriteKind::Full, 1, 2);
        assert_eq!(pending(&c, 10_000).attempt(), Attempt::Done);
        assert!(committed(dir.path(), 10_000).is_some());
    }

    #[test]
    fn a_share_that_fails_in_the_background_blocks_its_worker_until_the_next_full_write() {
        let dir = tempfile::tempdir().unwrap();
        let (ck, c) = committer(dir.path(), 1, 0..1);
        let mut writer = ShareWriter::new(ck.clone(), NODE, 0, 1);
        let (zero, t) = (Time::from_millis(0), Time::from_millis);
        let payload = || {
            let mut entries = Entries::default();
            entries.push("k", Some(&1u64));
            Payload::Encoded(entries)
        };
        assert_eq!(writer.due(t(1000), zero, false), Some(WriteKind::Full));
        writer.write(t(1000), WriteKind::Full, payload());
        c.commit(t(1000), zero);
        // Batch 2's share cannot be written: a file stands where its directory goes.
        let node = state_files::node_dir(dir.path(), NODE);
        std::fs::create_dir_all(&node).unwrap();
        std::fs::write(node.join("2000-delta"), b"in the way").unwrap();
        assert_eq!(writer.due(t(2000), zero, false), Some(WriteKind::Delta));
        writer.write(t(2000), WriteKind::Delta, payload());
        c.commit(t(2000), zero);
        ck.wait_written();
        assert!(committed(dir.path(), 1000).is_some());
        assert!(committed(dir.path(), 2000).is_none());
        assert_eq!(ck.failures(), 1);
        // The worker learns it at its next write: nothing until the scheduled full write.
        assert_eq!(writer.due(t(3000), zero, false), None);
        assert_eq!(writer.due(t(9000), zero, false), None);
        std::fs::remove_file(node.join("2000-delta")).unwrap();
        assert_eq!(writer.due(t(10_000), zero, false), Some(WriteKind::Full));
        writer.write(t(10_000), WriteKind::Full, payload());
        c.commit(t(10_000), zero);
        ck.wait_written();
        assert!(committed(dir.path(), 10_000).is_some());
        assert_eq!(writer.due(t(11_000), zero, false), Some(WriteKind::Delta));
    }
}
