//! Typed errors. Messages follow Spark's wording where Spark has one, so that people who know Spark
//! recognise them (see `shared/reference/spark-streaming.md` §1.4).
//!
//! An error's `Display` is its whole message, cause included (`to_string()` is what Spark would
//! print), and its `source` is the same cause again, typed, for code that inspects it (a failed
//! job's [`JobError`], an I/O error's kind). Printing the chain naively therefore says a cause
//! twice; [`Report`] prints it as `a: b: c` and leaves out a cause whose text is already there.

use std::any::Any;
use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

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
    #[error("Error running job streaming job {time}.{output_op}: {source}")]
    JobFailed {
        /// Batch time of the failed job.
        time: Time,
        /// Index of the output operation, in definition order.
        output_op: usize,
        /// What went wrong: a panic, an error returned by user code, or the failure of an
        /// operation the output depends on.
        source: JobError,
    },
    /// An I/O operation failed; `context` names what was being done and on which path or address.
    #[error("{context}: {cause}")]
    Io {
        /// What was being attempted, e.g. `reading directory /tmp/in`.
        context: String,
        /// The underlying error.
        #[source]
        cause: io::Error,
    },
    /// A setting's value is not of the setting's type, or outside its bounds (see
    /// [`conf::settings`](crate::conf::settings)): `setting ember.input.maxLineBytes=abc is not a
    /// size (bytes, with an optional k/m/g/t suffix)`. A [`Context`](crate::Context) checks every
    /// known setting when it is made, so a bad value fails at the start, not at first use.
    #[error("setting {key}={value} is {problem}")]
    InvalidSetting {
        /// The setting's key, e.g. `ember.input.maxLineBytes`.
        key: String,
        /// The value as it was set.
        value: String,
        /// What is wrong with it.
        problem: SettingProblem,
    },
    /// A directory that must exist does not.
    #[error("directory {0} does not exist")]
    MissingDirectory(PathBuf),
    /// The cluster (several processes) could not be set up or lost a process. From
    /// `await_termination` it means the run is over: a process was lost (it died, froze, or
    /// could not be reached), and the message names it (`lost process 1 (10.0.0.2:7000): ...`).
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
    /// Another running program checkpoints into the same directory (it holds the directory's
    /// lock file). Two programs writing one checkpoint would destroy each other's commits.
    #[error(
        "checkpoint directory {} is in use by another running program (it holds the lock {}); \
         two programs cannot share a checkpoint directory",
        dir.display(),
        lock.display()
    )]
    CheckpointInUse {
        /// The checkpoint directory.
        dir: PathBuf,
        /// Its lock file.
        lock: PathBuf,
    },
}

/// What is wrong with a setting's value: the rest of [`Error::InvalidSetting`]'s message, after
/// `setting KEY=VALUE is `.
///
/// ```
/// use ember::error::SettingProblem;
///
/// assert_eq!(SettingProblem::NotA("true or false".into()).to_string(), "not true or false");
/// assert_eq!(SettingProblem::TooLarge("1g".into()).to_string(), "too large (at most 1g)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingProblem {
    /// The value is not of the setting's type; what a value must look like.
    #[error("not {0}")]
    NotA(String),
    /// The value is below the setting's lower bound, shown as a value of the setting.
    #[error("too small (at least {0})")]
    TooSmall(String),
    /// The value is above the setting's upper bound, shown as a value of the setting.
    #[error("too large (at most {0})")]
    TooLarge(String),
    /// The value breaks a rule of the setting that Spark states in its own words (the PID
    /// rate estimator's gains, the name of the rate estimator); Spark's message.
    #[error("invalid: {0}")]
    Invalid(String),
}

impl Error {
    /// An [`Error::InvalidSetting`]: `value` of setting `key` has `problem`.
    pub fn invalid_setting(key: &str, value: &str, problem: SettingProblem) -> Self {
        Error::InvalidSetting {
            key: key.to_owned(),
            value: value.to_owned(),
            problem,
        }
    }

    /// An [`Error::Io`] with a description of what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            cause: source,
        }
    }

    /// Whether this error, returned by `await_termination`, means that the run itself is over
    /// (the cluster lost a process, or the engine failed), rather than that a batch failed while
    /// later batches go on. The program should then stop the context and end.
    ///
    /// ```
    /// use ember::Error;
    ///
    /// assert!(Error::Cluster("lost process 1 (10.0.0.2:7000): the connection closed".into()).ends_run());
    /// assert!(!Error::IllegalState("not yet".into()).ends_run());
    /// ```
    pub fn ends_run(&self) -> bool {
        matches!(self, Error::Cluster(_) | Error::Execution(_))
    }
}

/// Why a batch's output job failed: the cause of [`Error::JobFailed`] and the failure reason
/// listeners see. Its text is the panic's message or the error's own text, as Spark reports them.
///
/// It is cheap to clone (an error returned by user code is shared), because `await_termination`
/// returns the first failure again on every call.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum JobError {
    /// User code panicked; the panic's message.
    Panicked(String),
    /// User code returned an error (an `Err` of `try_foreach_rdd`, a failed write); it is the
    /// [`source`](StdError::source), so that callers can downcast it.
    Failed(Arc<dyn StdError + Send + Sync>),
    /// An operation the output depends on (`map`, `reduce_by_key`, an input stream, ...) failed in
    /// this batch, so the output did not run.
    Upstream {
        /// The operation's name.
        operation: &'static str,
        /// Why it failed.
        cause: Box<JobError>,
    },
}

impl JobError {
    /// A panic of user code, from the payload `catch_unwind` returned.
    ///
    /// A payload that is itself a `JobError` (`std::panic::panic_any(JobError::failed(e))`) is
    /// taken as it is: that is how user code behind an infallible closure (`map`, an update
    /// function) fails its batch with a typed error, as the Python bindings do with an exception.
    ///
    /// ```
    /// use ember::error::JobError;
    ///
    /// let payload = std::panic::catch_unwind(|| {
    ///     std::panic::panic_any(JobError::failed("no such file"))
    /// })
    /// .unwrap_err();
    /// assert_eq!(JobError::panicked(payload).to_string(), "no such file");
    /// ```
    pub fn panicked(payload: Box<dyn Any + Send>) -> Self {
        match payload.downcast::<JobError>() {
            Ok(error) => *error,
            Err(payload) => JobError::Panicked(crate::scheduler::runtime::panic_message(payload)),
        }
    }

    /// An error returned by user code (any error type, or a message as `String`/`&str`).
    pub fn failed(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        JobError::Failed(Arc::from(error.into()))
    }
}

/// An error known only by its message.
impl From<String> for JobError {
    fn from(message: String) -> Self {
        JobError::failed(message)
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Panicked(message) => f.write_str(message),
            JobError::Failed(error) => error.fmt(f),
            JobError::Upstream { operation, cause } => write!(f, "{operation} failed: {cause}"),
        }
    }
}

impl StdError for JobError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            JobError::Panicked(_) => None,
            // The user's error itself (not the `Arc`), so that a downcast finds its type.
            JobError::Failed(error) => Some(&**error),
            JobError::Upstream { cause, .. } => Some(&**cause),
        }
    }
}

/// An error and its causes on one line, `a: b: c`, as anyhow's `{:#}` prints them, except that a
/// cause whose text ends what is already printed is left out: ember's messages include their
/// cause (see the module doc), so printing it again would say it twice.
///
/// ```
/// use ember::error::{Error, Report};
///
/// let e = Error::io("reading /tmp/in", std::io::Error::other("disk on fire"));
/// assert_eq!(Report::new(&e).to_string(), "reading /tmp/in: disk on fire");
/// ```
#[derive(Clone, Copy)]
pub struct Report<'a>(&'a (dyn StdError + 'static));

impl<'a> Report<'a> {
    /// The report of `error` and its causes.
    pub fn new(error: &'a (dyn StdError + 'static)) -> Self {
        Report(error)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut printed = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(c) = cause {
            let text = c.to_string();
            if !(printed == text || printed.ends_with(&format!(": {text}"))) {
                printed.push_str(": ");
                printed.push_str(&text);
            }
            cause = c.source();
        }
        f.write_str(&printed)
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message that does not include its cause, as anyhow's `context` makes them.
    #[derive(Debug)]
    struct Context(&'static str, io::Error);

    impl fmt::Display for Context {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl StdError for Context {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.1)
        }
    }

    #[test]
    fn a_report_says_each_cause_once() {
        let upstream = Error::JobFailed {
            time: Time::from_millis(2000),
            output_op: 1,
            source: JobError::Upstream {
                operation: "map",
                cause: Box::new(JobError::Panicked("bad record 13".into())),
            },
        };
        let text = "Error running job streaming job 2000 ms.1: map failed: bad record 13";
        assert_eq!(upstream.to_string(), text);
        assert_eq!(Report::new(&upstream).to_string(), text);

        let wrapped = JobError::failed(Context("reading config", io::Error::other("denied")));
        assert_eq!(wrapped.to_string(), "reading config");
        assert_eq!(Report::new(&wrapped).to_string(), "reading config: denied");
    }

    #[test]
    fn job_errors_clone_with_their_cause() {
        let e = JobError::failed(io::Error::from_raw_os_error(28));
        let copy = e.clone();
        let io = StdError::source(&copy).and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(io.and_then(io::Error::raw_os_error), Some(28));
    }
}
