//! Running a plan: worker threads, the batch clock on the driver, completion of batches.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
use crate::placement::Placement;
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
    pub(crate) shape: Vec<String>,
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

/// What the driver tells the other feeding workers of its process: which batch is open, and
/// when to stop taking received blocks or to close their inputs.
#[derive(Default)]
struct Gate {
    /// The open batch's time in ms; 0 before the first batch.
    open: AtomicU64,
    /// Receivers stopped for a graceful stop: only the driver takes the remaining blocks.
    draining: AtomicBool,
    /// Inputs are closing.
    closed: AtomicBool,
}

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

fn run_worker(worker: &mut Worker, plan: &Plan, rt: &Arc<Runtime>, gate: &Gate) {
    let driver = worker.index() == 0;
    let feeds = plan.master.process() == 0;
    let probe = ProbeHandle::new();
    let mut ticks: InputHandle<u64, CapacityContainerBuilder<Vec<Tick>>> = InputHandle::new();
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

/// An input as a feeding worker sees it, whatever its element type.
pub(crate) trait Driven {
    /// Takes one received block, if any, into the open batch; whether it did.
    fn pull(&mut self) -> bool;
    /// Driver: closes batch `time` (adding the batch data of batch sources) and opens `next`.
    /// Received blocks still queued go to the next batch, as data still in Spark's block
    /// generator does.
    fn close_batch(&mut self, time: Time, next: Time) -> std::result::Result<(), String>;
    /// Opens batch `time` (the first one, or the next after the driver closed one).
    fn open(&mut self, time: Time);
    /// Stops receiving; what receivers already queued can still be pulled.
    fn stop_source(&mut self);
    /// Graph node id of the input stream.
    fn node(&self) -> usize;
    /// Input stream id.
    fn stream_id(&self) -> usize;
    /// Description of the last batch, for listener events.
    fn describe(&self) -> String;
    /// The source, for its checkpoint data.
    fn source(&self) -> Arc<dyn SourceCheckpoint>;
}

/// The checkpoint side of an input source (a supertrait of every `InputSource<T>`), so that the
/// driver can commit sources of any element type, also after their inputs have closed.
pub(crate) trait SourceCheckpoint: Send + Sync {
    /// The source's checkpoint data as of the end of batch `upto`, if it has any.
    fn checkpoint(&self, _upto: Time) -> Option<Vec<u8>> {
        None
    }
    /// Batch `upto` is the oldest committed batch kept: what only earlier batches needed can go.
    fn committed(&self, _upto: Time) {}
}

type Sources = Vec<(usize, Arc<dyn SourceCheckpoint>)>;

pub(crate) struct TypedInput<T: Data> {
    stream_id: usize,
    node: usize,
    /// Entrance for records of this worker's own partitions.
    local: InputHandle<u64, CapacityContainerBuilder<Vec<Rec<T>>>>,
    /// Entrance for records routed to their partition's worker.
    routed: InputHandle<u64, CapacityContainerBuilder<Vec<Rec<T>>>>,
    source: Arc<dyn InputSource<T>>,
    runtime: Arc<Runtime>,
    /// Partitions this worker gives the blocks it receives, in turn.
    choices: Vec<u32>,
    placement: Placement,
    index: usize,
    cursor: usize,
    tagged: Vec<Rec<T>>,
    open: Option<Time>,
    count: u64,
}

impl<T: Data> TypedInput<T> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        stream_id: usize,
        node: usize,
        (local, routed): (
            InputHandle<u64, CapacityContainerBuilder<Vec<Rec<T>>>>,
            InputHandle<u64, CapacityContainerBuilder<Vec<Rec<T>>>>,
        ),
        source: Arc<dyn InputSource<T>>,
        runtime: Arc<Runtime>,
        partitions: usize,
        index: usize,
        workers: usize,
        single_process: bool,
    ) -> Self {
        let partitions = partitions.max(1);
        // In one process a worker keeps the blocks it takes (its own partitions: no copying
        // between workers, and whoever has room takes the next block). Across processes the
        // feeding workers spread blocks over every partition, so remote workers get their share.
        let placement = Placement::new(workers, partitions);
        let own: Vec<u32> = placement.partitions_of(index).collect();
        let keep = single_process && !own.is_empty();
        let choices = if keep {
            own
        } else {
            let start = index % partitions;
            (0..partitions)
                .map(|i| ((start + i) % partitions) as u32)
                .collect()
        };
        TypedInput {
            stream_id,
            node,
            local,
            routed,
            source,
            runtime,
            choices,
            placement,
            index,
            cursor: 0,
            tagged: Vec::new(),
            open: None,
            count: 0,
        }
    }

    fn send_partition(&mut self, partition: u32, block: Vec<T>) {
        self.count += block.len() as u64;
        self.tagged
            .extend(block.into_iter().map(|x| (partition, x)));
        let mine = self.placement.owns(self.index, partition);
        if mine {
            self.local.send_batch(&mut self.tagged)
        } else {
            self.routed.send_batch(&mut self.tagged)
        }
        self.tagged.clear();
    }

    fn report_count(&mut self) {
        if let Some(t) = self.open {
            let n = std::mem::take(&mut self.count);
            self.runtime.add_input_count(t, self.stream_id, n);
        }
    }
}

impl<T: Data> Driven for TypedInput<T> {
    fn pull(&mut self) -> bool {
        let Some(batch) = self.open else { return false };
        match self.source.poll(batch) {
            Some(block) => {
                let p = self.choices[self.cursor % self.choices.len()];
                self.cursor += 1;
                self.send_partition(p, block);
                true
            }
            None => false,
        }
    }

    fn close_batch(&mut self, time: Time, next: Time) -> std::result::Result<(), String> {
        let mut parts = Vec::new();
        let outcome = self.source.batch(time, &mut parts);
        for (i, part) in parts.into_iter().enumerate() {
            self.send_partition(i as u32, part);
        }
        self.open(next);
        outcome
    }

    fn open(&mut self, time: Time) {
        self.report_count();
        self.local.advance_to(time.as_millis());
        self.routed.advance_to(time.as_millis());
        self.open = Some(time);
    }

    fn stop_source(&mut self) {
        self.source.stop();
    }

    fn node(&self) -> usize {
        self.node
    }

    fn stream_id(&self) -> usize {
        self.stream_id
    }

    fn describe(&self) -> String {
        self.source.describe()
    }

    fn source(&self) -> Arc<dyn SourceCheckpoint> {
        self.source.clone()
    }
}

impl<T: Data> Drop for TypedInput<T> {
    fn drop(&mut self) {
        self.report_count();
    }
}

/// A feeding worker other than the driver: follows the driver's batches and takes received
/// blocks whenever it is idle.
fn feed(worker: &mut Worker, settle_steps: usize, gate: &Gate, mut inputs: Vec<Box<dyn Driven>>) {
    let mut open = 0u64;
    loop {
        let g = gate.open.load(Ordering::SeqCst);
        if g != 0 && g != open {
            for input in inputs.iter_mut() {
                input.open(Time::from_millis(g));
            }
            open = g;
        }
        if gate.closed.load(Ordering::SeqCst) {
            break;
        }
        // Read after opening the batch: once the driver drains, no block may land in a batch
        // that will never close.
        let mut pulled = false;
        if open != 0 && !gate.draining.load(Ordering::SeqCst) {
            for input in inputs.iter_mut() {
                pulled |= input.pull();
            }
        }
        if pulled {
            settle(worker, settle_steps);
        } else {
            worker.step_or_park(Some(std::time::Duration::from_millis(20)));
        }
    }
    drop(inputs);
}

/// Steps the worker until a block just pushed in has gone through the dataflow's operators (each
/// step moves data one operator further). Taking the next block only then is the back-pressure
/// that keeps memory bounded: timely's channels are unbounded, the receiver's queue is not.
fn settle(worker: &mut Worker, steps: usize) {
    for _ in 0..steps {
        worker.step_or_park(Some(std::time::Duration::ZERO));
    }
}

/// The driver's loop: batch clock, inputs, completion of batches, stop.
fn drive(
    worker: &mut Worker,
    plan: &Plan,
    rt: &Arc<Runtime>,
    gate: &Gate,
    mut ticks: InputHandle<u64, CapacityContainerBuilder<Vec<Tick>>>,
    mut inputs: Vec<Box<dyn Driven>>,
    probe: &ProbeHandle<u64>,
) {
    let interval = plan.batch;
    let started = plan.start;
    // Batch times are multiples of the interval since the epoch; the first is the next one. A
    // recovered run goes on after the last committed batch, with the first run's zero time:
    // batches due while the program was down run at once, as in Spark.
    let (first, zero) = match plan.resume {
        Some((committed, zero)) => (committed + interval, zero),
        None => {
            let first = started.floor(interval) + interval;
            (first, first - interval)
        }
    };
    for input in inputs.iter_mut() {
        input.open(first);
    }
    ticks.advance_to(first.as_millis());
    gate.open.store(first.as_millis(), Ordering::SeqCst);
    rt.wake_workers();
    rt.post(Event::StreamingStarted(started.as_millis()));
    tracing::info!(first_batch = %first, interval = %interval, "streaming started");

    let sources: Sources = inputs.iter().map(|i| (i.stream_id(), i.source())).collect();
    if plan.resume.is_none() {
        commit_start(rt, plan, &sources, zero);
    }
    let mut next = first;
    let mut in_flight: VecDeque<(BatchInfo, bool)> = VecDeque::new();
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
            gate.draining.store(true, Ordering::SeqCst);
            for input in inputs.iter_mut() {
                input.stop_source();
            }
            draining_since = Some(std::time::Instant::now());
        }
        let mut pulled = false;
        for input in inputs.iter_mut() {
            pulled |= input.pull();
        }
        let now = rt.clock.now();
        // When draining, the last batch closes at its time, or at once when the clock is manual
        // (nobody may move it any more) or the graceful-stop bound (10 batches) has passed.
        // The last batch takes everything the stopped receivers had queued, so it closes only
        // once the queue is empty.
        let due = match draining_since {
            None => now >= next,
            Some(since) => {
                !pulled
                    && (now >= next
                        || rt.clock.is_manual()
                        || since.elapsed() >= interval.to_std() * 10)
            }
        };
        if due {
            let last = draining_since.is_some();
            let info = close_batch(rt, &mut inputs, &mut ticks, next, zero, interval, last);
            in_flight.push_back((info, last));
            next = next + interval;
            gate.open.store(next.as_millis(), Ordering::SeqCst);
            rt.wake_workers();
            if draining_since.is_some() {
                break;
            }
            // Catch up at once when the clock jumped over several batches (a manual clock, a
            // slow batch, a suspended process): every batch time runs, as in Spark.
            continue;
        }
        complete_batches(rt, plan, probe, &mut in_flight, &sources, zero, false);
        if pulled {
            settle(worker, plan.settle_steps);
            continue;
        }
        let park = if rt.clock.is_manual() {
            std::time::Duration::from_millis(2)
        } else {
            (next - now)
                .to_std()
                .min(std::time::Duration::from_millis(50))
        };
        worker.step_or_park(Some(park));
    }

    let discard = rt.stop_mode() == Some(StopMode::Immediate);
    for input in inputs.iter_mut() {
        input.stop_source();
    }
    gate.closed.store(true, Ordering::SeqCst);
    rt.wake_workers();
    rt.drain_receiver_events();
    // The inputs' handles close so that the dataflow can end; the sources stay for the commits.
    drop(inputs);
    drop(ticks);
    while !in_flight.is_empty() {
        worker.step_or_park(Some(std::time::Duration::from_millis(10)));
        complete_batches(rt, plan, probe, &mut in_flight, &sources, zero, discard);
        if !worker.has_dataflows() {
            complete_batches(rt, plan, probe, &mut in_flight, &sources, zero, discard);
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
    last: bool,
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
        if let Err(message) = input.close_batch(time, time + interval) {
            // Spark skips a batch whose jobs cannot be generated; ember fails the jobs that
            // depend on this input for this batch and goes on.
            tracing::error!("Error generating jobs for time {time}: {message}");
            rt.fail(time, input.node(), "input stream", message);
        }
        let id = input.stream_id();
        let description = input.describe();
        info.stream_id_to_input_info.insert(
            id,
            StreamInputInfo {
                input_stream_id: id,
                num_records: 0,
                description,
            },
        );
    }
    ticks.send(Tick { time, zero, last });
    ticks.advance_to((time + interval).as_millis());
    info
}

/// Runs the jobs of every batch whose data has gone all the way through, in batch order. The
/// batch's record counts are final only then (every worker has moved past it), so the
/// "submitted" event is posted here, just before "started".
fn complete_batches(
    rt: &Runtime,
    plan: &Plan,
    probe: &ProbeHandle<u64>,
    in_flight: &mut VecDeque<(BatchInfo, bool)>,
    sources: &Sources,
    zero: Time,
    discard: bool,
) {
    while let Some((info, _)) = in_flight.front() {
        if probe.less_equal(&info.batch_time.as_millis()) {
            break;
        }
        let (mut info, last) = in_flight.pop_front().expect("front exists");
        let time = info.batch_time;
        let counts = rt.take_input_counts(info.batch_time);
        for (id, input) in info.stream_id_to_input_info.iter_mut() {
            input.num_records = counts.get(id).copied().unwrap_or(0);
        }
        if discard {
            rt.discard_jobs(info.batch_time);
        } else {
            rt.post(Event::BatchSubmitted(info.clone()));
            rt.run_jobs(info);
            commit(rt, plan, sources, time, zero, last);
            rt.mark_completed(time);
        }
    }
}

/// The commit record of batch `time`: the graph, the stateful streams and the sources' data as of
/// that batch.
fn commit_record(
    plan: &Plan,
    sources: &Sources,
    time: Time,
    zero: Time,
) -> crate::checkpoint::Commit {
    let mut record = crate::checkpoint::Commit::new(time, zero, plan.batch, plan.shape.clone());
    record.stateful = plan.stateful.clone();
    record.partitions = plan.state_partitions.clone();
    record.workers = plan.master.total_workers();
    for (id, source) in sources {
        if let Some(data) = source.checkpoint(time) {
            record.sources.insert(*id, data);
        }
    }
    record
}

/// A fresh run with checkpointing commits its starting point at once (the zero time, empty state,
/// the sources' initial data such as the directory stream's start time), so that a crash before
/// the first checkpoint time restarts where this run started instead of from scratch, where the
/// directory stream would ignore the files moved in meanwhile.
fn commit_start(rt: &Runtime, plan: &Plan, sources: &Sources, zero: Time) {
    let Some(ck) = &rt.checkpointing else { return };
    let empty = crate::checkpoint::Entries::default();
    for node in &plan.stateful {
        if let Err(e) = empty.write(
            &ck.dir,
            *node,
            zero,
            crate::checkpoint::WriteKind::Full,
            0,
            1,
        ) {
            tracing::error!("the starting point is not checkpointed: {e}");
            return;
        }
    }
    if let Err(e) = commit_record(plan, sources, zero, zero).write(&ck.dir) {
        tracing::error!("the starting point is not checkpointed: {e}");
    }
}

/// Commits batch `time` if it is a checkpoint time: every worker has written its share of the
/// state (the batch completed), so the commit record can say so. Then what no kept commit needs
/// is deleted.
fn commit(rt: &Runtime, plan: &Plan, sources: &Sources, time: Time, zero: Time, last: bool) {
    let Some(ck) = &rt.checkpointing else { return };
    let tick = Tick { time, zero, last };
    if !ck.is_due(&tick) {
        return;
    }
    if ck.take_failure(time) {
        tracing::warn!("batch {time} is not checkpointed: a share of its state was not written");
        return;
    }
    if let Some(node) = plan
        .stateful
        .iter()
        .find(|n| !crate::checkpoint::state_files::complete_at(&ck.dir, **n, time))
    {
        tracing::warn!(
            "batch {time} is not checkpointed: the state of stream {node} is incomplete"
        );
        return;
    }
    let started = std::time::Instant::now();
    if let Err(e) = commit_record(plan, sources, time, zero).write(&ck.dir) {
        tracing::error!("batch {time} is not checkpointed: {e}");
        return;
    }
    match crate::checkpoint::commit::prune(&ck.dir, crate::checkpoint::KEEP_COMMITS) {
        Ok(Some(oldest)) => {
            for node in &plan.stateful {
                crate::checkpoint::state_files::prune(&ck.dir, *node, oldest, None);
            }
            for (_, source) in sources {
                source.committed(oldest);
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!("old checkpoints not cleaned up: {e}"),
    }
    tracing::debug!(batch = %time, ms = started.elapsed().as_millis() as u64, "checkpoint committed");
}
