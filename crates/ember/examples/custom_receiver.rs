//! Spark's `CustomReceiver` example: a user-defined receiver that reads lines from a TCP server,
//! fed into `receiver_stream` and counted per word, as `socket_text_stream` would.
//!
//! `LineReceiver` implements [`ember::receiver::Receiver`]:
//! * `on_start` must not block, so it starts a thread that connects to HOST:PORT with
//!   `std::net::TcpStream`, reads lines, and hands each to `ctx.store(line)`;
//! * when the connection cannot be made, fails, or the server closes it, the thread calls
//!   `ctx.restart(..)`: the receiver is stopped and started again after
//!   `spark.streaming.receiverRestartDelay` (2 s);
//! * `on_stop` ends the thread promptly: it sets a flag, shuts the socket down (which makes a
//!   blocked `read` return) and joins the thread.
//!
//! Receiver events (started, stopped with the reason, errors) are printed on stderr by a
//! `StreamingListener`. Run a line server first, e.g. `nc -lk 9999`, then:
//!
//! ```text
//! cargo run --release --example custom_receiver -- localhost 9999 [SECONDS]
//! ```
//!
//! SECONDS (default 10) is how long the stream runs before it is stopped.

// Alike on purpose: each example is read on its own, as Spark's are, so the lines that parse
// arguments, start, await and stop a context repeat across examples instead of living in a
// shared module a reader would have to open too.

use std::io::{BufRead, BufReader};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use clap::Parser;
use ember::receiver::{Receiver, ReceiverContext, ReceiverInfo};
use ember::scheduler::StreamingListener;
use ember::{Conf, Context, Duration, StreamingContext};

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
/// How long `on_stop` waits for the reading thread (a thread still connecting may take up to the
/// connect timeout; past this it is left to end on its own, storing nothing more).
const JOIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(4);

/// Reads `\n`-separated lines from `host:port`.
struct LineReceiver {
    host: String,
    port: u16,
    running: Option<Running>,
}

/// The reading thread of the current start.
struct Running {
    shared: Arc<Shared>,
    thread: JoinHandle<()>,
}

/// What `on_stop` shares with the reading thread.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// A clone of the connected socket, so that `on_stop` can shut it down.
    socket: Mutex<Option<TcpStream>>,
}

impl Shared {
    fn socket(&self) -> std::sync::MutexGuard<'_, Option<TcpStream>> {
        self.socket.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl LineReceiver {
    fn new(host: &str, port: u16) -> Self {
        LineReceiver {
            host: host.to_string(),
            port,
            running: None,
        }
    }
}

impl Receiver<String> for LineReceiver {
    fn on_start(&mut self, ctx: &ReceiverContext<String>) {
        let shared = Arc::new(Shared::default());
        let (host, port) = (self.host.clone(), self.port);
        let ctx = ctx.clone();
        let thread_shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("custom-line-receiver".to_string())
            .spawn(move || receive(&host, port, &ctx, &thread_shared));
        match spawned {
            Ok(thread) => self.running = Some(Running { shared, thread }),
            Err(e) => eprintln!("custom_receiver: cannot start the receiving thread: {e}"),
        }
    }

    fn on_stop(&mut self) {
        let Some(running) = self.running.take() else {
            return;
        };
        running.shared.stop.store(true, Ordering::SeqCst);
        if let Some(socket) = running.shared.socket().as_ref() {
            let _ = socket.shutdown(Shutdown::Both);
        }
        let deadline = Instant::now() + JOIN_TIMEOUT;
        while !running.thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        if running.thread.is_finished() {
            let _ = running.thread.join();
        }
    }

    fn name(&self) -> String {
        "LineReceiver".to_string()
    }
}

/// The reading thread: connect, store lines until the end of the stream, then ask for a restart.
fn receive(host: &str, port: u16, ctx: &ReceiverContext<String>, shared: &Shared) {
    let stopping = || shared.stop.load(Ordering::SeqCst) || ctx.is_stopped();
    let socket = match connect(host, port) {
        Ok(socket) => socket,
        Err(e) => {
            if !stopping() {
                ctx.restart(&format!("Error connecting to {host}:{port}: {e}"));
            }
            return;
        }
    };
    // Register a clone for on_stop, then check the flag under the same lock: either on_stop sees
    // the socket and shuts it down, or this thread sees the flag.
    {
        let mut slot = shared.socket();
        match socket.try_clone() {
            Ok(clone) => *slot = Some(clone),
            Err(e) => {
                drop(slot);
                ctx.restart(&format!("Error receiving data: {e}"));
                return;
            }
        }
        if stopping() {
            let _ = socket.shutdown(Shutdown::Both);
            return;
        }
    }
    let mut reader = BufReader::new(socket);
    let mut line = Vec::new();
    loop {
        if stopping() {
            return;
        }
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    line.pop();
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                }
                ctx.store(String::from_utf8_lossy(&line).into_owned());
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                if !stopping() {
                    ctx.restart(&format!("Error receiving data: {e}"));
                }
                return;
            }
        }
    }
    if !stopping() {
        ctx.restart("Trying to connect again");
    }
}

fn connect(host: &str, port: u16) -> std::io::Result<TcpStream> {
    let mut last = None;
    for address in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
            Ok(socket) => return Ok(socket),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other(format!("no address found for {host}"))))
}

/// Prints receiver events on stderr.
struct ReceiverEvents;

impl StreamingListener for ReceiverEvents {
    fn on_receiver_started(&self, info: &ReceiverInfo) {
        eprintln!("custom_receiver: {} started", info.name);
    }
    fn on_receiver_error(&self, info: &ReceiverInfo) {
        eprintln!(
            "custom_receiver: {} error: {}",
            info.name, info.last_error_message
        );
    }
    fn on_receiver_stopped(&self, info: &ReceiverInfo) {
        eprintln!(
            "custom_receiver: {} stopped: {}",
            info.name, info.last_error_message
        );
    }
}

/// Counts the words of the lines served at HOST:PORT with a user-defined receiver, in 1 s
/// batches, for SECONDS seconds.
#[derive(Parser, Debug)]
#[command(name = "custom_receiver")]
struct Args {
    /// Host of the line server.
    host: String,
    /// Port of the line server.
    port: u16,
    /// How long the stream runs, in seconds.
    #[arg(default_value_t = 10)]
    seconds: u64,
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let sc = Context::get_or_create(
        Conf::new()
            .set_master("local[2]")
            .set_app_name("CustomReceiver"),
    )?;
    let ssc = StreamingContext::new(&sc, Duration::seconds(1))?;
    ssc.add_streaming_listener(ReceiverEvents);

    let lines = ssc.receiver_stream(LineReceiver::new(&args.host, args.port));
    let counts = lines
        .flat_map(|line: String| line.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .map(|word| (word, 1i64))
        .reduce_by_key(|a, b| a + b, None);
    counts.pprint(10)?;

    ssc.start()?;
    let outcome = ssc.await_termination_or_timeout(std::time::Duration::from_secs(args.seconds));
    ssc.stop(false, false)?;
    outcome?;
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("custom_receiver: {e}");
            ExitCode::FAILURE
        }
    }
}
