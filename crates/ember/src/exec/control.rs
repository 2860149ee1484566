//! ember's control connections between the processes of a cluster, next to timely's: who is
//! still there, why the cluster stops, and stop requests for the driver.
//!
//! timely notices a lost peer only when one of its own sockets fails, and then its network
//! thread panics ("timely communication error: ..."), the local workers panic on the queues it
//! poisoned, and whoever joins those threads panics in turn; a peer that is frozen or cut off
//! without a reset is not noticed at all, and the survivors wait forever. The [`Link`] makes a
//! lost process an orderly end of the run instead:
//!
//! - it notices the loss: the control connection closes without a goodbye or fails, the peer is
//!   silent longer than the heartbeat timeout, or timely's network thread reports its failure
//!   (through the panic hook below, which knows timely's thread names and message);
//! - it fails the run ([`Runtime::fail_cluster`]) naming the lost process and its address, tells
//!   the other processes why, so that they stop with the same cause, and then closes timely's
//!   sockets, so that every local thread that waits on the network ends;
//! - it carries stop requests from the other processes to the driver, whose stop is what ends
//!   the run everywhere (inputs close, every dataflow completes);
//! - it carries the other processes' failures of user code to the driver, which runs every job:
//!   each process reports, whenever its dataflow has moved past a batch, the failures recorded
//!   in the batches before, then how far it is ([`Reporter`]). A failure is recorded before its
//!   batch can complete anywhere, and both messages travel on one connection in order, so the
//!   driver, which runs a batch's jobs only once every process is past it, sees every failure of
//!   the batch, as it does in one process;
//! - it says goodbye when the run ends normally, so that a process that has finished is not
//!   taken for lost.
//!
//! A frame is a tag byte, a little-endian `u32` length and that many bytes.

use std::collections::BTreeSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{Error, JobError, Result};
use crate::scheduler::runtime::{Runtime, StopMode};
use crate::sync::RecoverPoison;
use crate::time::Time;

/// A frame that only says "still here".
const HEARTBEAT: u8 = 1;
/// A stop request for the driver; one byte: 1 graceful, 0 immediate.
const STOP: u8 = 2;
/// The sender is stopping because the cluster failed; the cause as UTF-8.
const FAILING: u8 = 3;
/// The sender's run ended normally; nothing follows.
const BYE: u8 = 4;
/// A failure of user code, for the driver: batch time and node (`u64` each), whether it was a
/// panic (one byte), the operation's name (`u16` length, UTF-8), the cause's text (the rest).
const FAILURE: u8 = 5;
/// For the driver: the sender has reported every failure of the batches before this time (ms,
/// `u64`; `u64::MAX` once its dataflow has ended).
const THROUGH: u8 = 6;

/// The longest frame accepted: causes are one line. Anything longer is not an ember peer.
const MAX_FRAME: u32 = 64 * 1024;

/// Heartbeats per heartbeat timeout: a peer is taken for lost only after this many in a row
/// were missed, so a late one (a busy machine) costs nothing.
const HEARTBEATS_PER_TIMEOUT: u32 = 5;

/// The most a write to a peer may block: a frozen peer's full buffer must not hold up the
/// heartbeats to the others or the failure's propagation.
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// After telling the other processes why the cluster fails, how long to wait before closing
/// timely's sockets: closing them makes the peers' timely threads fail too, and the cause told
/// on the control connection should reach them first so that they name the lost process, not
/// this one. Longer only delays this process's end.
const TELL_BEFORE_CLOSING: Duration = Duration::from_millis(200);

/// Name of the thread that sends heartbeats and carries out a failure or the goodbye.
const SERVICE_THREAD: &str = "ember-cluster";

/// Where this process is in its run, as far as the cluster is concerned.
enum Phase {
    Running,
    /// The cluster failed; the cause.
    Failed(String),
    /// The run ended normally.
    Closed,
}

/// One other process.
struct Peer {
    index: usize,
    address: String,
    /// Control connection, for writing (heartbeats, stop requests, failure, goodbye).
    writer: Mutex<TcpStream>,
    /// Control connection, to shut down (which ends the reader thread).
    control: TcpStream,
    /// timely's connection, to shut down when the cluster fails.
    data: TcpStream,
    /// The peer's run ended normally (it said goodbye): its connections closing is no loss.
    finished: AtomicBool,
}

struct Shared {
    /// What the panic hook needs to know of this link; it outlives the link, because timely's
    /// threads may panic after the link has closed.
    watch: Arc<Watch>,
    me: usize,
    peers: Vec<Peer>,
    runtime: Arc<Runtime>,
    timeout: Duration,
    phase: Mutex<Phase>,
    changed: Condvar,
}

/// This process's control connections to the others, with a reader thread per peer and a
/// service thread (heartbeats; what a failure or the end requires). See the module.
pub(crate) struct Link {
    shared: Arc<Shared>,
    service: Option<JoinHandle<()>>,
}

impl Link {
    /// Starts watching the cluster: `control[i]` and `data[i]` are the connections to process
    /// `i` (`None` at `me`), `hosts` the processes' addresses; failures go to `runtime`.
    pub(crate) fn start(
        hosts: Vec<String>,
        me: usize,
        control: Vec<Option<TcpStream>>,
        data: Vec<Option<TcpStream>>,
        timeout: Duration,
        runtime: Arc<Runtime>,
    ) -> Result<Link> {
        let mut peers = Vec::new();
        let mut readers = Vec::new();
        for (index, (control, data)) in control.into_iter().zip(data).enumerate() {
            let (Some(control), Some(data)) = (control, data) else {
                continue;
            };
            let setup = |e| {
                Error::io(
                    format!("configuring the control connection to process {index}"),
                    e,
                )
            };
            control.set_read_timeout(Some(timeout)).map_err(setup)?;
            control
                .set_write_timeout(Some(WRITE_TIMEOUT))
                .map_err(setup)?;
            readers.push((peers.len(), control.try_clone().map_err(setup)?));
            peers.push(Peer {
                index,
                address: hosts[index].clone(),
                writer: Mutex::new(control.try_clone().map_err(setup)?),
                control,
                data,
                finished: AtomicBool::new(false),
            });
        }
        let shared = Arc::new_cyclic(|link| Shared {
            watch: Arc::new(Watch {
                link: link.clone(),
                failed: AtomicBool::new(false),
            }),
            me,
            peers,
            runtime,
            timeout,
            phase: Mutex::new(Phase::Running),
            changed: Condvar::new(),
        });
        install_panic_hook();
        *CURRENT.lock().recover() = Some(shared.watch.clone());
        for (slot, stream) in readers {
            let s = shared.clone();
            let peer = shared.peers[slot].index;
            std::thread::Builder::new()
                .name(format!("ember-cluster-{peer}"))
                .spawn(move || s.read(slot, stream))
                .map_err(|e| Error::io("starting a control connection's thread", e))?;
        }
        let s = shared.clone();
        let service = std::thread::Builder::new()
            .name(SERVICE_THREAD.into())
            .spawn(move || s.serve())
            .map_err(|e| Error::io("starting the cluster's service thread", e))?;
        Ok(Link {
            shared,
            service: Some(service),
        })
    }

    /// What a stop request on this process does besides stopping it locally: ask the driver
    /// (process 0) to stop the run. It holds the link weakly: the runtime keeps it, and the
    /// link keeps the runtime.
    pub(crate) fn stop_forwarder(&self) -> impl Fn(StopMode) + Send + Sync + 'static {
        let shared = Arc::downgrade(&self.shared);
        move |mode| {
            if let Some(shared) = shared.upgrade() {
                shared.ask_driver_to_stop(mode);
            }
        }
    }

    /// What a worker of this process (not the driver) reports to the driver with.
    pub(crate) fn reporter(&self) -> Reporter {
        Reporter {
            shared: Arc::downgrade(&self.shared),
        }
    }

    /// Fails the cluster for a reason of this process's own (its workers failed).
    pub(crate) fn fail(&self, why: String) {
        self.shared.fail(why);
    }

    /// The run ended (every local worker has): says goodbye to the peers, unless the cluster
    /// failed, and stops the link's threads.
    pub(crate) fn close(mut self) {
        {
            let mut phase = self.shared.phase.lock().recover();
            if matches!(*phase, Phase::Running) {
                *phase = Phase::Closed;
            }
        }
        self.shared.changed.notify_all();
        if let Some(service) = self.service.take() {
            let _ = service.join();
        }
    }
}

impl Shared {
    fn running(&self) -> bool {
        matches!(*self.phase.lock().recover(), Phase::Running)
    }

    /// Fails the cluster with `why`, unless it already failed or the run ended.
    fn fail(&self, why: String) {
        {
            let mut phase = self.phase.lock().recover();
            if !matches!(*phase, Phase::Running) {
                return;
            }
            *phase = Phase::Failed(why.clone());
            self.watch.failed.store(true, Ordering::SeqCst);
        }
        self.changed.notify_all();
        self.runtime.fail_cluster(why);
    }

    /// Process `peer` (an index into `peers`) is gone because of `cause`.
    fn lost(&self, slot: usize, cause: &str) {
        let peer = &self.peers[slot];
        self.fail(format!(
            "lost process {} ({}): {cause}",
            peer.index, peer.address
        ));
    }

    fn slot_of(&self, process: usize) -> Option<usize> {
        self.peers.iter().position(|p| p.index == process)
    }

    /// Reads process `peers[slot]`'s frames until it says goodbye, fails, or goes silent.
    fn read(&self, slot: usize, mut stream: TcpStream) {
        let peer = &self.peers[slot];
        loop {
            let frame = read_frame(&mut stream);
            // This process's own end (or failure) closes the connection: nothing to report.
            if !self.running() {
                return;
            }
            match frame {
                Ok((HEARTBEAT, _)) => {}
                // Only the driver is asked to stop; the others never are.
                Ok((STOP, _)) if self.me != 0 => {}
                Ok((STOP, body)) => {
                    let mode = if body.first() == Some(&1) {
                        StopMode::Graceful
                    } else {
                        StopMode::Immediate
                    };
                    tracing::info!(
                        process = peer.index,
                        ?mode,
                        "a process asks to stop the stream"
                    );
                    self.runtime.request_stop(mode);
                }
                Ok((FAILING, body)) => {
                    let cause = String::from_utf8_lossy(&body);
                    self.fail(format!(
                        "process {} ({}) stopped: {cause}",
                        peer.index, peer.address
                    ));
                    return;
                }
                // Reports go to the driver only.
                Ok((FAILURE | THROUGH, _)) if self.me != 0 => {}
                Ok((FAILURE, body)) => match decode_failure(&body) {
                    Some((time, node, operation, cause)) => {
                        self.runtime.fail(time, node, operation, cause);
                    }
                    None => {
                        self.lost(slot, "a malformed failure report");
                        return;
                    }
                },
                Ok((THROUGH, body)) => match body.get(..8) {
                    Some(b) => {
                        let through = u64::from_le_bytes(b.try_into().expect("8 bytes"));
                        self.runtime.reported_through(peer.index, through);
                    }
                    None => {
                        self.lost(slot, "a malformed progress report");
                        return;
                    }
                },
                Ok((BYE, _)) => {
                    peer.finished.store(true, Ordering::SeqCst);
                    return;
                }
                Ok((tag, _)) => {
                    self.lost(slot, &format!("unexpected control message {tag}"));
                    return;
                }
                Err(e) => {
                    if !peer.finished.load(Ordering::SeqCst) {
                        let cause = match e.kind() {
                            ErrorKind::UnexpectedEof => "the connection closed".to_owned(),
                            ErrorKind::WouldBlock | ErrorKind::TimedOut => format!(
                                "silent for {:.1}s (ember.cluster.heartbeatTimeout)",
                                self.timeout.as_secs_f64()
                            ),
                            _ => e.to_string(),
                        };
                        self.lost(slot, &cause);
                    }
                    return;
                }
            }
        }
    }

    /// The service thread: heartbeats while the run goes on; then tells the peers how it ended
    /// and closes the connections.
    fn serve(&self) {
        let interval = self.timeout / HEARTBEATS_PER_TIMEOUT;
        let mut phase = self.phase.lock().recover();
        loop {
            match &*phase {
                Phase::Running => {
                    drop(phase);
                    for peer in &self.peers {
                        self.send(peer, HEARTBEAT, &[]);
                    }
                    phase = self.phase.lock().recover();
                    if matches!(*phase, Phase::Running) {
                        phase = self.changed.wait_timeout(phase, interval).recover().0;
                    }
                }
                Phase::Failed(why) => {
                    let why = why.clone();
                    drop(phase);
                    for peer in &self.peers {
                        self.send(peer, FAILING, why.as_bytes());
                    }
                    std::thread::sleep(TELL_BEFORE_CLOSING);
                    for peer in &self.peers {
                        let _ = peer.data.shutdown(Shutdown::Both);
                        let _ = peer.control.shutdown(Shutdown::Both);
                    }
                    return;
                }
                Phase::Closed => {
                    drop(phase);
                    for peer in &self.peers {
                        self.send(peer, BYE, &[]);
                        let _ = peer.control.shutdown(Shutdown::Both);
                    }
                    return;
                }
            }
        }
    }

    /// Sends a frame to `peer` unless it has finished. A failed write is not judged here: the
    /// reader sees the same connection fail (or go silent) and reports it with its cause.
    fn send(&self, peer: &Peer, tag: u8, body: &[u8]) {
        if peer.finished.load(Ordering::SeqCst) {
            return;
        }
        let mut frame = Vec::with_capacity(5 + body.len());
        frame.push(tag);
        frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
        frame.extend_from_slice(body);
        if let Err(e) = peer.writer.lock().recover().write_all(&frame) {
            tracing::debug!(process = peer.index, "control message not sent: {e}");
        }
    }

    fn ask_driver_to_stop(&self, mode: StopMode) {
        if !self.running() {
            return;
        }
        let Some(slot) = self.slot_of(0) else {
            return;
        };
        tracing::info!(?mode, "asking the driver (process 0) to stop the stream");
        self.send(
            &self.peers[slot],
            STOP,
            &[u8::from(mode == StopMode::Graceful)],
        );
    }
}

/// A process's reports to the driver: its failures of user code and how far it is.
#[derive(Clone)]
pub(crate) struct Reporter {
    shared: Weak<Shared>,
}

impl Reporter {
    /// Sends `failures` (batch time, node, operation, cause), then that every failure before
    /// `through` (ms) has been reported.
    pub(crate) fn report(
        &self,
        failures: Vec<(Time, usize, &'static str, JobError)>,
        through: u64,
    ) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let Some(slot) = shared.slot_of(0) else {
            return;
        };
        let driver = &shared.peers[slot];
        for (time, node, operation, cause) in failures {
            let body = encode_failure(time, node, operation, &cause);
            shared.send(driver, FAILURE, &body);
        }
        shared.send(driver, THROUGH, &through.to_le_bytes());
    }
}

/// The body of a [`FAILURE`] frame. The cause travels as its text (a panic's message, or the
/// error's text): the same words as in one process, though not the user's error type.
fn encode_failure(time: Time, node: usize, operation: &str, cause: &JobError) -> Vec<u8> {
    let text = cause.to_string();
    // Kept within a frame: a cause is one line, but user code chooses it.
    let text = &text[..text.floor_char_boundary(MAX_FRAME as usize / 2)];
    let operation = &operation[..operation.floor_char_boundary(u16::MAX as usize)];
    let mut body = Vec::with_capacity(19 + operation.len() + text.len());
    body.extend_from_slice(&time.as_millis().to_le_bytes());
    body.extend_from_slice(&(node as u64).to_le_bytes());
    body.push(u8::from(matches!(cause, JobError::Panicked(_))));
    body.extend_from_slice(&(operation.len() as u16).to_le_bytes());
    body.extend_from_slice(operation.as_bytes());
    body.extend_from_slice(text.as_bytes());
    body
}

/// Reads a [`FAILURE`] frame's body; `None` if it is malformed.
fn decode_failure(body: &[u8]) -> Option<(Time, usize, &'static str, JobError)> {
    let u64_at = |i: usize| -> Option<u64> {
        Some(u64::from_le_bytes(body.get(i..i + 8)?.try_into().ok()?))
    };
    let time = Time::from_millis(u64_at(0)?);
    let node = usize::try_from(u64_at(8)?).ok()?;
    let panicked = *body.get(16)? == 1;
    let len = u16::from_le_bytes(body.get(17..19)?.try_into().ok()?) as usize;
    let operation = std::str::from_utf8(body.get(19..19 + len)?).ok()?;
    let text = String::from_utf8_lossy(body.get(19 + len..)?).into_owned();
    let cause = if panicked {
        JobError::Panicked(text)
    } else {
        JobError::failed(text)
    };
    Some((time, node, intern(operation), cause))
}

/// The operation's name as the `&'static str` a failure holds. Names are ember's own (`map`,
/// `reduce_by_key`, ...), a handful per program, each leaked once.
fn intern(name: &str) -> &'static str {
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().recover();
    if let Some(known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

/// Reads one frame: its tag and body.
fn read_frame(stream: &mut TcpStream) -> std::io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 5];
    stream.read_exact(&mut head)?;
    let len = u32::from_le_bytes(head[1..5].try_into().expect("4 bytes"));
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            ErrorKind::InvalidData,
            format!("a control message of {len} bytes"),
        ));
    }
    let mut body = vec![0u8; len as usize];
    stream.read_exact(&mut body)?;
    Ok((head[0], body))
}

// ---------------------------------------------------------------------------------------------
// timely's network threads

/// The link of this process's latest cluster run, as the panic hook sees it (one cluster run at a
/// time: one active streaming context). The next run replaces it.
static CURRENT: Mutex<Option<Arc<Watch>>> = Mutex::new(None);

/// A link as the panic hook sees it.
struct Watch {
    /// The link, while it exists.
    link: Weak<Shared>,
    /// The cluster failed: panics in timely's threads are consequences from now on.
    failed: AtomicBool,
}

/// Forgets the previous cluster run: a run in one process has no network threads, and panics
/// in its threads (user code among them) are news again.
pub(crate) fn forget_previous_run() {
    *CURRENT.lock().recover() = None;
}

/// Message with which timely's network threads panic when a peer's socket fails or closes
/// (timely_communication's `tcp_panic`, documented as stable for code that recognises it).
const TIMELY_NETWORK_ERROR: &str = "timely communication error: ";

/// Installs, once per process, a panic hook in front of the existing one. It recognises the
/// panic of a timely network thread over a failed connection (the thread's name says which
/// process: `timely:send-N`, `timely:recv-N`) and fails the cluster naming that process; and
/// once the cluster has failed, it keeps quiet about the panics that follow in timely's threads
/// (poisoned queues, joins of panicked threads), which are consequences, not news. Every other
/// panic (user code included) goes to the previous hook as before.
fn install_panic_hook() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !absorbed(info) {
                previous(info);
            }
        }));
    });
}

/// Whether the panic is the cluster's business (recorded, not printed); see
/// [`install_panic_hook`].
fn absorbed(info: &PanicHookInfo<'_>) -> bool {
    let Some(watch) = CURRENT.lock().recover().clone() else {
        return false;
    };
    let thread = std::thread::current();
    let name = thread.name().unwrap_or_default();
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or_default();
    let peer = name
        .strip_prefix("timely:recv-")
        .or_else(|| name.strip_prefix("timely:send-"))
        .and_then(|n| n.parse::<usize>().ok());
    if let (Some(process), Some(cause)) = (peer, message.strip_prefix(TIMELY_NETWORK_ERROR)) {
        if let Some(shared) = watch.link.upgrade()
            && let Some(slot) = shared.slot_of(process)
            && shared.running()
        {
            tracing::debug!("timely's network thread {name} failed: {cause}");
            shared.lost(slot, &format!("timely's connection failed: {cause}"));
        }
        return true;
    }
    watch.failed.load(Ordering::SeqCst)
        && (name.starts_with("timely:") || name == super::launch::EXECUTION_THREAD)
}
