//! [`StreamingContext`]: what a context is made of, its settings, and how streams join its graph.
//!
//! The rest of the context lives next to this file: its lifecycle (`start`, `stop`, waiting) in
//! `lifecycle.rs`, the input streams in `inputs.rs`, recovery from a checkpoint in `recovery.rs`,
//! and the graph it builds in `graph.rs`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use crate::checkpoint::Recovered;
use crate::context::Context;
use crate::data::Data;
use crate::dstream::{DStream, Meta, Node};
use crate::error::{Error, Result};
use crate::exec::OutputNode;
use crate::scheduler::clock::{Clock, SystemClock};
use crate::scheduler::listener::StreamingListener;
use crate::streaming::StreamingContextState;
use crate::streaming::graph::Graph;
use crate::streaming::lifecycle::Running;
use crate::sync::RecoverPoison;
use crate::time::Duration;

const AFTER_START: &str = "Adding new inputs, transformations, and output operations after starting a context is not supported";
const AFTER_STOP: &str = "Adding new inputs, transformations, and output operations after stopping a context is not supported";

/// The entry point of a streaming application (Spark's `StreamingContext`): define inputs,
/// transformations and output operations, then [`start`](StreamingContext::start) and
/// [`await_termination`](StreamingContext::await_termination).
///
/// Cloning is cheap; all clones are the same context. The context, its graph and everything
/// the graph holds (closures, queues, restored state) are freed once the program has dropped
/// every clone of the context and every [`DStream`] made from it (and the context has stopped,
/// if it was started).
#[derive(Clone)]
pub struct StreamingContext {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) ctx: Context,
    pub(super) batch: Duration,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) state: Mutex<StreamingContextState>,
    pub(super) state_changed: Condvar,
    pub(super) graph: Mutex<Graph>,
    pub(super) listeners: Mutex<Vec<Arc<dyn StreamingListener>>>,
    pub(super) running: Mutex<Option<Running>>,
    /// What `get_or_create` read back from the checkpoint directory.
    pub(super) recovered: Mutex<Option<Arc<Recovered>>>,
    /// What the web UI shows, fed from creation on (a restore reports its progress).
    pub(crate) status: Arc<crate::status::Status>,
    /// The web UI's server, while it runs (see `web_ui.rs`).
    pub(super) ui: Mutex<Option<crate::ui::UiServer>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A context made and dropped without a start may have served its UI during a restore.
        if let Some(ui) = self.ui.get_mut().recover().take() {
            ui.stop();
            self.ctx.set_ui_web_url(None);
        }
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
    /// The longest batch interval, a day. Batch times are multiples of the interval since the
    /// Unix epoch, so the first batch of a longer one could be days away; and a graceful stop
    /// waits for the batch under way, so an absurd interval (`99999999999999s`) would hang it.
    pub const MAX_BATCH_INTERVAL: Duration = Duration::milliseconds(86_400_000);

    /// A streaming context on `ctx` cutting input into batches of `batch_interval`.
    ///
    /// Unlike Spark, which accepts a zero interval and then spins, a zero interval is rejected,
    /// as is one longer than [`MAX_BATCH_INTERVAL`](Self::MAX_BATCH_INTERVAL).
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::{Conf, Context, Duration, StreamingContext};
    ///
    /// # let _turn = ember::testing::exclusive();
    /// let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// let ssc = StreamingContext::new(&sc, Duration::seconds(1))?;
    /// assert_eq!(ssc.batch_duration(), Duration::seconds(1));
    ///
    /// let e = StreamingContext::new(&sc, Duration::milliseconds(0)).unwrap_err();
    /// assert!(e.to_string().contains("Batch duration must be greater than 0 ms"));
    ///
    /// let e = StreamingContext::new(&sc, Duration::seconds(99_999_999_999_999)).unwrap_err();
    /// assert_eq!(
    ///     e.to_string(),
    ///     "requirement failed: Batch duration must be at most 86400000 ms (24 h), \
    ///      not 99999999999999000 ms"
    /// );
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn new(ctx: &Context, batch_interval: Duration) -> Result<Self> {
        Self::with_clock(ctx, batch_interval, Arc::new(SystemClock))
    }

    /// A streaming context whose batch timer follows `clock`; with a
    /// [`ManualClock`](crate::scheduler::ManualClock) tests decide when batches close.
    ///
    /// # Examples
    ///
    /// A batch closes when the manual clock reaches its time:
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use ember::scheduler::ManualClock;
    /// use ember::{Conf, Context, Duration, RddQueue, StreamingContext, Time};
    ///
    /// # let _turn = ember::testing::exclusive();
    /// let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// let clock = ManualClock::new(Time::from_millis(0));
    /// let ssc = StreamingContext::with_clock(&sc, Duration::seconds(1), Arc::new(clock.clone()))?;
    ///
    /// let queue = RddQueue::new();
    /// queue.push(sc.parallelize(vec![1, 2, 3], 2));
    /// let batches = Arc::new(Mutex::new(Vec::new()));
    /// let sink = batches.clone();
    /// ssc.queue_stream(queue, true, None)
    ///     .foreach_rdd(move |rdd, time| sink.lock().unwrap().push((time, rdd.count())))?;
    ///
    /// ssc.start()?;
    /// clock.set(Time::from_millis(1000));
    /// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    /// while batches.lock().unwrap().is_empty() {
    ///     assert!(std::time::Instant::now() < deadline, "batch 1000 did not complete");
    ///     std::thread::sleep(std::time::Duration::from_millis(5));
    /// }
    /// ssc.stop(false, false)?;
    /// assert_eq!(batches.lock().unwrap()[0], (Time::from_millis(1000), 3));
    /// # Ok::<(), ember::Error>(())
    /// ```
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
        if batch_interval > Self::MAX_BATCH_INTERVAL {
            return Err(Error::Requirement(format!(
                "Batch duration must be at most {} ({}), not {batch_interval}",
                Self::MAX_BATCH_INTERVAL,
                Self::MAX_BATCH_INTERVAL.pretty_print()
            )));
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
                clock: clock.clone(),
                state: Mutex::new(StreamingContextState::Initialized),
                state_changed: Condvar::new(),
                graph: Mutex::new(Graph::default()),
                listeners: Mutex::new(Vec::new()),
                running: Mutex::new(None),
                recovered: Mutex::new(None),
                status: Arc::new(crate::status::Status::new(
                    batch_interval,
                    crate::conf::settings::UI_RETAINED_BATCHES.value(ctx.conf()) as usize,
                    clock.clone(),
                )),
                ui: Mutex::new(None),
            }),
        })
    }

    /// The context this streaming context runs on (Spark's `sparkContext`).
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::{Conf, Context, Duration, StreamingContext};
    ///
    /// # let _turn = ember::testing::exclusive();
    /// let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// let ssc = StreamingContext::new(&sc, Duration::seconds(1))?;
    /// let rdd = ssc.context().parallelize(vec![1, 2, 3], 2);
    /// assert_eq!(rdd.count(), 3);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn context(&self) -> &Context {
        &self.inner.ctx
    }

    /// Whether `self` and `other` are clones of the same context.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::{Conf, Context, Duration, StreamingContext};
    ///
    /// # let _turn = ember::testing::exclusive();
    /// let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// let ssc = StreamingContext::new(&sc, Duration::seconds(1))?;
    /// assert!(ssc.ptr_eq(&ssc.clone()));
    /// assert!(!ssc.ptr_eq(&StreamingContext::new(&sc, Duration::seconds(1))?));
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn ptr_eq(&self, other: &StreamingContext) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The batch interval.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::{Conf, Context, Duration, StreamingContext};
    ///
    /// # let _turn = ember::testing::exclusive();
    /// let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// let ssc = StreamingContext::new(&sc, Duration::milliseconds(500))?;
    /// assert_eq!(ssc.batch_duration(), Duration::milliseconds(500));
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn batch_duration(&self) -> Duration {
        self.inner.batch
    }

    /// The lifecycle state.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::{Duration, StreamingContextState};
    ///
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let ssc = t.context();
    /// assert_eq!(ssc.state(), StreamingContextState::Initialized);
    /// t.collect(&t.input(vec![vec![1, 2]]))?;
    /// ssc.start()?;
    /// assert_eq!(ssc.state(), StreamingContextState::Active);
    /// ssc.stop(false, false)?;
    /// assert_eq!(ssc.state(), StreamingContextState::Stopped);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn state(&self) -> StreamingContextState {
        *self.inner.state.lock().recover()
    }

    /// Keeps every stream's batches for at least `duration` (Spark's `remember`), on the driver,
    /// so that [`DStream::slice`] can return them. Unlike Spark, which keeps every stream's last
    /// batch anyway, ember keeps nothing unless asked: gathering every stream's batches costs
    /// memory and network in proportion to the data.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::{Duration, Time};
    ///
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// t.context().remember(Duration::seconds(10))?;
    /// let numbers = t.input(vec![vec![1, 2], vec![3]]);
    /// t.collect(&numbers)?;
    /// t.run(2)?;
    /// let rdds = numbers.slice(Time::from_millis(1000), Time::from_millis(2000))?;
    /// let counts: Vec<u64> = rdds.iter().map(|rdd| rdd.count()).collect();
    /// assert_eq!(counts, [2, 1]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn remember(&self, duration: Duration) -> Result<()> {
        self.check_initialized()?;
        self.inner.graph.lock().recover().remember = Some(duration);
        Ok(())
    }

    /// Sets the checkpoint directory, creating it if needed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::{Conf, Context, Duration, StreamingContext};
    ///
    /// # let _turn = ember::testing::exclusive();
    /// let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// let ssc = StreamingContext::new(&sc, Duration::seconds(1))?;
    /// let dir = tempfile::tempdir().unwrap();
    /// ssc.checkpoint(dir.path().join("checkpoints"))?;
    /// assert!(dir.path().join("checkpoints").is_dir());
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn checkpoint(&self, directory: impl AsRef<Path>) -> Result<()> {
        let dir = directory.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::io(
                format!("creating checkpoint directory {}", dir.display()),
                e,
            )
        })?;
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        self.inner.graph.lock().recover().checkpoint = Some(dir);
        Ok(())
    }

    /// The checkpoint directory, if set.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::{Conf, Context, Duration, StreamingContext};
    ///
    /// # let _turn = ember::testing::exclusive();
    /// let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// let ssc = StreamingContext::new(&sc, Duration::seconds(1))?;
    /// assert_eq!(ssc.checkpoint_dir(), None);
    /// let dir = tempfile::tempdir().unwrap();
    /// ssc.checkpoint(dir.path())?;
    /// // The directory is kept as an absolute path.
    /// assert_eq!(ssc.checkpoint_dir(), Some(dir.path().canonicalize().unwrap()));
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn checkpoint_dir(&self) -> Option<PathBuf> {
        self.inner.graph.lock().recover().checkpoint.clone()
    }

    /// Adds a listener. Added before start, it sees every event; added while running, it sees
    /// the events from then on.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use ember::scheduler::{BatchInfo, StreamingListener};
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// #[derive(Clone, Default)]
    /// struct CountBatches(Arc<AtomicUsize>);
    ///
    /// impl StreamingListener for CountBatches {
    ///     fn on_batch_completed(&self, _info: &BatchInfo) {
    ///         self.0.fetch_add(1, Ordering::SeqCst);
    ///     }
    /// }
    ///
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let completed = CountBatches::default();
    /// t.context().add_streaming_listener(completed.clone());
    /// t.collect(&t.input(vec![vec![1], vec![2]]))?;
    /// t.run(2)?;
    /// // Events are delivered on their own thread; `stop` delivers those still queued.
    /// t.stop()?;
    /// assert_eq!(completed.0.load(Ordering::SeqCst), 2);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn add_streaming_listener(&self, listener: impl StreamingListener) {
        let listener: Arc<dyn StreamingListener> = Arc::new(listener);
        let mut listeners = self.inner.listeners.lock().recover();
        listeners.push(listener.clone());
        if let Some(rt) = self.runtime() {
            rt.bus.add(listener);
        }
    }

    /// Marks stream `id` as having state that its logic writes at checkpoint times (with a
    /// `checkpoint::ShareWriter`) and restores from `Checkpointing::restored`. With
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
        self.inner
            .graph
            .lock()
            .recover()
            .set_stateful(id, default_interval, restorer);
    }

    /// Sets stream `id`'s checkpoint interval (validated by the caller).
    pub(crate) fn set_checkpoint_interval(&self, id: usize, interval: Duration) -> Result<()> {
        if self.state() != StreamingContextState::Initialized {
            return Err(Error::Unsupported(
                "Cannot change checkpoint interval of a DStream after streaming context has started"
                    .into(),
            ));
        }
        self.inner
            .graph
            .lock()
            .recover()
            .set_checkpoint_interval(id, interval);
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
        let id = self
            .inner
            .graph
            .lock()
            .recover()
            .add_stream(name, slide, partitions, parents);
        lineage.insert(id);
        // An input has no RDD when its source gives none; any other stream, when a parent has
        // none (Spark's operations map `None` to `None`), unless it says otherwise after this
        // (see `dstream::presence`).
        let absent_when: std::collections::BTreeSet<usize> = if parents.is_empty() {
            [id].into()
        } else {
            parents
                .iter()
                .flat_map(|p| p.absent_when.iter().copied())
                .collect()
        };
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
                absent_when: Arc::new(absent_when),
                requires_rdds: None,
                key_partitions: None,
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
        let op = self
            .inner
            .graph
            .lock()
            .recover()
            .add_output(name, parent, |op| Arc::new(make(op)));
        Ok(op)
    }

    /// Whether `other` is this same context.
    pub(crate) fn same_as(&self, other: &StreamingContext) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// How long streams keep their batches for `slice`, if at all.
    pub(crate) fn remember_duration(&self) -> Option<Duration> {
        self.inner.graph.lock().recover().remember
    }
}
