//! Graceful stop on SIGINT and SIGTERM, when `spark.streaming.stopGracefullyOnShutdown` is set
//! ([`settings::STOP_GRACEFULLY_ON_SHUTDOWN`](crate::conf::settings::STOP_GRACEFULLY_ON_SHUTDOWN);
//! Spark's shutdown hook).
//!
//! The first signal stops the active streaming context gracefully — receiving stops, everything
//! received is processed (and checkpointed) — and `await_termination` then returns in the
//! program, which ends normally. A second signal while that runs ends the process at once, with
//! the shell's usual status (128 + signal number). A signal when no context is active ends the
//! process as it would have without the handler.

use std::sync::Mutex;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::error::{Error, Result};
use crate::streaming::StreamingContext;
use crate::sync::RecoverPoison;

/// Whether this process's handler is installed (once, for the life of the process).
static INSTALLED: Mutex<bool> = Mutex::new(false);

/// Installs the handler if it is not yet installed.
pub(crate) fn install() -> Result<()> {
    let mut installed = INSTALLED.lock().recover();
    if *installed {
        return Ok(());
    }
    let mut signals = Signals::new([SIGINT, SIGTERM])
        .map_err(|e| Error::io("installing the SIGINT/SIGTERM handler", e))?;
    std::thread::Builder::new()
        .name("ember-shutdown".into())
        .spawn(move || {
            let mut stopping = false;
            for signal in signals.forever() {
                let active = StreamingContext::get_active();
                match active {
                    Some(ssc) if !stopping => {
                        stopping = true;
                        tracing::info!("Invoking stop(stopGracefully=true) from shutdown hook");
                        // The stop runs on its own thread so that a second signal is still seen.
                        let _ = std::thread::Builder::new()
                            .name("ember-graceful-stop".into())
                            .spawn(move || {
                                if let Err(e) = ssc.stop(false, true) {
                                    tracing::error!("graceful stop failed: {e}");
                                }
                            });
                    }
                    _ => std::process::exit(128 + signal),
                }
            }
        })
        .map_err(|e| Error::io("starting the shutdown handler thread", e))?;
    *installed = true;
    Ok(())
}
