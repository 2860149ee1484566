//! Typed errors of the SQL layer. A bad query, an unknown column or a type error is an error
//! value, never a panic: inside a `foreach_rdd` it fails that batch only.

/// The result type of ember-sql's fallible operations.
pub type Result<T, E = SqlError> = std::result::Result<T, E>;

/// Everything that can go wrong between rows, DataFusion and the printed table.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The query does not parse, names an unknown table or column, or mixes types that do not go
    /// together. The message is DataFusion's, which names the problem (for example
    /// `Schema error: No field named wrd. Valid fields are words.word.`).
    #[error("{0}")]
    Query(String),
    /// The rows cannot become a table: the values of one column have types that do not merge
    /// (as Spark's `Can not merge type`), or rows have different numbers of fields.
    #[error("cannot infer the schema: {0}")]
    Schema(String),
    /// A value could not be converted to or from a row (a serde struct that is not a record, a
    /// value outside a type's range).
    #[error("cannot convert: {0}")]
    Conversion(String),
    /// Reading a file (a static table) failed.
    #[error("{context}: {message}")]
    Read {
        /// What was being read.
        context: String,
        /// Why it failed.
        message: String,
    },
    /// Writing a result (to stdout) failed.
    #[error("writing the result: {0}")]
    Output(String),
    /// A name that should exist does not (a view, a column).
    #[error("{0}")]
    NotFound(String),
    /// An error from ember itself (the context is stopped, a stream cannot be defined).
    #[error(transparent)]
    Ember(#[from] ember::Error),
    /// The session's async runtime could not start.
    #[error("cannot start the SQL runtime: {0}")]
    Runtime(String),
}

impl From<datafusion::error::DataFusionError> for SqlError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        // DataFusion wraps some errors in context layers; its Display already includes them.
        // A trailing backtrace note (only with its `backtrace` feature) is not part of the message.
        SqlError::Query(e.to_string())
    }
}

impl From<datafusion::arrow::error::ArrowError> for SqlError {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        SqlError::Query(e.to_string())
    }
}
