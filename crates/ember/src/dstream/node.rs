//! Generic graph nodes most operations are made of: a per-record node and a per-batch node.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::data::Data;
use crate::dstream::{DStream, Meta, Node, Upstream};
use crate::exec::{BatchLogic, Builder, Chain, Flow, Route};
use crate::placement::Placement;
use crate::scheduler::Tick;

/// Where a per-batch logic instance runs.
#[derive(Clone)]
pub(crate) struct WorkerInfo {
    /// This worker's index over all processes.
    pub(crate) index: usize,
    /// Workers over all processes.
    pub(crate) workers: usize,
    /// Whether this worker is the driver.
    pub(crate) driver: bool,
    /// The graph node being built.
    pub(crate) node: usize,
    /// The run's checkpointing, when a checkpoint directory is set.
    pub(crate) checkpoint: Option<std::sync::Arc<crate::checkpoint::Checkpointing>>,
    /// What the web UI shows (stateful streams report their size to it).
    pub(crate) status: Option<std::sync::Arc<crate::status::Status>>,
}

impl WorkerInfo {
    /// The partitions among `0..partitions` that live on this worker.
    pub(crate) fn owned(&self, partitions: usize) -> impl Iterator<Item = u32> + use<> {
        Placement::new(self.workers, partitions).partitions_of(self.index)
    }
}

/// A per-record transformation: each record becomes the records `f(record)` gives, in its
/// partition.
pub(crate) struct NarrowNode<S: Data, T, F> {
    pub(crate) parent: Upstream<S>,
    pub(crate) name: &'static str,
    pub(crate) f: Arc<F>,
    pub(crate) _out: PhantomData<fn() -> T>,
}

impl<S, T, I, F> NarrowNode<S, T, F>
where
    S: Data,
    T: Data,
    F: Fn(S) -> I + Send + Sync + 'static,
    I: IntoIterator<Item = T>,
{
    pub(crate) fn new(parent: &DStream<S>, name: &'static str, f: F) -> Self {
        NarrowNode {
            parent: parent.upstream(),
            name,
            f: Arc::new(f),
            _out: PhantomData,
        }
    }
}

impl<S, T, I, F> Node<T> for NarrowNode<S, T, F>
where
    S: Data,
    T: Data,
    F: Fn(S) -> I + Send + Sync + 'static,
    I: IntoIterator<Item = T>,
{
    fn build<'s>(&self, b: &mut Builder<'s>, meta: &Meta) -> Flow<'s, T> {
        self.stage(b, meta).into_flow(b, self.name)
    }

    fn fused<'s>(&self, b: &mut Builder<'s>, meta: &Meta) -> Option<Chain<'s, T>> {
        Some(self.stage(b, meta))
    }
}

impl<S, T, I, F> NarrowNode<S, T, F>
where
    S: Data,
    T: Data,
    F: Fn(S) -> I + Send + Sync + 'static,
    I: IntoIterator<Item = T>,
{
    /// `f` as one more stage of the parent's chain (fused into the parent's own chain when
    /// this node is the parent's only consumer).
    fn stage<'s>(&self, b: &mut Builder<'s>, meta: &Meta) -> Chain<'s, T> {
        self.parent
            .chain(b)
            .then(meta.id, self.name, self.f.clone())
    }
}

/// A per-batch operation; `make` creates the logic on each worker.
pub(crate) struct BatchNode<S: Data, T, M> {
    pub(crate) parent: Upstream<S>,
    pub(crate) name: &'static str,
    pub(crate) route: Route,
    pub(crate) make: M,
    pub(crate) _out: PhantomData<fn() -> T>,
}

impl<S: Data, T: Data, M> BatchNode<S, T, M> {
    pub(crate) fn new(parent: &DStream<S>, name: &'static str, route: Route, make: M) -> Self {
        BatchNode {
            parent: parent.upstream(),
            name,
            route,
            make,
            _out: PhantomData,
        }
    }
}

impl<S, T, L, M> Node<T> for BatchNode<S, T, M>
where
    S: Data,
    T: Data,
    L: BatchLogic<S, T>,
    M: Fn(WorkerInfo) -> L + Send + Sync + 'static,
{
    fn build<'s>(&self, b: &mut Builder<'s>, meta: &Meta) -> Flow<'s, T> {
        let info = WorkerInfo {
            index: b.worker_index(),
            workers: b.workers(),
            driver: b.is_driver(),
            node: meta.id,
            checkpoint: b.runtime().checkpointing.clone(),
            status: Some(b.runtime().status.clone()),
        };
        let logic = (self.make)(info);
        self.parent
            .chain(b)
            .batch(b, self.route, meta.id, self.name, logic)
    }
}

/// Rebuilds the partitions of a gathered batch: partition `p` at index `p`, at least
/// `partitions` of them, in arrival order (which is the order within each partition, since a
/// partition comes from one worker over one FIFO channel).
pub(crate) fn into_partitions<T>(records: Vec<(u32, T)>, partitions: usize) -> Vec<Vec<T>> {
    let n = records
        .iter()
        .map(|(p, _)| *p as usize + 1)
        .max()
        .unwrap_or(0)
        .max(partitions);
    let mut parts: Vec<Vec<T>> = (0..n).map(|_| Vec::new()).collect();
    for (p, x) in records {
        parts[p as usize].push(x);
    }
    parts
}

/// Gathers each batch on the driver and, at the stream's slide times when the stream read has an
/// RDD (see `dstream::presence`), hands the batch's records (tagged with their partitions) to
/// `run` there; other workers only pass their records on.
/// Every driver-side operation (outputs, `transform`, `slice`) is this plus what it does with
/// the batch.
pub(crate) struct OnDriver<S, U, F> {
    driver: bool,
    slide: crate::time::Duration,
    /// The read stream's `Meta::absent_when`.
    absent_when: Arc<std::collections::BTreeSet<usize>>,
    run: F,
    _t: PhantomData<fn(S) -> U>,
}

impl<S, U, F> OnDriver<S, U, F> {
    pub(crate) fn new(
        driver: bool,
        slide: crate::time::Duration,
        absent_when: Arc<std::collections::BTreeSet<usize>>,
        run: F,
    ) -> Self {
        OnDriver {
            driver,
            slide,
            absent_when,
            run,
            _t: PhantomData,
        }
    }
}

impl<S, U, F> crate::exec::BatchLogic<S, U> for OnDriver<S, U, F>
where
    S: Data,
    U: Data,
    F: FnMut(Vec<(u32, S)>, crate::time::Time, &mut Vec<(u32, U)>) + 'static,
{
    type Acc = Vec<(u32, S)>;

    fn absorb(&mut self, acc: &mut Self::Acc, partition: u32, record: S) {
        acc.push((partition, record));
    }

    fn finish(&mut self, tick: &Tick, acc: &mut Self::Acc, out: &mut Vec<(u32, U)>) {
        let records = std::mem::take(acc);
        if self.driver && tick.is_slide_time(self.slide) && tick.has_rdd(&self.absent_when) {
            (self.run)(records, tick.time, out);
        }
    }
}
