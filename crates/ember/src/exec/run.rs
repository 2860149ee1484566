//! Running a plan: worker threads, the batch clock on the driver, completion of batches.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::{InputHandle, ProbeHandle};
use timely::worker::Worker;

use crate::conf::Master;
use crate::data::Data;
use crate::dstream::input::InputSource;
use crate::error::{Error, Result};
use crate::exec::build::{Builder, Rec, Tick};
use crate::exec::cluster;
use crate::scheduler::listener::{BatchInfo, Event, StreamInputInfo};
use crate::scheduler::runtime::{Runtime, StopMode};
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
    /// When `start` was called: the first batch is the next batch time after it.
    pub(crate) start: Time,
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

/// Starts the workers of this process on `plan`.
pub(crate) fn launch(plan: Arc<Plan>, runtime: Arc<Runtime>) -> Result<Execution> {
    let (builders, others) = cluster::allocators(&plan)?;
    let rt = runtime.clone();
    let guards = timely::execute::execute_from(builders, others, timely::WorkerConfig::default(), move |worker| {
        run_worker(worker, &plan, &rt)
    })
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
    Ok(Execution { waiter: Some(waiter) })
}

fn run_worker(worker: &mut Worker, plan: &Plan, rt: &Arc<Runtime>) {
    let driver = worker.index() == 0;
    let probe = ProbeHandle::new();
    let mut ticks: InputHandle<u64, CapacityContainerBuilder<Vec<Tick>>> = InputHandle::new();
    let inputs = worker.dataflow::<u64, _, _>(|scope| {
        let tick_stream = ticks.to_stream(scope).broadcast();
        let mut b = Builder::new(scope, tick_stream, probe.clone(), rt.clone(), driver);
        for out in &plan.outputs {
            out.build(&mut b);
        }
        b.inputs
    });
    if driver {
        drive(worker, plan, rt, ticks, inputs, &probe);
    }
    // Other workers have nothing to drive: timely's `execute_from` keeps stepping them until
    // the driver closes its inputs and the dataflow completes.
}

/// An input as the driver sees it, whatever its element type.
pub(crate) trait Driven {
    /// Pushes what receivers delivered since the last call into the open batch.
    fn pump(&mut self) -> u64;
    /// Closes batch `time`: pushes the records that batch sources produce for it, then moves the
    /// input to `next`. Returns the batch's record count.
    fn close_batch(&mut self, time: Time, next: Time) -> std::result::Result<u64, String>;
    /// Opens the first batch.
    fn start_at(&mut self, time: Time);
    /// Stops receiving (receivers); what they already queued is still pumped.
    fn stop_source(&mut self);
    /// Input stream id.
    fn stream_id(&self) -> usize;
    /// Graph node id of the input stream.
    fn node(&self) -> usize;
    /// Description for listener events.
    fn describe(&self) -> String;
}

pub(crate) struct TypedInput<T: Data> {
    stream_id: usize,
    node: usize,
    handle: InputHandle<u64, CapacityContainerBuilder<Vec<Rec<T>>>>,
    source: Box<dyn InputSource<T>>,
    partitions: u32,
    next_partition: u32,
    blocks: Vec<Vec<T>>,
    tagged: Vec<Rec<T>>,
    open_count: u64,
}

impl<T: Data> TypedInput<T> {
    pub(crate) fn new(
        stream_id: usize,
        node: usize,
        handle: InputHandle<u64, CapacityContainerBuilder<Vec<Rec<T>>>>,
        source: Box<dyn InputSource<T>>,
        partitions: usize,
    ) -> Self {
        TypedInput {
            stream_id,
            node,
            handle,
            source,
            partitions: partitions.max(1) as u32,
            next_partition: 0,
            blocks: Vec::new(),
            tagged: Vec::new(),
            open_count: 0,
        }
    }

    fn send_partition(&mut self, partition: u32, block: Vec<T>) {
        self.open_count += block.len() as u64;
        self.tagged.extend(block.into_iter().map(|x| (partition, x)));
        self.handle.send_batch(&mut self.tagged);
        self.tagged.clear();
    }
}

impl<T: Data> Driven for TypedInput<T> {
    fn pump(&mut self) -> u64 {
        self.source.poll(&mut self.blocks);
        let mut n = 0;
        for block in std::mem::take(&mut self.blocks) {
            n += block.len() as u64;
            // Received blocks are spread over the partitions in turn, as Spark makes one
            // partition per block.
            let p = self.next_partition;
            self.next_partition = (self.next_partition + 1) % self.partitions;
            self.send_partition(p, block);
        }
        n
    }

    fn close_batch(&mut self, time: Time, next: Time) -> std::result::Result<u64, String> {
        self.pump();
        let mut parts = Vec::new();
        let outcome = self.source.batch(time, &mut parts);
        for (i, part) in parts.into_iter().enumerate() {
            self.send_partition(i as u32, part);
        }
        self.handle.advance_to(next.as_millis());
        let count = std::mem::take(&mut self.open_count);
        outcome.map(|()| count)
    }

    fn start_at(&mut self, time: Time) {
        self.handle.advance_to(time.as_millis());
    }

    fn stop_source(&mut self) {
        self.source.stop();
    }

    fn stream_id(&self) -> usize {
        self.stream_id
    }

    fn node(&self) -> usize {
        self.node
    }

    fn describe(&self) -> String {
        self.source.describe()
    }
}

/// The driver's loop: batch clock, inputs, completion of batches, stop.
fn drive(
    worker: &mut Worker,
    plan: &Plan,
    rt: &Arc<Runtime>,
    mut ticks: InputHandle<u64, CapacityContainerBuilder<Vec<Tick>>>,
    mut inputs: Vec<Box<dyn Driven>>,
    probe: &ProbeHandle<u64>,
) {
    rt.set_driver_thread(std::thread::current());
    let interval = plan.batch;
    let started = plan.start;
    // Batch times are multiples of the interval since the epoch; the first is the next one.
    let first = started.floor(interval) + interval;
    let zero = first - interval;
    for input in inputs.iter_mut() {
        input.start_at(first);
    }
    ticks.advance_to(first.as_millis());
    rt.post(Event::StreamingStarted(started.as_millis()));
    tracing::info!(first_batch = %first, interval = %interval, "streaming started");

    let mut next = first;
    let mut in_flight: VecDeque<BatchInfo> = VecDeque::new();
    let mut draining_since: Option<std::time::Instant> = None;
    loop {
        rt.drain_receiver_events();
        let stop = rt.stop_mode();
        if stop == Some(StopMode::Immediate) {
            break;
        }
        if stop == Some(StopMode::Graceful) && draining_since.is_none() {
            // Spark's graceful stop: stop receiving, put everything received into batches,
            // process them all.
            for input in inputs.iter_mut() {
                input.stop_source();
            }
            draining_since = Some(std::time::Instant::now());
        }
        for input in inputs.iter_mut() {
            input.pump();
        }
        let now = rt.clock.now();
        // When draining, the last batch closes at its time, or at once when the clock is manual
        // (nobody may move it any more) or the graceful-stop bound (10 batches) has passed.
        let drain_due = draining_since.is_some_and(|since| {
            rt.clock.is_manual() || since.elapsed() >= interval.to_std() * 10
        });
        if now >= next || drain_due {
            in_flight.push_back(close_batch(rt, &mut inputs, &mut ticks, next, zero, interval));
            next = next + interval;
            if draining_since.is_some() {
                break;
            }
            // Catch up at once when the clock jumped over several batches (a manual clock, a
            // slow batch, a suspended process): every batch time runs, as in Spark.
            continue;
        }
        complete_batches(rt, probe, &mut in_flight, false);
        let until_next = (next - now).to_std();
        let park = if rt.clock.is_manual() { std::time::Duration::from_millis(2) } else { until_next };
        worker.step_or_park(Some(park.min(std::time::Duration::from_millis(50))));
    }

    let discard = rt.stop_mode() == Some(StopMode::Immediate);
    for input in inputs.iter_mut() {
        input.stop_source();
    }
    rt.drain_receiver_events();
    drop(inputs);
    drop(ticks);
    while worker.has_dataflows() || !in_flight.is_empty() {
        worker.step_or_park(Some(std::time::Duration::from_millis(10)));
        complete_batches(rt, probe, &mut in_flight, discard);
        if !worker.has_dataflows() {
            complete_batches(rt, probe, &mut in_flight, discard);
            break;
        }
    }
    tracing::info!("streaming stopped");
}

fn close_batch(
    rt: &Runtime,
    inputs: &mut [Box<dyn Driven>],
    ticks: &mut InputHandle<u64, CapacityContainerBuilder<Vec<Tick>>>,
    time: Time,
    zero: Time,
    interval: Duration,
) -> BatchInfo {
    let mut info = BatchInfo {
        batch_time: time,
        stream_id_to_input_info: Default::default(),
        submission_time: rt.clock.now().as_millis(),
        processing_start_time: None,
        processing_end_time: None,
        output_operation_infos: Default::default(),
    };
    for input in inputs.iter_mut() {
        let id = input.stream_id();
        let count = match input.close_batch(time, time + interval) {
            Ok(n) => n,
            Err(message) => {
                // Spark skips a batch whose jobs cannot be generated; ember fails the jobs that
                // depend on this input for this batch and goes on.
                tracing::error!("Error generating jobs for time {time}: {message}");
                rt.fail(time, input.node(), "input stream", message);
                0
            }
        };
        let description = input.describe();
        info.stream_id_to_input_info
            .insert(id, StreamInputInfo { input_stream_id: id, num_records: count, description });
    }
    ticks.send(Tick { time, zero });
    ticks.advance_to((time + interval).as_millis());
    rt.post(Event::BatchSubmitted(info.clone()));
    info
}

fn complete_batches(rt: &Runtime, probe: &ProbeHandle<u64>, in_flight: &mut VecDeque<BatchInfo>, discard: bool) {
    while let Some(info) = in_flight.front() {
        if probe.less_equal(&info.batch_time.as_millis()) {
            break;
        }
        let info = in_flight.pop_front().expect("front exists");
        if discard {
            rt.discard_jobs(info.batch_time);
        } else {
            rt.run_jobs(info);
        }
    }
}
