//! The application's entry point (Spark's `SparkContext`): configuration, parallelism, and the
//! thread pool on which RDD operations run.
//!
//! ```
//! use ember::{Conf, Context};
//! # let _turn = ember::testing::exclusive(); // no streaming test swaps the context meanwhile
//! let sc = Context::get_or_create(Conf::new().set_master("local[2]")).unwrap();
//! let rdd = sc.parallelize(vec![1, 2, 3, 4], 2);
//! assert_eq!(rdd.map(|x| x * 10).collect(), vec![10, 20, 30, 40]);
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::conf::{Conf, Master, settings};
use crate::data::Data;
use crate::error::{Error, Result};
use crate::rdd::Rdd;
use crate::sync::RecoverPoison;

/// The process's active context, for [`Context::get_or_create`].
static ACTIVE: Mutex<Option<Context>> = Mutex::new(None);

/// A handle to the application's context; cheap to clone, shared by every RDD and stream made
/// from it.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

struct Inner {
    conf: Conf,
    master: Master,
    /// `spark.default.parallelism`, or the number of workers over all processes.
    default_parallelism: usize,
    pool: rayon::ThreadPool,
    stopped: AtomicBool,
    /// When the context was made (ms since the epoch, wall clock): the application's start.
    start_time: u64,
    /// The web UI's URL while a streaming context on this context serves it.
    ui_url: Mutex<Option<String>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("app_name", &self.inner.conf.app_name())
            .field("master", &self.inner.master)
            .field("stopped", &self.is_stopped())
            .finish()
    }
}

impl Context {
    /// Creates the process's context. Fails if another context is active (not stopped), as
    /// Spark allows one `SparkContext` per JVM, or if a setting of `conf` that ember knows has an
    /// invalid value ([`Error::InvalidSetting`]; see [`settings`]). An unknown `spark.*` or
    /// `ember.*` key is logged as a warning and otherwise ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// # let _turn = ember::testing::exclusive(); // contexts are process-wide: take turns
    ///
    /// use ember::{Conf, Context};
    ///
    /// let running = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// assert!(Context::new(Conf::new().set_app_name("second")).is_err());
    /// running.stop();
    /// let sc = Context::new(Conf::new().set_master("local[2]").set_app_name("second"))?;
    /// assert_eq!(sc.conf().app_name(), "second");
    /// sc.stop();
    ///
    /// let bad = Conf::new().set_master("local[2]").set("ember.input.maxLineBytes", "abc");
    /// assert_eq!(
    ///     Context::new(bad).unwrap_err().to_string(),
    ///     "setting ember.input.maxLineBytes=abc is not a size (bytes, with an optional k/m/g/t suffix)"
    /// );
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn new(conf: Conf) -> Result<Context> {
        let mut active = ACTIVE.lock().recover();
        if let Some(ctx) = active.as_ref().filter(|c| !c.is_stopped()) {
            return Err(Error::IllegalState(format!(
                "Only one Context should be running in this process; the running one is '{}'. \
                 Stop it first or use Context::get_or_create.",
                ctx.conf().app_name()
            )));
        }
        let ctx = Context::build(conf)?;
        *active = Some(ctx.clone());
        Ok(ctx)
    }

    /// Returns the active context, or creates one from `conf` (Spark's `SparkContext.getOrCreate`;
    /// `conf` is ignored when a context is already active).
    ///
    /// # Examples
    ///
    /// ```
    /// # let _turn = ember::testing::exclusive(); // contexts are process-wide: take turns
    ///
    /// use ember::{Conf, Context};
    ///
    /// let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// let same = Context::get_or_create(Conf::new().set_master("local[4]"))?;
    /// assert_eq!(same.master().threads(), sc.master().threads());
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn get_or_create(conf: Conf) -> Result<Context> {
        let mut active = ACTIVE.lock().recover();
        if let Some(ctx) = active.as_ref().filter(|c| !c.is_stopped()) {
            return Ok(ctx.clone());
        }
        let ctx = Context::build(conf)?;
        *active = Some(ctx.clone());
        Ok(ctx)
    }

    /// Makes the context after checking `conf` against the settings registry: a known setting
    /// with a bad value fails here, at the start, rather than wherever it is first read, and an
    /// unknown `spark.*`/`ember.*` key (most likely a typo, which Spark would ignore silently) is
    /// logged as a warning.
    fn build(conf: Conf) -> Result<Context> {
        for unknown in settings::check(&conf)? {
            match unknown.closest {
                Some(closest) => tracing::warn!(
                    "Unknown setting {} is ignored (did you mean {closest}?)",
                    unknown.key
                ),
                None => tracing::warn!("Unknown setting {} is ignored", unknown.key),
            }
        }
        let master = conf.master()?;
        // Bounded by the registry (at most 65536), so it fits a usize.
        let default_parallelism = settings::DEFAULT_PARALLELISM
            .get(&conf)?
            .map_or_else(|| master.total_workers(), |n| n as usize);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(master.threads())
            .thread_name(|i| format!("ember-rdd-{i}"))
            .build()
            .map_err(|e| Error::Execution(format!("cannot start the RDD thread pool: {e}")))?;
        Ok(Context {
            inner: Arc::new(Inner {
                conf,
                master,
                default_parallelism,
                pool,
                stopped: AtomicBool::new(false),
                start_time: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64),
                ui_url: Mutex::new(None),
            }),
        })
    }

    /// The configuration this context was created with.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    ///
    /// assert_eq!(sc.conf().get("spark.master"), Some("local[2]"));
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn conf(&self) -> &Conf {
        &self.inner.conf
    }

    /// The parsed master (threads, cluster processes).
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    ///
    /// assert_eq!(sc.master().threads(), 2);
    /// assert_eq!(sc.master().processes(), 1);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn master(&self) -> &Master {
        &self.inner.master
    }

    /// Default number of partitions of shuffles, input streams and test inputs (Spark's
    /// `defaultParallelism`): the setting [`spark.default.parallelism`](crate::conf::DEFAULT_PARALLELISM)
    /// when set, else the number of workers over all processes (Spark's total number of cores).
    /// Partitions are independent of workers: partition `p` runs on worker `p % workers`, so
    /// fewer partitions than workers leave some workers idle, and more give some several.
    ///
    /// # Examples
    ///
    /// ```
    /// # let _turn = ember::testing::exclusive(); // contexts are process-wide: take turns
    /// # if let Ok(old) = ember::Context::get_or_create(ember::Conf::new()) { old.stop(); }
    /// use ember::{Conf, Context};
    ///
    /// let sc = Context::new(Conf::new().set_master("local[2]"))?;
    /// assert_eq!(sc.default_parallelism(), 2); // the workers of local[2]
    /// sc.stop();
    ///
    /// // As PySpark's tests: one partition on two threads.
    /// let conf = Conf::new().set_master("local[2]").set("spark.default.parallelism", "1");
    /// let sc = Context::new(conf)?;
    /// assert_eq!(sc.default_parallelism(), 1);
    /// sc.stop();
    ///
    /// // A value that is no positive number is an error of the context's creation.
    /// let bad = Conf::new().set_master("local[2]").set("spark.default.parallelism", "0");
    /// assert!(Context::new(bad).is_err());
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn default_parallelism(&self) -> usize {
        self.inner.default_parallelism
    }

    /// Distributes a local collection into an RDD of `partitions` slices (at least one), cut into
    /// contiguous ranges as Spark's `parallelize` does.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    ///
    /// let rdd = sc.parallelize(vec![1, 2, 3, 4, 5], 2);
    /// assert_eq!(rdd.into_partitions(), [vec![1, 2], vec![3, 4, 5]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn parallelize<T: Data>(&self, data: Vec<T>, partitions: usize) -> Rdd<T> {
        let n = partitions.max(1);
        let len = data.len();
        let mut parts: Vec<Vec<T>> = Vec::with_capacity(n);
        let mut iter = data.into_iter();
        for i in 0..n {
            let start = i * len / n;
            let end = (i + 1) * len / n;
            parts.push(iter.by_ref().take(end - start).collect());
        }
        Rdd::from_partitions(self, parts)
    }

    /// An RDD with no partitions and no elements.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    ///
    /// let empty = sc.empty_rdd::<i32>();
    /// assert_eq!(empty.num_partitions(), 0);
    /// assert!(empty.is_empty());
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn empty_rdd<T: Data>(&self) -> Rdd<T> {
        Rdd::from_partitions(self, Vec::new())
    }

    /// Stops the context. Streams built on it can no longer start; a new context may be created.
    ///
    /// # Examples
    ///
    /// ```
    /// # let _turn = ember::testing::exclusive(); // contexts are process-wide: take turns
    ///
    /// use ember::{Conf, Context};
    ///
    /// let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// sc.stop();
    /// let next = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// assert!(!next.is_stopped());
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn stop(&self) {
        if !self.inner.stopped.swap(true, Ordering::SeqCst) {
            tracing::info!(app = self.conf().app_name(), "context stopped");
        }
        let mut active = ACTIVE.lock().recover();
        if active
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(&c.inner, &self.inner))
        {
            *active = None;
        }
    }

    /// Whether [`Context::stop`] has been called.
    ///
    /// # Examples
    ///
    /// ```
    /// # let _turn = ember::testing::exclusive(); // contexts are process-wide: take turns
    ///
    /// use ember::{Conf, Context};
    ///
    /// let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// assert!(!sc.is_stopped());
    /// sc.stop();
    /// assert!(sc.is_stopped());
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::SeqCst)
    }

    /// When this context was made, in ms since the epoch (Spark's `startTime`).
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// let now = std::time::SystemTime::now()
    ///     .duration_since(std::time::UNIX_EPOCH)
    ///     .unwrap()
    ///     .as_millis() as u64;
    /// assert!(sc.start_time() <= now);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn start_time(&self) -> u64 {
        self.inner.start_time
    }

    /// The application's id (Spark's `applicationId`): `local-<start ms>`, as Spark names a
    /// local application; the web UI's REST API lists it under `/api/v1/applications`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// assert_eq!(sc.application_id(), format!("local-{}", sc.start_time()));
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn application_id(&self) -> String {
        format!("local-{}", self.inner.start_time)
    }

    /// The URL of the web UI (Spark's `uiWebUrl`), e.g. `http://127.0.0.1:4040`, while a
    /// streaming context on this context serves it; `None` otherwise (none is running, or
    /// `spark.ui.enabled` is false). See [`StreamingContext::ui_web_url`](crate::StreamingContext::ui_web_url).
    ///
    /// # Examples
    ///
    /// ```
    /// # let sc = ember::testing::context()?;
    /// // No streaming context runs here.
    /// assert_eq!(sc.ui_web_url(), None);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn ui_web_url(&self) -> Option<String> {
        self.inner.ui_url.lock().recover().clone()
    }

    /// Records the web UI's URL (`None`: it stopped).
    pub(crate) fn set_ui_web_url(&self, url: Option<String>) {
        *self.inner.ui_url.lock().recover() = url;
    }

    /// Runs `f` on this context's thread pool, where RDD operations execute in parallel.
    pub(crate) fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.inner.pool.install(f)
    }
}
