//! A per-record operator whose work per record is unbounded (reading a file of any size), done a
//! bounded step at a time.
//!
//! Giving many containers from one invocation of an operator does not bound memory in timely:
//! everything given is queued in the channels until the operators downstream are scheduled,
//! which happens only after this invocation returns. So the operator here does at most a budget
//! of work per invocation, gives what that produced, keeps the unfinished record and the
//! capability of its batch, and activates itself to go on at the worker's next step, after the
//! operators downstream have taken what it gave. A batch completes only once every one of its
//! records has been worked off.

use std::collections::{BTreeMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};

use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::Operator;

use crate::data::Data;
use crate::error::JobError;
use crate::exec::build::{Builder, Flow, Rec};
use crate::time::Time;

/// What a step of a [`StepLogic`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    /// Budget units used (bytes read, say); at most the allowance the step was given.
    pub(crate) used: usize,
    /// Whether the record's work is complete.
    pub(crate) finished: bool,
}

/// The logic of a [`Flow::stepwise`] operator on one worker.
pub(crate) trait StepLogic<T, U>: 'static {
    /// The work of one record in progress.
    type Task: 'static;
    /// Starts the work of `record` of `partition`. Called only when the record's turn comes, so
    /// that costly resources (an open file) are held for one record at a time.
    fn begin(&mut self, partition: u32, record: T) -> Self::Task;
    /// Does at most `allowance` units of `task`'s work, pushing its outputs to `out`. An `Err`
    /// (or a panic) fails the batch's jobs that depend on the operator and drops the task.
    fn step(
        &mut self,
        task: &mut Self::Task,
        allowance: usize,
        out: &mut Vec<Rec<U>>,
    ) -> Result<Step, JobError>;
}

/// Records waiting for their turn in one batch, with the batch's capability, which is held
/// until the last of them is finished.
struct Pending<T> {
    cap: Capability<u64>,
    records: VecDeque<Rec<T>>,
}

impl<'s, T: Data> Flow<'s, T> {
    /// An operator that works off each record in steps of at most `budget` units per
    /// invocation (see [`StepLogic`]); records stay on their worker and are worked off one after
    /// the other, batches in time order.
    pub(crate) fn stepwise<U: Data, L: StepLogic<T, U>>(
        self,
        b: &Builder<'s>,
        node: usize,
        name: &'static str,
        budget: usize,
        mut logic: L,
    ) -> Flow<'s, U> {
        let rt = b.runtime.clone();
        let scope = b.scope;
        let budget = budget.max(1);
        let stream = self
            .stream
            .unary::<CapacityContainerBuilder<Vec<Rec<U>>>, _, _, _>(
                Pipeline,
                name,
                move |_cap, info| {
                    let activator = scope.activator_for(info.address);
                    let mut pending: BTreeMap<u64, Pending<T>> = BTreeMap::new();
                    // The record in progress and the time of its batch, whose `Pending` entry
                    // (and capability) stays until the record is finished.
                    let mut current: Option<(u64, L::Task)> = None;
                    let mut buf: Vec<Rec<U>> = Vec::new();
                    // How many records the last step gave. A given container does not come
                    // back (timely's channels within a worker recycle none), so the next one is
                    // made that large at once instead of growing by doubling: a step of a file's
                    // lines would otherwise copy its records about ten times over and touch
                    // fresh memory each time.
                    let mut last_given = 0usize;
                    move |input, output| {
                        input.for_each(|cap, data| {
                            let time = cap.least().copied().unwrap_or_default();
                            if let Some(entry) = pending.get_mut(&time) {
                                entry.records.extend(data.drain(..));
                            } else if let Some(cap) = cap.retain_least(output.output_index()) {
                                pending.insert(
                                    time,
                                    Pending {
                                        cap,
                                        records: data.drain(..).collect(),
                                    },
                                );
                            }
                        });
                        let mut spent = 0usize;
                        while spent < budget {
                            if current.is_none() {
                                let Some(mut first) = pending.first_entry() else {
                                    break;
                                };
                                match first.get_mut().records.pop_front() {
                                    Some((p, record)) => {
                                        let time = *first.key();
                                        let outcome = catch_unwind(AssertUnwindSafe(|| {
                                            logic.begin(p, record)
                                        }));
                                        match outcome {
                                            Ok(task) => current = Some((time, task)),
                                            Err(payload) => rt.fail(
                                                Time::from_millis(time),
                                                node,
                                                name,
                                                JobError::panicked(payload),
                                            ),
                                        }
                                    }
                                    // Every record of the batch is done: releasing its
                                    // capability lets the batch complete downstream.
                                    None => drop(first.remove()),
                                }
                                continue;
                            }
                            let Some((time, task)) = current.as_mut() else {
                                continue;
                            };
                            let time = *time;
                            let allowance = budget - spent;
                            buf.reserve(last_given);
                            let outcome = catch_unwind(AssertUnwindSafe(|| {
                                logic.step(task, allowance, &mut buf)
                            }));
                            let finished = match outcome {
                                Ok(Ok(step)) => {
                                    // A step that used nothing still counts, so that an
                                    // invocation always ends.
                                    spent += step.used.clamp(1, allowance);
                                    step.finished
                                }
                                Ok(Err(error)) => {
                                    rt.fail(Time::from_millis(time), node, name, error);
                                    true
                                }
                                Err(payload) => {
                                    rt.fail(
                                        Time::from_millis(time),
                                        node,
                                        name,
                                        JobError::panicked(payload),
                                    );
                                    true
                                }
                            };
                            if !buf.is_empty() {
                                last_given = buf.len();
                                let cap = &pending
                                    .get(&time)
                                    .expect("the batch of the record in progress is pending")
                                    .cap;
                                output.session(cap).give_container(&mut buf);
                                buf.clear();
                            }
                            if finished {
                                current = None;
                            }
                        }
                        // Batches whose records are all done go now, not at the next
                        // invocation: nothing else may wake this operator for them.
                        let busy = current.as_ref().map(|(t, _)| *t);
                        pending.retain(|t, p| !p.records.is_empty() || Some(*t) == busy);
                        if !pending.is_empty() {
                            activator.activate();
                        }
                    }
                },
            );
        Flow { stream }
    }
}
