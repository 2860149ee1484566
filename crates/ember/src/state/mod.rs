//! Keyed state across batches: the [`State`] handle and [`StateSpec`] of
//! [`map_with_state`](crate::DStream::map_with_state), and what the stateful streams
//! (`update_state_by_key`, `map_with_state`) share: restoring their state from a checkpoint and
//! emitting it in a stable order.
//!
//! State lives on the workers, one hash map per worker holding the keys of the partitions the
//! worker owns (partition = stable hash of the key modulo the partition count). It never travels
//! except to disk: at checkpoint times each worker writes its keys (see `checkpoint`).

mod handle;
mod spec;

pub use handle::State;
pub(crate) use spec::MappingFn;
pub use spec::StateSpec;

use std::collections::HashMap;

use serde::de::DeserializeOwned;

use crate::data::Key;
use crate::dstream::node::WorkerInfo;
use crate::hash::stable_hash;

pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Where a key lives: its stable hash and partition, and whether this worker owns it.
pub(crate) fn placement<K: Key>(
    key: &K,
    partitions: usize,
    worker: &WorkerInfo,
) -> (u64, u32, bool) {
    let hash = stable_hash(key);
    let p = (hash % partitions.max(1) as u64) as u32;
    let mine = p as usize % worker.workers.max(1) == worker.index;
    (hash, p, mine)
}

/// Applies restored checkpoint payloads in order, keeping the keys this worker owns now. When the
/// workers and partitions are as when the files were written, a worker reads only the files it
/// wrote itself (its keys are exactly those); otherwise it reads every file and keeps the keys
/// that hash to its partitions. `keep` gets each owned key with its hash and its state, or `None`
/// where a later write removed it.
pub(crate) fn restore<K: Key, S: DeserializeOwned>(
    restored: &crate::checkpoint::Restored,
    partitions: usize,
    worker: &WorkerInfo,
    mut keep: impl FnMut(K, u64, Option<S>),
) -> Result<(), String> {
    let own = Some((worker.index, worker.workers));
    for (payload, writer) in restored.payloads.iter().zip(&restored.writers) {
        if restored.same_layout && *writer != own {
            continue;
        }
        crate::checkpoint::state_files::decode::<K, S>(payload, |k, s| {
            let (hash, _, mine) = placement(&k, partitions, worker);
            if mine {
                keep(k, hash, s);
            }
        })?;
    }
    Ok(())
}

/// The initial state's keys this worker owns.
pub(crate) fn owned_initial<K: Key, S: crate::data::Data>(
    rdd: &Option<crate::rdd::Rdd<(K, S)>>,
    partitions: usize,
    worker: &WorkerInfo,
) -> Vec<(u64, K, S)> {
    let Some(rdd) = rdd else { return Vec::new() };
    rdd.collect()
        .into_iter()
        .filter_map(|(k, s)| {
            let (hash, _, mine) = placement(&k, partitions, worker);
            mine.then_some((hash, k, s))
        })
        .collect()
}
