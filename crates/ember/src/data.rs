//! The bound every element of an RDD or DStream satisfies.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Elements of RDDs and DStreams: owned, shareable between worker threads, and serializable so
/// that they can cross process boundaries (closures never are: every process runs the same
/// program). Implemented for every type that qualifies.
///
/// ```
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// struct Click {
///     user: u32,
///     page: String,
/// }
///
/// fn elements<T: ember::Data>(_: &[T]) {}
/// elements(&[Click { user: 1, page: "/".into() }]); // a derived type is Data
/// # let sc = ember::testing::context()?;
/// let clicks = sc.parallelize(vec![Click { user: 1, page: "/".into() }], 1);
/// assert_eq!(clicks.map(|c| c.user).collect(), [1]);
/// # Ok::<(), ember::Error>(())
/// ```
pub trait Data: Clone + Send + Sync + Serialize + DeserializeOwned + 'static {}

impl<T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static> Data for T {}

/// Keys of pair operations: [`Data`] that can be hashed and compared in memory.
pub trait Key: Data + std::hash::Hash + Eq {}

impl<T: Data + std::hash::Hash + Eq> Key for T {}
