//! The engine's log on stderr, as PySpark's log4j console log: WARN and above by default,
//! `SparkContext.setLogLevel` changes the level, `EMBER_LOG` (a `tracing` filter) overrides it.

use std::sync::OnceLock;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use tracing_subscriber::{EnvFilter, Registry, layer::SubscriberExt, reload};

static HANDLE: OnceLock<Option<reload::Handle<EnvFilter, Registry>>> = OnceLock::new();

/// Installs the subscriber once; `None` when another one was installed first.
fn handle() -> &'static Option<reload::Handle<EnvFilter, Registry>> {
    HANDLE.get_or_init(|| {
        let filter =
            EnvFilter::try_from_env("EMBER_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
        let (layer, handle) = reload::Layer::new(filter);
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
        let subscriber = tracing_subscriber::registry().with(layer).with(fmt);
        tracing::subscriber::set_global_default(subscriber)
            .ok()
            .map(|_| handle)
    })
}

/// Installs the log at import time.
pub fn init() {
    let _ = handle();
}

/// Sets the level: one of PySpark's names (ALL, DEBUG, ERROR, FATAL, INFO, OFF, TRACE, WARN).
#[pyfunction]
pub fn set_log_level(level: &str) -> PyResult<()> {
    let directive = match level {
        "ALL" | "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        "OFF" => "off",
        other => return Err(PyValueError::new_err(format!("unknown log level {other}"))),
    };
    if let Some(h) = handle() {
        h.reload(EnvFilter::new(directive))
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
    }
    Ok(())
}
