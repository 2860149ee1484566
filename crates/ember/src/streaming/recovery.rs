//! Recovery from a checkpoint (Spark's `StreamingContext.getOrCreate`), and the checkpointing
//! of a run.
//!
//! ember checkpoints data, not code: the program's `create` always runs and builds the graph,
//! then the newest commit of the checkpoint directory is checked against that graph (batch
//! interval, shape, stateful streams) and its state files are read and verified, all before
//! `start`, so that a checkpoint that does not fit or cannot be read is an error of
//! `get_or_create`. The workers receive what was read when the run starts.

use std::path::Path;
use std::sync::Arc;

use crate::checkpoint::{self, Checkpointing, Recovered};
use crate::error::{Error, Result};
use crate::status::Work;
use crate::streaming::context::StreamingContext;
use crate::sync::RecoverPoison;
use crate::time::Time;

/// Renames a commit record that cannot be used, so that it never counts as the newest again (it
/// stays for inspection).
fn set_aside(path: &Path) {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".unusable");
    if let Err(e) = std::fs::rename(path, &aside) {
        tracing::warn!(
            "could not set aside unusable checkpoint {}: {e}",
            path.display()
        );
    }
}

impl StreamingContext {
    /// Recovers a context from the checkpoint in `directory`, or creates one (Spark's
    /// `StreamingContext.getOrCreate`).
    ///
    /// Spark deserializes the stream graph, closures included, from the checkpoint, so any code
    /// change breaks recovery. ember checkpoints data only: `create` always runs and builds the
    /// graph from today's code, and the newest checkpoint's data is restored into it — the state
    /// of every stateful stream (re-partitioned if the number of workers changed), the batch
    /// clock (batches due while the program was down run first, as in Spark), the directory
    /// streams' lists of processed files and the receivers' write-ahead logs. Code that keeps the
    /// stream graph's shape (the same operations in the same order) restores fine; a different
    /// shape, or a checkpoint that cannot be read, is an error naming the directory and the
    /// problem. Without a checkpoint, the context `create` made is returned; its checkpoint
    /// directory is set to `directory` if `create` did not set one (as PySpark does).
    ///
    /// `create` may fail with the program's own error type: any type that ember's [`Error`]
    /// converts into (`Box<dyn std::error::Error>`, `anyhow::Error`, an enum of the program's
    /// own), which is also the type of the errors returned.
    ///
    /// # Examples
    ///
    /// A first run counts words and checkpoints; the restarted program builds the same graph
    /// and carries on with the counts:
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use ember::scheduler::ManualClock;
    /// use ember::testing::StreamTest;
    /// use ember::{Conf, Context, Duration, RddQueue, StreamingContext, Time};
    ///
    /// fn running_count(new: &[u64], total: Option<u64>) -> Option<u64> {
    ///     Some(new.iter().sum::<u64>() + total.unwrap_or(0))
    /// }
    ///
    /// let dir = tempfile::tempdir()?;
    /// {
    ///     // The first run: two batches, with a checkpoint at each.
    ///     let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    ///     t.context().checkpoint(dir.path())?;
    ///     let word = vec![("a".to_string(), 1u64)];
    ///     let counts = t.input(vec![word.clone(), word]).update_state_by_key(running_count, None);
    ///     counts.checkpoint(Duration::seconds(1))?;
    ///     t.collect(&counts)?;
    ///     t.run(2)?;
    /// }
    ///
    /// # let _turn = ember::testing::exclusive();
    /// // The restarted program.
    /// let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// let clock = ManualClock::new(Time::from_millis(2000));
    /// let queue = RddQueue::new();
    /// let totals = Arc::new(Mutex::new(Vec::new()));
    /// let create = || -> Result<StreamingContext, Box<dyn std::error::Error>> {
    ///     let ssc = StreamingContext::with_clock(&sc, Duration::seconds(1), Arc::new(clock.clone()))?;
    ///     let counts = ssc
    ///         .queue_stream(queue.clone(), true, None)
    ///         .update_state_by_key(running_count, None);
    ///     counts.checkpoint(Duration::seconds(1))?;
    ///     let sink = totals.clone();
    ///     counts.foreach_rdd(move |rdd, _time| *sink.lock().unwrap() = rdd.collect())?;
    ///     Ok(ssc)
    /// };
    /// let ssc = StreamingContext::get_or_create(dir.path(), create)?;
    /// assert_eq!(ssc.restored_from(), Some(Time::from_millis(2000)));
    ///
    /// queue.push(sc.parallelize(vec![("a".to_string(), 1u64)], 1));
    /// ssc.start()?;
    /// clock.set(Time::from_millis(3000));
    /// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    /// while totals.lock().unwrap().is_empty() {
    ///     assert!(std::time::Instant::now() < deadline, "batch 3000 did not complete");
    ///     std::thread::sleep(std::time::Duration::from_millis(5));
    /// }
    /// ssc.stop(false, false)?;
    /// assert_eq!(*totals.lock().unwrap(), [("a".to_string(), 3)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_or_create<E>(
        directory: impl AsRef<Path>,
        create: impl FnOnce() -> std::result::Result<StreamingContext, E>,
    ) -> std::result::Result<StreamingContext, E>
    where
        E: From<Error>,
    {
        Self::get_or_create_with(directory, create, false)
    }

    /// [`get_or_create`](Self::get_or_create), starting from scratch (with a warning) instead of
    /// failing when the checkpoint cannot be read, if `create_on_error` is set.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::{Conf, Context, Duration, StreamingContext};
    ///
    /// # let _turn = ember::testing::exclusive();
    /// let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("checkpoint-1000"), b"damaged").unwrap();
    ///
    /// let create = || StreamingContext::new(&sc, Duration::seconds(1));
    /// assert!(StreamingContext::get_or_create(dir.path(), create).is_err());
    /// let ssc = StreamingContext::get_or_create_with(dir.path(), create, true)?;
    /// assert_eq!(ssc.restored_from(), None);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn get_or_create_with<E>(
        directory: impl AsRef<Path>,
        create: impl FnOnce() -> std::result::Result<StreamingContext, E>,
        create_on_error: bool,
    ) -> std::result::Result<StreamingContext, E>
    where
        E: From<Error>,
    {
        let ssc = create()?;
        ssc.restore_from(directory.as_ref(), create_on_error)?;
        Ok(ssc)
    }

    /// Restores the newest usable checkpoint in `dir` into this context's graph (the second
    /// half of `get_or_create`); the batch time it was committed at, if there was one. Sets the
    /// context's checkpoint directory to `dir` if none is set.
    ///
    /// A commit is used whole or not at all: its state (every file of the write sets it lists),
    /// its directory listings and its log positions together. A commit that cannot be read whole
    /// is skipped for the older one, with a warning naming what is missing, and renamed
    /// `checkpoint-<ms>.unusable` so that it is never mistaken for the newest again; with no
    /// usable commit the restore fails naming every problem, unless `create_on_error` is set. A
    /// checkpoint that does not fit this program (another graph) fails at once: an older commit
    /// of the same program would not fit either.
    pub(crate) fn restore_from(&self, dir: &Path, create_on_error: bool) -> Result<Option<Time>> {
        if self.checkpoint_dir().is_none() {
            self.checkpoint(dir)?;
        }
        let give_up = |e: Error| {
            if create_on_error {
                tracing::warn!("{e}; starting without it (create_on_error)");
                Ok(None)
            } else {
                Err(e)
            }
        };
        // Before anything is read or pruned: another program may be writing this directory.
        if self.inner.ctx.master().process() == 0 {
            checkpoint::lock_directory(dir)?;
        }
        let commits = match checkpoint::commit::list(dir) {
            Ok(c) => c,
            Err(e) => return give_up(e),
        };
        if commits.is_empty() {
            return Ok(None);
        }
        // A restore of a large state takes a while: the UI shows its progress from now on.
        self.start_ui()?;
        let mut problems: Vec<(std::path::PathBuf, String)> = Vec::new();
        for (_, path) in &commits {
            let commit = match checkpoint::Commit::read(path) {
                Ok(c) => c,
                Err(e) => {
                    problems.push((path.clone(), e.to_string()));
                    continue;
                }
            };
            if let Err(e) = self.check_fits(dir, &commit) {
                return give_up(e);
            }
            match self.read_state(dir, commit) {
                Ok(r) => {
                    // In a cluster every process reads the directory and the driver alone,
                    // which holds its lock, changes it: two processes deleting the same files
                    // would trip over each other.
                    let owner = self.inner.ctx.master().process() == 0;
                    for (skipped, problem) in &problems {
                        tracing::warn!(
                            "skipping unusable checkpoint {}: {problem}",
                            skipped.display()
                        );
                        if owner {
                            set_aside(skipped);
                        }
                    }
                    let time = r.commit.time;
                    // Writes after the commit belong to the run that crashed (or to the commits
                    // skipped): the restarted run redoes them.
                    for id in r.commit.stateful.iter().filter(|_| owner) {
                        checkpoint::state_files::prune(dir, *id, Time::from_millis(0), Some(time));
                    }
                    tracing::info!(directory = %dir.display(), batch = %time, "restoring from checkpoint");
                    *self.inner.recovered.lock().recover() = Some(Arc::new(r));
                    return Ok(Some(time));
                }
                Err(e) => problems.push((path.clone(), e.to_string())),
            }
        }
        give_up(Error::Checkpoint {
            dir: dir.to_path_buf(),
            reason: problems
                .iter()
                .map(|(_, p)| p.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        })
    }

    /// The batch whose checkpoint this context restored (through
    /// [`get_or_create`](Self::get_or_create)), or `None` for a fresh start.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::{Conf, Context, Duration, StreamingContext};
    ///
    /// # let _turn = ember::testing::exclusive();
    /// let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// let dir = tempfile::tempdir().unwrap();
    /// // An empty directory holds no checkpoint: a fresh start.
    /// let ssc = StreamingContext::get_or_create(dir.path(), || {
    ///     StreamingContext::new(&sc, Duration::seconds(1))
    /// })?;
    /// assert_eq!(ssc.restored_from(), None);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn restored_from(&self) -> Option<Time> {
        self.inner
            .recovered
            .lock()
            .recover()
            .as_ref()
            .map(|r| r.commit.time)
    }

    /// Checks that `commit` was written by a program with this one's graph.
    fn check_fits(&self, dir: &Path, commit: &checkpoint::Commit) -> Result<()> {
        let mismatch = |reason: String| Error::Checkpoint {
            dir: dir.to_path_buf(),
            reason,
        };
        let (shape, stateful) = {
            let graph = self.inner.graph.lock().recover();
            (graph.shape().clone(), graph.live_stateful_ids())
        };
        if commit.batch != self.inner.batch {
            return Err(mismatch(format!(
                "it was written with batch interval {}, this program uses {}",
                commit.batch, self.inner.batch
            )));
        }
        if commit.shape != shape {
            let (theirs, ours) = (commit.shape.entries(), shape.entries());
            let at = theirs
                .iter()
                .zip(ours)
                .position(|(a, b)| a != b)
                .unwrap_or(theirs.len().min(ours.len()));
            let show = |s: Option<&checkpoint::shape::ShapeEntry>| {
                s.map_or("nothing".to_owned(), |l| format!("`{l}`"))
            };
            return Err(mismatch(format!(
                "its stream graph differs from this program's: entry {at} is {} in the checkpoint \
                 and {} in the program ({} entries there, {} here; entries are \
                 `id:operation:[parents]:slide ms` and `output n:operation:stream`)",
                show(theirs.get(at)),
                show(ours.get(at)),
                theirs.len(),
                ours.len()
            )));
        }
        if commit.stateful != stateful {
            return Err(mismatch(format!(
                "it has state for streams {:?}, this program's stateful streams are {stateful:?}",
                commit.stateful
            )));
        }
        Ok(())
    }

    /// Reads and decodes the state `commit` names: every file of its write sets.
    fn read_state(&self, dir: &Path, commit: checkpoint::Commit) -> Result<Recovered> {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let mut state = std::collections::HashMap::new();
        // A run's starting point (committed before its first batch) holds no state: restoring
        // from it starts the state afresh, initial state included.
        let stateful = if commit.time == commit.zero {
            Vec::new()
        } else {
            commit.stateful.clone()
        };
        let local = crate::state::LocalWorkers::of(self.inner.ctx.master());
        let work = &self.inner.status.work;
        if !stateful.is_empty() {
            work.start(Work::Restoring, stateful.len() as u64);
        }
        let restored = self.read_streams(&dir, &commit, &stateful, &local, &mut state);
        // A failure ends the task where it is (an older commit may be tried next).
        work.finish(Work::Restoring);
        restored?;
        Ok(Recovered { commit, state })
    }

    /// Reads and decodes the state of the `stateful` streams of `commit` into `state`, one
    /// stream after the other (each a step of the restore's progress).
    fn read_streams(
        &self,
        dir: &Path,
        commit: &checkpoint::Commit,
        stateful: &[usize],
        local: &crate::state::LocalWorkers,
        state: &mut std::collections::HashMap<usize, Arc<checkpoint::RestoredShares>>,
    ) -> Result<()> {
        let dir = dir.to_path_buf();
        for id in stateful {
            let chain = commit.chains.get(id).ok_or_else(|| Error::Checkpoint {
                dir: dir.clone(),
                reason: format!(
                    "commit of batch {} lists no state for stream {id}",
                    commit.time
                ),
            })?;
            let mut restored = checkpoint::state_files::read_sets(&dir, *id, chain)?;
            let (partitions, restorer) = {
                let graph = self.inner.graph.lock().recover();
                (graph.partitions_of(*id), graph.restorer_of(*id))
            };
            // `stateful` equals the program's stateful streams (checked above), and a stream
            // becomes stateful together with its restorer: skipping one would lose its state.
            let restorer = restorer.expect("a stateful stream is registered with its restorer");
            restored.same_layout =
                commit.workers == local.total && commit.partitions.get(id).copied() == partitions;
            // Decoded now, so that a state type that changed is this function's error.
            let shares = restorer(*id, restored, local).map_err(|e| Error::Checkpoint {
                dir: dir.clone(),
                reason: e.to_string(),
            })?;
            state.insert(*id, Arc::new(shares));
            self.inner.status.work.step(Work::Restoring);
        }
        Ok(())
    }

    /// The run's checkpointing: required by stateful streams (Spark's message otherwise), at the
    /// least common multiple of their intervals (the batch interval when there are none, so that
    /// directory listings and log positions are committed every batch).
    pub(super) fn checkpointing(
        &self,
        recovered: Option<&Recovered>,
    ) -> Result<Option<Arc<Checkpointing>>> {
        let graph = self.inner.graph.lock().recover();
        let Some(dir) = graph.checkpoint.clone() else {
            let wal = crate::conf::settings::WAL_ENABLED.get(self.inner.ctx.conf())?;
            if wal && graph.has_receivers() {
                return Err(Error::InvalidArgument(
                    "Cannot enable receiver write-ahead log without checkpoint directory set. Please use streamingContext.checkpoint() to set the checkpoint directory. See documentation for more details."
                        .into(),
                ));
            }
            if graph.requires_checkpoint() {
                return Err(Error::Requirement(
                    "The checkpoint directory has not been set. Please set it by StreamingContext.checkpoint()."
                        .into(),
                ));
            }
            return Ok(None);
        };
        let interval = graph.checkpoint_interval(self.inner.batch);
        // One program per checkpoint directory: the driver process holds its lock for the run.
        if self.inner.ctx.master().process() == 0 {
            checkpoint::lock_directory(&dir)?;
        }
        tracing::info!(directory = %dir.display(), interval = %interval, "checkpointing");
        let (state, sources) = match recovered {
            Some(r) => (r.state.clone(), r.commit.sources.clone()),
            None => Default::default(),
        };
        Ok(Some(Arc::new(Checkpointing::new(
            dir, interval, state, sources,
        ))))
    }
}
