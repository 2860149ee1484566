//! Launching a plan: timely's worker threads, each building the same dataflow and then taking
//! its role (the driver, a feeding worker, or a worker that only steps the dataflow).

use std::sync::Arc;
use std::thread::JoinHandle;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::{InputHandle, ProbeHandle};
use timely::worker::Worker;

use crate::checkpoint::GraphShape;
use crate::conf::Master;
use crate::error::{Error, Result};
use crate::exec::build::Builder;
use crate::exec::cluster;
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

/// A running execution; the thread that waits for the workers marks the run terminated.
pub(crate) struct Execution {
    waiter: Option<JoinHandle<()>>,
}

impl Execution {
    /// Waits until every local worker has ended.
    pub(crate) fn join(&mut self) {
        if let Some(w) = self.waiter.take() {
            let _ = w.join();
        }
    }
}

/// The entrance of the batch clock's ticks into a worker's dataflow.
pub(super) type Ticks = InputHandle<u64, CapacityContainerBuilder<Vec<Tick>>>;

/// Starts the workers of this process on `plan`.
pub(crate) fn launch(plan: Arc<Plan>, runtime: Arc<Runtime>) -> Result<Execution> {
    let (builders, others) = cluster::allocators(&plan)?;
    let rt = runtime.clone();
    let gate = Arc::new(Gate::default());
    let guards = timely::execute::execute_from(
        builders,
        others,
        timely::WorkerConfig::default(),
        move |worker| run_worker(worker, &plan, &rt, &gate),
    )
    .map_err(Error::Execution)?;
    let waiter = std::thread::Builder::new()
        .name("ember-execution".into())
        .spawn(move || {
            for outcome in guards.join() {
                if let Err(message) = outcome {
                    runtime.report_execution_error(format!("a worker failed: {message}"));
                }
            }
            runtime.mark_terminated();
            runtime.bus.flush();
        })
        .map_err(|e| Error::io("starting the execution waiter thread", e))?;
    Ok(Execution {
        waiter: Some(waiter),
    })
}

/// One worker: builds the dataflow, then drives it (worker 0 of process 0), feeds it (the other
/// workers of the driver's process) or leaves it to timely's stepping (everyone else).
fn run_worker(worker: &mut Worker, plan: &Plan, rt: &Arc<Runtime>, gate: &Gate) {
    let driver = worker.index() == 0;
    let feeds = plan.master.process() == 0;
    let probe = ProbeHandle::new();
    let mut ticks: Ticks = InputHandle::new();
    let inputs = worker.dataflow::<u64, _, _>(|scope| {
        let tick_stream = ticks.to_stream(scope).broadcast();
        let mut b = Builder::new(scope, tick_stream, probe.clone(), rt.clone(), driver, feeds);
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
        }
    }
    // From here timely's `execute_from` steps the worker until the dataflow completes.
}
