//! Program output on stdout, and the one policy for a stdout that cannot be written.
//!
//! What ember prints as a program's output (`print` and `pprint`, ember-sql's `show` and
//! `show_sql`, the results of the `ember` command) is written by [`write_stdout`], and every layer
//! treats a failed write the same way:
//!
//! - **A closed pipe ends the output quietly.** `EPIPE` means the reader has gone, as `head -n 3`
//!   goes once it has its lines: nobody wants more output, and nothing failed.
//!   [`write_stdout`] returns [`OutputError::Closed`]. An output job whose error is (or is caused
//!   by) it does not fail: the scheduler stops the `StreamingContext` at once and reports no
//!   error, so `await_termination` returns normally and the `ember` command exits 0. A program
//!   that writes outside a stream gets the error back and ends quietly on it, as the `ember`
//!   command's `main` does.
//! - **Any other write error is a failure.** A full disk, `/dev/full`, an I/O error:
//!   [`OutputError::Failed`], with the I/O error as its source. In an output job it fails the
//!   batch's job, so `await_termination` returns it (an `Error::JobFailed` whose source chain
//!   holds it) while later batches run on, as Spark's do. The `ember` command then reports it on
//!   stderr, stops and exits non-zero: printing is what it is for.
//!
//! Rust ignores `SIGPIPE`, so a closed pipe arrives as an error instead of ending the process as
//! it ends a C program; the policy gives that error its meaning once, here, as ripgrep does in its
//! `main`. It covers stdout only: a closed socket or file a user's code writes to is an ordinary
//! error of that code.

use std::error::Error as StdError;
use std::io::{self, Write};

/// Why program output could not be written to stdout (see the [module](self) for what each
/// means to a stream and to the `ember` command).
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The reader closed the pipe (`EPIPE`): output ends, quietly.
    #[error("stdout is closed")]
    Closed,
    /// Any other write error: a failure.
    #[error("writing to stdout: {0}")]
    Failed(#[source] io::Error),
}

impl OutputError {
    /// Whether the reader closed the pipe (output ends quietly) rather than the write failing.
    pub fn is_closed(&self) -> bool {
        matches!(self, OutputError::Closed)
    }

    /// The first `OutputError` in `error`'s chain (`error` itself or one of its sources), if any:
    /// how a caller far from the write (the scheduler, a command's `main`) applies the policy.
    pub fn in_chain<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a OutputError> {
        let mut next = Some(error);
        while let Some(e) = next {
            if let Some(found) = e.downcast_ref::<OutputError>() {
                return Some(found);
            }
            next = e.source();
        }
        None
    }
}

/// Writes `text` to stdout in one piece (under the lock, so that concurrent writers do not
/// interleave with it) and flushes it, so that output is seen as soon as it is computed.
pub fn write_stdout(text: &str) -> Result<(), OutputError> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            io::ErrorKind::BrokenPipe => OutputError::Closed,
            _ => OutputError::Failed(e),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, JobError, Report};
    use crate::time::Time;

    #[test]
    fn a_closed_stdout_is_found_through_a_failed_job() {
        let job = Error::JobFailed {
            time: Time::from_millis(1000),
            output_op: 0,
            source: JobError::failed(OutputError::Closed),
        };
        assert!(OutputError::in_chain(&job).is_some_and(OutputError::is_closed));
        assert_eq!(
            job.to_string(),
            "Error running job streaming job 1000 ms.0: stdout is closed"
        );
        // The cause is in the message once, although it is also the source of the source.
        assert_eq!(Report::new(&job).to_string(), job.to_string());
    }

    #[test]
    fn a_failed_write_keeps_its_io_error() {
        let full = io::Error::from_raw_os_error(28);
        let text = format!("writing to stdout: {full}");
        let job = Error::JobFailed {
            time: Time::from_millis(1000),
            output_op: 2,
            source: JobError::failed(OutputError::Failed(full)),
        };
        let found = OutputError::in_chain(&job).expect("an output error in the chain");
        assert!(!found.is_closed());
        let io = StdError::source(found)
            .and_then(|e| e.downcast_ref::<io::Error>())
            .expect("the io error is the source");
        assert_eq!(io.raw_os_error(), Some(28));
        assert_eq!(
            Report::new(&job).to_string(),
            format!("Error running job streaming job 1000 ms.2: {text}")
        );
    }

    #[test]
    fn other_errors_hold_no_output_error() {
        let e = Error::io("reading x", io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(OutputError::in_chain(&e).is_none());
    }
}
