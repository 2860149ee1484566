//! The checkpoint writer: one thread per process that writes the workers' shares of the state and
//! the driver's commit records, in the order they are handed over, so that no worker waits for a
//! disk, whatever the size of its state.
//!
//! The protocol of [`crate::checkpoint`] holds as before, with the disk work moved here:
//!
//! - a worker hands over its share of batch `t` when it finishes `t`, and goes on; a full write
//!   may hand over a snapshot of the table that this thread encodes (copy on write), so the
//!   worker does not even encode the whole state;
//! - the driver hands over the commit of `t` once `t` has completed on every worker, so after
//!   every share of `t` from this process: the shares are written first;
//! - shares of other processes appear in the directory once they are durable (each is written to
//!   a temporary name, fsynced and renamed); the commit waits for them, and is given up for a
//!   later one when a later commit is handed over first, when the run is abandoned (the cluster
//!   failed) or, at the end of the run, after [`END_WAIT`];
//! - a share that cannot be written marks its worker's writer as failed, and the worker writes
//!   nothing until its next scheduled full write (as when writes were synchronous). Because the
//!   worker learns it later, it may have written later deltas meanwhile: the committer refuses
//!   any commit whose state chain has a write set missing a share, so a commit is still whole or
//!   not made at all.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

use crate::checkpoint::state_files::Entries;
use crate::checkpoint::{WriteKind, WriteReport, framed};
use crate::sync::RecoverPoison;
use crate::time::Time;

/// How often a commit that waits for other processes' shares looks for them.
const POLL: Duration = Duration::from_millis(5);

/// At the end of a run, how long a commit waits for other processes' shares (they write theirs
/// before their own run ends, unless they are gone, which abandons the run anyway).
pub(crate) const END_WAIT: Duration = Duration::from_secs(60);

/// A share's entries: encoded by the worker, or encoded here from a table's snapshot.
pub(crate) enum Payload {
    Encoded(Entries),
    Deferred(Box<dyn FnOnce(&mut Entries) + Send>),
}

/// One worker's share of a stateful stream's state at one batch.
pub(crate) struct Share {
    pub(crate) node: usize,
    pub(crate) time: Time,
    pub(crate) kind: WriteKind,
    pub(crate) worker: usize,
    pub(crate) workers: usize,
    pub(crate) payload: Payload,
    /// Set if the write fails (the worker reads it before its next write).
    pub(crate) failed: Arc<AtomicBool>,
}

/// Whether a commit was made (or given up for good), or waits for shares of other processes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Attempt {
    Done,
    Waiting,
}

/// A commit handed to the writer: tried when its turn comes, and again while it waits.
pub(crate) trait PendingCommit: Send {
    /// The committed batch.
    fn time(&self) -> Time;
    /// Commits if every share is there.
    fn attempt(&mut self) -> Attempt;
    /// The commit is given up (`why`), e.g. for a later one.
    fn give_up(&mut self, why: &str);
}

enum Job {
    Share(Share),
    Commit(Box<dyn PendingCommit>),
    /// Answered once every job before it is done (a waiting commit resolved or given up).
    Flush(Sender<()>),
}

/// The checkpoint files of a run that could not be written.
#[derive(Default)]
pub(crate) struct Failures {
    /// Batches at which a share could not be written: they are not committed.
    batches: Mutex<BTreeSet<u64>>,
    /// Shares and commit records that could not be written, over the run.
    count: AtomicU64,
}

impl Failures {
    /// A share of batch `time` could not be written.
    pub(crate) fn share(&self, time: Time) {
        self.batches.lock().recover().insert(time.as_millis());
        self.file();
    }

    /// A checkpoint file could not be written.
    pub(crate) fn file(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Files that could not be written, over the run.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Whether a share of batch `time` failed (forgetting it).
    pub(crate) fn take(&self, time: Time) -> bool {
        self.batches.lock().recover().remove(&time.as_millis())
    }
}

/// Where a run's checkpoint writes are reported, once something watches them.
pub(crate) type History = Arc<std::sync::OnceLock<Arc<dyn WriteReport>>>;

/// The writer thread of one run's checkpoint directory, started at the first job.
pub(crate) struct Writer {
    dir: PathBuf,
    failures: Arc<Failures>,
    /// Where the shares written are reported (set once the web UI watches the run).
    history: History,
    queue: Mutex<Option<(Sender<Job>, JoinHandle<()>)>>,
    /// The run was abandoned: waiting commits are given up, new ones not tried.
    abandoned: Arc<AtomicBool>,
}

impl Writer {
    /// A writer into `dir`, noting failures in `failures` and reporting shares to `history`.
    pub(crate) fn new(dir: PathBuf, failures: Arc<Failures>, history: History) -> Self {
        Writer {
            dir,
            failures,
            history,
            queue: Mutex::new(None),
            abandoned: Arc::default(),
        }
    }

    fn send(&self, job: Job) {
        let mut queue = self.queue.lock().recover();
        if queue.is_none() {
            let (tx, rx) = mpsc::channel();
            let (dir, failures) = (self.dir.clone(), self.failures.clone());
            let (abandoned, history) = (self.abandoned.clone(), self.history.clone());
            let thread = std::thread::Builder::new()
                .name("ember-checkpoint-writer".into())
                .spawn(move || run(rx, &dir, &failures, &history, &abandoned))
                .expect("the checkpoint writer thread starts");
            *queue = Some((tx, thread));
        }
        let (tx, _) = queue.as_ref().expect("started above");
        // The thread ends only when the sender is dropped (`finish`), so this cannot fail
        // unless the thread panicked; the job is then lost, and counted.
        if tx.send(job).is_err() {
            tracing::error!("the checkpoint writer has stopped: a checkpoint write is lost");
            self.failures.file();
        }
    }

    /// Hands over a share.
    pub(crate) fn share(&self, share: Share) {
        self.send(Job::Share(share));
    }

    /// Hands over a commit.
    pub(crate) fn commit(&self, commit: Box<dyn PendingCommit>) {
        if self.abandoned.load(Ordering::SeqCst) {
            return;
        }
        self.send(Job::Commit(commit));
    }

    /// Waits until everything handed over so far is written (and committed, or given up).
    pub(crate) fn wait(&self) {
        let (tx, rx) = mpsc::channel();
        {
            let queue = self.queue.lock().recover();
            let Some((jobs, _)) = queue.as_ref() else {
                return;
            };
            if jobs.send(Job::Flush(tx)).is_err() {
                return;
            }
        }
        let _ = rx.recv();
    }

    /// Gives up waiting commits and any later one (the run cannot go on).
    pub(crate) fn abandon(&self) {
        self.abandoned.store(true, Ordering::SeqCst);
    }

    /// Writes everything handed over and ends the thread.
    pub(crate) fn finish(&self) {
        let taken = self.queue.lock().recover().take();
        if let Some((jobs, thread)) = taken {
            drop(jobs);
            if thread.join().is_err() {
                tracing::error!("the checkpoint writer panicked");
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The writer thread: jobs in order; at most one commit waiting at a time.
fn run(
    jobs: Receiver<Job>,
    dir: &std::path::Path,
    failures: &Failures,
    history: &History,
    abandoned: &AtomicBool,
) {
    let mut waiting: Option<Box<dyn PendingCommit>> = None;
    loop {
        let job = if waiting.is_some() {
            match jobs.recv_timeout(POLL) {
                Ok(job) => Some(job),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match jobs.recv() {
                Ok(job) => Some(job),
                Err(_) => break,
            }
        };
        match job {
            Some(Job::Share(share)) => write_share(dir, failures, history, share),
            Some(Job::Commit(commit)) => {
                if let Some(mut older) = waiting.take() {
                    older.give_up(&format!(
                        "the state of another process was not written before batch {} completed",
                        commit.time()
                    ));
                }
                waiting = Some(commit);
            }
            Some(Job::Flush(done)) => {
                if let Some(commit) = waiting.take() {
                    settle(commit, abandoned, Instant::now() + END_WAIT);
                }
                let _ = done.send(());
                continue;
            }
            None => {}
        }
        if abandoned.load(Ordering::SeqCst) {
            if let Some(mut commit) = waiting.take() {
                commit.give_up("the run was abandoned");
            }
        } else if let Some(commit) = &mut waiting
            && commit.attempt() == Attempt::Done
        {
            waiting = None;
        }
    }
    // The run is over: a commit still waiting gets its last chance.
    if let Some(commit) = waiting.take() {
        settle(commit, abandoned, Instant::now() + END_WAIT);
    }
}

/// Tries `commit` until it is done, the run is abandoned or `deadline` passes.
fn settle(mut commit: Box<dyn PendingCommit>, abandoned: &AtomicBool, deadline: Instant) {
    loop {
        if abandoned.load(Ordering::SeqCst) {
            commit.give_up("the run was abandoned");
            return;
        }
        if commit.attempt() == Attempt::Done {
            return;
        }
        if Instant::now() >= deadline {
            commit.give_up("the state of another process did not come in time");
            return;
        }
        std::thread::sleep(POLL);
    }
}

/// Encodes (if it was deferred) and writes one share.
fn write_share(dir: &std::path::Path, failures: &Failures, history: &History, share: Share) {
    let (at, started) = (std::time::SystemTime::now(), Instant::now());
    let entries = match share.payload {
        Payload::Encoded(entries) => entries,
        Payload::Deferred(encode) => {
            let mut entries = Entries::default();
            encode(&mut entries);
            entries
        }
    };
    let written = entries.write(
        dir,
        share.node,
        share.time,
        share.kind,
        share.worker,
        share.workers,
    );
    if let Some(history) = history.get() {
        history.share(
            share.time.as_millis(),
            share.kind == WriteKind::Full,
            at,
            started.elapsed(),
            match &written {
                Ok(()) => Ok(framed::file_len(entries.encoded_len())),
                Err(e) => Err(e.to_string()),
            },
        );
    }
    match written {
        Ok(()) => tracing::debug!(
            node = share.node,
            batch = %share.time,
            kind = ?share.kind,
            entries = entries.len(),
            ms = started.elapsed().as_millis() as u64,
            "state share written"
        ),
        Err(e) => {
            tracing::error!("checkpoint of batch {} not written: {e}", share.time);
            share.failed.store(true, Ordering::SeqCst);
            failures.share(share.time);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A commit that waits until `ready` is set, logging what happens to it.
    struct Fake {
        time: Time,
        ready: Arc<AtomicBool>,
        log: Arc<Mutex<Vec<String>>>,
    }

    impl PendingCommit for Fake {
        fn time(&self) -> Time {
            self.time
        }

        fn attempt(&mut self) -> Attempt {
            if self.ready.load(Ordering::SeqCst) {
                self.log
                    .lock()
                    .unwrap()
                    .push(format!("{} done", self.time.as_millis()));
                Attempt::Done
            } else {
                Attempt::Waiting
            }
        }

        fn give_up(&mut self, _why: &str) {
            self.log
                .lock()
                .unwrap()
                .push(format!("{} given up", self.time.as_millis()));
        }
    }

    fn fake(ms: u64, log: &Arc<Mutex<Vec<String>>>) -> (Box<Fake>, Arc<AtomicBool>) {
        let ready = Arc::new(AtomicBool::new(false));
        let commit = Fake {
            time: Time::from_millis(ms),
            ready: ready.clone(),
            log: log.clone(),
        };
        (Box::new(commit), ready)
    }

    #[test]
    fn a_waiting_commit_is_given_up_for_a_later_one_and_settled_by_a_wait() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Writer::new(dir.path().to_path_buf(), Arc::default(), Arc::default());
        let log = Arc::new(Mutex::new(Vec::new()));
        let (first, _never) = fake(1000, &log);
        let (second, ready) = fake(2000, &log);
        writer.commit(first);
        writer.commit(second);
        // The later commit's shares come; a wait returns once it is made.
        ready.store(true, Ordering::SeqCst);
        writer.wait();
        assert_eq!(*log.lock().unwrap(), ["1000 given up", "2000 done"]);
        // Abandoned, a waiting commit is given up and later ones are not tried.
        let (third, _never) = fake(3000, &log);
        writer.commit(third);
        writer.abandon();
        writer.wait();
        let (fourth, ready) = fake(4000, &log);
        ready.store(true, Ordering::SeqCst);
        writer.commit(fourth);
        writer.finish();
        assert_eq!(
            *log.lock().unwrap(),
            ["1000 given up", "2000 done", "3000 given up"]
        );
    }

    #[test]
    fn shares_are_written_in_order_and_a_failure_is_reported_to_its_worker() {
        let dir = tempfile::tempdir().unwrap();
        let failures = Arc::new(Failures::default());
        let writer = Writer::new(dir.path().to_path_buf(), failures.clone(), Arc::default());
        let share = |ms: u64, payload: Payload, failed: &Arc<AtomicBool>| Share {
            node: 1,
            time: Time::from_millis(ms),
            kind: WriteKind::Full,
            worker: 0,
            workers: 1,
            payload,
            failed: failed.clone(),
        };
        let failed = Arc::new(AtomicBool::new(false));
        // Encoded here from a snapshot.
        writer.share(share(
            1000,
            Payload::Deferred(Box::new(|entries: &mut Entries| {
                entries.push("k", Some(&1u64))
            })),
            &failed,
        ));
        // A file where batch 2's directory goes.
        let node = crate::checkpoint::state_files::node_dir(dir.path(), 1);
        writer.wait();
        std::fs::write(node.join("2000-full"), b"").unwrap();
        writer.share(share(2000, Payload::Encoded(Entries::default()), &failed));
        writer.wait();
        assert!(node.join("1000-full/w0-of-1").is_file());
        assert!(failed.load(Ordering::SeqCst));
        assert_eq!(failures.count(), 1);
        assert!(failures.take(Time::from_millis(2000)));
        assert!(!failures.take(Time::from_millis(2000)));
    }
}
