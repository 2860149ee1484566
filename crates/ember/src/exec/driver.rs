//! The driver's loop (worker 0 of process 0): the batch clock, the inputs, the completion of
//! batches with their output jobs and commits, and the stop.
//!
//! The driver decides *when*: when a batch closes, when it has completed, when it is committed.
//! How a commit is made is the [`Committer`]'s.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use timely::dataflow::ProbeHandle;
use timely::worker::Worker;

use crate::checkpoint::{Committer, GraphRecord};
use crate::dstream::input::BatchRdd;
use crate::exec::feed::{Gate, settle};
use crate::exec::input::Driven;
use crate::exec::launch::{Plan, Ticks};
use crate::scheduler::Tick;
use crate::scheduler::listener::{BatchInfo, Event, StreamInputInfo};
use crate::scheduler::runtime::{Runtime, StopMode};
use crate::time::{Duration, Time};

/// A graceful stop closes its last batch once the stopped receivers' queues are empty and the
/// batch time has come, or at the latest after this many batch intervals, Spark's default
/// `spark.streaming.gracefulStopTimeout`. The bound only matters for a clock that does not reach
/// the batch time; a longer one would make such a stop hang longer.
const GRACEFUL_STOP_BATCHES: u32 = 10;

/// How often the driver looks at a manual clock: moving it wakes nobody, so the driver polls.
/// Shorter spins more in tests; longer makes every manually advanced batch start later.
const MANUAL_CLOCK_POLL: std::time::Duration = std::time::Duration::from_millis(2);

/// The longest the driver parks while waiting for the next batch time. Received blocks, stop
/// requests and timely's progress wake it, but receiver events (posted to listeners) and a
/// system clock set forward do not: this bounds how late they are noticed. Shorter costs idle
/// wake-ups; longer delays those events and batches after a clock jump.
const MAX_PARK: std::time::Duration = std::time::Duration::from_millis(50);

/// The longest the driver parks per step while the last batches finish after the inputs closed.
/// timely's progress wakes it; the bound is a safety net against a missed wake-up, short enough
/// not to delay the end of a stop noticeably, long enough not to spin.
const STOPPING_PARK: std::time::Duration = std::time::Duration::from_millis(10);

/// A batch sent into the dataflow whose jobs have not run yet, and whether it is the last one.
type InFlight = VecDeque<(BatchInfo, bool)>;

/// The driver's loop: batch clock, inputs, completion of batches, stop.
pub(super) fn drive(
    worker: &mut Worker,
    plan: &Plan,
    rt: &Arc<Runtime>,
    gate: &Gate,
    mut ticks: Ticks,
    mut inputs: Vec<Box<dyn Driven>>,
    probe: &ProbeHandle<u64>,
) {
    let interval = plan.batch;
    let started = plan.start;
    // Batch times are multiples of the interval since the epoch; the first is the next one. A
    // recovered run goes on after the last committed batch, with the first run's zero time:
    // batches due while the program was down run at once, as in Spark.
    let (first, zero) = match plan.resume {
        Some((committed, zero)) => {
            // The batches due while the program was down run first: their progress shows.
            let missed = (started - committed).as_millis() / interval.as_millis().max(1);
            if missed > 0 {
                let last = committed + Duration::milliseconds(missed * interval.as_millis());
                rt.status.work.catching_up(last.as_millis(), missed);
            }
            (committed + interval, zero)
        }
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

    let committer = committer(plan, rt, &inputs);
    if let Some(committer) = &committer
        && plan.resume.is_none()
    {
        committer.commit_start(zero);
    }
    let committer = committer.as_ref();
    // Nothing before the first batch is to be computed: `slice` over earlier times waits for
    // nothing.
    rt.mark_computed(first - interval);
    let mut next = first;
    let mut in_flight = InFlight::new();
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
        // (nobody may move it any more) or the graceful-stop bound has passed. The last batch
        // takes everything the stopped receivers had queued, so it closes only once the queue
        // is empty.
        // A batch is also due early when `slice` asked for it (Spark's `getOrCompute` of a
        // time that has not come): its data is computed now, its jobs run at its time.
        let due = match draining_since {
            None => now >= next || rt.ahead().is_some_and(|ahead| ahead >= next),
            Some(since) => {
                !pulled
                    && (now >= next
                        || rt.clock.is_manual()
                        || since.elapsed() >= interval.to_std() * GRACEFUL_STOP_BATCHES)
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
        complete_batches(rt, probe, &mut in_flight, committer, zero, Holding::Early);
        if pulled {
            settle(worker, plan.settle_steps);
            continue;
        }
        let park = if rt.clock.is_manual() {
            MANUAL_CLOCK_POLL
        } else {
            // Wake at the next batch time, or at the time of a batch computed early whose jobs
            // wait for it.
            let wake = in_flight
                .iter()
                .map(|(info, _)| info.batch_time)
                .find(|t| *t > now)
                .map_or(next, |t| t.min(next));
            (wake - now).to_std().min(MAX_PARK)
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
    // The inputs' handles close so that the dataflow can end; the sources stay in the committer.
    drop(inputs);
    drop(ticks);
    while !in_flight.is_empty() {
        // A failed cluster completes nothing more: the batches in flight wait for a process
        // that is gone.
        if rt.cluster_failed() {
            break;
        }
        let ended = !worker.has_dataflows();
        let all_reported = Time::from_millis(u64::MAX - 1);
        if !ended {
            worker.step_or_park(Some(STOPPING_PARK));
        } else if !rt.reports_in(all_reported) {
            // The other processes' last reports may still be on their way.
            rt.wait_reports(STOPPING_PARK);
        }
        let ending = if discard {
            Holding::Discard
        } else {
            Holding::None
        };
        complete_batches(rt, probe, &mut in_flight, committer, zero, ending);
        // With the dataflow over, every batch has gone through; only reports can be missing,
        // and they come or the cluster fails.
        if ended && rt.reports_in(all_reported) {
            complete_batches(rt, probe, &mut in_flight, committer, zero, ending);
            break;
        }
    }
    tracing::info!("streaming stopped");
}

/// The run's committer, when it checkpoints: it keeps the inputs' sources, whose checkpoint data
/// every commit records, also after the inputs have closed.
fn committer(plan: &Plan, rt: &Runtime, inputs: &[Box<dyn Driven>]) -> Option<Committer> {
    let ck = rt.checkpointing.clone()?;
    let graph = GraphRecord {
        batch: plan.batch,
        shape: plan.shape.clone(),
        stateful: plan.stateful.clone(),
        partitions: plan.state_partitions.clone(),
        workers: plan.master.total_workers(),
        local: {
            let first = plan.master.process() * plan.master.threads();
            first..first + plan.master.threads()
        },
    };
    let sources = inputs.iter().map(|i| (i.stream_id(), i.source())).collect();
    Some(Committer::new(ck, graph, sources))
}

/// Closes batch `time` on every input and sends its tick; the batch's description for the
/// listener events.
fn close_batch(
    rt: &Runtime,
    inputs: &mut [Box<dyn Driven>],
    ticks: &mut Ticks,
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
    let mut no_rdd = Vec::new();
    for input in inputs.iter_mut() {
        match input.close_batch(time, time + interval) {
            Ok(BatchRdd::Present) => {}
            Ok(BatchRdd::Absent) => no_rdd.push(input.node()),
            Err(e) => {
                // Spark skips a batch whose jobs cannot be generated; ember fails the jobs that
                // depend on this input for this batch and goes on.
                tracing::error!("Error generating jobs for time {time}: {e}");
                rt.fail(time, input.node(), "input stream", e.to_string());
            }
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
    rt.status
        .batches
        .batch_closed(time.as_millis(), info.submission_time);
    no_rdd.sort_unstable();
    // Before the tick: the failures must be recorded when the batch's jobs look for them.
    rt.fail_missing_rdds(time, &no_rdd);
    ticks.send(Tick {
        time,
        zero,
        last,
        no_rdd,
    });
    ticks.advance_to((time + interval).as_millis());
    info
}

/// What `complete_batches` does with a batch whose data has gone through.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Holding {
    /// Run its jobs, unless it was computed early (for `slice`) and its time has not come.
    Early,
    /// Run its jobs now (stopping gracefully: every computed batch runs).
    None,
    /// Drop its jobs (an immediate stop).
    Discard,
}

/// Runs the jobs of every batch whose data has gone all the way through, in batch order, and
/// commits those that are checkpointed. The batch's record counts are final only then (every
/// worker has moved past it), so the "submitted" event is posted here, just before "started".
fn complete_batches(
    rt: &Runtime,
    probe: &ProbeHandle<u64>,
    in_flight: &mut InFlight,
    committer: Option<&Committer>,
    zero: Time,
    holding: Holding,
) {
    for (info, _) in in_flight.iter() {
        if probe.less_equal(&info.batch_time.as_millis()) {
            break;
        }
        rt.mark_computed(info.batch_time);
    }
    // Whether a batch's jobs may run now: its data has gone through, its time has come (unless
    // stopping), and in a cluster the other processes' failures of the batch, which arrive on
    // the control link, are in.
    let ready = |info: &BatchInfo| {
        let computed = !probe.less_equal(&info.batch_time.as_millis());
        let early = holding == Holding::Early && info.batch_time > rt.clock.now();
        let reported = holding == Holding::Discard || rt.reports_in(info.batch_time);
        computed && !early && reported
    };
    while let Some((info, _)) = in_flight.front() {
        if !ready(info) {
            break;
        }
        // Jobs of a batch that completed after the cluster failed are not run: whatever the
        // run does now, it is over.
        if rt.cluster_failed() {
            return;
        }
        let (mut info, last) = in_flight.pop_front().expect("front exists");
        let time = info.batch_time;
        let counts = rt.take_input_counts(info.batch_time);
        for (id, input) in info.stream_id_to_input_info.iter_mut() {
            input.num_records = counts.get(id).copied().unwrap_or(0);
        }
        if holding == Holding::Discard {
            rt.discard_jobs(info.batch_time);
        } else {
            rt.post(Event::BatchSubmitted(info.clone()));
            // Batches whose data went through the dataflow together are one measurement for
            // rate control.
            let with_next = in_flight.front().is_some_and(|(next, _)| ready(next));
            rt.run_jobs(info, with_next);
            commit_if_due(rt, committer, time, zero, last);
            rt.mark_completed(time);
        }
    }
}

/// Commits batch `time` if it is checkpointed: a checkpoint time or the last batch of a graceful
/// stop. The batch has completed, so every worker has written its share of the state.
fn commit_if_due(rt: &Runtime, committer: Option<&Committer>, time: Time, zero: Time, last: bool) {
    let (Some(ck), Some(committer)) = (&rt.checkpointing, committer) else {
        return;
    };
    if ck.is_due(time, zero, last) {
        committer.commit(time, zero);
    }
}
