//! The bound every element of an RDD or DStream satisfies.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Elements of RDDs and DStreams: owned, shareable between worker threads, and serializable so
/// that they can cross process boundaries (closures never are: every process runs the same
/// program). Implemented for every type that qualifies.
pub trait Data: Clone + Send + Sync + Serialize + DeserializeOwned + 'static {}

impl<T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static> Data for T {}

/// Keys of pair operations: [`Data`] that can be hashed and compared in memory.
pub trait Key: Data + std::hash::Hash + Eq {}

impl<T: Data + std::hash::Hash + Eq> Key for T {}
