//! Typed errors. Messages follow Spark's wording where Spark has one, so that people who know Spark
//! recognise them (see `shared/reference/spark-streaming.md` §1.4).

use std::io;
use std::path::PathBuf;

use crate::time::Time;

/// The result type of ember's fallible operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in ember.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operation is not allowed in the current lifecycle state (Spark's `IllegalStateException`).
    #[error("{0}")]
    IllegalState(String),
    /// A precondition on arguments or configuration failed (Spark's `require`, which prefixes
    /// `requirement failed: `).
    #[error("requirement failed: {0}")]
    Requirement(String),
    /// An argument is malformed (Spark's `IllegalArgumentException` without `require`).
    #[error("{0}")]
    InvalidArgument(String),
    /// The operation is not supported in this state (Spark's `UnsupportedOperationException`).
    #[error("{0}")]
    Unsupported(String),
    /// A batch's job failed: user code panicked or returned an error. Later batches keep running;
    /// `await_termination` returns the first such error, as Spark's does.
    #[error("Error running job streaming job {time}.{output_op}: {message}")]
    JobFailed {
        /// Batch time of the failed job.
        time: Time,
        /// Index of the output operation, in definition order.
        output_op: usize,
        /// What went wrong (the panic message or the error's text).
        message: String,
    },
    /// An I/O operation failed; `context` names what was being done and on which path or address.
    /// The message includes the I/O error's own text, so the error has no separate `source`
    /// (printing the chain would say the cause twice).
    #[error("{context}: {cause}")]
    Io {
        /// What was being attempted, e.g. `reading directory /tmp/in`.
        context: String,
        /// The underlying error.
        cause: io::Error,
    },
    /// A directory that must exist does not.
    #[error("directory {0} does not exist")]
    MissingDirectory(PathBuf),
    /// The cluster (several processes) could not be set up or lost a process.
    #[error("cluster: {0}")]
    Cluster(String),
    /// The execution engine failed (a worker died); the message says why.
    #[error("execution failed: {0}")]
    Execution(String),
    /// A checkpoint file is damaged: truncated, not an ember file, or its checksum does not match.
    #[error("checkpoint file {} is corrupt: {reason}", path.display())]
    CorruptCheckpoint {
        /// The damaged file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// No usable checkpoint could be read from a directory that has some (Spark's
    /// `Failed to read checkpoint from directory`), or the checkpoint does not fit the program
    /// that tries to restore it. Recovery never silently starts from scratch instead.
    #[error("Failed to read checkpoint from directory {}: {reason}", dir.display())]
    Checkpoint {
        /// The checkpoint directory.
        dir: PathBuf,
        /// Why (a corrupt file, a missing share, a different stream graph, ...).
        reason: String,
    },
}

impl Error {
    /// An [`Error::Io`] with a description of what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            cause: source,
        }
    }
}
