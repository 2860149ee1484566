//! The batch form of a `map_with_state` function: one call per worker per batch with every key
//! that has data or times out, instead of one call per record.
//!
//! It exists for functions whose every call is expensive to enter: a foreign interpreter (the
//! Python package) pays its entry once for a whole batch this way, and runs the per-record loop
//! on its side with the same meaning as [`StateSpec::function`](crate::state::StateSpec::function):
//! each key's values in arrival order, each seeing the state the previous one left.

use std::sync::Arc;

use crate::time::Time;

/// One key's share of a batch, as [`StateSpec::function_batch`] hands it over.
///
/// [`StateSpec::function_batch`]: crate::state::StateSpec::function_batch
#[derive(Clone, Debug, PartialEq)]
pub struct KeyBatch<K, V, S> {
    /// The key.
    pub key: K,
    /// Its values of this batch in arrival order; empty when the key is timing out.
    pub values: Vec<V>,
    /// Its state before the batch (`None`: no state yet).
    pub state: Option<S>,
    /// Whether this is the key's last call because it has been idle for the timeout (Spark's
    /// `State.isTimingOut`): its state is dropped after the call, whatever the call does.
    pub timing_out: bool,
}

/// What the function made of one [`KeyBatch`], at the same position in its result.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyOutcome<S, M> {
    /// The key's state after its values (`None`: removed, or never set).
    pub state: Option<S>,
    /// What to emit, in order.
    pub emitted: Vec<M>,
}

/// The batch function, type-erased. It borrows the batch: if it fails, the keys keep the state
/// they had before it.
pub(crate) type BatchMappingFn<K, V, S, M> =
    Arc<dyn Fn(Time, &[KeyBatch<K, V, S>]) -> Vec<KeyOutcome<S, M>> + Send + Sync>;
