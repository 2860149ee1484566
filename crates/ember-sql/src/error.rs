//! Typed errors of the SQL layer. A bad query, an unknown column or a type error is an error
//! value, never a panic: inside a `foreach_rdd` it fails that batch only.
//!
//! DataFusion's and Arrow's errors are kept whole, as the [`source`](std::error::Error::source)
//! of the variant that carries them, and their messages are shown as DataFusion words them.

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;

/// The result type of ember-sql's fallible operations.
pub type Result<T, E = SqlError> = std::result::Result<T, E>;

/// Everything that can go wrong between rows, DataFusion and the printed table.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// DataFusion refused or failed the query: it does not parse, names an unknown table or
    /// column, or mixes types that do not go together. The message is DataFusion's, which names
    /// the problem (for example `Schema error: No field named wrd. Valid fields are
    /// words.word.`); DataFusion already includes its context layers in it.
    #[error("{0}")]
    Query(#[from] DataFusionError),
    /// Arrow refused the data: a batch could not be built, read or cast. The message is Arrow's.
    #[error("{0}")]
    Arrow(#[from] ArrowError),
    /// An argument ember-sql checks itself is not valid (an unknown join type).
    #[error("{0}")]
    InvalidArgument(String),
    /// The rows cannot become a table: the values of one column have types that do not merge
    /// (as Spark's `Can not merge type`), or rows have different numbers of fields.
    #[error("cannot infer the schema: {0}")]
    Schema(String),
    /// A value could not be converted to or from a row (a serde struct that is not a record, a
    /// value outside a type's range).
    #[error("cannot convert: {0}")]
    Conversion(String),
    /// Reading a file (a static table) failed.
    #[error("{context}: {source}")]
    Read {
        /// What was being read.
        context: String,
        /// Why it failed: DataFusion's or the file system's error, or a message.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Writing a result to stdout failed, or stdout is closed (see [`ember::output`] for what
    /// each means to a stream).
    #[error("{0}")]
    Output(#[from] ember::output::OutputError),
    /// A name that should exist does not (a join column).
    #[error("{0}")]
    NotFound(String),
    /// The table or view `name` does not exist (or cannot be read).
    #[error("table or view {name}: {source}")]
    NoSuchTable {
        /// The name asked for.
        name: String,
        /// DataFusion's error.
        source: DataFusionError,
    },
    /// An error from ember itself (the context is stopped, a stream cannot be defined).
    #[error(transparent)]
    Ember(#[from] ember::Error),
    /// The session's async runtime could not start.
    #[error("cannot start the SQL runtime: {0}")]
    Runtime(#[source] std::io::Error),
}
