//! The dataflow primitives every DStream operation is made of.

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};

use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::{Capability, Concat, Exchange as _, InputCapability, Operator};

use crate::data::Data;
use crate::error::JobError;
use crate::exec::build::{Builder, Flow, Rec};
use crate::exec::chain::{Chain, Owner, Running, Sink, attach_routed};
use crate::scheduler::Tick;
use crate::time::Time;

/// Where a per-batch operator's input records go before it sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// Stay on the worker that has them.
    Local,
    /// To the worker of the partition each record is tagged with.
    ByPartition,
    /// All to the driver (worker 0).
    Driver,
}

/// The logic of a per-batch operator on one worker: records are absorbed as they arrive (so
/// work overlaps with receiving), and `finish` runs once per batch time, in time order, on every
/// worker, even when the worker received nothing for that batch.
pub(crate) trait BatchLogic<T, U>: 'static {
    /// Per-batch accumulator.
    type Acc: Default + 'static;
    /// Takes in one record of the batch.
    fn absorb(&mut self, acc: &mut Self::Acc, partition: u32, record: T);

    /// Takes in a run of records of the batch, draining `run` (records reach a per-batch
    /// operator in runs of up to [`ABSORB_RUN`]). The default absorbs them one by one; logic
    /// whose records each wait for memory (a large map's lookups) can start those waits
    /// together.
    fn absorb_run(&mut self, acc: &mut Self::Acc, run: &mut Vec<Rec<T>>) {
        for (p, x) in run.drain(..) {
            self.absorb(acc, p, x);
        }
    }
    /// The batch is complete: emit its results as `(partition, record)`, leaving `acc` empty
    /// (it is reused for a later batch, so that maps and vectors keep their capacity instead of
    /// growing from nothing every batch).
    fn finish(&mut self, tick: &Tick, acc: &mut Self::Acc, out: &mut Vec<Rec<U>>);

    /// More results of the batch `finish` just completed, at most `budget` records a call;
    /// whether they are all out. Until then the operator gives what each call emitted, lets the
    /// operators downstream take it (the call is repeated at the worker's next step) and
    /// finishes no other batch, so that a batch whose output is large (the whole state of an
    /// `update_state_by_key`) is never held whole in memory. The default has nothing more.
    fn emit_more(&mut self, _out: &mut Vec<Rec<U>>, _budget: usize) -> bool {
        true
    }
}

/// Records a [`BatchLogic::emit_more`] call emits at most.
const EMIT_BUDGET: usize = 1 << 16;

impl<'s, T: Data> Flow<'s, T> {
    /// A per-record operator that keeps records on their worker. `f` gets each record with its
    /// partition and pushes any number of outputs; an `Err` or a panic in `f` fails the batch's
    /// jobs that depend on `node`, and the stream goes on.
    pub(crate) fn narrow<U: Data>(
        self,
        b: &Builder<'s>,
        node: usize,
        name: &'static str,
        mut f: impl FnMut(u32, T, &mut Vec<Rec<U>>) -> Result<(), JobError> + 'static,
    ) -> Flow<'s, U> {
        let rt = b.runtime.clone();
        let stream = self
            .stream
            .unary::<CapacityContainerBuilder<Vec<Rec<U>>>, _, _, _>(
                Pipeline,
                name,
                move |_cap, _info| {
                    let mut buf: Vec<Rec<U>> = Vec::new();
                    // The output of the last input container: handing `buf` on leaves it without
                    // capacity, and growing it again by doubling copies it several times over.
                    let mut expected = 0usize;
                    move |input, output| {
                        input.for_each(|cap, data| {
                            buf.reserve(expected.max(data.len()));
                            let time = Time::from_millis(cap.least().copied().unwrap_or_default());
                            let outcome = catch_unwind(AssertUnwindSafe(|| {
                                for (p, x) in data.drain(..) {
                                    if let Err(error) = f(p, x, &mut buf) {
                                        rt.fail(time, node, name, error);
                                    }
                                }
                            }));
                            if let Err(payload) = outcome {
                                rt.fail(time, node, name, JobError::panicked(payload));
                                data.clear();
                            }
                            expected = buf.len();
                            if !buf.is_empty() {
                                output.session(&cap).give_container(&mut buf);
                                buf.clear();
                            }
                        });
                    }
                },
            );
        Flow { stream }
    }

    /// A narrow operator that sees records in runs: each call of `f` gets consecutive records of
    /// one partition from one arriving container, so a costly entry into `f` (a foreign
    /// interpreter, say) is paid per run, not per record, and no batch is held whole.
    pub(crate) fn narrow_runs<U: Data>(
        self,
        b: &Builder<'s>,
        node: usize,
        name: &'static str,
        mut f: impl FnMut(u32, Vec<T>, &mut Vec<Rec<U>>) -> Result<(), JobError> + 'static,
    ) -> Flow<'s, U> {
        let mut run: Vec<T> = Vec::new();
        self.narrow_containers(b, node, name, move |data, out| {
            let mut current = None;
            for (p, x) in data.drain(..) {
                if current.is_some_and(|c| c != p) {
                    f(current.unwrap_or_default(), std::mem::take(&mut run), out)?;
                }
                current = Some(p);
                run.push(x);
            }
            match current {
                Some(p) => f(p, std::mem::take(&mut run), out),
                None => Ok(()),
            }
        })
    }

    fn narrow_containers<U: Data>(
        self,
        b: &Builder<'s>,
        node: usize,
        name: &'static str,
        mut f: impl FnMut(&mut Vec<Rec<T>>, &mut Vec<Rec<U>>) -> Result<(), JobError> + 'static,
    ) -> Flow<'s, U> {
        let rt = b.runtime.clone();
        let stream = self
            .stream
            .unary::<CapacityContainerBuilder<Vec<Rec<U>>>, _, _, _>(
                Pipeline,
                name,
                move |_cap, _info| {
                    let mut buf: Vec<Rec<U>> = Vec::new();
                    move |input, output| {
                        input.for_each(|cap, data| {
                            let time = Time::from_millis(cap.least().copied().unwrap_or_default());
                            let outcome = catch_unwind(AssertUnwindSafe(|| f(data, &mut buf)));
                            match outcome {
                                Ok(Ok(())) => {}
                                Ok(Err(error)) => rt.fail(time, node, name, error),
                                Err(payload) => {
                                    rt.fail(time, node, name, JobError::panicked(payload))
                                }
                            }
                            data.clear();
                            if !buf.is_empty() {
                                output.session(&cap).give_container(&mut buf);
                                buf.clear();
                            }
                        });
                    }
                },
            );
        Flow { stream }
    }

    /// A per-batch operator (see [`BatchLogic`]) whose input is first routed by `route`.
    pub(crate) fn batch<U: Data, L: BatchLogic<T, U>>(
        self,
        b: &Builder<'s>,
        route: Route,
        node: usize,
        name: &'static str,
        logic: L,
    ) -> Flow<'s, U> {
        Chain::Built(self).batch(b, route, node, name, logic)
    }

    /// The records of both flows (Spark's `union`; partitions are as tagged).
    pub(crate) fn concat(self, other: Flow<'s, T>) -> Flow<'s, T> {
        Flow {
            stream: self.stream.concat(other.stream),
        }
    }

    /// Sends every record to the worker of the partition it is tagged with.
    pub(crate) fn route_by_partition(self) -> Flow<'s, T> {
        Flow {
            stream: self.stream.exchange(|r: &Rec<T>| r.0 as u64),
        }
    }
}

impl<'s, T: Data> Chain<'s, T> {
    /// A per-batch operator (see [`BatchLogic`]) whose input is first routed by `route`. With
    /// `Route::Local` a chain's functions run in this operator, each record going from them
    /// straight into `absorb`; other routes build the chain first, as records must travel.
    pub(crate) fn batch<U: Data, L: BatchLogic<T, U>>(
        self,
        b: &Builder<'s>,
        route: Route,
        node: usize,
        name: &'static str,
        mut logic: L,
    ) -> Flow<'s, U> {
        let chain = match route {
            Route::Local => self,
            // Built before this operator is begun, so that operators are made one at a time.
            Route::ByPartition | Route::Driver => Chain::Built(self.into_flow(b, name)),
        };
        let me = Owner { node, name };
        let running = Running::new(b.runtime().clone(), me);
        let mut op = OperatorBuilder::new(name.to_owned(), b.scope);
        let mut data = match (route, chain) {
            (Route::ByPartition, Chain::Built(flow)) => attach_routed(
                flow,
                &mut op,
                Exchange::new(|r: &Rec<T>| r.0 as u64),
                &running,
            ),
            (Route::Driver, Chain::Built(flow)) => {
                attach_routed(flow, &mut op, Exchange::new(|_: &Rec<T>| 0u64), &running)
            }
            (_, chain) => chain.attach(&mut op, &running),
        };
        let mut ticks_in = op.new_input(b.ticks.clone(), Pipeline);
        let (output, stream) = op.new_output::<Vec<Rec<U>>>();
        let mut output = OutputBuilder::<u64, CapacityContainerBuilder<Vec<Rec<U>>>>::from(output);
        let rt = b.runtime.clone();
        let activator = b.scope.activator_for(op.operator_info().address);
        op.build(move |_capabilities| {
            let mut accs: HashMap<u64, L::Acc> = HashMap::new();
            let mut spare: Option<L::Acc> = None;
            let mut pending = BTreeMap::new();
            let mut buf: Vec<Rec<U>> = Vec::new();
            let mut waiting: Vec<Rec<T>> = Vec::with_capacity(ABSORB_RUN);
            // The batch whose output `emit_more` is still giving, with its capability.
            let mut emitting: Option<(Capability<u64>, Time)> = None;
            move |frontiers| {
                let mut output = output.activate();
                data.drain(&mut Absorb {
                    logic: &mut logic,
                    accs: &mut accs,
                    spare: &mut spare,
                    current: None,
                    waiting: &mut waiting,
                    running: &running,
                    me,
                    _record: std::marker::PhantomData,
                });
                ticks_in.for_each(|cap, ticks| {
                    for tick in ticks.drain(..) {
                        if let Some(c) = cap.retain_least(output.output_index()) {
                            pending.insert(tick.time.as_millis(), (c, tick));
                        }
                    }
                });
                let (data_frontier, tick_frontier) = (&frontiers[0], &frontiers[1]);
                loop {
                    // A batch whose output is still being given goes first, a step at a time,
                    // each after the operators downstream took the previous one.
                    if let Some((cap, time)) = emitting.take() {
                        let outcome = catch_unwind(AssertUnwindSafe(|| {
                            logic.emit_more(&mut buf, EMIT_BUDGET)
                        }));
                        let done = match outcome {
                            Ok(done) => done,
                            Err(payload) => {
                                rt.fail(time, node, name, JobError::panicked(payload));
                                buf.clear();
                                true
                            }
                        };
                        if !buf.is_empty() {
                            output.session(&cap).give_container(&mut buf);
                            buf.clear();
                        }
                        if !done {
                            emitting = Some((cap, time));
                            activator.activate();
                            break;
                        }
                    }
                    let Some((&time, _)) = pending.first_key_value() else {
                        break;
                    };
                    if data_frontier.less_equal(&time) || tick_frontier.less_equal(&time) {
                        break;
                    }
                    let (cap, tick) = pending.remove(&time).expect("first key exists");
                    let mut acc = accs
                        .remove(&time)
                        .unwrap_or_else(|| spare.take().unwrap_or_default());
                    let outcome =
                        catch_unwind(AssertUnwindSafe(|| logic.finish(&tick, &mut acc, &mut buf)));
                    let finished = match outcome {
                        // Only an accumulator that `finish` emptied normally is reused.
                        Ok(()) => {
                            spare = Some(acc);
                            true
                        }
                        Err(payload) => {
                            rt.fail(tick.time, node, name, JobError::panicked(payload));
                            buf.clear();
                            false
                        }
                    };
                    if !buf.is_empty() {
                        output.session(&cap).give_container(&mut buf);
                        buf.clear();
                    }
                    if finished {
                        emitting = Some((cap, tick.time));
                    }
                }
            }
        });
        Flow { stream }
    }
}

/// The sink of a per-batch operator: each record goes into the accumulator of its batch.
struct Absorb<'a, T, U, L: BatchLogic<T, U>> {
    logic: &'a mut L,
    accs: &'a mut HashMap<u64, L::Acc>,
    spare: &'a mut Option<L::Acc>,
    /// The batch of the container being absorbed, and its accumulator (taken out of `accs`
    /// for the container, so that each record is one call, not one map lookup).
    current: Option<(u64, L::Acc)>,
    /// Records waiting to be absorbed together (see `push`).
    waiting: &'a mut Vec<Rec<T>>,
    running: &'a Running,
    me: Owner,
    _record: std::marker::PhantomData<fn(T) -> U>,
}

/// Records absorbed in one go: few enough to stay in the first-level cache.
pub(crate) const ABSORB_RUN: usize = 256;

impl<T, U, L: BatchLogic<T, U>> Absorb<'_, T, U, L> {
    fn absorb_waiting(&mut self) {
        self.running.set(self.me);
        if let Some((_, acc)) = &mut self.current {
            self.logic.absorb_run(acc, self.waiting);
        } else {
            self.waiting.clear();
        }
    }
}

impl<T, U, L: BatchLogic<T, U>> Sink<T> for Absorb<'_, T, U, L> {
    fn open(&mut self, cap: InputCapability<u64>) {
        let time = cap.least().copied().unwrap_or_default();
        let acc = self
            .accs
            .remove(&time)
            .unwrap_or_else(|| self.spare.take().unwrap_or_default());
        self.current = Some((time, acc));
    }

    /// Records are absorbed a run at a time rather than as each arrives: a run of lookups in
    /// a map too large for the cache, one after the other with nothing in between, lets the
    /// processor wait for several of them at once; interleaved with a chain's functions (a line
    /// split into words, say) each would wait alone. (Measured on W1: the map's lookups took half
    /// as long again when absorbed one by one; BENCHMARKS.md.)
    #[inline]
    fn push(&mut self, partition: u32, record: T) {
        self.waiting.push((partition, record));
        if self.waiting.len() >= ABSORB_RUN {
            self.absorb_waiting();
        }
    }

    fn flush(&mut self) {
        self.absorb_waiting();
    }

    fn close(&mut self) {
        // Left by a panic: the rest of the container is dropped.
        self.waiting.clear();
        if let Some((time, acc)) = self.current.take() {
            self.accs.insert(time, acc);
        }
    }
}
