//! Lifecycle states of a streaming context.

/// Spark's `StreamingContextState`: `Initialized --start--> Active --stop--> Stopped`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamingContextState {
    /// Created; inputs, transformations and outputs may be added.
    Initialized,
    /// Started and not yet stopped.
    Active,
    /// Stopped; it can never start again.
    Stopped,
}
