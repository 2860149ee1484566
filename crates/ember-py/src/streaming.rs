//! [`NativeStreamingContext`]: ember's `StreamingContext` for Python's `StreamingContext`.
//!
//! Every call that waits for the engine (start, stop, awaiting termination) releases the GIL, so
//! that the engine's threads can run the user's Python functions meanwhile. Waiting is done in
//! short slices with a signal check between them, so Ctrl-C (or a notebook's interrupt) reaches
//! Python; the stream is then stopped before `KeyboardInterrupt` propagates.

use std::time::Duration as StdDuration;

use ember::{Duration, RddQueue, StreamingContext, StreamingContextState};
use pyo3::prelude::*;

use crate::context::NativeContext;
use crate::dstream::NativeDStream;
use crate::errors::to_py_err;
use crate::rdd::NativeRdd;

/// How long a wait runs without the GIL before Python gets to check for signals.
const SIGNAL_CHECK: StdDuration = StdDuration::from_millis(50);

/// The engine's streaming context.
#[pyclass(module = "ember._native", frozen)]
pub struct NativeStreamingContext {
    pub(crate) inner: StreamingContext,
}

#[pymethods]
impl NativeStreamingContext {
    /// A context cutting input into batches of `batch_ms`.
    #[new]
    fn new(ctx: &NativeContext, batch_ms: u64) -> PyResult<Self> {
        crate::pycall::install_panic_hook();
        let inner = StreamingContext::new(&ctx.inner()?, Duration::milliseconds(batch_ms))
            .map_err(to_py_err)?;
        Ok(NativeStreamingContext { inner })
    }

    /// Lines from a TCP server.
    fn socket_text_stream(&self, host: &str, port: u16) -> NativeDStream {
        let lines = self.inner.socket_text_stream(host, port);
        NativeDStream::new(lines.map(ember_value_str))
    }

    /// Lines of the new files of a directory.
    fn text_file_stream(&self, directory: &str) -> NativeDStream {
        let lines = self.inner.text_file_stream(directory);
        NativeDStream::new(lines.map(ember_value_str))
    }

    /// One RDD of `rdds` per batch (or all of them in the first batch), then `default`.
    #[pyo3(signature = (rdds, one_at_a_time, default=None))]
    fn queue_stream(
        &self,
        rdds: Vec<PyRef<'_, NativeRdd>>,
        one_at_a_time: bool,
        default: Option<PyRef<'_, NativeRdd>>,
    ) -> NativeDStream {
        let queue = RddQueue::new();
        for r in rdds {
            queue.push(r.inner.clone());
        }
        let default = default.map(|d| d.inner.clone());
        NativeDStream::new(self.inner.queue_stream(queue, one_at_a_time, default))
    }

    /// The union of several streams.
    fn union(&self, streams: Vec<PyRef<'_, NativeDStream>>) -> NativeDStream {
        let streams: Vec<_> = streams.iter().map(|s| s.inner.clone()).collect();
        NativeDStream::new(self.inner.union(&streams))
    }

    /// `f(time_ms, *rdds) -> NativeRdd` over the batches of several streams (Spark's
    /// `StreamingContext.transform`).
    fn transform_streams(
        &self,
        streams: Vec<PyRef<'_, NativeDStream>>,
        f: Py<PyAny>,
    ) -> NativeDStream {
        let streams: Vec<_> = streams.iter().map(|s| s.inner.clone()).collect();
        NativeDStream::new(self.inner.transform(&streams, move |rdds, time| {
            crate::pycall::with_python(|py| {
                let mut args = vec![time.as_millis().into_pyobject(py)?.into_any()];
                for r in rdds {
                    args.push(Bound::new(py, NativeRdd::new(r))?.into_any());
                }
                let out = f.bind(py).call1(pyo3::types::PyTuple::new(py, args)?)?;
                crate::dstream::returned_rdd(&out)
            })
        }))
    }

    /// Keep every stream's batches at least `ms` long.
    fn remember(&self, ms: u64) -> PyResult<()> {
        self.inner
            .remember(Duration::milliseconds(ms))
            .map_err(to_py_err)
    }

    /// Checkpoint into `directory`.
    fn checkpoint(&self, directory: &str) -> PyResult<()> {
        self.inner.checkpoint(directory).map_err(to_py_err)
    }

    /// Starts the stream.
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        let ssc = self.inner.clone();
        py.detach(|| ssc.start()).map_err(to_py_err)
    }

    /// Waits until the stream stops or fails (`None`), or at most `timeout_s` seconds. Returns
    /// whether it stopped.
    #[pyo3(signature = (timeout_s=None))]
    fn await_termination(&self, py: Python<'_>, timeout_s: Option<f64>) -> PyResult<bool> {
        let deadline =
            timeout_s.map(|t| std::time::Instant::now() + StdDuration::from_secs_f64(t.max(0.0)));
        loop {
            let slice = match deadline {
                Some(d) => d
                    .saturating_duration_since(std::time::Instant::now())
                    .min(SIGNAL_CHECK),
                None => SIGNAL_CHECK,
            };
            let ssc = self.inner.clone();
            let stopped = py
                .detach(|| ssc.await_termination_or_timeout(slice))
                .map_err(to_py_err)?;
            if stopped {
                return Ok(true);
            }
            if let Err(interrupt) = py.check_signals() {
                let ssc = self.inner.clone();
                let _ = py.detach(|| ssc.stop(false, false));
                return Err(interrupt);
            }
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return Ok(false);
            }
        }
    }

    /// Stops the stream (and the context when `stop_context`), finishing received data first
    /// when `graceful`.
    fn stop(&self, py: Python<'_>, stop_context: bool, graceful: bool) -> PyResult<()> {
        let ssc = self.inner.clone();
        py.detach(|| ssc.stop(stop_context, graceful))
            .map_err(to_py_err)
    }

    /// `"INITIALIZED"`, `"ACTIVE"` or `"STOPPED"`.
    fn state(&self) -> &'static str {
        match self.inner.state() {
            StreamingContextState::Initialized => "INITIALIZED",
            StreamingContextState::Active => "ACTIVE",
            StreamingContextState::Stopped => "STOPPED",
        }
    }

    /// The batch interval in milliseconds.
    fn batch_ms(&self) -> u64 {
        self.inner.batch_duration().as_millis()
    }

    /// Whether this is the process's active context.
    fn is_active(&self) -> bool {
        StreamingContext::get_active().is_some_and(|a| a.ptr_eq(&self.inner))
    }

    /// Restores state from the checkpoint in `directory`, if there is one (the second half of
    /// `getOrCreate`: the program's own setup function made this context). Returns whether a
    /// checkpoint was restored.
    fn restore(&self, py: Python<'_>, directory: &str) -> PyResult<bool> {
        let ssc = self.inner.clone();
        let dir = directory.to_owned();
        let restored = py
            .detach(|| StreamingContext::get_or_create(&dir, move || Ok::<_, ember::Error>(ssc)))
            .map_err(to_py_err)?;
        Ok(restored.restored_from().is_some())
    }
}

fn ember_value_str(line: String) -> crate::value::Value {
    crate::value::Value::Str(line.into())
}
