//! The streaming entry point: [`StreamingContext`] and its lifecycle.

mod context;
mod shutdown;
mod state;

pub use context::StreamingContext;
pub use state::StreamingContextState;
