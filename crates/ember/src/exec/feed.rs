//! The feeding workers other than the driver: they follow the driver's batches through a shared
//! [`Gate`] and take received blocks whenever they are idle, so the load balances by itself.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use timely::worker::Worker;

use crate::exec::input::Driven;
use crate::time::Time;

/// The longest an idle feeding worker parks before it looks at its inputs and the gate again.
/// It is a bound, not a poll: a stored block, a new batch and a stop all unpark the worker, and
/// timely unparks it when data arrives for its operators. Shorter costs idle wake-ups on every
/// worker; longer would only delay news that arrives without a wake-up.
const IDLE_PARK: std::time::Duration = std::time::Duration::from_millis(20);

/// What the driver tells the other feeding workers of its process: which batch is open, and
/// when to stop taking received blocks or to close their inputs.
#[derive(Default)]
pub(super) struct Gate {
    /// The open batch's time in ms; 0 before the first batch.
    pub(super) open: AtomicU64,
    /// Receivers stopped for a graceful stop: only the driver takes the remaining blocks.
    pub(super) draining: AtomicBool,
    /// Inputs are closing.
    pub(super) closed: AtomicBool,
}

/// A feeding worker other than the driver: follows the driver's batches and takes received
/// blocks whenever it is idle.
pub(super) fn feed(
    worker: &mut Worker,
    settle_steps: usize,
    gate: &Gate,
    mut inputs: Vec<Box<dyn Driven>>,
) {
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
            worker.step_or_park(Some(IDLE_PARK));
        }
    }
    drop(inputs);
}

/// Steps the worker until a block just pushed in has gone through the dataflow's operators (each
/// step moves data one operator further). Taking the next block only then is the back-pressure
/// that keeps memory bounded: timely's channels are unbounded, the receiver's queue is not.
/// Fewest steps a feeding worker takes after pushing a block: even a one-operator graph needs a
/// step to accept the block and one to pass it on.
const MIN_SETTLE_STEPS: usize = 2;
/// Most steps: past this, a deep graph's block is still in flight when the next is taken, which
/// costs a little memory but no correctness; more steps would only idle the worker.
const MAX_SETTLE_STEPS: usize = 8;

/// Steps a feeding worker takes after pushing a received block in, for a graph of `nodes`
/// streams: every stream is at most a few timely operators (routing, concatenation), so a third
/// of the node count lets a block go through the graph before the next one is taken, which is
/// what keeps the dataflow's queues short (timely's channels are unbounded).
pub(crate) fn settle_steps(nodes: usize) -> usize {
    (nodes / 3).clamp(MIN_SETTLE_STEPS, MAX_SETTLE_STEPS)
}

pub(super) fn settle(worker: &mut Worker, steps: usize) {
    for _ in 0..steps {
        worker.step_or_park(Some(std::time::Duration::ZERO));
    }
}
