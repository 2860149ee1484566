//! Keyed state across batches: the [`State`] handle and [`StateSpec`] of
//! [`map_with_state`](crate::DStream::map_with_state), and, inside the crate, the home of every
//! stateful stream's state on the workers.
//!
//! A stateful operator declares its tables (`Declared`): a `KeyedState` (a value per key looked up
//! by key, for `map_with_state` and the incremental windows), an `OrderedState` (a value per key
//! kept in the stable order and merged with each batch in one pass, for `update_state_by_key`,
//! which visits every key every batch) and/or a `BatchBuffer` (past batches that windows still
//! need). Each worker holds the tables of the partitions it owns
//! (`Placement`); the state never travels except to disk. `Checkpointed` writes a worker's share at
//! checkpoint times, and a restarted program decodes the shares into tables of its own types
//! before it starts (`Restorer`), so a state type that changed is an error of
//! [`get_or_create`](crate::StreamingContext::get_or_create). Operators see typed tables only.

mod batch_mapping;
mod buffer;
mod checkpointed;
mod handle;
mod keyed;
mod new_values;
mod ordered;
mod restore;
mod spec;
mod table;

pub(crate) use batch_mapping::BatchMappingFn;
pub use batch_mapping::{KeyBatch, KeyOutcome};
pub(crate) use buffer::{BatchBuffer, Parts};
pub(crate) use checkpointed::{Checkpointed, Declared};
pub use handle::State;
pub(crate) use keyed::KeyedState;
pub(crate) use new_values::{NewKey, NewValues};
pub(crate) use ordered::{ChangeCheck, Entry, OrderedState, Outcome};
pub(crate) use restore::{LocalWorkers, Restorer};
pub use spec::StateSpec;
pub(crate) use spec::{Mapping, MappingFn};

use std::collections::{HashMap, HashSet};

/// The hash map of per-worker state (foldhash: fast, and seeded per map).
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
/// The hash set of changed keys.
pub(crate) type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;
