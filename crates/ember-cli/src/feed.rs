//! `ember feed`: a line server like `nc -lk`, for every client that connects, with rate control.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

/// What the feeder serves.
#[derive(Clone, Debug)]
pub enum Source {
    /// A file, sent whole to every client that connects.
    File(PathBuf),
    /// Text held in memory (the demo's bundled text), sent whole to every client.
    Text(Arc<str>),
    /// Standard input, line by line, to every client connected at the time (as `nc -lk`).
    Stdin,
}

/// Feeder settings.
#[derive(Clone, Debug)]
pub struct Feed {
    /// What to send.
    pub source: Source,
    /// Lines per second per client; unlimited when `None`.
    pub rate: Option<f64>,
    /// Send the file again and again.
    pub repeat: bool,
}

/// A running feeder; dropping it does not stop it, call [`Feeder::stop`].
pub struct Feeder {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Feeder {
    /// Listens on `host:port` (port 0 picks a free port) and serves clients on threads.
    pub fn start(host: &str, port: u16, feed: Feed) -> Result<Feeder> {
        let listener = TcpListener::bind((host, port))
            .with_context(|| format!("cannot listen on {host}:{port}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("ember-feed".into())
            .spawn(move || serve(listener, feed, stop2))?;
        Ok(Feeder {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and ends the client threads.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Serves until the process ends.
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(listener: TcpListener, feed: Feed, stop: Arc<AtomicBool>) {
    let clients: Arc<Mutex<Vec<TcpStream>>> = Arc::new(Mutex::new(Vec::new()));
    if matches!(feed.source, Source::Stdin) {
        let clients = clients.clone();
        let stop = stop.clone();
        let rate = feed.rate;
        std::thread::spawn(move || broadcast_stdin(clients, rate, stop));
    }
    let mut workers = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, peer)) => {
                tracing::info!(%peer, "client connected");
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_nodelay(true);
                match &feed.source {
                    Source::Stdin => clients
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(stream),
                    _ => {
                        let feed = feed.clone();
                        let stop = stop.clone();
                        workers.push(std::thread::spawn(move || {
                            if let Err(e) = send_to(stream, &feed, &stop) {
                                tracing::info!(%peer, "client gone: {e}");
                            }
                        }));
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    for w in workers {
        let _ = w.join();
    }
}

/// Paces writes to `rate` lines per second, checked every few lines so pacing costs little.
struct Pacer {
    rate: Option<f64>,
    start: Instant,
    sent: u64,
}

impl Pacer {
    fn new(rate: Option<f64>) -> Self {
        Pacer {
            rate,
            start: Instant::now(),
            sent: 0,
        }
    }
    fn tick(&mut self, lines: u64, stop: &AtomicBool) {
        self.sent += lines;
        if let Some(rate) = self.rate.filter(|r| *r > 0.0) {
            let due = Duration::from_secs_f64(self.sent as f64 / rate);
            while self.start.elapsed() < due && !stop.load(Ordering::SeqCst) {
                std::thread::sleep((due - self.start.elapsed()).min(Duration::from_millis(50)));
            }
        }
    }
}

fn send_to(mut stream: TcpStream, feed: &Feed, stop: &AtomicBool) -> std::io::Result<()> {
    let mut pacer = Pacer::new(feed.rate);
    loop {
        match &feed.source {
            Source::Text(text) => {
                send_reader(&mut stream, text.as_bytes(), &mut pacer, feed.rate, stop)?
            }
            Source::File(path) => {
                let file = std::fs::File::open(path)?;
                send_reader(&mut stream, file, &mut pacer, feed.rate, stop)?;
            }
            Source::Stdin => unreachable!("stdin is broadcast"),
        }
        if !feed.repeat || stop.load(Ordering::SeqCst) {
            break;
        }
    }
    stream.flush()?;
    // Like `nc -lk` after its input ends: keep the connection open, so the client does not
    // reconnect and get the data again, until the feeder stops or the client leaves.
    let mut probe = [0u8; 1];
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    while !stop.load(Ordering::SeqCst) {
        match stream.read(&mut probe) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

fn send_reader(
    stream: &mut TcpStream,
    reader: impl Read,
    pacer: &mut Pacer,
    rate: Option<f64>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    if rate.is_none() {
        // Unlimited: copy in large chunks.
        let mut reader = reader;
        std::io::copy(&mut reader, stream)?;
        return Ok(());
    }
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if !line.ends_with(b"\n") {
            line.push(b'\n');
        }
        stream.write_all(&line)?;
        pacer.tick(1, stop);
    }
    Ok(())
}

fn broadcast_stdin(clients: Arc<Mutex<Vec<TcpStream>>>, rate: Option<f64>, stop: Arc<AtomicBool>) {
    let stdin = std::io::stdin();
    let mut pacer = Pacer::new(rate);
    for line in stdin.lock().split(b'\n') {
        let Ok(mut line) = line else { break };
        line.push(b'\n');
        let mut list = clients.lock().unwrap_or_else(|p| p.into_inner());
        list.retain_mut(|c| c.write_all(&line).is_ok());
        drop(list);
        pacer.tick(1, &stop);
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
}
