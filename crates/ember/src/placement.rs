//! [`Placement`]: which worker holds which partition.
//!
//! One rule places partitions on workers everywhere in ember: partition `p` lives on worker
//! `p mod workers` (workers numbered over all processes). Routing (`exec`'s exchange by partition
//! tag, which timely sends to `tag mod peers`), the inputs that keep their own partitions, the
//! per-partition operators and keyed state all follow it, so a partition stays on one worker for
//! the whole run and an RDD keeps its partitions across workers and processes. Which partition a
//! key falls in is the other half of the rule, [`crate::hash::partition_of_hash`].

use serde::Serialize;

use crate::hash::{partition_of_hash, stable_hash};

/// `partitions` partitions over `workers` workers (each at least one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Placement {
    workers: usize,
    partitions: usize,
}

impl Placement {
    /// `partitions` partitions over `workers` workers; zero counts as one.
    pub(crate) fn new(workers: usize, partitions: usize) -> Self {
        Placement {
            workers: workers.max(1),
            partitions: partitions.max(1),
        }
    }

    /// The worker that holds `partition`.
    pub(crate) fn worker_of(&self, partition: u32) -> usize {
        partition as usize % self.workers
    }

    /// Whether `worker` holds `partition`.
    pub(crate) fn owns(&self, worker: usize, partition: u32) -> bool {
        self.worker_of(partition) == worker
    }

    /// The partitions `worker` holds, in increasing order.
    pub(crate) fn partitions_of(&self, worker: usize) -> impl Iterator<Item = u32> + use<> {
        (worker..self.partitions)
            .step_by(self.workers)
            .map(|p| p as u32)
    }

    /// Where partition `partition` of a run with more partitions goes in this one (partitions
    /// beyond the count wrap around; others stay). A buffered part written under a larger
    /// `spark.default.parallelism` is restored into it, so no record is outside the partitions.
    pub(crate) fn fold(&self, partition: u32) -> u32 {
        (partition as usize % self.partitions) as u32
    }

    /// The partition of the key whose stable hash is `hash`.
    pub(crate) fn partition_of_hash(&self, hash: u64) -> u32 {
        partition_of_hash(hash, self.partitions)
    }

    /// The stable hash of `key` and its partition.
    pub(crate) fn place<K: Serialize + ?Sized>(&self, key: &K) -> (u64, u32) {
        let hash = stable_hash(key);
        (hash, self.partition_of_hash(hash))
    }

    /// `key`'s stable hash if `worker` owns the key's partition.
    pub(crate) fn owned_hash<K: Serialize + ?Sized>(&self, worker: usize, key: &K) -> Option<u64> {
        let (hash, partition) = self.place(key);
        self.owns(worker, partition).then_some(hash)
    }

    /// The entries whose keys `worker` owns, with their keys' hashes (e.g. of an initial state
    /// given to every worker).
    pub(crate) fn owned<K: Serialize, V>(
        &self,
        worker: usize,
        entries: Vec<(K, V)>,
    ) -> Vec<(u64, K, V)> {
        entries
            .into_iter()
            .filter_map(|(k, v)| Some((self.owned_hash(worker, &k)?, k, v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_go_round_robin_over_workers() {
        let p = Placement::new(3, 8);
        assert_eq!(p.partitions_of(0).collect::<Vec<_>>(), [0, 3, 6]);
        assert_eq!(p.partitions_of(2).collect::<Vec<_>>(), [2, 5]);
        assert_eq!(p.worker_of(7), 1);
        assert!(p.owns(1, 4) && !p.owns(0, 4));
        // Every partition has exactly one worker, also beyond the usual count.
        for part in 0..20u32 {
            assert_eq!((0..3).filter(|w| p.owns(*w, part)).count(), 1);
        }
        // More workers than partitions: some workers hold none.
        assert_eq!(Placement::new(4, 2).partitions_of(3).count(), 0);
        // A partition of a run with more partitions wraps around.
        assert_eq!(
            (p.fold(7), p.fold(9), Placement::new(2, 1).fold(3)),
            (7, 1, 0)
        );
        // Zero counts are one.
        assert_eq!(Placement::new(0, 0), Placement::new(1, 1));
    }

    #[test]
    fn keys_are_placed_by_their_stable_hash() {
        let p = Placement::new(2, 5);
        let (hash, part) = p.place("hello");
        assert_eq!(hash, stable_hash("hello"));
        assert_eq!(part as usize, crate::hash::partition_of("hello", 5));
    }
}
