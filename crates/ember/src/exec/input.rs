//! Inputs as the feeding workers see them: [`Driven`] erases the element type, [`TypedInput`]
//! takes a source's received blocks and batch data into the dataflow, tagged with partitions.

use std::sync::Arc;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::InputHandle;

use crate::checkpoint::SourceCheckpoint;
use crate::data::Data;
use crate::dstream::input::{BatchRdd, InputSource};
use crate::exec::build::Rec;
use crate::placement::Placement;
use crate::scheduler::runtime::Runtime;
use crate::time::Time;

/// An input as a feeding worker sees it, whatever its element type.
pub(crate) trait Driven {
    /// Takes one received block, if any, into the open batch; whether it did.
    fn pull(&mut self) -> bool;
    /// Driver: closes batch `time` (adding the batch data of batch sources) and opens `next`.
    /// Received blocks still queued go to the next batch, as data still in Spark's block
    /// generator does.
    /// Whether the batch has an RDD is the source's answer.
    fn close_batch(&mut self, time: Time, next: Time) -> crate::Result<BatchRdd>;
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

/// Where records of type `T` enter a worker's dataflow, one timely epoch per batch.
pub(crate) type Entrance<T> = InputHandle<u64, CapacityContainerBuilder<Vec<Rec<T>>>>;

/// One worker's end of an input stream: takes the source's blocks into the open batch, each
/// tagged with a partition, and (on the driver) closes batches with the source's batch data.
pub(crate) struct TypedInput<T: Data> {
    stream_id: usize,
    node: usize,
    /// Entrance for records of this worker's own partitions.
    local: Entrance<T>,
    /// Entrance for records routed to their partition's worker.
    routed: Entrance<T>,
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
    /// The stream's count of records taken in, for the web UI (added to once per block).
    received: Option<Arc<crate::status::Source>>,
}

impl<T: Data> TypedInput<T> {
    /// The input of stream `stream_id` (graph node `node`) on worker `index` of `workers`, fed
    /// from `source` through the two entrances: `local` for this worker's own partitions,
    /// `routed` for records that travel to their partition's worker.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        stream_id: usize,
        node: usize,
        (local, routed): (Entrance<T>, Entrance<T>),
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
        let received = runtime.status.sources.get(stream_id);
        TypedInput {
            received,
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
        if let Some(source) = &self.received {
            source.received(block.len() as u64);
        }
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

    fn close_batch(&mut self, time: Time, next: Time) -> crate::Result<BatchRdd> {
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
