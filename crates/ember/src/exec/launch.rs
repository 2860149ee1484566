//! Launching a plan: timely's worker threads, each building the same dataflow and then taking
//! its role (the driver, a feeding worker, or a worker that only steps the dataflow).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::{InputHandle, ProbeHandle};
use timely::worker::Worker;

use crate::checkpoint::GraphShape;
use crate::conf::Master;
use crate::error::{Error, Result};
use crate::exec::build::{Builder, count_consumers};
use crate::exec::cluster;
use crate::exec::control::Reporter;
use crate::exec::driver::drive;
use crate::exec::feed::{Gate, feed};
use crate::scheduler::Tick;
use crate::scheduler::runtime::Runtime;
use crate::time::{Duration, Time};

/// An output operation of the graph: builds its part of the dataflow (and, through it, every
/// stream it depends on).
pub(crate) trait OutputNode: Send + Sync + 'static {
    /// Adds this output and its lineage to the dataflow being built.
    fn build<'s>(&self, b: &mut Builder<'s>);
}

/// What to run: the graph's outputs and where.
pub(crate) struct Plan {
    pub(crate) outputs: Vec<Arc<dyn OutputNode>>,
    pub(crate) batch: Duration,
    pub(crate) master: Master,
    /// Identifies the graph's shape; processes of a cluster must agree on it.
    pub(crate) fingerprint: u64,
    /// How long a cluster process waits for the others to connect.
    pub(crate) connect_timeout: std::time::Duration,
    /// How long a cluster process may be silent before the others take it for lost.
    pub(crate) heartbeat_timeout: std::time::Duration,
    /// When `start` was called: the first batch is the next batch time after it.
    pub(crate) start: Time,
    /// Steps a worker takes after pushing a received block in, so that the block goes through
    /// every operator before the next one is taken (the graph's depth).
    pub(crate) settle_steps: usize,
    /// Recovery: the last committed batch and the zero time of the run that committed it.
    pub(crate) resume: Option<(Time, Time)>,
    /// The graph's shape, recorded in commits.
    pub(crate) shape: GraphShape,
    /// Ids of the stateful streams, recorded in commits.
    pub(crate) stateful: Vec<usize>,
    /// Their partitions, recorded in commits.
    pub(crate) state_partitions: std::collections::BTreeMap<usize, usize>,
}

/// Name of the thread that waits for the workers and marks the run terminated.
pub(crate) const EXECUTION_THREAD: &str = "ember-execution";

/// After a cluster failure, how long the end of a run waits for the local workers. timely's
/// threads end once the link has closed their sockets, normally within milliseconds; one that
/// does not (stuck in user code, say) is left behind rather than hanging the stop, and ends with
/// the process. Longer only delays the end of a failed run.
const FAILED_RUN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// A running execution; the thread that waits for the workers marks the run terminated.
pub(crate) struct Execution {
    waiter: Option<JoinHandle<()>>,
    runtime: Arc<Runtime>,
}

impl Execution {
    /// Waits until every local worker has ended, or, once the cluster has failed, at most
    /// [`FAILED_RUN_GRACE`] more.
    pub(crate) fn join(&mut self) {
        if self.runtime.wait_ended(FAILED_RUN_GRACE) {
            if let Some(w) = self.waiter.take() {
                let _ = w.join();
            }
        } else {
            tracing::warn!(
                "the cluster failed and some worker threads have not ended; leaving them to end with the process"
            );
        }
    }
}

/// The entrance of the batch clock's ticks into a worker's dataflow.
pub(super) type Ticks = InputHandle<u64, CapacityContainerBuilder<Vec<Tick>>>;

/// Starts the workers of this process on `plan`.
pub(crate) fn launch(plan: Arc<Plan>, runtime: Arc<Runtime>) -> Result<Execution> {
    let cluster::Communication {
        builders,
        others,
        link,
    } = cluster::allocators(&plan, &runtime)?;
    let me = plan.master.process();
    let mut reporter = None;
    if let Some(link) = &link {
        if me == 0 {
            runtime.expect_reports_from(1..plan.master.processes());
        } else {
            // Only the driver's stop ends the run (its inputs close, every dataflow completes).
            runtime.forward_stops(link.stop_forwarder());
            reporter = Some(link.reporter());
        }
    }
    let rt = runtime.clone();
    let gate = Arc::new(Gate::default());
    let guards = timely::execute::execute_from(
        builders,
        others,
        timely::WorkerConfig::default(),
        move |worker| run_worker(worker, &plan, &rt, &gate, reporter.as_ref()),
    )
    .map_err(Error::Execution)?;
    let rt = runtime.clone();
    let waiter = std::thread::Builder::new()
        .name(EXECUTION_THREAD.into())
        .spawn(move || {
            // timely's guard joins its network threads after the workers and panics if one of
            // them panicked, which is how they end when a peer is lost: that is the cluster's
            // failure (already recorded by the link), not this thread's.
            let outcomes = catch_unwind(AssertUnwindSafe(|| guards.join()));
            let mut failure = None;
            match outcomes {
                Ok(outcomes) => {
                    for message in outcomes.into_iter().filter_map(Result::err) {
                        failure.get_or_insert(format!("a worker failed: {message}"));
                    }
                }
                Err(payload) => {
                    let message = crate::scheduler::runtime::panic_message(payload);
                    failure.get_or_insert(format!("a network thread failed: {message}"));
                }
            }
            match (failure, &link) {
                (Some(f), _) if rt.cluster_failed() => {
                    tracing::debug!("after the cluster failed: {f}");
                }
                // The other processes cannot go on without these workers: tell them.
                (Some(f), Some(link)) => link.fail(format!("process {me}: {f}")),
                (Some(f), None) => rt.report_execution_error(f),
                (None, _) => {}
            }
            // The last shares and commit are written before the run ends (and, in a cluster,
            // before the goodbye, so that the driver's last commit finds this process's shares).
            if let Some(ck) = &rt.checkpointing {
                ck.finish_writes();
            }
            // Says goodbye after a normal end; after a failure, tells the others why first.
            if let Some(link) = link {
                link.close();
            }
            rt.mark_terminated();
            rt.bus.flush();
        })
        .map_err(|e| Error::io("starting the execution waiter thread", e))?;
    Ok(Execution {
        waiter: Some(waiter),
        runtime,
    })
}

/// One worker: builds the dataflow, then drives it (worker 0 of process 0), feeds it (the other
/// workers of the driver's process), reports to the driver (worker 0 of the other processes of
/// a cluster) or leaves it to timely's stepping (everyone else).
fn run_worker(
    worker: &mut Worker,
    plan: &Plan,
    rt: &Arc<Runtime>,
    gate: &Gate,
    reporter: Option<&Reporter>,
) {
    let driver = worker.index() == 0;
    let feeds = plan.master.process() == 0;
    let probe = ProbeHandle::new();
    let consumers = Arc::new(count_consumers(&plan.shape));
    let mut ticks: Ticks = InputHandle::new();
    let inputs = worker.dataflow::<u64, _, _>(|scope| {
        let tick_stream = ticks.to_stream(scope).broadcast();
        let mut b = Builder::new(
            scope,
            tick_stream,
            probe.clone(),
            rt.clone(),
            driver,
            feeds,
            consumers.clone(),
        );
        for out in &plan.outputs {
            out.build(&mut b);
        }
        b.inputs
    });
    if feeds {
        rt.register_worker(std::thread::current());
    }
    if driver {
        drive(worker, plan, rt, gate, ticks, inputs, &probe);
    } else {
        drop(ticks);
        if feeds {
            feed(worker, plan.settle_steps, gate, inputs);
        } else if let Some(reporter) = reporter
            && worker.index().is_multiple_of(plan.master.threads())
        {
            drop(inputs);
            report(worker, rt, &probe, reporter);
        }
    }
    // From here timely's `execute_from` steps the worker until the dataflow completes.
}

/// The longest a reporting worker parks between looks at its probe. timely unparks it when
/// progress arrives, which is what moves the probe; the bound is a safety net against a missed
/// wake-up, short enough not to delay a batch's jobs noticeably.
const REPORT_PARK: std::time::Duration = std::time::Duration::from_millis(20);

/// Worker 0 of a cluster process other than the driver's: steps the dataflow until it ends and,
/// whenever it has moved past a batch, sends the driver this process's failures of user code in
/// the batches before, then how far it is. Once the probe has passed a batch, every operator of
/// every process is done with it, so every failure of the batch is recorded by then.
fn report(worker: &mut Worker, rt: &Runtime, probe: &ProbeHandle<u64>, reporter: &Reporter) {
    let mut reported = 0;
    loop {
        let ended = !worker.has_dataflows();
        let through = if ended {
            u64::MAX
        } else {
            probe.with_frontier(|f| f.first().copied().unwrap_or(u64::MAX))
        };
        if through > reported {
            reporter.report(rt.take_failures_before(through), through);
            reported = through;
        }
        if ended || rt.cluster_failed() {
            return;
        }
        worker.step_or_park(Some(REPORT_PARK));
    }
}
