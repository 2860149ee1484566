//! Input streams: where batches come from (Spark's `InputDStream`s and the receiver tracker).
//!
//! An input's records enter the dataflow on the driver worker only; a receiver's blocks are
//! spread over the partitions in turn, a batch source's partitions keep their index, and every
//! partition then travels to its worker.
//!
//! This module holds what every input shares: the [`InputSource`] trait that the execution
//! polls, and the graph node ([`InputNode`]) that makes the process's source when the dataflow is
//! built. Each kind of source has its own file:
//!
//! - `receiver`: a [`Receiver`](crate::receiver::Receiver) on its supervisor thread, with the
//!   optional write-ahead log (`receiver_stream`);
//! - `socket`: the socket receiver's chunks of lines (`socket_text_stream`);
//! - `queue`: RDDs pushed into an [`RddQueue`] (`queue_stream`);
//! - `file`: the new files of a directory, read into lines (`text_file_stream`).

mod file;
mod queue;
mod receiver;
mod socket;

use std::sync::{Arc, Mutex};

use crate::checkpoint::SourceCheckpoint;
use crate::data::Data;
use crate::dstream::{Meta, Node};
use crate::exec::{Builder, Flow};
use crate::scheduler::runtime::Runtime;
use crate::sync::RecoverPoison;
use crate::time::Time;

pub(crate) use file::{FileSource, read_files};
pub use queue::RddQueue;
pub(crate) use queue::{QueueDefault, QueueSource};
pub(crate) use receiver::ReceiverSource;
pub(crate) use socket::SocketSource;

/// A source of records for one input stream. One instance per process, shared by the workers
/// of the driver's process: each of them takes received blocks when it has room (so memory stays
/// bounded and the work spreads by itself), and the driver asks for batch data at batch close.
pub(crate) trait InputSource<T>: SourceCheckpoint {
    /// The next block that arrived (receivers), if any, for the batch at `batch`.
    fn poll(&self, _batch: Time) -> Option<Vec<T>> {
        None
    }
    /// The partitions this source contributes to the batch at `time`, produced when the batch
    /// closes (queues, directories), and whether the batch has an RDD at all. An error fails
    /// the batch's jobs that use this input.
    fn batch(&self, _time: Time, _out: &mut Vec<Vec<T>>) -> crate::Result<BatchRdd> {
        Ok(BatchRdd::Present)
    }
    /// Stops receiving; blocks already queued are still returned by `poll`.
    fn stop(&self) {}
    /// What the last batch consisted of, for listener events.
    fn describe(&self) -> String {
        String::new()
    }
}

/// Whether an input has an RDD for a batch time (Spark's `compute` returning `Some` or `None`;
/// see `dstream::presence`). An RDD may be empty; a batch without one is not a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BatchRdd {
    /// The batch has an RDD, perhaps an empty one.
    Present,
    /// The batch has no RDD.
    Absent,
}

type MakeSource<T> = Box<dyn FnOnce(&Arc<Runtime>, usize) -> Box<dyn InputSource<T>> + Send>;

/// The graph node of an input stream.
pub(crate) struct InputNode<T> {
    stream_id: usize,
    partitions: usize,
    make: Mutex<Option<MakeSource<T>>>,
    /// The process's source, made by the first worker that builds the node.
    source: std::sync::OnceLock<Arc<dyn InputSource<T>>>,
}

impl<T: Data> InputNode<T> {
    pub(crate) fn new(
        stream_id: usize,
        partitions: usize,
        make: impl FnOnce(&Arc<Runtime>, usize) -> Box<dyn InputSource<T>> + Send + 'static,
    ) -> Self {
        InputNode {
            stream_id,
            partitions,
            make: Mutex::new(Some(Box::new(make))),
            source: std::sync::OnceLock::new(),
        }
    }
}

/// Stands in for a source that was already taken: a context starts at most once, so this only
/// happens if a graph were built twice on the driver, which `Builder::memo` prevents.
struct Exhausted;

impl<T> InputSource<T> for Exhausted {}
impl SourceCheckpoint for Exhausted {}

impl<T: Data> Node<T> for InputNode<T> {
    fn build<'s>(&self, b: &mut Builder<'s>, meta: &Meta) -> Flow<'s, T> {
        let rt = b.runtime().clone();
        let stream_id = self.stream_id;
        b.input(stream_id, meta.id, self.partitions, || {
            // Only workers of the driver's process call this; the first one makes the source.
            self.source
                .get_or_init(|| {
                    let make = self.make.lock().recover().take();
                    match make {
                        Some(make) => Arc::from(make(&rt, stream_id)),
                        None => Arc::new(Exhausted),
                    }
                })
                .clone()
        })
    }
}
