//! The stream graph of a context (Spark's `DStreamGraph`): its streams and output operations,
//! and what the run needs to know about them.
//!
//! The graph is built on the user's thread before `start`: every new stream gets the next id
//! and an entry in the graph's [`GraphShape`], every output operation is kept (outputs own the
//! nodes they depend on, so the graph needs no list of nodes). At `start` the outputs become the
//! plan that every worker builds its dataflow from, and the rest (shape, stateful streams,
//! checkpoint intervals, partitions) decides how the run is checkpointed and what a checkpoint
//! must match to be restored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use crate::checkpoint::GraphShape;
use crate::dstream::Meta;
use crate::exec::OutputNode;
use crate::time::Duration;

/// The streams and output operations of one streaming context.
#[derive(Default)]
pub(super) struct Graph {
    next_node: usize,
    next_input: usize,
    outputs: Vec<Arc<dyn OutputNode>>,
    /// One entry per node and output: recorded in commits, hashed for the cluster handshake.
    shape: GraphShape,
    /// How long streams keep their batches for `slice` (`StreamingContext::remember`).
    pub(super) remember: Option<Duration>,
    /// The checkpoint directory.
    pub(super) checkpoint: Option<PathBuf>,
    /// Streams with state written at checkpoints.
    stateful: BTreeMap<usize, Stateful>,
    /// Checkpoint intervals set with `DStream::checkpoint`.
    checkpoint_intervals: BTreeMap<usize, Duration>,
    /// Receiver input streams (their blocks go through the write-ahead log when it is on).
    receivers: usize,
    /// Streams some output depends on: only they are built, so only they can have state.
    reachable: BTreeSet<usize>,
    /// Partitions of every stream, by id.
    partitions: BTreeMap<usize, usize>,
}

/// A stream with state written at checkpoints.
struct Stateful {
    /// Its default checkpoint interval; `None` for streams (plain windows) that checkpoint when a
    /// directory is set but do not require one.
    default_interval: Option<Duration>,
    /// How it decodes its checkpointed state into its tables.
    restorer: crate::state::Restorer,
}

impl Graph {
    /// Adds a stream computed from `parents`; its id.
    pub(super) fn add_stream(
        &mut self,
        name: &'static str,
        slide: Duration,
        partitions: usize,
        parents: &[&Meta],
    ) -> usize {
        let id = self.next_node;
        self.next_node += 1;
        let parent_ids: Vec<usize> = parents.iter().map(|p| p.id).collect();
        self.shape.push_stream(id, name, parent_ids, slide);
        self.partitions.insert(id, partitions.max(1));
        id
    }

    /// Streams made so far.
    pub(super) fn streams(&self) -> usize {
        self.next_node
    }

    /// The id of a new input stream (inputs are numbered apart from the streams: their
    /// checkpoint data and write-ahead logs are kept by input id).
    pub(super) fn add_input(&mut self) -> usize {
        let id = self.next_input;
        self.next_input += 1;
        id
    }

    /// Notes an input stream fed by a receiver.
    pub(super) fn add_receiver(&mut self) {
        self.receivers += 1;
    }

    /// Whether an input stream is fed by a receiver.
    pub(super) fn has_receivers(&self) -> bool {
        self.receivers > 0
    }

    /// Adds the output operation `make` makes from its index, consuming stream `parent`; its
    /// index.
    pub(super) fn add_output(
        &mut self,
        name: &'static str,
        parent: &Meta,
        make: impl FnOnce(usize) -> Arc<dyn OutputNode>,
    ) -> usize {
        let op = self.outputs.len();
        self.outputs.push(make(op));
        self.reachable.extend(parent.lineage.iter().copied());
        self.shape.push_output(op, name, parent.id);
        op
    }

    /// The output operations, in definition order.
    pub(super) fn outputs(&self) -> &[Arc<dyn OutputNode>] {
        &self.outputs
    }

    /// Drops the output operations, and with them every node, closure and queue of the graph: a
    /// stopped context never runs again, and an output's closure may hold the context itself
    /// (to stop it from a job, say), which would otherwise keep it alive for good.
    pub(super) fn release_outputs(&mut self) {
        self.outputs.clear();
    }

    /// The graph's shape.
    pub(super) fn shape(&self) -> &GraphShape {
        &self.shape
    }

    /// Marks stream `id` as stateful, with its default checkpoint interval (see
    /// `StreamingContext::register_stateful`).
    pub(super) fn set_stateful(
        &mut self,
        id: usize,
        default_interval: Option<Duration>,
        restorer: crate::state::Restorer,
    ) {
        self.stateful.insert(
            id,
            Stateful {
                default_interval,
                restorer,
            },
        );
    }

    /// How stream `id` decodes its checkpointed state (set by `set_stateful`).
    pub(super) fn restorer_of(&self, id: usize) -> Option<crate::state::Restorer> {
        self.stateful.get(&id).map(|s| s.restorer.clone())
    }

    /// Sets stream `id`'s checkpoint interval.
    pub(super) fn set_checkpoint_interval(&mut self, id: usize, interval: Duration) {
        self.checkpoint_intervals.insert(id, interval);
    }

    /// The stateful streams that run (those an output depends on), with their default intervals.
    pub(super) fn live_stateful(&self) -> impl Iterator<Item = (usize, Option<Duration>)> + '_ {
        self.stateful
            .iter()
            .filter(|(id, _)| self.reachable.contains(id))
            .map(|(id, s)| (*id, s.default_interval))
    }

    /// The ids of the stateful streams that run.
    pub(super) fn live_stateful_ids(&self) -> Vec<usize> {
        self.live_stateful().map(|(id, _)| id).collect()
    }

    /// Whether a stream that runs requires a checkpoint directory: a stateful one, or any stream
    /// given a checkpoint interval (Spark's `validateAtStart` requires the directory whenever a
    /// stream of the graph has a checkpoint duration).
    pub(super) fn requires_checkpoint(&self) -> bool {
        self.live_stateful().any(|(_, d)| d.is_some())
            || self
                .checkpoint_intervals
                .keys()
                .any(|id| self.reachable.contains(id))
    }

    /// The checkpoint interval of a run with batch interval `batch`: the least common multiple
    /// of the stateful streams' intervals, so that every commit has all the state (the batch
    /// interval when there are none, so that directory listings and log positions are
    /// committed every batch).
    pub(super) fn checkpoint_interval(&self, batch: Duration) -> Duration {
        let mut interval = batch.as_millis();
        for (id, default) in self.live_stateful() {
            if let Some(own) = self.checkpoint_intervals.get(&id).or(default.as_ref()) {
                interval = lcm(interval, own.as_millis());
            }
        }
        Duration::milliseconds(interval)
    }

    /// The partitions of stream `id`.
    pub(super) fn partitions_of(&self, id: usize) -> Option<usize> {
        self.partitions.get(&id).copied()
    }

    /// The partitions of the stateful streams that run, by id.
    pub(super) fn state_partitions(&self) -> BTreeMap<usize, usize> {
        self.live_stateful()
            .filter_map(|(id, _)| Some((id, self.partitions_of(id)?)))
            .collect()
    }
}

fn lcm(a: u64, b: u64) -> u64 {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    if a == 0 || b == 0 {
        return a.max(b);
    }
    a / gcd(a, b) * b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkpoint_interval_is_the_least_common_multiple_of_the_live_streams() {
        // Nothing is restored here: the decoder is never called.
        let unused: crate::state::Restorer =
            std::sync::Arc::new(|_, _, _| unreachable!("nothing is restored in this test"));
        let mut g = Graph::default();
        assert_eq!(
            g.checkpoint_interval(Duration::seconds(1)),
            Duration::seconds(1)
        );
        g.set_stateful(3, Some(Duration::seconds(10)), unused.clone());
        g.set_stateful(5, Some(Duration::seconds(4)), unused);
        g.set_checkpoint_interval(5, Duration::seconds(6));
        // Neither stream feeds an output yet: neither runs.
        assert_eq!(
            g.checkpoint_interval(Duration::seconds(1)),
            Duration::seconds(1)
        );
        assert!(!g.requires_checkpoint());
        g.reachable.extend([3, 5]);
        assert_eq!(
            g.checkpoint_interval(Duration::seconds(1)),
            Duration::seconds(30)
        );
        assert!(g.requires_checkpoint());
        assert_eq!(g.live_stateful_ids(), [3, 5]);
    }
}
