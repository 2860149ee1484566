//! State shared by the user's thread, the driver worker and the other workers of one running
//! `StreamingContext`: stop requests, the first reported error, failures of user code per batch,
//! output jobs waiting to run, batch completion, and the failure of a cluster (a lost process),
//! which ends the run.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::Thread;

use crossbeam_channel::{Receiver, Sender};

use crate::context::Context;
use crate::error::{Error, JobError};
use crate::output::OutputError;
use crate::receiver::event::ReceiverEvent;
use crate::scheduler::clock::Clock;
use crate::scheduler::listener::{BatchInfo, Event, ListenerBus, OutputOperationInfo};
use crate::scheduler::rate::controller::RateControl;
use crate::sync::RecoverPoison;
use crate::time::{Duration, Time};

/// How a stop was requested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopMode {
    /// Stop now: batches not yet processed are dropped.
    Immediate,
    /// Stop receiving, then process everything already received.
    Graceful,
}

/// An output operation's work for one batch, run on the driver in definition order.
pub(crate) struct Job {
    /// Output operation index.
    pub(crate) op: usize,
    /// Short name (`print`, `foreach_rdd`, ...).
    pub(crate) name: &'static str,
    /// Node ids this output depends on; a failure in any of them fails the job.
    pub(crate) lineage: Arc<BTreeSet<usize>>,
    /// The work; `Err` is a failure with its cause.
    pub(crate) run: Box<dyn FnOnce() -> Result<(), JobError> + Send>,
}

/// The first error reported while running; `await_termination` returns it (again on every
/// call, as Spark rethrows it).
#[derive(Clone, Debug)]
enum Reported {
    Job {
        time: Time,
        op: usize,
        cause: JobError,
    },
    Execution(String),
}

impl Reported {
    fn to_error(&self) -> Error {
        match self {
            Reported::Job { time, op, cause } => Error::JobFailed {
                time: *time,
                output_op: *op,
                source: cause.clone(),
            },
            Reported::Execution(m) => Error::Execution(m.clone()),
        }
    }
}

#[derive(Default)]
struct Control {
    stop: Option<StopMode>,
    terminated: bool,
    first_error: Option<Reported>,
    /// Why the cluster cannot go on (a process was lost); the run is over, whatever its threads
    /// still do, and every wait returns this.
    cluster_failure: Option<String>,
    completed: BTreeSet<u64>,
    /// The latest batch (ms) whose data has gone all the way through the dataflow.
    computed: u64,
    /// Batches through this time (ms) are to be computed now, ahead of the clock (`slice`).
    ahead: Option<u64>,
    /// On the driver of a cluster: for each other process, the time (ms) before which it has
    /// reported every failure of user code (`u64::MAX` once its dataflow has ended). A batch's
    /// jobs run only once every process is past it.
    remote_through: BTreeMap<usize, u64>,
}

/// Shared state of one run.
pub(crate) struct Runtime {
    /// How long streams keep their batches for `slice` (`None`: not at all).
    pub(crate) remember: Option<Duration>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ctx: Context,
    pub(crate) bus: ListenerBus,
    /// Checkpointing of this run, when the context has a checkpoint directory.
    pub(crate) checkpointing: Option<Arc<crate::checkpoint::Checkpointing>>,
    /// What the web UI shows; the engine reports to it (cheaply: per batch or block).
    pub(crate) status: Arc<crate::status::Status>,
    /// The receivers' rate limits and, with backpressure, their controllers.
    pub(crate) rates: RateControl,
    control: Mutex<Control>,
    changed: Condvar,
    failures: Mutex<BTreeMap<u64, Vec<(usize, JobError)>>>,
    jobs: Mutex<BTreeMap<u64, Vec<Job>>>,
    workers: Mutex<Vec<Thread>>,
    input_counts: Mutex<BTreeMap<(u64, usize), u64>>,
    /// Nodes that fail a batch where one of some inputs has no RDD; see `require_rdds`.
    rdd_requirements: Mutex<Vec<RddRequirement>>,
    receiver_events: (Sender<ReceiverEvent>, Receiver<ReceiverEvent>),
    /// Input files skipped because they could not be read, over the run (on this process).
    input_failures: std::sync::atomic::AtomicU64,
    /// Where stop requests go besides this process: set on the processes of a cluster that do
    /// not run the batch clock, whose own stop would stop nothing (the driver ends the run).
    stop_forward: OnceLock<Box<dyn Fn(StopMode) + Send + Sync>>,
}

/// A node that fails a batch where one of `inputs` has no RDD, saying `message(time)`.
struct RddRequirement {
    node: usize,
    name: &'static str,
    inputs: Arc<BTreeSet<usize>>,
    message: Box<dyn Fn(Time) -> String + Send + Sync>,
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

impl Runtime {
    pub(crate) fn new(
        remember: Option<Duration>,
        clock: Arc<dyn Clock>,
        ctx: Context,
        bus: ListenerBus,
        checkpointing: Option<Arc<crate::checkpoint::Checkpointing>>,
        status: Arc<crate::status::Status>,
        rates: RateControl,
    ) -> Self {
        Runtime {
            remember,
            clock,
            ctx,
            bus,
            checkpointing,
            status,
            rates,
            control: Mutex::new(Control::default()),
            changed: Condvar::new(),
            failures: Mutex::new(BTreeMap::new()),
            jobs: Mutex::new(BTreeMap::new()),
            workers: Mutex::new(Vec::new()),
            input_counts: Mutex::new(BTreeMap::new()),
            rdd_requirements: Mutex::new(Vec::new()),
            receiver_events: crossbeam_channel::unbounded(),
            input_failures: std::sync::atomic::AtomicU64::new(0),
            stop_forward: OnceLock::new(),
        }
    }

    /// Sends every later stop request to `forward` too (a cluster process that is not the
    /// driver: the driver's stop is what ends the run everywhere).
    pub(crate) fn forward_stops(&self, forward: impl Fn(StopMode) + Send + Sync + 'static) {
        let _ = self.stop_forward.set(Box::new(forward));
    }

    pub(crate) fn post(&self, event: Event) {
        self.bus.post(event);
    }

    /// On the driver of a cluster: the other processes, whose reports (failures of user code,
    /// and how far they are) every batch waits for before its jobs run.
    pub(crate) fn expect_reports_from(&self, processes: impl IntoIterator<Item = usize>) {
        let mut c = self.control.lock().recover();
        c.remote_through = processes.into_iter().map(|p| (p, 0)).collect();
    }

    /// Process `process` has reported every failure of user code before `through` (ms).
    pub(crate) fn reported_through(&self, process: usize, through: u64) {
        let mut c = self.control.lock().recover();
        if let Some(t) = c.remote_through.get_mut(&process) {
            *t = (*t).max(through);
        }
        drop(c);
        self.changed.notify_all();
        self.wake_workers();
    }

    /// Whether every other process has reported its failures of batch `time` (always, in one
    /// process).
    pub(crate) fn reports_in(&self, time: Time) -> bool {
        let c = self.control.lock().recover();
        c.remote_through.values().all(|t| *t > time.as_millis())
    }

    /// Waits at most `timeout` for a report of another process (or the cluster's failure).
    pub(crate) fn wait_reports(&self, timeout: std::time::Duration) {
        let c = self.control.lock().recover();
        if c.cluster_failure.is_none() {
            drop(self.changed.wait_timeout(c, timeout).recover());
        }
    }

    /// Takes the failures of user code of the batches before `through` (ms), for the driver:
    /// batch time, node, operation and cause. (A process that is not the driver runs no jobs,
    /// so it sends them there.)
    pub(crate) fn take_failures_before(
        &self,
        through: u64,
    ) -> Vec<(Time, usize, &'static str, JobError)> {
        let mut failures = self.failures.lock().recover();
        let later = failures.split_off(&through);
        let earlier = std::mem::replace(&mut *failures, later);
        earlier
            .into_iter()
            .flat_map(|(time, list)| {
                list.into_iter().map(move |(node, failure)| match failure {
                    JobError::Upstream { operation, cause } => {
                        (Time::from_millis(time), node, operation, *cause)
                    }
                    other => (Time::from_millis(time), node, "operation", other),
                })
            })
            .collect()
    }

    /// Records that user code of node `node` (the operation `what`) failed in batch `time`.
    pub(crate) fn fail(
        &self,
        time: Time,
        node: usize,
        what: &'static str,
        cause: impl Into<JobError>,
    ) {
        let cause = cause.into();
        tracing::error!(batch = %time, operation = what, "user code failed: {cause}");
        self.failures
            .lock()
            .recover()
            .entry(time.as_millis())
            .or_default()
            .push((
                node,
                JobError::Upstream {
                    operation: what,
                    cause: Box::new(cause),
                },
            ));
    }

    /// Registers node `node` (operation `name`) as failing every batch where one of `inputs`
    /// has no RDD, with `message(time)` (Spark's `UnionDStream` and `TransformedDStream`).
    /// The driver registers them while it builds its dataflow.
    pub(crate) fn require_rdds(
        &self,
        node: usize,
        name: &'static str,
        inputs: Arc<BTreeSet<usize>>,
        message: impl Fn(Time) -> String + Send + Sync + 'static,
    ) {
        self.rdd_requirements.lock().recover().push(RddRequirement {
            node,
            name,
            inputs,
            message: Box::new(message),
        });
    }

    /// Fails batch `time` in every node registered by `require_rdds` that needs one of the
    /// inputs `no_rdd` (which have no RDD at `time`).
    pub(crate) fn fail_missing_rdds(&self, time: Time, no_rdd: &[usize]) {
        if no_rdd.is_empty() {
            return;
        }
        let requirements = self.rdd_requirements.lock().recover();
        for r in requirements.iter() {
            if no_rdd.iter().any(|input| r.inputs.contains(input)) {
                self.fail(time, r.node, r.name, (r.message)(time));
            }
        }
    }

    /// Queues an output job of batch `time`; it runs once the batch is complete.
    pub(crate) fn submit_job(&self, time: Time, job: Job) {
        self.jobs
            .lock()
            .recover()
            .entry(time.as_millis())
            .or_default()
            .push(job);
    }

    /// Runs the output jobs of a completed batch in definition order, posting Spark's events,
    /// and returns the completed batch's info. `with_next`: the next batch's data went through
    /// the dataflow with this one's, and its jobs run next (for rate control, which measures
    /// such batches together).
    pub(crate) fn run_jobs(&self, mut info: BatchInfo, with_next: bool) -> BatchInfo {
        let t = info.batch_time;
        let mut jobs = self
            .jobs
            .lock()
            .recover()
            .remove(&t.as_millis())
            .unwrap_or_default();
        jobs.sort_by_key(|j| j.op);
        let failures = self
            .failures
            .lock()
            .recover()
            .remove(&t.as_millis())
            .unwrap_or_default();
        let start = self.clock.now().as_millis();
        info.processing_start_time = Some(start.max(info.submission_time));
        self.post(Event::BatchStarted(info.clone()));
        for job in jobs {
            let mut op = OutputOperationInfo {
                batch_time: t,
                id: job.op,
                name: job.name.to_owned(),
                description: format!("{} of output operation {}", job.name, job.op),
                start_time: Some(self.clock.now().as_millis()),
                end_time: None,
                failure_reason: None,
            };
            self.post(Event::OutputStarted(op.clone()));
            let upstream = failures
                .iter()
                .find(|(node, _)| job.lineage.contains(node))
                .map(|(_, cause)| cause.clone());
            let outcome = match upstream {
                Some(cause) => Err(cause),
                None => catch_unwind(AssertUnwindSafe(job.run))
                    .unwrap_or_else(|p| Err(JobError::panicked(p))),
            };
            match outcome {
                Ok(()) => {}
                // A closed stdout ends the output quietly (`crate::output`'s policy): the run
                // stops and nothing failed.
                Err(cause) if OutputError::in_chain(&cause).is_some_and(OutputError::is_closed) => {
                    tracing::debug!("stdout closed; stopping");
                    self.request_stop(StopMode::Immediate);
                }
                Err(cause) => {
                    tracing::error!("Error running job streaming job {t}.{}: {cause}", job.op);
                    op.failure_reason = Some(cause.to_string());
                    self.report(Reported::Job {
                        time: t,
                        op: job.op,
                        cause,
                    });
                }
            }
            op.end_time = Some(self.clock.now().as_millis());
            info.output_operation_infos.insert(op.id, op.clone());
            self.post(Event::OutputCompleted(op));
        }
        info.processing_end_time = Some(self.clock.now().as_millis());
        // Before the event: a listener that sees the batch completed sees the new rates too.
        self.rates.on_batch_completed(&info, with_next);
        // The web UI and /metrics show each receiver's limit and throttling as of this batch.
        for rate in self.rates.statuses() {
            if let Some(source) = self.status.sources.get(rate.stream_id) {
                source.set_rate(rate.rate_limit, rate.throttled);
            }
        }
        self.post(Event::BatchCompleted(info.clone()));
        info
    }

    /// Marks batch `time` done (its jobs ran and, at a checkpoint time, it is committed), for
    /// whoever waits on it.
    pub(crate) fn mark_completed(&self, time: Time) {
        self.control
            .lock()
            .recover()
            .completed
            .insert(time.as_millis());
        self.changed.notify_all();
    }

    /// Notes that batch `time`'s data has gone all the way through the dataflow (its jobs may
    /// still wait for their time), for whoever waits in [`compute_through`](Self::compute_through).
    pub(crate) fn mark_computed(&self, time: Time) {
        let mut c = self.control.lock().recover();
        if time.as_millis() > c.computed {
            c.computed = time.as_millis();
            drop(c);
            self.changed.notify_all();
        }
    }

    /// Whether every batch through `time` has been computed.
    pub(crate) fn computed_through(&self, time: Time) -> bool {
        self.control.lock().recover().computed >= time.as_millis()
    }

    /// Asks the driver to compute the batches through `time` now if their time has not come
    /// (Spark's `getOrCompute`, as `slice` uses it), and waits until they are computed or the
    /// run ends. Whether they were. Their output jobs still run at their batch times.
    pub(crate) fn compute_through(&self, time: Time) -> bool {
        let ms = time.as_millis();
        let mut c = self.control.lock().recover();
        if c.computed < ms {
            c.ahead = Some(c.ahead.map_or(ms, |a| a.max(ms)));
            drop(c);
            self.wake_workers();
            c = self.control.lock().recover();
        }
        loop {
            if c.computed >= ms {
                return true;
            }
            if c.terminated || c.stop == Some(StopMode::Immediate) || c.cluster_failure.is_some() {
                return false;
            }
            c = self.changed.wait(c).recover();
        }
    }

    /// The time through which batches are to be computed ahead of the clock, if any.
    pub(crate) fn ahead(&self) -> Option<Time> {
        self.control.lock().recover().ahead.map(Time::from_millis)
    }

    /// Drops the queued jobs of a batch that will not run (immediate stop).
    pub(crate) fn discard_jobs(&self, time: Time) {
        self.jobs.lock().recover().remove(&time.as_millis());
        self.failures.lock().recover().remove(&time.as_millis());
        self.status.batches.batch_discarded(time.as_millis());
    }

    fn report(&self, r: Reported) {
        let mut c = self.control.lock().recover();
        if c.first_error.is_none() {
            c.first_error = Some(r);
        }
        drop(c);
        self.changed.notify_all();
    }

    /// Reports a failure of the execution itself (a worker died).
    pub(crate) fn report_execution_error(&self, message: String) {
        self.report(Reported::Execution(message));
    }

    pub(crate) fn request_stop(&self, mode: StopMode) {
        let mut c = self.control.lock().recover();
        // An immediate request overrides a graceful one, never the reverse.
        if c.stop != Some(StopMode::Immediate) {
            c.stop = Some(mode);
        }
        let ended = c.terminated || c.cluster_failure.is_some();
        drop(c);
        self.changed.notify_all();
        self.wake_workers();
        if !ended && let Some(forward) = self.stop_forward.get() {
            forward(mode);
        }
    }

    /// Ends the run because the cluster cannot go on (`why` names the lost process): every wait
    /// returns [`Error::Cluster`] from now on, the driver stops at once and runs no more jobs.
    /// Whether this was the first such failure (later ones are consequences of it).
    pub(crate) fn fail_cluster(&self, why: String) -> bool {
        let mut c = self.control.lock().recover();
        if c.cluster_failure.is_some() {
            return false;
        }
        tracing::error!("cluster: {why}");
        // No commit is made after the failure (another process's shares may never come).
        if let Some(ck) = &self.checkpointing {
            ck.abandon();
        }
        c.cluster_failure = Some(why);
        c.stop = Some(StopMode::Immediate);
        drop(c);
        self.changed.notify_all();
        self.wake_workers();
        true
    }

    /// Whether the cluster has failed ([`fail_cluster`](Self::fail_cluster)).
    pub(crate) fn cluster_failed(&self) -> bool {
        self.control.lock().recover().cluster_failure.is_some()
    }

    /// Waits until every local worker has ended or the cluster has failed; after a failure, waits
    /// at most `grace` more for the workers. Whether they ended: threads that wait on a peer
    /// that is gone may never end, and the process is then left to end without them.
    pub(crate) fn wait_ended(&self, grace: std::time::Duration) -> bool {
        let mut c = self.control.lock().recover();
        while !c.terminated && c.cluster_failure.is_none() {
            c = self.changed.wait(c).recover();
        }
        let deadline = std::time::Instant::now() + grace;
        while !c.terminated {
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            c = self.changed.wait_timeout(c, deadline - now).recover().0;
        }
        true
    }

    pub(crate) fn stop_mode(&self) -> Option<StopMode> {
        self.control.lock().recover().stop
    }

    pub(crate) fn mark_terminated(&self) {
        self.control.lock().recover().terminated = true;
        self.changed.notify_all();
    }

    /// Waits until the run ends or an error is reported, at most `timeout` (forever if `None`).
    /// `Ok(true)`: ended; `Ok(false)`: timed out; `Err`: the cluster's failure, which ended the
    /// run, or else the first reported error.
    pub(crate) fn await_termination(
        &self,
        timeout: Option<std::time::Duration>,
    ) -> Result<bool, Error> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let mut c = self.control.lock().recover();
        loop {
            if let Some(why) = &c.cluster_failure {
                return Err(Error::Cluster(why.clone()));
            }
            if let Some(e) = &c.first_error {
                return Err(e.to_error());
            }
            if c.terminated {
                return Ok(true);
            }
            match deadline {
                None => c = self.changed.wait(c).recover(),
                Some(d) => {
                    let now = std::time::Instant::now();
                    if now >= d {
                        return Ok(false);
                    }
                    c = self.changed.wait_timeout(c, d - now).recover().0;
                }
            }
        }
    }

    /// Waits until batch `time` has completed (or the run ended), at most `timeout`.
    pub(crate) fn wait_batch(&self, time: Time, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let mut c = self.control.lock().recover();
        loop {
            if c.completed.contains(&time.as_millis()) {
                return true;
            }
            if c.terminated || c.cluster_failure.is_some() {
                return false;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            c = self.changed.wait_timeout(c, deadline - now).recover().0;
        }
    }

    /// Registers a worker thread that feeds inputs, to be woken by new input and stops.
    pub(crate) fn register_worker(&self, t: Thread) {
        self.workers.lock().recover().push(t);
    }

    /// Whether the calling thread is one of this run's feeding workers (the driver is one).
    pub(crate) fn on_worker_thread(&self) -> bool {
        let me = std::thread::current().id();
        self.workers.lock().recover().iter().any(|t| t.id() == me)
    }

    /// Wakes the feeding workers if they are parked (new input, a stop request, a new batch).
    pub(crate) fn wake_workers(&self) {
        for t in self.workers.lock().recover().iter() {
            t.unpark();
        }
    }

    /// Adds `n` records of input stream `stream` to batch `time`.
    pub(crate) fn add_input_count(&self, time: Time, stream: usize, n: u64) {
        *self
            .input_counts
            .lock()
            .recover()
            .entry((time.as_millis(), stream))
            .or_default() += n;
    }

    /// The record counts of batch `time` per input stream, removed.
    pub(crate) fn take_input_counts(&self, time: Time) -> BTreeMap<usize, u64> {
        let mut counts = self.input_counts.lock().recover();
        let t = time.as_millis();
        let keys: Vec<(u64, usize)> = counts
            .range((t, 0)..=(t, usize::MAX))
            .map(|(k, _)| *k)
            .collect();
        keys.into_iter()
            .filter_map(|k| counts.remove(&k).map(|n| (k.1, n)))
            .collect()
    }

    /// Counts an input file that was skipped because it could not be read (it was reported
    /// where it happened).
    pub(crate) fn note_input_failure(&self) {
        self.input_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Input files skipped because they could not be read, so far.
    pub(crate) fn input_failures(&self) -> u64 {
        self.input_failures
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Where receivers send their lifecycle events.
    pub(crate) fn receiver_events(&self) -> Sender<ReceiverEvent> {
        self.receiver_events.0.clone()
    }

    /// Forwards receivers' events to the listeners (called by the driver loop, so that they
    /// are ordered with the batch events).
    pub(crate) fn drain_receiver_events(&self) {
        while let Ok(event) = self.receiver_events.1.try_recv() {
            self.post(match event {
                ReceiverEvent::Started(i) => Event::ReceiverStarted(i),
                ReceiverEvent::Error(i) => Event::ReceiverError(i),
                ReceiverEvent::Stopped(i) => Event::ReceiverStopped(i),
            });
        }
    }
}
