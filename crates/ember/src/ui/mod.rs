//! The web UI of a running stream, as Spark's Streaming tab: a page with live charts and batch
//! tables, Spark's monitoring REST API, ember's own figures and Prometheus metrics, served over
//! HTTP by every running [`StreamingContext`](crate::StreamingContext).
//!
//! - `server`: the routes; `rest`: Spark's JSON and ember's; `prometheus`: `/metrics`;
//!   `assets`: the embedded page files (`assets/`).
//!
//! The server runs on a thread of its own (`ember-ui`) with a single-threaded tokio runtime, so
//! it takes no worker's time; it only reads the context's [`Status`]. Settings:
//! `spark.ui.enabled` (default true), `spark.ui.host` (default 127.0.0.1), `spark.ui.port`
//! (default 4040; 0 picks any free port) and `spark.port.maxRetries` (default 16): as Spark,
//! a busy port makes the server try the next one, up to that many times. Unlike Spark, which
//! then fails to start, ember logs a warning and runs the stream without its UI: a stream
//! matters more than its monitoring. `spark.ui.killEnabled` (default false) allows stopping the
//! stream from the page.

mod assets;
mod prometheus;
mod rest;
mod server;

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::conf::{Conf, settings};
use crate::error::{Error, Result};
use crate::status::Status;

/// How the page's kill action stops the stream (gracefully, on another thread).
pub(crate) type Kill = Box<dyn Fn() + Send + Sync>;

/// The application the UI belongs to (Spark's `ApplicationInfo`).
pub(crate) struct App {
    /// Spark-like id, `local-<start ms>`, the same for the whole run.
    pub(crate) id: String,
    /// `spark.app.name`.
    pub(crate) name: String,
    /// When the application's context was made (ms since the epoch, wall clock).
    pub(crate) start_time: u64,
    /// Who runs it (`SPARK_USER`, else `USER`).
    pub(crate) user: String,
    /// Whether the page may stop the stream.
    pub(crate) kill_enabled: bool,
}

/// What the route handlers share.
pub(crate) struct Shared {
    pub(crate) app: App,
    pub(crate) status: Arc<Status>,
    pub(crate) kill: Option<Kill>,
}

/// A running UI server; [`stop`](UiServer::stop) ends it (dropping it does too).
pub(crate) struct UiServer {
    url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// How long `stop` waits for the server's thread: it closes idle connections at once and
/// finishes the requests under way, which take milliseconds; a client that never finishes its
/// request must not hold up the stop of the stream.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The port after `port` at retry `attempt`, as Spark's `Utils.startServiceOnPort`: the next
/// ones, wrapping round to 1024 after 65535.
fn port_at(port: u16, attempt: u16) -> u16 {
    if attempt == 0 {
        return port;
    }
    let p = u32::from(port) + u32::from(attempt);
    if p > 65_535 {
        (1024 + (p - 65_536) % (65_536 - 1024)) as u16
    } else {
        p as u16
    }
}

/// The host as a URL writes it (an IPv6 address between brackets).
fn url_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// Binds `host` at `port` or, if busy, one of the next `retries` ports; `Ok(None)` when all
/// are busy.
fn bind(host: &str, port: u16, retries: u16) -> Result<Option<TcpListener>> {
    // Port 0 asks the system for a free port: there is nothing to retry.
    let attempts = if port == 0 { 1 } else { retries as u32 + 1 };
    for attempt in 0..attempts {
        let port = port_at(port, attempt as u16);
        let addrs: Vec<SocketAddr> = (host, port)
            .to_socket_addrs()
            .map_err(|e| Error::io(format!("resolving spark.ui.host={host}"), e))?
            .collect();
        let mut busy = false;
        for addr in addrs {
            match TcpListener::bind(addr) {
                Ok(listener) => return Ok(Some(listener)),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => busy = true,
                Err(e) => {
                    return Err(Error::io(format!("binding the web UI to {addr}"), e));
                }
            }
        }
        if busy {
            tracing::debug!("port {port} of the web UI is busy; trying the next one");
        }
    }
    Ok(None)
}

impl UiServer {
    /// Starts the UI server of `status` for `app` as `conf` says, or `Ok(None)` when
    /// `spark.ui.enabled` is false or every port it may use is busy (then with a warning).
    /// Logs the page's URL.
    pub(crate) fn start(
        conf: &Conf,
        app: App,
        status: Arc<Status>,
        kill: Option<Kill>,
    ) -> Result<Option<UiServer>> {
        if !settings::UI_ENABLED.get(conf)? {
            return Ok(None);
        }
        let host = settings::UI_HOST.get(conf)?;
        let port = settings::UI_PORT.get(conf)? as u16;
        let retries = settings::PORT_MAX_RETRIES.get(conf)? as u16;
        let Some(listener) = bind(&host, port, retries)? else {
            tracing::warn!(
                "the web UI is off: ports {port} to {} of {host} are all busy \
                 (set spark.ui.port, or 0 for any free port)",
                port_at(port, retries)
            );
            return Ok(None);
        };
        let bound = listener
            .local_addr()
            .map_err(|e| Error::io("reading the web UI's address".to_owned(), e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("setting up the web UI's socket".to_owned(), e))?;
        let url = format!("http://{}:{}", url_host(&host), bound.port());
        let shared = Arc::new(Shared { app, status, kill });
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(|e| Error::io("starting the web UI's runtime".to_owned(), e))?;
        let thread = std::thread::Builder::new()
            .name("ember-ui".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!("the web UI cannot listen: {e}");
                            return;
                        }
                    };
                    let served = axum::serve(listener, server::router(shared))
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await;
                    if let Err(e) = served {
                        tracing::error!("the web UI stopped: {e}");
                    }
                });
            })
            .map_err(|e| Error::io("starting the web UI's thread".to_owned(), e))?;
        tracing::info!("Streaming UI at {url}/streaming/");
        Ok(Some(UiServer {
            url,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }))
    }

    /// The server's base URL, e.g. `http://127.0.0.1:4040` (Spark's `uiWebUrl`).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Stops the server: no new connection is accepted; requests under way finish.
    pub(crate) fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let Some(thread) = self.thread.take() else {
            return;
        };
        // Never wait for ourselves (a stop requested from a request handler's thread).
        if thread.thread().id() == std::thread::current().id() {
            return;
        }
        let deadline = std::time::Instant::now() + STOP_WAIT;
        while !thread.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        if thread.is_finished() {
            let _ = thread.join();
        } else {
            tracing::warn!(
                "the web UI at {} is still answering a request; leaving it",
                self.url
            );
        }
    }
}

impl Drop for UiServer {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Who runs the program, as Spark's `sparkUser`.
pub(crate) fn user() -> String {
    std::env::var("SPARK_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_take_the_next_ports_and_wrap_round_to_1024() {
        assert_eq!(port_at(4040, 0), 4040);
        assert_eq!(port_at(4040, 3), 4043);
        assert_eq!(port_at(65_535, 1), 1024);
        assert_eq!(port_at(65_535, 2), 1025);
    }

    #[test]
    fn ipv6_hosts_get_brackets() {
        assert_eq!(url_host("127.0.0.1"), "127.0.0.1");
        assert_eq!(url_host("::1"), "[::1]");
    }

    #[test]
    fn a_busy_port_makes_the_next_one_taken_and_all_busy_gives_none() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        match bind("127.0.0.1", port, 0).unwrap() {
            None => {}
            Some(l) => panic!("bound a busy port: {:?}", l.local_addr()),
        }
        // With retries the server takes another port (the next one, unless something else
        // holds it too).
        if let Some(l) = bind("127.0.0.1", port, 16).unwrap() {
            assert_ne!(l.local_addr().unwrap().port(), port);
        }
    }
}
