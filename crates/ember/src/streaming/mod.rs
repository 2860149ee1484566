//! The streaming entry point: [`StreamingContext`] and its lifecycle.
//!
//! - `context`: the context, its settings, and how streams join its graph;
//! - `graph`: the stream graph (Spark's `DStreamGraph`);
//! - `inputs`: the input streams it makes;
//! - `lifecycle`: `start`, `stop`, and waiting for the end of a run;
//! - `recovery`: `get_or_create` and the checkpointing of a run;
//! - `web_ui`: the web UI a context serves while it runs (and while it restores a checkpoint).

mod context;
mod graph;
mod inputs;
mod lifecycle;
mod recovery;
mod shutdown;
mod state;
mod web_ui;

pub use context::StreamingContext;
pub use state::StreamingContextState;
