//! The streaming entry point: [`StreamingContext`] and its lifecycle.

mod context;
mod state;

pub use context::StreamingContext;
pub use state::StreamingContextState;
