//! Fused chains of per-record operations.
//!
//! A per-record operation (`map`, `flat_map`, `filter`, `map_values`, ...) whose stream has one
//! consumer gets no operator of its own: its function runs inside the consumer's operator, on
//! each record as it arrives, and its outputs go straight on to the next function and finally to
//! the consumer (a per-batch operator's `absorb`, or the one operator that materializes the
//! chain). Why: in the seed's word count every word used to be written to a buffer by
//! `flat_map`, read back and written again by `map`, and read back by the combine; those
//! buffers, several megabytes per block of input, pushed the combine map out of the cache, and
//! moving records between operators was a fifth of the CPU time (BENCHMARKS.md, issue 12).
//! Fused, a word goes from the line to the combine map while both are in cache.
//!
//! A chain is only fused where nothing else reads its streams: the builder counts every
//! stream's consumers from the graph (see `Upstream::chain`); a stream read twice, or kept for
//! `slice`, is built as its own operator, so that its records are computed once.
//!
//! Failures keep their meaning: an `Err` of a function fails the batch's jobs that depend on its
//! node, and a panic is reported as the panic of the function (or consumer) that was running,
//! as when each had an operator of its own (the operator catches panics once per container and
//! asks the chain's [`Running`] cell whose code it was).

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;

use timely::communication::Pull;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::Message;
use timely::dataflow::channels::pact::{ParallelizationContract, Pipeline};
use timely::dataflow::operators::InputCapability;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::{InputHandleCore, OutputBuilder};
use timely::progress::operate::FrontierInterest;

use crate::data::Data;
use crate::error::JobError;
use crate::exec::build::{Builder, Flow, Rec};
use crate::scheduler::runtime::Runtime;
use crate::time::Time;

/// The code a record is in: a node's function, or the consumer of a chain.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Owner {
    /// The node (its failures fail the jobs that depend on it).
    pub(crate) node: usize,
    /// Its operation's name, for the error.
    pub(crate) name: &'static str,
}

/// Whose code is running in an operator with a fused chain: set by each stage before it calls
/// its function (and by a consumer before its own code), read when a panic is caught.
pub(crate) struct Running {
    owner: Cell<Owner>,
    runtime: Arc<Runtime>,
}

impl Running {
    /// Starts with `owner` running.
    pub(crate) fn new(runtime: Arc<Runtime>, owner: Owner) -> Rc<Running> {
        Rc::new(Running {
            owner: Cell::new(owner),
            runtime,
        })
    }

    /// `owner`'s code runs now.
    #[inline]
    pub(crate) fn set(&self, owner: Owner) {
        self.owner.set(owner);
    }

    /// `owner`'s code failed on a record of batch `time`.
    pub(crate) fn fail(&self, time: u64, owner: Owner, error: JobError) {
        self.runtime
            .fail(Time::from_millis(time), owner.node, owner.name, error);
    }

    /// The running code panicked on a record of batch `time`.
    fn panicked(&self, time: u64, payload: Box<dyn std::any::Any + Send>) {
        self.fail(time, self.owner.get(), JobError::panicked(payload));
    }
}

/// Takes the records of a chain, a container at a time.
pub(crate) trait Sink<T> {
    /// A container of batch `cap.least()` begins.
    fn open(&mut self, cap: InputCapability<u64>);
    /// One record, tagged with its partition.
    fn push(&mut self, partition: u32, record: T);
    /// The container's records were all pushed: finish any work held back for them (which may
    /// run user code, so the caller catches panics around it as around `push`).
    fn flush(&mut self) {}
    /// The container ended, completely or cut short by a panic (already reported): bookkeeping
    /// only, never user code. Records still held back are dropped.
    fn close(&mut self);
}

/// Hands the records that arrived at an operator's input to a [`Sink`], each through the
/// chain's functions.
pub(crate) trait Pump<T> {
    /// Takes every container that has arrived.
    fn drain(&mut self, sink: &mut dyn Sink<T>);
}

/// A stream of `T` that is either built (an operator's output) or still a chain of functions
/// over a built stream, to be run by whichever operator consumes it.
pub(crate) enum Chain<'s, T: Data> {
    /// A built stream.
    Built(Flow<'s, T>),
    /// Functions over a built stream, not run yet.
    Fused(Box<dyn Fused<'s, T> + 's>),
}

/// A chain not built yet: it becomes an input of its consumer's operator.
pub(crate) trait Fused<'s, T: Data> {
    /// Adds the chain's built stream as an input (`Pipeline`) of `op`; the returned pump runs
    /// the chain's functions on what arrives there.
    fn attach(
        self: Box<Self>,
        op: &mut OperatorBuilder<'s, u64>,
        running: &Rc<Running>,
    ) -> Box<dyn Pump<T>>;
}

impl<'s, T: Data> Chain<'s, T> {
    /// `f` applied to every record of this chain, as one more fused stage of node `node`: each
    /// record becomes the records `f` returns, in the record's partition.
    pub(crate) fn then<U: Data, I, F>(
        self,
        node: usize,
        name: &'static str,
        f: Arc<F>,
    ) -> Chain<'s, U>
    where
        F: Fn(T) -> I + Send + Sync + 'static,
        I: IntoIterator<Item = U>,
    {
        let inner: Box<dyn Fused<'s, T> + 's> = match self {
            Chain::Built(flow) => Box::new(Root { flow }),
            Chain::Fused(inner) => inner,
        };
        Chain::Fused(Box::new(Stage {
            inner,
            f,
            owner: Owner { node, name },
        }))
    }

    /// The chain as a built stream: one operator runs all its functions (`name` names it).
    pub(crate) fn into_flow(self, b: &Builder<'s>, name: &'static str) -> Flow<'s, T> {
        let fused = match self {
            Chain::Built(flow) => return flow,
            Chain::Fused(fused) => fused,
        };
        let mut op = OperatorBuilder::new(name.to_owned(), b.scope);
        // Every record passes a stage, which names itself before its function runs.
        let running = Running::new(b.runtime().clone(), Owner { node: 0, name });
        let mut pump = fused.attach(&mut op, &running);
        // Like timely's `unary`: the operator acts on records only, never on frontier changes.
        op.set_notify_for(0, FrontierInterest::Never);
        let (output, stream) = op.new_output::<Vec<Rec<T>>>();
        let mut output = OutputBuilder::<u64, CapacityContainerBuilder<Vec<Rec<T>>>>::from(output);
        op.build(move |_capabilities| {
            let mut buf: Vec<Rec<T>> = Vec::new();
            // The output of the last container: handing `buf` on leaves it without capacity,
            // and growing it again by doubling copies it several times over.
            let mut expected = 0usize;
            move |_frontiers| {
                let mut output = output.activate();
                let mut sink = Collect {
                    out: &mut output,
                    buf: &mut buf,
                    expected: &mut expected,
                    cap: None,
                };
                pump.drain(&mut sink);
            }
        });
        Flow { stream }
    }

    /// Adds this chain as an input of `op` with contract `Pipeline` (records stay on their
    /// worker), returning the pump that delivers its records.
    pub(crate) fn attach(
        self,
        op: &mut OperatorBuilder<'s, u64>,
        running: &Rc<Running>,
    ) -> Box<dyn Pump<T>> {
        match self {
            Chain::Built(flow) => Box::new(Root { flow }).attach(op, running),
            Chain::Fused(fused) => fused.attach(op, running),
        }
    }
}

/// The built stream a chain starts from.
struct Root<'s, T: Data> {
    flow: Flow<'s, T>,
}

impl<'s, T: Data> Fused<'s, T> for Root<'s, T> {
    fn attach(
        self: Box<Self>,
        op: &mut OperatorBuilder<'s, u64>,
        running: &Rc<Running>,
    ) -> Box<dyn Pump<T>> {
        attach_routed(self.flow, op, Pipeline, running)
    }
}

/// Adds `flow` as an input of `op` with contract `pact` (a routing one, such as an exchange by
/// partition), returning the pump that delivers its records.
pub(crate) fn attach_routed<'s, T: Data, P>(
    flow: Flow<'s, T>,
    op: &mut OperatorBuilder<'s, u64>,
    pact: P,
    running: &Rc<Running>,
) -> Box<dyn Pump<T>>
where
    P: ParallelizationContract<u64, Vec<Rec<T>>>,
    P::Puller: 'static,
{
    let input = op.new_input(flow.stream, pact);
    Box::new(RootPump {
        input,
        running: running.clone(),
    })
}

/// Pulls containers from an operator input. A panic while their records go through the chain
/// and into the sink is caught here, once per container: it fails the batch of the code that
/// was running (`running`), the rest of the container is dropped, and the stream goes on.
struct RootPump<T, P: Pull<Message<u64, Vec<Rec<T>>>>> {
    input: InputHandleCore<u64, Vec<Rec<T>>, P>,
    running: Rc<Running>,
}

impl<T: Data, P: Pull<Message<u64, Vec<Rec<T>>>>> Pump<T> for RootPump<T, P> {
    fn drain(&mut self, sink: &mut dyn Sink<T>) {
        self.input.for_each(|cap, data| {
            let time = cap.least().copied().unwrap_or_default();
            sink.open(cap);
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                for (p, x) in data.drain(..) {
                    sink.push(p, x);
                }
                sink.flush();
            }));
            if let Err(payload) = outcome {
                data.clear();
                self.running.panicked(time, payload);
            }
            sink.close();
        });
    }
}

/// One fused function over the records of `inner`: `f(record)` gives any number of outputs, in
/// the record's partition. (Generic over `f` and its iterator, so that both are compiled into
/// the stage's loop, and each output goes straight on to the next stage: no buffer between.)
struct Stage<'s, S: Data, F> {
    inner: Box<dyn Fused<'s, S> + 's>,
    f: Arc<F>,
    owner: Owner,
}

impl<'s, S: Data, T: Data, I, F> Fused<'s, T> for Stage<'s, S, F>
where
    F: Fn(S) -> I + Send + Sync + 'static,
    I: IntoIterator<Item = T>,
{
    fn attach(
        self: Box<Self>,
        op: &mut OperatorBuilder<'s, u64>,
        running: &Rc<Running>,
    ) -> Box<dyn Pump<T>> {
        let inner = self.inner.attach(op, running);
        Box::new(StagePump {
            inner,
            f: self.f,
            owner: self.owner,
            running: running.clone(),
        })
    }
}

/// Runs a stage's function between the pump of its input and the sink of its output.
struct StagePump<S, F> {
    inner: Box<dyn Pump<S>>,
    f: Arc<F>,
    owner: Owner,
    running: Rc<Running>,
}

impl<S: Data, T: Data, I, F> Pump<T> for StagePump<S, F>
where
    F: Fn(S) -> I + Send + Sync + 'static,
    I: IntoIterator<Item = T>,
{
    fn drain(&mut self, sink: &mut dyn Sink<T>) {
        let mut stage = StageSink {
            f: &*self.f,
            owner: self.owner,
            running: &self.running,
            next: sink,
        };
        self.inner.drain(&mut stage);
    }
}

struct StageSink<'a, T, F> {
    f: &'a F,
    owner: Owner,
    running: &'a Running,
    next: &'a mut dyn Sink<T>,
}

impl<S, T, I, F> Sink<S> for StageSink<'_, T, F>
where
    F: Fn(S) -> I,
    I: IntoIterator<Item = T>,
{
    fn open(&mut self, cap: InputCapability<u64>) {
        self.next.open(cap);
    }

    /// Each output goes on as `f` gives it. `f`'s iterator is this stage's code too (a line's
    /// words are split as they are asked for), so this stage is named running again after each
    /// output has been taken by the next one.
    #[inline]
    fn push(&mut self, partition: u32, record: S) {
        self.running.set(self.owner);
        for y in (self.f)(record) {
            self.next.push(partition, y);
            self.running.set(self.owner);
        }
    }

    fn flush(&mut self) {
        self.next.flush();
    }

    fn close(&mut self) {
        self.next.close();
    }
}

/// Gathers a chain's records into containers of the operator's output, one per input container.
struct Collect<'a, 'o, T: Data> {
    out: &'a mut timely::dataflow::operators::generic::OutputBuilderSession<
        'o,
        u64,
        CapacityContainerBuilder<Vec<Rec<T>>>,
    >,
    buf: &'a mut Vec<Rec<T>>,
    expected: &'a mut usize,
    cap: Option<InputCapability<u64>>,
}

impl<T: Data> Sink<T> for Collect<'_, '_, T> {
    fn open(&mut self, cap: InputCapability<u64>) {
        self.buf.reserve(*self.expected);
        self.cap = Some(cap);
    }

    #[inline]
    fn push(&mut self, partition: u32, record: T) {
        self.buf.push((partition, record));
    }

    fn close(&mut self) {
        *self.expected = self.buf.len();
        if let Some(cap) = self.cap.take()
            && !self.buf.is_empty()
        {
            self.out.session(&cap).give_container(self.buf);
            self.buf.clear();
        }
    }
}
