//! [`StreamingContext`]: builds the stream graph, starts it on timely, stops it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::checkpoint::{self, Checkpointing, Recovered};
use crate::context::Context;
use crate::data::Data;
use crate::dstream::input::{InputNode, InputSource, QueueSource, ReceiverSource};
use crate::dstream::{DStream, Meta, Node, RddQueue};
use crate::error::{Error, Result};
use crate::exec::{self, Execution, OutputNode, Plan};
use crate::rdd::Rdd;
use crate::receiver::Receiver;
use crate::scheduler::clock::{Clock, SystemClock};
use crate::scheduler::listener::{ListenerBus, StreamingListener};
use crate::scheduler::runtime::{Runtime, StopMode};
use crate::streaming::StreamingContextState;
use crate::time::{Duration, Time};

/// The started, not yet stopped, context of this process (Spark allows one per JVM).
static ACTIVE: Mutex<Option<StreamingContext>> = Mutex::new(None);

const AFTER_START: &str = "Adding new inputs, transformations, and output operations after starting a context is not supported";
const AFTER_STOP: &str = "Adding new inputs, transformations, and output operations after stopping a context is not supported";

fn lcm(a: u64, b: u64) -> u64 {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    if a == 0 || b == 0 {
        return a.max(b);
    }
    a / gcd(a, b) * b
}

/// Spark's `assertNoOtherContextIsActive`.
fn refuse_if_active(active: &Option<StreamingContext>) -> Result<()> {
    match active {
        None => Ok(()),
        Some(other) => {
            let since = lock(&other.inner.running)
                .as_ref()
                .map(|r| r.started_at)
                .unwrap_or_default();
            Err(Error::IllegalState(format!(
                "Only one StreamingContext may be started in this process. Currently running \
                 StreamingContext was started at {}",
                since.to_local_datetime_string()
            )))
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The entry point of a streaming application (Spark's `StreamingContext`): define inputs,
/// transformations and output operations, then [`start`](StreamingContext::start) and
/// [`await_termination`](StreamingContext::await_termination).
///
/// Cloning is cheap; all clones are the same context.
#[derive(Clone)]
pub struct StreamingContext {
    inner: Arc<Inner>,
}

struct Inner {
    ctx: Context,
    batch: Duration,
    clock: Arc<dyn Clock>,
    state: Mutex<StreamingContextState>,
    state_changed: Condvar,
    graph: Mutex<Graph>,
    listeners: Mutex<Vec<Arc<dyn StreamingListener>>>,
    running: Mutex<Option<Running>>,
    /// What `get_or_create` read back from the checkpoint directory.
    recovered: Mutex<Option<Arc<Recovered>>>,
}

struct Running {
    runtime: Arc<Runtime>,
    execution: Execution,
    started_at: Time,
}

#[derive(Default)]
struct Graph {
    next_node: usize,
    next_input: usize,
    outputs: Vec<Arc<dyn OutputNode>>,
    /// One line per node and output, for the cluster handshake's fingerprint.
    shape: Vec<String>,
    remember: Option<Duration>,
    checkpoint: Option<PathBuf>,
    /// Streams with state written at checkpoints, with their default checkpoint interval; `None`
    /// for streams (plain windows) that checkpoint when a directory is set but do not require one.
    stateful: std::collections::BTreeMap<usize, Option<Duration>>,
    /// How each stateful stream decodes its checkpointed state into its tables.
    restorers: std::collections::BTreeMap<usize, crate::state::Restorer>,
    /// Checkpoint intervals set with `DStream::checkpoint`.
    checkpoint_intervals: std::collections::BTreeMap<usize, Duration>,
    /// Receiver input streams (their blocks go through the write-ahead log when it is on).
    receivers: usize,
    /// Streams some output depends on: only they are built, so only they can have state.
    reachable: std::collections::BTreeSet<usize>,
    /// Partitions of every stream, by id.
    partitions: std::collections::BTreeMap<usize, usize>,
}

impl Graph {
    /// The stateful streams that run (those an output depends on), with their default intervals.
    fn live_stateful(&self) -> impl Iterator<Item = (usize, Option<Duration>)> + '_ {
        self.stateful
            .iter()
            .filter(|(id, _)| self.reachable.contains(id))
            .map(|(id, d)| (*id, *d))
    }
}

impl std::fmt::Debug for StreamingContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingContext")
            .field("batch", &self.inner.batch)
            .field("state", &self.state())
            .finish()
    }
}

impl StreamingContext {
    /// A streaming context on `ctx` cutting input into batches of `batch_interval`.
    ///
    /// Unlike Spark, which accepts a zero interval and then spins, a zero interval is rejected.
    pub fn new(ctx: &Context, batch_interval: Duration) -> Result<Self> {
        Self::with_clock(ctx, batch_interval, Arc::new(SystemClock))
    }

    /// A streaming context whose batch timer follows `clock`; with a
    /// [`ManualClock`](crate::scheduler::ManualClock) tests decide when batches close.
    pub fn with_clock(
        ctx: &Context,
        batch_interval: Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        if batch_interval.is_zero() {
            return Err(Error::Requirement(
                "Batch duration must be greater than 0 ms".into(),
            ));
        }
        if ctx.is_stopped() {
            return Err(Error::IllegalState(
                "Cannot create a StreamingContext on a stopped Context".into(),
            ));
        }
        Ok(StreamingContext {
            inner: Arc::new(Inner {
                ctx: ctx.clone(),
                batch: batch_interval,
                clock,
                state: Mutex::new(StreamingContextState::Initialized),
                state_changed: Condvar::new(),
                graph: Mutex::new(Graph::default()),
                listeners: Mutex::new(Vec::new()),
                running: Mutex::new(None),
                recovered: Mutex::new(None),
            }),
        })
    }

    /// The context this streaming context runs on (Spark's `sparkContext`).
    pub fn context(&self) -> &Context {
        &self.inner.ctx
    }

    /// The batch interval.
    pub fn batch_duration(&self) -> Duration {
        self.inner.batch
    }

    /// The lifecycle state.
    pub fn state(&self) -> StreamingContextState {
        *lock(&self.inner.state)
    }

    /// The started and not yet stopped context of this process, if any.
    pub fn get_active() -> Option<StreamingContext> {
        lock(&ACTIVE).clone()
    }

    /// Keeps every stream's batches for at least `duration` (Spark's `remember`), on the driver,
    /// so that [`DStream::slice`] can return them. Unlike Spark, which keeps every stream's last
    /// batch anyway, ember keeps nothing unless asked: gathering every stream's batches costs
    /// memory and network in proportion to the data.
    pub fn remember(&self, duration: Duration) -> Result<()> {
        self.check_initialized()?;
        lock(&self.inner.graph).remember = Some(duration);
        Ok(())
    }

    /// Sets the checkpoint directory, creating it if needed.
    pub fn checkpoint(&self, directory: impl AsRef<Path>) -> Result<()> {
        let dir = directory.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::io(
                format!("creating checkpoint directory {}", dir.display()),
                e,
            )
        })?;
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        lock(&self.inner.graph).checkpoint = Some(dir);
        Ok(())
    }

    /// The checkpoint directory, if set.
    pub fn checkpoint_dir(&self) -> Option<PathBuf> {
        lock(&self.inner.graph).checkpoint.clone()
    }

    /// Adds a listener. Added before start, it sees every event; added while running, it sees
    /// the events from then on.
    pub fn add_streaming_listener(&self, listener: impl StreamingListener) {
        let listener: Arc<dyn StreamingListener> = Arc::new(listener);
        let mut listeners = lock(&self.inner.listeners);
        listeners.push(listener.clone());
        if let Some(rt) = self.runtime() {
            rt.bus.add(listener);
        }
    }

    /// Starts the stream: `Initialized → Active`.
    ///
    /// Fails with Spark's messages when there is no output operation, when another context of
    /// this process is active, or when this one was stopped. A failed start leaves the context
    /// stopped, as in Spark. Starting an active context only logs a warning.
    pub fn start(&self) -> Result<()> {
        let mut state = lock(&self.inner.state);
        match *state {
            StreamingContextState::Active => {
                tracing::warn!("StreamingContext has already been started");
                return Ok(());
            }
            StreamingContextState::Stopped => {
                return Err(Error::IllegalState(
                    "StreamingContext has already been stopped".into(),
                ));
            }
            StreamingContextState::Initialized => {}
        }
        // As Spark's `assertNoOtherContextIsActive`, checked before anything else: a refused
        // start leaves this context Initialized, so it can start once the other one stops.
        refuse_if_active(&lock(&ACTIVE))?;
        let outcome = self.start_locked();
        *state = match outcome {
            Ok(()) => StreamingContextState::Active,
            Err(_) => StreamingContextState::Stopped,
        };
        drop(state);
        self.inner.state_changed.notify_all();
        outcome
    }

    fn start_locked(&self) -> Result<()> {
        let mut active = lock(&ACTIVE);
        refuse_if_active(&active)?;
        if self.inner.ctx.is_stopped() {
            return Err(Error::IllegalState(
                "Cannot start a StreamingContext on a stopped Context".into(),
            ));
        }
        let (outputs, fingerprint, nodes) = {
            let graph = lock(&self.inner.graph);
            if graph.outputs.is_empty() {
                return Err(Error::Requirement(
                    "No output operations registered, so nothing to execute".into(),
                ));
            }
            (
                graph.outputs.clone(),
                crate::hash::stable_hash(&graph.shape),
                graph.next_node,
            )
        };
        // Every node is at most a few timely operators (routing, concatenation).
        let settle_steps = (nodes / 3).clamp(2, 8);
        let listeners = lock(&self.inner.listeners).clone();
        let remember = lock(&self.inner.graph).remember;
        let recovered = lock(&self.inner.recovered).clone();
        let checkpointing = self.checkpointing(recovered.as_deref())?;
        let runtime = Arc::new(Runtime::new(
            remember,
            self.inner.clock.clone(),
            self.inner.ctx.clone(),
            ListenerBus::new(listeners),
            checkpointing,
        ));
        let started_at = self.inner.clock.now();
        let (shape, stateful, state_partitions) = {
            let graph = lock(&self.inner.graph);
            let stateful: Vec<usize> = graph.live_stateful().map(|(id, _)| id).collect();
            let partitions = stateful
                .iter()
                .filter_map(|id| Some((*id, *graph.partitions.get(id)?)))
                .collect();
            (graph.shape.clone(), stateful, partitions)
        };
        let plan = Arc::new(Plan {
            outputs,
            batch: self.inner.batch,
            master: self.inner.ctx.master().clone(),
            fingerprint,
            connect_timeout: std::time::Duration::from_millis(
                self.inner
                    .ctx
                    .conf()
                    .get_millis(crate::conf::CLUSTER_CONNECT_TIMEOUT, 60_000)?,
            ),
            start: started_at,
            settle_steps,
            resume: recovered.as_ref().map(|r| (r.commit.time, r.commit.zero)),
            shape,
            stateful,
            state_partitions,
        });
        if self
            .inner
            .ctx
            .conf()
            .get_bool(super::shutdown::STOP_GRACEFULLY_ON_SHUTDOWN, false)?
        {
            super::shutdown::install()?;
        }
        let execution = exec::launch(plan, runtime.clone())?;
        *lock(&self.inner.running) = Some(Running {
            runtime,
            execution,
            started_at,
        });
        *active = Some(self.clone());
        Ok(())
    }

    /// The run's checkpointing: required by stateful streams (Spark's message otherwise), at the
    /// least common multiple of their intervals (the batch interval when there are none, so that
    /// directory listings and log positions are committed every batch).
    fn checkpointing(&self, recovered: Option<&Recovered>) -> Result<Option<Arc<Checkpointing>>> {
        let graph = lock(&self.inner.graph);
        let Some(dir) = graph.checkpoint.clone() else {
            let wal = self
                .inner
                .ctx
                .conf()
                .get_bool(crate::dstream::input::WAL_ENABLED, false)?;
            if wal && graph.receivers > 0 {
                return Err(Error::InvalidArgument(
                    "Cannot enable receiver write-ahead log without checkpoint directory set. Please use streamingContext.checkpoint() to set the checkpoint directory. See documentation for more details."
                        .into(),
                ));
            }
            if graph.live_stateful().any(|(_, d)| d.is_some()) {
                return Err(Error::Requirement(
                    "The checkpoint directory has not been set. Please set it by StreamingContext.checkpoint()."
                        .into(),
                ));
            }
            return Ok(None);
        };
        let mut interval = self.inner.batch.as_millis();
        for (id, default) in graph.live_stateful() {
            if let Some(own) = graph.checkpoint_intervals.get(&id).or(default.as_ref()) {
                interval = lcm(interval, own.as_millis());
            }
        }
        let interval = Duration::milliseconds(interval);
        tracing::info!(directory = %dir.display(), interval = %interval, "checkpointing");
        let (state, sources) = match recovered {
            Some(r) => (r.state.clone(), r.commit.sources.clone()),
            None => Default::default(),
        };
        Ok(Some(Arc::new(Checkpointing::new(
            dir, interval, state, sources,
        ))))
    }

    /// Marks stream `id` as having state (tables declared with `state::Declared`, which
    /// `restorer` decodes from a checkpoint) that its logic writes at checkpoint times. With
    /// `Some(default_interval)` the stream requires a checkpoint directory (Spark's
    /// must-checkpoint streams) and is checkpointed every `default_interval` unless
    /// [`DStream::checkpoint`](crate::DStream::checkpoint) says otherwise; with `None` it is
    /// checkpointed only when a directory is set, at the other streams' interval.
    pub(crate) fn register_stateful(
        &self,
        id: usize,
        default_interval: Option<Duration>,
        restorer: crate::state::Restorer,
    ) {
        let mut graph = lock(&self.inner.graph);
        graph.stateful.insert(id, default_interval);
        graph.restorers.insert(id, restorer);
    }

    /// Sets stream `id`'s checkpoint interval (validated by the caller).
    pub(crate) fn set_checkpoint_interval(&self, id: usize, interval: Duration) -> Result<()> {
        if self.state() != StreamingContextState::Initialized {
            return Err(Error::Unsupported(
                "Cannot change checkpoint interval of a DStream after streaming context has started"
                    .into(),
            ));
        }
        lock(&self.inner.graph)
            .checkpoint_intervals
            .insert(id, interval);
        Ok(())
    }

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
    pub fn get_or_create(
        directory: impl AsRef<Path>,
        create: impl FnOnce() -> Result<StreamingContext>,
    ) -> Result<StreamingContext> {
        Self::get_or_create_with(directory, create, false)
    }

    /// [`get_or_create`](Self::get_or_create), starting from scratch (with a warning) instead of
    /// failing when the checkpoint cannot be read, if `create_on_error` is set.
    pub fn get_or_create_with(
        directory: impl AsRef<Path>,
        create: impl FnOnce() -> Result<StreamingContext>,
        create_on_error: bool,
    ) -> Result<StreamingContext> {
        let ssc = create()?;
        ssc.restore_from(directory.as_ref(), create_on_error)?;
        Ok(ssc)
    }

    /// Restores the newest checkpoint in `dir` into this context's graph (the second half of
    /// `get_or_create`); the batch time it was committed at, if there was one. Sets the context's
    /// checkpoint directory to `dir` if none is set.
    pub(crate) fn restore_from(&self, dir: &Path, create_on_error: bool) -> Result<Option<Time>> {
        if self.checkpoint_dir().is_none() {
            self.checkpoint(dir)?;
        }
        let commit = match checkpoint::commit::newest(dir) {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(None),
            Err(e) if create_on_error => {
                tracing::warn!("{e}; starting without it (create_on_error)");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        match self.recover(dir, commit) {
            Ok(r) => {
                let time = r.commit.time;
                tracing::info!(directory = %dir.display(), batch = %time, "restoring from checkpoint");
                *lock(&self.inner.recovered) = Some(Arc::new(r));
                Ok(Some(time))
            }
            Err(e) if create_on_error => {
                tracing::warn!("{e}; starting without it (create_on_error)");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The batch whose checkpoint this context restored (through
    /// [`get_or_create`](Self::get_or_create)), or `None` for a fresh start.
    pub fn restored_from(&self) -> Option<Time> {
        lock(&self.inner.recovered).as_ref().map(|r| r.commit.time)
    }

    /// Checks `commit` against this program's graph and reads the state it names.
    fn recover(&self, dir: &Path, commit: checkpoint::Commit) -> Result<Recovered> {
        let mismatch = |reason: String| Error::Checkpoint {
            dir: dir.to_path_buf(),
            reason,
        };
        let (shape, stateful) = {
            let graph = lock(&self.inner.graph);
            (
                graph.shape.clone(),
                graph.live_stateful().map(|(id, _)| id).collect::<Vec<_>>(),
            )
        };
        if commit.batch != self.inner.batch {
            return Err(mismatch(format!(
                "it was written with batch interval {}, this program uses {}",
                commit.batch, self.inner.batch
            )));
        }
        if commit.shape != shape {
            let at = commit
                .shape
                .iter()
                .zip(&shape)
                .position(|(a, b)| a != b)
                .unwrap_or(commit.shape.len().min(shape.len()));
            let show = |s: Option<&String>| s.map_or("nothing".to_owned(), |l| format!("`{l}`"));
            return Err(mismatch(format!(
                "its stream graph differs from this program's: entry {at} is {} in the checkpoint \
                 and {} in the program ({} entries there, {} here; entries are \
                 `id:operation:[parents]:slide ms` and `output n:operation:stream`)",
                show(commit.shape.get(at)),
                show(shape.get(at)),
                commit.shape.len(),
                shape.len()
            )));
        }
        if commit.stateful != stateful {
            return Err(mismatch(format!(
                "it has state for streams {:?}, this program's stateful streams are {stateful:?}",
                commit.stateful
            )));
        }
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let mut state = std::collections::HashMap::new();
        // A run's starting point (committed before its first batch) holds no state: restoring
        // from it starts the state afresh, initial state included.
        let stateful = if commit.time == commit.zero {
            Vec::new()
        } else {
            commit.stateful.clone()
        };
        // Writes after the commit belong to the run that crashed: the restarted run redoes them.
        for id in &commit.stateful {
            checkpoint::state_files::prune(&dir, *id, Time::from_millis(0), Some(commit.time));
        }
        let local = crate::state::LocalWorkers::of(self.inner.ctx.master());
        for id in &stateful {
            let mut restored = checkpoint::state_files::read_chain(&dir, *id, commit.time)?;
            let (partitions, restorer) = {
                let graph = lock(&self.inner.graph);
                (
                    graph.partitions.get(id).copied(),
                    graph.restorers[id].clone(),
                )
            };
            restored.same_layout =
                commit.workers == local.total && commit.partitions.get(id) == partitions.as_ref();
            // Decoded now, so that a state type that changed is this function's error.
            let shares = restorer(*id, restored, &local).map_err(|reason| Error::Checkpoint {
                dir: dir.clone(),
                reason,
            })?;
            state.insert(*id, Arc::new(shares));
        }
        Ok(Recovered { commit, state })
    }

    fn runtime(&self) -> Option<Arc<Runtime>> {
        lock(&self.inner.running)
            .as_ref()
            .map(|r| r.runtime.clone())
    }

    /// Waits until the context stops or a batch job fails; returns the first job failure (again
    /// on every call, as Spark rethrows it). Later batches keep running after a failure.
    pub fn await_termination(&self) -> Result<()> {
        self.await_inner(None).map(|_| ())
    }

    /// As [`await_termination`](Self::await_termination), waiting at most `timeout`: `Ok(true)`
    /// when stopped, `Ok(false)` on timeout.
    pub fn await_termination_or_timeout(&self, timeout: std::time::Duration) -> Result<bool> {
        self.await_inner(Some(timeout))
    }

    fn await_inner(&self, timeout: Option<std::time::Duration>) -> Result<bool> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        // Before start there is nothing to wait on but a state change.
        loop {
            if let Some(rt) = self.runtime() {
                let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
                return rt.await_termination(left);
            }
            let state = lock(&self.inner.state);
            if *state == StreamingContextState::Stopped {
                return Ok(true);
            }
            match deadline {
                None => drop(
                    self.inner
                        .state_changed
                        .wait(state)
                        .unwrap_or_else(|p| p.into_inner()),
                ),
                Some(d) => {
                    let now = std::time::Instant::now();
                    if now >= d {
                        return Ok(false);
                    }
                    drop(
                        self.inner
                            .state_changed
                            .wait_timeout(state, d - now)
                            .unwrap_or_else(|p| p.into_inner()),
                    );
                }
            }
        }
    }

    /// Stops the stream. With `graceful`, receiving stops first and everything received is
    /// processed; otherwise batches not yet processed are dropped. With `stop_context`, the
    /// [`Context`] is stopped too; otherwise it can serve a new streaming context.
    ///
    /// Stopping a stopped context only logs (and still stops the Context if asked, as Spark).
    /// Fails when called from a listener callback, as Spark does.
    pub fn stop(&self, stop_context: bool, graceful: bool) -> Result<()> {
        if std::thread::current().name() == Some("ember-listener-bus") {
            return Err(Error::IllegalState(
                "Cannot stop StreamingContext within listener bus thread.".into(),
            ));
        }
        let mut state = lock(&self.inner.state);
        match *state {
            StreamingContextState::Initialized => *state = StreamingContextState::Stopped,
            StreamingContextState::Stopped => {
                tracing::warn!("StreamingContext has already been stopped")
            }
            StreamingContextState::Active => {
                let mode = if graceful {
                    StopMode::Graceful
                } else {
                    StopMode::Immediate
                };
                let running = lock(&self.inner.running).take();
                if let Some(mut running) = running {
                    running.runtime.request_stop(mode);
                    // Called from a job (e.g. inside foreach_rdd) the caller is the driver worker
                    // itself: it finishes the stop when the job returns; waiting here would wait
                    // for ourselves.
                    if !running.runtime.on_worker_thread() {
                        running.execution.join();
                        running.runtime.bus.close();
                    }
                    // Keep the runtime so that a later await returns as soon as the run ends.
                    *lock(&self.inner.running) = Some(running);
                }
                *state = StreamingContextState::Stopped;
                let mut active = lock(&ACTIVE);
                if active
                    .as_ref()
                    .is_some_and(|a| Arc::ptr_eq(&a.inner, &self.inner))
                {
                    *active = None;
                }
                tracing::info!("StreamingContext stopped successfully");
            }
        }
        drop(state);
        self.inner.state_changed.notify_all();
        if stop_context {
            self.inner.ctx.stop();
        }
        Ok(())
    }

    fn check_initialized(&self) -> Result<()> {
        match self.state() {
            StreamingContextState::Initialized => Ok(()),
            StreamingContextState::Active => Err(Error::IllegalState(AFTER_START.into())),
            StreamingContextState::Stopped => Err(Error::IllegalState(AFTER_STOP.into())),
        }
    }

    /// A new node of the graph. Poisoned with Spark's message when made after start or stop.
    pub(crate) fn new_stream<U: Data>(
        &self,
        name: &'static str,
        slide: Duration,
        partitions: usize,
        parents: &[&Meta],
        poison: Option<String>,
        node: impl Node<U>,
    ) -> DStream<U> {
        let mut lineage = std::collections::BTreeSet::new();
        let mut poisoned: Option<Arc<str>> = parents.iter().find_map(|p| p.poisoned.clone());
        for p in parents {
            lineage.extend(p.lineage.iter().copied());
        }
        if poisoned.is_none() {
            poisoned = poison.map(Arc::from);
        }
        if let Err(e) = self.check_initialized() {
            poisoned.get_or_insert_with(|| Arc::from(e.to_string()));
        }
        let id = {
            let mut graph = lock(&self.inner.graph);
            let id = graph.next_node;
            graph.next_node += 1;
            let parent_ids: Vec<usize> = parents.iter().map(|p| p.id).collect();
            graph
                .shape
                .push(format!("{id}:{name}:{parent_ids:?}:{}", slide.as_millis()));
            graph.partitions.insert(id, partitions.max(1));
            id
        };
        lineage.insert(id);
        DStream {
            ssc: self.clone(),
            retained: Default::default(),
            node: Arc::new(node),
            meta: Arc::new(Meta {
                id,
                name,
                slide,
                partitions: partitions.max(1),
                lineage: Arc::new(lineage),
                poisoned,
            }),
        }
    }

    /// Registers an output operation; returns its index.
    pub(crate) fn register_output<N: OutputNode>(
        &self,
        name: &'static str,
        parent: &Meta,
        make: impl FnOnce(usize) -> N,
    ) -> Result<usize> {
        self.check_initialized()?;
        if let Some(message) = &parent.poisoned {
            return Err(Error::IllegalState(message.to_string()));
        }
        let mut graph = lock(&self.inner.graph);
        let op = graph.outputs.len();
        graph.outputs.push(Arc::new(make(op)));
        graph.reachable.extend(parent.lineage.iter().copied());
        graph
            .shape
            .push(format!("output {op}:{name}:{}", parent.id));
        Ok(op)
    }

    fn new_input<T: Data>(
        &self,
        name: &'static str,
        partitions: usize,
        make: impl FnOnce(&Arc<Runtime>, usize) -> Box<dyn InputSource<T>> + Send + 'static,
    ) -> DStream<T> {
        let stream_id = {
            let mut graph = lock(&self.inner.graph);
            let id = graph.next_input;
            graph.next_input += 1;
            id
        };
        let node = InputNode::new(stream_id, partitions, make);
        self.new_stream(name, self.inner.batch, partitions, &[], None, node)
    }

    /// Lines of text read from a TCP server at `host:port` (Spark's `socketTextStream`): UTF-8,
    /// `\n`-separated; a last line without newline is kept; the receiver reconnects 2 s after the
    /// server closes or refuses (setting `spark.streaming.receiverRestartDelay`). Invalid UTF-8 is
    /// replaced and reported; a line longer than `ember.input.maxLineBytes` (default 16 MiB) is
    /// dropped and reported instead of exhausting memory.
    pub fn socket_text_stream(&self, host: &str, port: u16) -> DStream<String> {
        let receiver = crate::receiver::SocketReceiver::new(host, port, self.max_line_bytes());
        lock(&self.inner.graph).receivers += 1;
        let partitions = self.inner.ctx.default_parallelism();
        let conf = self.inner.ctx.conf().clone();
        self.new_input(
            "socket_text_stream",
            partitions,
            move |rt: &Arc<Runtime>, id| {
                Box::new(crate::dstream::input::SocketSource::launch(
                    receiver, id, rt, &conf,
                )) as Box<dyn InputSource<String>>
            },
        )
    }

    /// Records pushed by a user-defined [`Receiver`] (Spark's `receiverStream`).
    pub fn receiver_stream<T: Data>(&self, receiver: impl Receiver<T>) -> DStream<T> {
        lock(&self.inner.graph).receivers += 1;
        let partitions = self.inner.ctx.default_parallelism();
        let conf = self.inner.ctx.conf().clone();
        self.new_input(
            "receiver_stream",
            partitions,
            move |rt: &Arc<Runtime>, id| {
                Box::new(ReceiverSource::launch(Box::new(receiver), id, rt, &conf))
                    as Box<dyn InputSource<T>>
            },
        )
    }

    /// New files of directory `dir`, as lines (Spark's `textFileStream`): only files moved in
    /// after the stream was created, names not starting with `.` or `_`, each file read once.
    pub fn text_file_stream(&self, dir: impl AsRef<Path>) -> DStream<String> {
        let dir = dir.as_ref().to_path_buf();
        let created = self.inner.clock.now();
        let conf = self.inner.ctx.conf().clone();
        let batch = self.inner.batch;
        let max_line = self.max_line_bytes();
        let partitions = self.inner.ctx.default_parallelism();
        let files = self.new_input("file_input", partitions, move |rt: &Arc<Runtime>, id| {
            let restored = rt
                .checkpointing
                .as_ref()
                .and_then(|ck| ck.restored_source(id));
            Box::new(crate::dstream::input::FileSource::new(
                dir, created, batch, &conf, restored,
            )) as Box<dyn InputSource<String>>
        });
        crate::dstream::input::read_files(&files, max_line)
    }

    /// A stream of RDDs taken from `queue` (Spark's `queueStream`): one RDD per batch with
    /// `one_at_a_time`, otherwise all queued RDDs at once; `default` when the queue is empty (or
    /// an empty batch when `None`). RDDs pushed into the queue while running are picked up.
    pub fn queue_stream<T: Data>(
        &self,
        queue: RddQueue<T>,
        one_at_a_time: bool,
        default: Option<Rdd<T>>,
    ) -> DStream<T> {
        let partitions = self.inner.ctx.default_parallelism();
        self.new_input(
            "queue_stream",
            partitions,
            move |_rt: &Arc<Runtime>, _id| {
                Box::new(QueueSource::new(queue, one_at_a_time, default)) as Box<dyn InputSource<T>>
            },
        )
    }

    /// The union of several streams of the same slide (Spark's `StreamingContext.union`).
    pub fn union<T: Data>(&self, streams: &[DStream<T>]) -> DStream<T> {
        crate::dstream::union::union_all(self, streams)
    }

    fn max_line_bytes(&self) -> usize {
        self.inner
            .ctx
            .conf()
            .get_bytes(crate::conf::MAX_LINE_BYTES, 16 << 20)
            .unwrap_or(16 << 20) as usize
    }

    /// Whether `other` is this same context.
    pub(crate) fn same_as(&self, other: &StreamingContext) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// How long streams keep their batches for `slice`, if at all.
    pub(crate) fn remember_duration(&self) -> Option<Duration> {
        lock(&self.inner.graph).remember
    }

    /// Blocks until batch `time` has completed, at most `timeout` (for tests).
    pub(crate) fn wait_batch(&self, time: Time, timeout: std::time::Duration) -> bool {
        self.runtime()
            .is_some_and(|rt| rt.wait_batch(time, timeout))
    }
}
