//! Building the dataflow from the DStream graph.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use timely::dataflow::operators::{Concat, Exchange as _};
use timely::dataflow::{InputHandle, ProbeHandle, Scope, StreamVec};

use crate::data::Data;
use crate::dstream::input::InputSource;
use crate::exec::input::{Driven, Entrance, TypedInput};
use crate::scheduler::Tick;
use crate::scheduler::runtime::Runtime;

/// A partition-tagged record: partition `p` lives on worker `p % workers`.
pub(crate) type Rec<T> = (u32, T);

/// A partitioned stream of `T` inside one worker's dataflow.
pub(crate) struct Flow<'s, T: Data> {
    pub(super) stream: StreamVec<'s, u64, Rec<T>>,
}

impl<T: Data> Clone for Flow<'_, T> {
    fn clone(&self) -> Self {
        Flow {
            stream: self.stream.clone(),
        }
    }
}

/// Builds one worker's dataflow.
pub(crate) struct Builder<'s> {
    pub(super) scope: Scope<'s, u64>,
    pub(super) ticks: StreamVec<'s, u64, Tick>,
    pub(super) probe: ProbeHandle<u64>,
    pub(super) inputs: Vec<Box<dyn Driven>>,
    pub(super) runtime: Arc<Runtime>,
    pub(super) driver: bool,
    /// Whether this worker feeds inputs (the workers of the driver's process do).
    pub(super) feeds: bool,
    /// Streams already built, by node id. Stored with their scope lifetime erased; see `memo`.
    built: HashMap<usize, Box<dyn Any>>,
    /// How many streams and outputs read each stream (from the graph's shape).
    consumers: Arc<HashMap<usize, usize>>,
    /// Streams whose functions were fused into their one consumer (see `exec::chain`).
    fused: std::collections::HashSet<usize>,
}

/// How many streams and outputs of `shape` read each stream.
pub(crate) fn count_consumers(shape: &crate::checkpoint::GraphShape) -> HashMap<usize, usize> {
    use crate::checkpoint::ShapeEntry;
    let mut counts = HashMap::new();
    for entry in shape.entries() {
        match entry {
            ShapeEntry::Stream { parents, .. } => {
                for parent in parents {
                    *counts.entry(*parent).or_default() += 1;
                }
            }
            ShapeEntry::Output { stream, .. } => *counts.entry(*stream).or_default() += 1,
        }
    }
    counts
}

impl<'s> Builder<'s> {
    pub(super) fn new(
        scope: Scope<'s, u64>,
        ticks: StreamVec<'s, u64, Tick>,
        probe: ProbeHandle<u64>,
        runtime: Arc<Runtime>,
        driver: bool,
        feeds: bool,
        consumers: Arc<HashMap<usize, usize>>,
    ) -> Self {
        Builder {
            scope,
            ticks,
            probe,
            inputs: Vec::new(),
            runtime,
            driver,
            feeds,
            built: HashMap::new(),
            consumers,
            fused: std::collections::HashSet::new(),
        }
    }

    /// Whether stream `id` may be fused into its consumer instead of being built: it has one
    /// consumer, is not built already, and no `slice` keeps its batches.
    pub(crate) fn may_fuse(&self, id: usize) -> bool {
        self.consumers.get(&id).copied() == Some(1)
            && !self.built.contains_key(&id)
            && self.runtime.remember.is_none()
    }

    /// Notes that stream `id` was fused into its consumer: nothing may build it any more.
    pub(crate) fn mark_fused(&mut self, id: usize) {
        self.fused.insert(id);
    }

    /// Whether this worker is the driver (worker 0 of process 0): it owns the inputs, the batch
    /// clock and the output jobs.
    pub(crate) fn is_driver(&self) -> bool {
        self.driver
    }

    /// The run's shared state.
    pub(crate) fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// This worker's index over all processes.
    pub(crate) fn worker_index(&self) -> usize {
        self.scope.index()
    }

    /// Number of workers over all processes.
    pub(crate) fn workers(&self) -> usize {
        self.scope.peers()
    }

    /// The stream of node `id`, building it with `make` the first time, so that a DStream used
    /// by several consumers is computed once.
    pub(crate) fn memo<T: Data>(
        &mut self,
        id: usize,
        make: impl FnOnce(&mut Self) -> Flow<'s, T>,
    ) -> Flow<'s, T> {
        if let Some(stored) = self.built.get(&id) {
            let stream = stored
                .downcast_ref::<StreamVec<'static, u64, Rec<T>>>()
                .expect("a node id always maps to the same element type")
                .clone();
            // SAFETY: the stream was stored by the `insert` below in this same builder, whose
            // streams all live in the scope `'s`; the 'static lifetime only existed inside the
            // map, which never outlives the builder, and so never outlives `'s`.
            let stream: StreamVec<'s, u64, Rec<T>> = unsafe { std::mem::transmute(stream) };
            return Flow { stream };
        }
        assert!(
            !self.fused.contains(&id),
            "stream {id} was fused into its one consumer and is read again: the graph's \
             consumer count is wrong"
        );
        let flow = make(self);
        // SAFETY: see above; the value is only ever read back as `'s` by this builder. `Any`
        // needs a 'static type, which is the only reason the lifetime is erased here.
        let erased: StreamVec<'static, u64, Rec<T>> =
            unsafe { std::mem::transmute(flow.stream.clone()) };
        self.built.insert(id, Box::new(erased));
        flow
    }

    /// A new input fed from `source` (shared by the workers of the driver's process, which all
    /// take received blocks; the driver alone adds batch data). Records are routed to the worker
    /// of their partition.
    pub(crate) fn input<T: Data>(
        &mut self,
        stream_id: usize,
        node: usize,
        partitions: usize,
        source: impl FnOnce() -> Arc<dyn InputSource<T>>,
    ) -> Flow<'s, T> {
        // Two entrances: blocks a worker received for its own partitions go straight in;
        // everything else (batch data from the driver, blocks for other processes' partitions)
        // is routed to the worker of its partition.
        let mut local: Entrance<T> = InputHandle::new();
        let mut routed: Entrance<T> = InputHandle::new();
        let local_stream = local.to_stream(self.scope);
        let routed_stream = routed
            .to_stream(self.scope)
            .exchange(|r: &Rec<T>| r.0 as u64);
        if self.feeds {
            let (index, workers) = (self.scope.index(), self.scope.peers());
            let single_process = self.runtime.ctx.master().processes() == 1;
            let input = TypedInput::new(
                stream_id,
                node,
                (local, routed),
                source(),
                self.runtime.clone(),
                partitions,
                index,
                workers,
                single_process,
            );
            self.inputs.push(Box::new(input));
        } else {
            // Other processes feed nothing; closing the handles lets the frontier follow the feeders.
            drop((local, routed));
        }
        Flow {
            stream: local_stream.concat(routed_stream),
        }
    }

    /// Makes the driver wait for this stream before considering a batch complete.
    pub(crate) fn probe<T: Data>(&mut self, flow: Flow<'s, T>) {
        use timely::dataflow::operators::Probe;
        let _ = flow.stream.probe_with(&self.probe);
    }
}
