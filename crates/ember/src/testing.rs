//! Deterministic tests of streaming pipelines, as Spark's `TestSuiteBase` and Flink's test
//! harnesses: a manual clock, input batches given as vectors, each batch's output collected, and
//! no sleeping. The pipeline runs on the real engine (timely workers), so what passes here is
//! what runs in production. As in Spark's own test suites, these contexts serve no web UI unless
//! their configuration turns it on.
//!
//! ```
//! use ember::testing::StreamTest;
//! use ember::Duration;
//!
//! let t = StreamTest::new("local[2]", Duration::seconds(1)).unwrap();
//! let lines = t.input(vec![vec!["a b a".to_string()], vec![], vec!["b".to_string()]]);
//! let counts = lines
//!     .flat_map(|l: String| l.split(' ').map(str::to_owned).collect::<Vec<_>>())
//!     .map(|w| (w, 1))
//!     .reduce_by_key(|a, b| a + b, None);
//! let out = t.collect(&counts).unwrap();
//! t.run(3).unwrap();
//! assert_eq!(out.sorted_batches(), vec![
//!     vec![("a".to_string(), 2), ("b".to_string(), 1)],
//!     vec![],
//!     vec![("b".to_string(), 1)],
//! ]);
//! ```

use std::sync::{Arc, Mutex, MutexGuard};

use crate::conf::Conf;
use crate::context::Context;
use crate::data::Data;
use crate::dstream::{DStream, RddQueue};
use crate::error::{Error, Result};
use crate::scheduler::clock::ManualClock;
use crate::streaming::StreamingContext;
use crate::sync::RecoverPoison;
use crate::time::{Duration, Time};

static EXCLUSIVE: Mutex<()> = Mutex::new(());

/// Holds the process-wide test lock: only one streaming context may run per process, so tests
/// that start one take turns. [`StreamTest`] takes it for its whole life.
pub fn exclusive() -> MutexGuard<'static, ()> {
    EXCLUSIVE.lock().recover()
}

/// `conf` with the web UI off unless it says otherwise: as in Spark's own test suites, tests
/// that run many contexts in parallel processes serve no UI (each would take a port); the tests
/// of the UI turn it on, with `spark.ui.port=0` (any free port).
fn without_ui(conf: Conf) -> Conf {
    let key = crate::conf::settings::UI_ENABLED.key();
    if conf.get(key).is_some() {
        conf
    } else {
        conf.set(key, "false")
    }
}

/// The process's context if it runs `master`'s number of threads, else a new one for `master`
/// (the old one stopped), with the web UI off. The caller holds the test lock.
fn local_context(master: &str) -> Result<Context> {
    let conf = || without_ui(Conf::new().set_master(master).set_app_name("test"));
    match Context::get_or_create(conf()) {
        // Same threads and default partitions, and no UI (a context made by `with_conf` may
        // set `spark.default.parallelism` or turn the UI on; a later test must not inherit it).
        Ok(ctx)
            if ctx.master().threads() == conf().master()?.threads()
                && ctx.default_parallelism() == ctx.master().total_workers()
                && !crate::conf::settings::UI_ENABLED.value(ctx.conf()) =>
        {
            Ok(ctx)
        }
        Ok(other) => {
            other.stop();
            Context::new(conf())
        }
        Err(e) => Err(e),
    }
}

/// A `local[2]` [`Context`] for examples and tests of RDD code, holding the test lock
/// ([`exclusive`]) while it lives: a [`StreamTest`] may replace the process's context, so RDD
/// code that runs next to streaming tests takes its turn too. It dereferences to the
/// [`Context`].
///
/// ```
/// let sc = ember::testing::context()?;
/// let rdd = sc.parallelize(vec![1, 2, 3], 2);
/// assert_eq!(rdd.map(|x| x * 2).collect(), [2, 4, 6]);
/// # Ok::<(), ember::Error>(())
/// ```
pub fn context() -> Result<TestContext> {
    let turn = exclusive();
    Ok(TestContext {
        ctx: local_context("local[2]")?,
        _turn: turn,
    })
}

/// A [`Context`] that holds the test lock; see [`context`].
pub struct TestContext {
    ctx: Context,
    _turn: MutexGuard<'static, ()>,
}

impl std::ops::Deref for TestContext {
    type Target = Context;

    fn deref(&self) -> &Context {
        &self.ctx
    }
}

/// A streaming context on a manual clock, with helpers to feed batches and collect output.
pub struct StreamTest {
    ssc: StreamingContext,
    clock: ManualClock,
    batch: Duration,
    ran: Mutex<u64>,
    _turn: MutexGuard<'static, ()>,
}

/// Each collected batch with its time, shared with the output operation that fills it.
type Batches<T> = Arc<Mutex<Vec<(Time, Vec<T>)>>>;

/// The collected output of a stream: one entry per batch, in batch order.
pub struct Collected<T> {
    batches: Batches<T>,
}

impl<T: Clone> Collected<T> {
    /// Every batch with its time.
    pub fn batches_with_time(&self) -> Vec<(Time, Vec<T>)> {
        self.batches.lock().recover().clone()
    }
    /// Every batch's elements, in the order the RDD holds them.
    pub fn batches(&self) -> Vec<Vec<T>> {
        self.batches_with_time()
            .into_iter()
            .map(|(_, b)| b)
            .collect()
    }
    /// Every batch's elements, sorted (for comparisons that must not depend on partitioning).
    pub fn sorted_batches(&self) -> Vec<Vec<T>>
    where
        T: Ord,
    {
        let mut out = self.batches();
        for b in out.iter_mut() {
            b.sort();
        }
        out
    }
}

impl StreamTest {
    /// A test context with master `master` (e.g. `local[2]`) and batch interval `batch`. The
    /// manual clock starts at 0, so batch times are `batch`, `2 * batch`, ...
    pub fn new(master: &str, batch: Duration) -> Result<Self> {
        let turn = exclusive();
        if let Some(active) = StreamingContext::get_active() {
            active.stop(false, false)?;
        }
        let ctx = local_context(master)?;
        Self::on(&ctx, batch, turn)
    }

    /// A test context on a fresh [`Context`] made from `conf` (for settings such as the
    /// write-ahead log), with batch interval `batch`. Its web UI is off unless `conf` sets
    /// `spark.ui.enabled` (then use `spark.ui.port=0`: tests run in parallel processes).
    pub fn with_conf(conf: Conf, batch: Duration) -> Result<Self> {
        let turn = exclusive();
        if let Some(active) = StreamingContext::get_active() {
            active.stop(false, false)?;
        }
        if let Ok(old) = Context::get_or_create(Conf::new()) {
            old.stop();
        }
        let ctx = Context::new(without_ui(conf))?;
        Self::on(&ctx, batch, turn)
    }

    /// A test context on `ctx` with a manual clock at 0, holding the test lock `turn`.
    fn on(ctx: &Context, batch: Duration, turn: MutexGuard<'static, ()>) -> Result<Self> {
        let clock = ManualClock::new(Time::from_millis(0));
        let ssc = StreamingContext::with_clock(ctx, batch, Arc::new(clock.clone()))?;
        Ok(StreamTest {
            ssc,
            clock,
            batch,
            ran: Mutex::new(0),
            _turn: turn,
        })
    }

    /// The streaming context under test.
    pub fn context(&self) -> &StreamingContext {
        &self.ssc
    }

    /// The manual clock.
    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// An input stream whose i-th batch holds `batches[i]` (spread over the default number of
    /// partitions); later batches are empty.
    pub fn input<T: Data>(&self, batches: Vec<Vec<T>>) -> DStream<T> {
        let ctx = self.ssc.context();
        let queue = RddQueue::new();
        for b in batches {
            queue.push(ctx.parallelize(b, ctx.default_parallelism()));
        }
        self.ssc.queue_stream(
            queue,
            true,
            Some(ctx.parallelize(Vec::new(), ctx.default_parallelism())),
        )
    }

    /// An input stream whose i-th batch holds `batches[i]` (spread over the default number of
    /// partitions), or has *no RDD* where it is `None` (not an empty one: see
    /// [`StreamingContext::optional_queue_stream`]); later batches are empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::{Duration, Time};
    ///
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let numbers = t.optional_input(vec![Some(vec![1]), None, Some(vec![])]);
    /// let out = t.collect(&numbers.filter(|x| x % 2 == 1))?;
    /// t.run(3)?;
    /// // The output does not run at 2000 ms, where the batch has no RDD.
    /// let expected = [(Time::from_millis(1000), vec![1]), (Time::from_millis(3000), vec![])];
    /// assert_eq!(out.batches_with_time(), expected);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn optional_input<T: Data>(&self, batches: Vec<Option<Vec<T>>>) -> DStream<T> {
        let ctx = self.ssc.context();
        let n = ctx.default_parallelism();
        let entries = batches
            .into_iter()
            .map(|b| b.map(|b| ctx.parallelize(b, n)))
            .collect::<Vec<_>>();
        self.ssc.optional_queue_stream(
            RddQueue::from(entries),
            true,
            Some(ctx.parallelize(Vec::new(), n)),
        )
    }

    /// Collects every batch of `stream`.
    pub fn collect<T: Data>(&self, stream: &DStream<T>) -> Result<Collected<T>> {
        let batches: Batches<T> = Arc::new(Mutex::new(Vec::new()));
        let sink = batches.clone();
        stream.foreach_rdd(move |rdd, time| {
            sink.lock().recover().push((time, rdd.collect()));
        })?;
        Ok(Collected { batches })
    }

    /// Starts the context if needed and runs `n` more batches, one after the other, returning
    /// once the last one has completed and its checkpoint files, if the run checkpoints, are
    /// written (the checkpoint writer writes them in the background).
    pub fn run(&self, n: usize) -> Result<()> {
        if self.ssc.state() == crate::streaming::StreamingContextState::Initialized {
            self.ssc.start()?;
        }
        let mut ran = self.ran.lock().recover();
        for _ in 0..n {
            *ran += 1;
            let t = Time::from_millis(self.batch.as_millis() * *ran);
            self.clock.set(t);
            if !self.ssc.wait_batch(t, std::time::Duration::from_secs(60)) {
                return Err(Error::Execution(format!(
                    "batch {t} did not complete within 60 s"
                )));
            }
        }
        // Checkpoints are written in the background: a test sees the files of the batches run.
        self.ssc.wait_checkpoints_written();
        Ok(())
    }

    /// Restores the newest checkpoint of `dir` into the graph built so far (what
    /// [`StreamingContext::get_or_create`] does after building it), and moves the clock to the
    /// committed batch, so that [`run`](Self::run) continues after it. The committed batch time,
    /// if there was a checkpoint.
    pub fn restore(&self, dir: &std::path::Path) -> Result<Option<Time>> {
        let committed = self.ssc.restore_from(dir, false)?;
        if let Some(t) = committed {
            *self.ran.lock().recover() = t.as_millis() / self.batch.as_millis();
            self.clock.set(t);
        }
        Ok(committed)
    }

    /// Stops the context (not the `Context`) and waits for it.
    pub fn stop(&self) -> Result<()> {
        self.ssc.stop(false, false)
    }
}

impl Drop for StreamTest {
    fn drop(&mut self) {
        let _ = self.ssc.stop(false, false);
    }
}

/// Runs `operation` on `input` (one vector per batch) for `batches` batches and returns each
/// batch's output, sorted: Spark's `testOperation`.
///
/// ```
/// use ember::testing::test_operation;
///
/// let out = test_operation("local[2]", vec![vec![1, 2], vec![], vec![3]], |s| s.map(|x| x * 10), 3)?;
/// assert_eq!(out, [vec![10, 20], vec![], vec![30]]);
/// # Ok::<(), ember::Error>(())
/// ```
pub fn test_operation<T: Data, U: Data + Ord>(
    master: &str,
    input: Vec<Vec<T>>,
    operation: impl FnOnce(&DStream<T>) -> DStream<U>,
    batches: usize,
) -> Result<Vec<Vec<U>>> {
    let t = StreamTest::new(master, Duration::seconds(1))?;
    let stream = t.input(input);
    let out = t.collect(&operation(&stream))?;
    t.run(batches)?;
    t.stop()?;
    Ok(out.sorted_batches())
}

/// Runs the two-stream `operation` on `input1` and `input2` (one vector per batch each) for
/// `batches` batches and returns each batch's output, sorted: Spark's `testOperation` with two
/// inputs, for joins, `cogroup`, `union` and `transform_with`.
///
/// ```
/// use ember::testing::test_binary_operation;
///
/// let out = test_binary_operation(
///     "local[2]",
///     vec![vec![1, 2], vec![3]],
///     vec![vec![10], vec![]],
///     |a, b| a.union(b),
///     2,
/// )?;
/// assert_eq!(out, [vec![1, 2, 10], vec![3]]);
/// # Ok::<(), ember::Error>(())
/// ```
pub fn test_binary_operation<T: Data, V: Data, U: Data + Ord>(
    master: &str,
    input1: Vec<Vec<T>>,
    input2: Vec<Vec<V>>,
    operation: impl FnOnce(&DStream<T>, &DStream<V>) -> DStream<U>,
    batches: usize,
) -> Result<Vec<Vec<U>>> {
    let t = StreamTest::new(master, Duration::seconds(1))?;
    let (first, second) = (t.input(input1), t.input(input2));
    let out = t.collect(&operation(&first, &second))?;
    t.run(batches)?;
    t.stop()?;
    Ok(out.sorted_batches())
}
