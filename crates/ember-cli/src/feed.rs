//! `ember feed`: a line server like `nc -lk`, for every client that connects, with rate control.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
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
    // Each file client's thread with a handle of its socket, so that a stop can shut down the
    // sockets of threads blocked writing to a client that does not read (joining them would
    // wait forever otherwise).
    let mut workers: Vec<(std::thread::JoinHandle<()>, Option<TcpStream>)> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, peer)) => {
                tracing::info!(%peer, "client connected");
                // Forget the threads of clients that left, so a long-running feeder does not
                // keep a handle per connection it ever had.
                workers.retain(|(w, _)| !w.is_finished());
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_nodelay(true);
                match &feed.source {
                    Source::Stdin => clients
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(stream),
                    _ => {
                        let handle = stream.try_clone().ok();
                        let feed = feed.clone();
                        let stop = stop.clone();
                        let thread = std::thread::spawn(move || {
                            if let Err(e) = send_to(stream, &feed, &stop) {
                                tracing::info!(%peer, "client gone: {e}");
                            }
                        });
                        workers.push((thread, handle));
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
    let handles = workers.iter().filter_map(|(_, h)| h.as_ref());
    for client in handles.chain(clients.lock().unwrap_or_else(|p| p.into_inner()).iter()) {
        let _ = client.shutdown(std::net::Shutdown::Both);
    }
    for (w, _) in workers {
        let _ = w.join();
    }
}

/// Paces writes to `rate` lines per second: line `k` (counting from 0) goes no earlier than
/// `k / rate` seconds after the start. A sender that falls behind (a slow client, a sleep that
/// overshoots) catches up with a burst, so the average rate holds.
struct Pacer {
    rate: Option<f64>,
    start: Instant,
    sent: u64,
}

impl Pacer {
    fn new(rate: Option<f64>) -> Self {
        Pacer {
            rate: rate.filter(|r| *r > 0.0),
            start: Instant::now(),
            sent: 0,
        }
    }

    /// Counts `lines` more as sent.
    fn count(&mut self, lines: u64) {
        self.sent += lines;
    }

    /// How long until the next line is due; zero when it may go now.
    fn ahead(&self) -> Duration {
        let Some(rate) = self.rate else {
            return Duration::ZERO;
        };
        let due = Duration::from_secs_f64(self.sent as f64 / rate);
        // Saturating: the deadline may pass at any moment, and `Duration` subtraction panics
        // below zero (that panic killed the client's connection at high rates).
        due.saturating_sub(self.start.elapsed())
    }

    /// Sleeps until the next line is due or the feeder stops.
    fn wait(&self, stop: &AtomicBool) {
        loop {
            let left = self.ahead();
            if left.is_zero() || stop.load(Ordering::SeqCst) {
                return;
            }
            // Short slices, so that a stop is seen quickly even at a low rate.
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }

    /// Counts `lines` as sent and waits until the next line is due.
    fn tick(&mut self, lines: u64, stop: &AtomicBool) {
        self.count(lines);
        self.wait(stop);
    }
}

/// Shuts a socket down when dropped, whatever other handles of it remain.
struct CloseOnDrop<'a>(&'a TcpStream);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.shutdown(std::net::Shutdown::Both);
    }
}

fn send_to(stream: TcpStream, feed: &Feed, stop: &AtomicBool) -> std::io::Result<()> {
    // The connection ends when this returns (an error included), although the feeder keeps a
    // handle of the socket (see `serve`): dropping this one alone would not close it.
    let _closes = CloseOnDrop(&stream);
    let mut stream = &stream;
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
    stream: &mut impl Write,
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
    // Lines that are due go out together, flushed only before a wait: at tens of thousands of
    // lines per second a write (and, with no delay, a packet) per line would cost more than the
    // lines themselves.
    let mut out = BufWriter::new(stream);
    let mut line = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if !line.ends_with(b"\n") {
            line.push(b'\n');
        }
        out.write_all(&line)?;
        pacer.count(1);
        if !pacer.ahead().is_zero() {
            out.flush()?;
            pacer.wait(stop);
        }
    }
    out.flush()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A pacer whose schedule started `ago` before now.
    fn pacer_started(rate: f64, ago: Duration) -> Pacer {
        let mut pacer = Pacer::new(Some(rate));
        pacer.start = Instant::now()
            .checked_sub(ago)
            .expect("an instant in the past");
        pacer
    }

    #[test]
    fn a_pacer_behind_its_schedule_sends_at_once() {
        // 100 lines at 20,000/s were due 5 ms after a start one minute ago: long past. This is
        // where `due - elapsed` used to go below zero and panic.
        let mut pacer = pacer_started(20_000.0, Duration::from_secs(60));
        pacer.count(100);
        assert_eq!(pacer.ahead(), Duration::ZERO);
        pacer.tick(1, &AtomicBool::new(false));
        assert_eq!(pacer.sent, 101);
    }

    #[test]
    fn a_pacer_ahead_of_its_schedule_waits_unless_stopped() {
        // 7,200 lines at one a second are due two hours after a start that is now.
        let mut pacer = pacer_started(1.0, Duration::ZERO);
        pacer.count(7_200);
        assert!(pacer.ahead() > Duration::from_secs(3_600));
        // Stopped: returns without waiting for the schedule.
        pacer.wait(&AtomicBool::new(true));
    }

    #[test]
    fn stop_ends_even_while_a_client_does_not_read() {
        // More than the kernel's socket buffers hold: the client's thread blocks in a write.
        let text: Arc<str> = "a line that nobody reads\n".repeat(1 << 20).into();
        let feeder = Feeder::start(
            "127.0.0.1",
            0,
            Feed {
                source: Source::Text(text),
                rate: None,
                repeat: false,
            },
        )
        .unwrap();
        let client = TcpStream::connect(feeder.addr()).unwrap();
        // Wait until the feeder has filled the connection (bounded: a hang guard, not a timing).
        let mut probe = [0u8; 1];
        client
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        assert_eq!(client.peek(&mut probe).unwrap(), 1);
        std::thread::sleep(Duration::from_millis(200));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            feeder.stop();
            let _ = tx.send(());
        });
        rx.recv_timeout(Duration::from_secs(60))
            .expect("Feeder::stop hung on a client that does not read");
        drop(client);
    }

    #[test]
    fn without_a_rate_nothing_waits() {
        for rate in [None, Some(0.0), Some(-5.0)] {
            let mut pacer = Pacer::new(rate);
            pacer.count(1_000_000);
            assert_eq!(pacer.ahead(), Duration::ZERO, "rate {rate:?}");
        }
    }
}
