//! Connecting the processes of a multi-process run.
//!
//! timely's own connection code prints its progress on stdout and retries forever; ember's
//! output must be the same with one process or several, and a process that never comes must be
//! an error, not a hang. So ember makes the connections itself (with a deadline, logging on
//! stderr through `tracing`) and hands the sockets to timely. A handshake checks that both ends
//! run the same graph with the same number of workers.

use std::any::Any;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely::communication::allocator::{AllocatorBuilder, ProcessBuilder};
use timely::communication::{Config as CommConfig, Hooks};

use crate::error::{Error, Result};
use crate::exec::launch::Plan;

/// The first 8 bytes of a greeting: an ember process, and the version of the greeting.
const MAGIC: &[u8; 8] = b"EMBER\0\x01\0";

/// A greeting's length: [`MAGIC`], then the process index, its worker threads and the graph's
/// fingerprint, each a little-endian `u64` (at offsets 8, 16 and 24).
const GREETING_LEN: usize = 32;

/// How often a process retries connecting to a peer that is not listening yet (it starts later).
/// Shorter costs more refused attempts while the peer starts; longer delays the start of the
/// whole cluster by up to this much once the peer is up.
const CONNECT_RETRY: Duration = Duration::from_millis(100);

/// How often a process checks its (non-blocking, so that the deadline can be kept) listener for
/// the peers after it. Shorter wakes more while waiting; longer delays the start by up to this.
const ACCEPT_POLL: Duration = Duration::from_millis(20);

/// Communication for this process: threads only, or threads plus connections to the others.
pub(super) fn allocators(plan: &Plan) -> Result<(Vec<AllocatorBuilder>, Box<dyn Any + Send>)> {
    let master = &plan.master;
    if master.processes() <= 1 {
        return CommConfig::Process(master.threads())
            .try_build()
            .map_err(Error::Execution);
    }
    let sockets = connect(
        master.hosts(),
        master.process(),
        master.threads(),
        plan.fingerprint,
        plan.connect_timeout,
    )?;
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
    Ok((
        builders.into_iter().map(AllocatorBuilder::Tcp).collect(),
        Box::new(guard),
    ))
}

fn handshake_bytes(process: usize, threads: usize, fingerprint: u64) -> [u8; GREETING_LEN] {
    let mut b = [0u8; GREETING_LEN];
    b[..8].copy_from_slice(MAGIC);
    b[8..16].copy_from_slice(&(process as u64).to_le_bytes());
    b[16..24].copy_from_slice(&(threads as u64).to_le_bytes());
    b[24..32].copy_from_slice(&fingerprint.to_le_bytes());
    b
}

fn check_peer(bytes: &[u8; GREETING_LEN], threads: usize, fingerprint: u64) -> Result<usize> {
    let field = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
    if &bytes[..8] != MAGIC {
        return Err(Error::Cluster(
            "a peer that is not an ember process of this version connected".into(),
        ));
    }
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
    Ok(peer)
}

/// Connects to the processes before this one and accepts those after it; returns one socket per
/// process, `None` at this process's own index.
fn connect(
    hosts: &[String],
    me: usize,
    threads: usize,
    fingerprint: u64,
    timeout: Duration,
) -> Result<Vec<Option<TcpStream>>> {
    let deadline = Instant::now() + timeout;
    let listener = TcpListener::bind(&hosts[me])
        .map_err(|e| Error::Cluster(format!("process {me} cannot listen on {}: {e}", hosts[me])))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::io("configuring the cluster listener", e))?;
    let mut sockets: Vec<Option<TcpStream>> = (0..hosts.len()).map(|_| None).collect();
    let hello = handshake_bytes(me, threads, fingerprint);

    for (peer, address) in hosts.iter().enumerate().take(me) {
        let mut logged = false;
        let stream = loop {
            match TcpStream::connect(address) {
                Ok(s) => break s,
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
        };
        let mut stream = stream;
        stream
            .set_nodelay(true)
            .map_err(|e| Error::io("configuring a cluster connection", e))?;
        stream
            .write_all(&hello)
            .map_err(|e| Error::io(format!("greeting process {peer}"), e))?;
        let mut reply = [0u8; GREETING_LEN];
        stream.set_read_timeout(Some(timeout)).ok();
        stream
            .read_exact(&mut reply)
            .map_err(|e| Error::io(format!("reading process {peer}'s greeting"), e))?;
        stream.set_read_timeout(None).ok();
        check_peer(&reply, threads, fingerprint)?;
        sockets[peer] = Some(stream);
    }

    let mut missing = hosts.len() - me - 1;
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
                // Greet back before judging, so that a peer that does not match learns why from
                // our greeting instead of seeing a closed connection.
                let greeted = stream.write_all(&hello);
                let peer = check_peer(&greeting, threads, fingerprint)?;
                if peer <= me || peer >= hosts.len() || sockets[peer].is_some() {
                    return Err(Error::Cluster(format!(
                        "unexpected connection from process {peer}"
                    )));
                }
                greeted.map_err(|e| Error::io(format!("greeting process {peer}"), e))?;
                sockets[peer] = Some(stream);
                missing -= 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(Error::Cluster(format!(
                        "{missing} process(es) did not connect to process {me} within {}s",
                        timeout.as_secs_f64()
                    )));
                }
                std::thread::sleep(ACCEPT_POLL);
            }
            Err(e) => return Err(Error::io("accepting a cluster connection", e)),
        }
    }
    tracing::info!(process = me, processes = hosts.len(), "cluster connected");
    Ok(sockets)
}
