//! Connecting the processes of a multi-process run.
//!
//! timely's own connection code prints its progress on stdout and retries forever; ember's
//! output must be the same with one process or several, and a process that never comes must be
//! an error, not a hang. So ember makes the connections itself (with a deadline, logging on
//! stderr through `tracing`) and hands the sockets to timely. A handshake checks that both ends
//! run the same graph with the same number of workers.
//!
//! Every pair of processes has two connections: timely's (data and progress) and ember's own
//! control connection ([`super::control`]: liveness, stop requests, why the cluster stops).

use std::any::Any;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely::communication::allocator::{AllocatorBuilder, ProcessBuilder};
use timely::communication::{Config as CommConfig, Hooks};

use crate::error::{Error, Result};
use crate::exec::control::Link;
use crate::exec::launch::Plan;
use crate::scheduler::runtime::Runtime;

/// The first 7 bytes of a greeting: an ember process, and the version of the greeting. The 8th
/// byte says which of the two connections between a pair this is ([`Kind`]).
const MAGIC: &[u8; 7] = b"EMBER\0\x02";

/// A greeting's length: [`MAGIC`] and the kind, then the process index, its worker threads and
/// the graph's fingerprint, each a little-endian `u64` (at offsets 8, 16 and 24).
const GREETING_LEN: usize = 32;

/// The two connections between a pair of processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// timely's: data and progress.
    Data = 0,
    /// ember's own: liveness, stop requests, failures.
    Control = 1,
}

/// The connections of this process to every other, by process index (`None` at its own).
struct Connections {
    data: Vec<Option<TcpStream>>,
    control: Vec<Option<TcpStream>>,
}

/// How often a process retries connecting to a peer that is not listening yet (it starts later).
/// Shorter costs more refused attempts while the peer starts; longer delays the start of the
/// whole cluster by up to this much once the peer is up.
const CONNECT_RETRY: Duration = Duration::from_millis(100);

/// How often a process checks its (non-blocking, so that the deadline can be kept) listener for
/// the peers after it. Shorter wakes more while waiting; longer delays the start by up to this.
const ACCEPT_POLL: Duration = Duration::from_millis(20);

/// What a run communicates through: one allocator builder per local worker, what keeps
/// timely's network threads (joined when dropped), and, in a cluster, the control link.
pub(super) struct Communication {
    pub(super) builders: Vec<AllocatorBuilder>,
    pub(super) others: Box<dyn Any + Send>,
    pub(super) link: Option<Link>,
}

/// Communication for this process: threads only, or threads plus connections to the others and
/// the control [`Link`] that watches them, reporting to `runtime`.
pub(super) fn allocators(plan: &Plan, runtime: &Arc<Runtime>) -> Result<Communication> {
    let master = &plan.master;
    if master.processes() <= 1 {
        super::control::forget_previous_run();
        let (builders, others) = CommConfig::Process(master.threads())
            .try_build()
            .map_err(Error::Execution)?;
        return Ok(Communication {
            builders,
            others,
            link: None,
        });
    }
    let Connections { data, control } = connect(
        master.hosts(),
        master.process(),
        master.threads(),
        plan.fingerprint,
        plan.connect_timeout,
    )?;
    // Handles on timely's sockets, so that a failed cluster can close them: that is what makes
    // timely's threads, which would otherwise wait for a silent peer forever, end.
    let data_handles = data
        .iter()
        .map(|s| s.as_ref().map(TcpStream::try_clone).transpose())
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| Error::io("keeping a cluster connection", e))?;
    let sockets = data;
    let hooks = Hooks::default();
    let local = ProcessBuilder::new_typed_vector(
        master.threads(),
        hooks.refill.clone(),
        hooks.spill.clone(),
    );
    let (builders, guard) = initialize_networking_from_sockets(
        local,
        sockets,
        master.process(),
        master.threads(),
        hooks,
    )
    .map_err(|e| Error::Cluster(format!("starting network threads: {e}")))?;
    let link = Link::start(
        master.hosts().to_vec(),
        master.process(),
        control,
        data_handles,
        plan.heartbeat_timeout,
        runtime.clone(),
    )?;
    Ok(Communication {
        builders: builders.into_iter().map(AllocatorBuilder::Tcp).collect(),
        others: Box::new(guard),
        link: Some(link),
    })
}

fn handshake_bytes(
    process: usize,
    threads: usize,
    fingerprint: u64,
    kind: Kind,
) -> [u8; GREETING_LEN] {
    let mut b = [0u8; GREETING_LEN];
    b[..7].copy_from_slice(MAGIC);
    b[7] = kind as u8;
    b[8..16].copy_from_slice(&(process as u64).to_le_bytes());
    b[16..24].copy_from_slice(&(threads as u64).to_le_bytes());
    b[24..32].copy_from_slice(&fingerprint.to_le_bytes());
    b
}

/// The peer's process index and which connection this is, if its greeting fits this process.
fn check_peer(
    bytes: &[u8; GREETING_LEN],
    threads: usize,
    fingerprint: u64,
) -> Result<(usize, Kind)> {
    let field = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
    let kind = match bytes[7] {
        0 => Some(Kind::Data),
        1 => Some(Kind::Control),
        _ => None,
    };
    let (true, Some(kind)) = (&bytes[..7] == MAGIC, kind) else {
        return Err(Error::Cluster(
            "a peer that is not an ember process of this version connected".into(),
        ));
    };
    let (peer, peer_threads, peer_fp) = (field(8) as usize, field(16) as usize, field(24));
    if peer_threads != threads {
        return Err(Error::Cluster(format!(
            "process {peer} runs {peer_threads} worker threads, this one {threads}: every process must use the same master local[N]"
        )));
    }
    if peer_fp != fingerprint {
        return Err(Error::Cluster(format!(
            "process {peer} built a different stream graph: every process must run the same program"
        )));
    }
    Ok((peer, kind))
}

/// Connects to the processes before this one and accepts those after it, twice each (timely's
/// connection, then the control connection).
fn connect(
    hosts: &[String],
    me: usize,
    threads: usize,
    fingerprint: u64,
    timeout: Duration,
) -> Result<Connections> {
    let deadline = Instant::now() + timeout;
    let listener = TcpListener::bind(&hosts[me])
        .map_err(|e| Error::Cluster(format!("process {me} cannot listen on {}: {e}", hosts[me])))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::io("configuring the cluster listener", e))?;
    let none = || {
        (0..hosts.len())
            .map(|_| None)
            .collect::<Vec<Option<TcpStream>>>()
    };
    let mut connections = Connections {
        data: none(),
        control: none(),
    };

    for (peer, address) in hosts.iter().enumerate().take(me) {
        for kind in [Kind::Data, Kind::Control] {
            let stream = connect_to(peer, address, deadline, timeout)?;
            let hello = handshake_bytes(me, threads, fingerprint, kind);
            let stream = greet(stream, peer, &hello, timeout, threads, fingerprint)?;
            *connections.slot(kind, peer) = Some(stream);
        }
    }

    let mut missing = 2 * (hosts.len() - me - 1);
    while missing > 0 {
        match listener.accept() {
            Ok((mut stream, _)) => {
                stream
                    .set_nonblocking(false)
                    .map_err(|e| Error::io("configuring a cluster connection", e))?;
                stream
                    .set_nodelay(true)
                    .map_err(|e| Error::io("configuring a cluster connection", e))?;
                stream.set_read_timeout(Some(timeout)).ok();
                let mut greeting = [0u8; GREETING_LEN];
                stream
                    .read_exact(&mut greeting)
                    .map_err(|e| Error::io("reading a peer's greeting", e))?;
                stream.set_read_timeout(None).ok();
                // Greet back (with the kind the peer asked for) before judging, so that a peer
                // that does not match learns why from our greeting instead of seeing a closed
                // connection.
                let kind = if greeting[7] == Kind::Control as u8 {
                    Kind::Control
                } else {
                    Kind::Data
                };
                let greeted = stream.write_all(&handshake_bytes(me, threads, fingerprint, kind));
                let (peer, kind) = check_peer(&greeting, threads, fingerprint)?;
                if peer <= me || peer >= hosts.len() || connections.slot(kind, peer).is_some() {
                    return Err(Error::Cluster(format!(
                        "unexpected connection from process {peer}"
                    )));
                }
                greeted.map_err(|e| Error::io(format!("greeting process {peer}"), e))?;
                *connections.slot(kind, peer) = Some(stream);
                missing -= 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    let absent = (me + 1..hosts.len())
                        .filter(|&p| {
                            connections.data[p].is_none() || connections.control[p].is_none()
                        })
                        .count();
                    return Err(Error::Cluster(format!(
                        "{absent} process(es) did not connect to process {me} within {}s",
                        timeout.as_secs_f64()
                    )));
                }
                std::thread::sleep(ACCEPT_POLL);
            }
            Err(e) => return Err(Error::io("accepting a cluster connection", e)),
        }
    }
    tracing::info!(process = me, processes = hosts.len(), "cluster connected");
    Ok(connections)
}

impl Connections {
    fn slot(&mut self, kind: Kind, peer: usize) -> &mut Option<TcpStream> {
        match kind {
            Kind::Data => &mut self.data[peer],
            Kind::Control => &mut self.control[peer],
        }
    }
}

/// Connects to process `peer` at `address`, retrying while it is not listening yet, until
/// `deadline`.
fn connect_to(
    peer: usize,
    address: &str,
    deadline: Instant,
    timeout: Duration,
) -> Result<TcpStream> {
    let mut logged = false;
    loop {
        match TcpStream::connect(address) {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() < deadline => {
                if !logged {
                    tracing::info!("waiting for process {peer} at {address}: {e}");
                    logged = true;
                }
                std::thread::sleep(CONNECT_RETRY);
            }
            Err(e) => {
                return Err(Error::Cluster(format!(
                    "process {peer} at {address} did not answer within {}s: {e}",
                    timeout.as_secs_f64()
                )));
            }
        }
    }
}

/// Sends `hello` to process `peer` on `stream` and checks its answer.
fn greet(
    mut stream: TcpStream,
    peer: usize,
    hello: &[u8; GREETING_LEN],
    timeout: Duration,
    threads: usize,
    fingerprint: u64,
) -> Result<TcpStream> {
    stream
        .set_nodelay(true)
        .map_err(|e| Error::io("configuring a cluster connection", e))?;
    stream
        .write_all(hello)
        .map_err(|e| Error::io(format!("greeting process {peer}"), e))?;
    let mut reply = [0u8; GREETING_LEN];
    stream.set_read_timeout(Some(timeout)).ok();
    stream
        .read_exact(&mut reply)
        .map_err(|e| Error::io(format!("reading process {peer}'s greeting"), e))?;
    stream.set_read_timeout(None).ok();
    check_peer(&reply, threads, fingerprint)?;
    Ok(stream)
}
