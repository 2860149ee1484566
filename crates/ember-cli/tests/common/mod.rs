//! Helpers shared by the integration tests (`cli.rs`, `cluster.rs`, `sql_cli.rs`, ...): the
//! `ember` binary as a child process owned by a [`Proc`], which kills and reaps it when dropped,
//! and whose output is read by threads and handed over through channels, so that nothing waits
//! without a deadline; a bounded poll ([`expect_within`]); and loopback servers: an [`Acceptor`]
//! handing connections to a handler, and a [`TextServer`] feeding a socket stream.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub const EMBER: &str = env!("CARGO_BIN_EXE_ember");
/// Pprint's and print's framing line.
pub const DASHES: &str = "-------------------------------------------";
/// How long a child may take to do something that should be quick (start, print, fail, exit).
pub const QUICK: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Child processes

/// A running `ember` process: killed and reaped on drop. Its stderr (and, unless taken, its
/// stdout) is read by threads.
pub struct Proc {
    /// Labels failure messages.
    pub name: String,
    pub child: Child,
    pub stdout: Option<Output>,
    pub stderr: Output,
    pub status: Option<ExitStatus>,
}

/// What a thread read from a pipe: all the bytes and all the lines so far, and a channel of new
/// lines.
pub struct Output {
    raw: Arc<Mutex<Vec<u8>>>,
    lines: Arc<Mutex<Vec<String>>>,
    new: Receiver<String>,
    thread: Option<JoinHandle<()>>,
}

impl Output {
    pub fn read(pipe: impl Read + Send + 'static) -> Output {
        let raw = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, new) = mpsc::channel();
        let raw_sink = Arc::clone(&raw);
        let lines_sink = Arc::clone(&lines);
        let thread = thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        raw_sink.lock().unwrap().extend_from_slice(&buf);
                        let line = String::from_utf8_lossy(&buf)
                            .trim_end_matches(['\n', '\r'])
                            .to_string();
                        lines_sink.lock().unwrap().push(line.clone());
                        let _ = tx.send(line);
                    }
                }
            }
        });
        Output {
            raw,
            lines,
            new,
            thread: Some(thread),
        }
    }

    /// All lines read so far, without their line ends.
    pub fn all(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// All lines read so far, joined with `\n`.
    pub fn lines_text(&self) -> String {
        self.all().join("\n")
    }

    /// Everything read so far, as text (lossy only for a message; see [`Proc::stdout_text`]).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().unwrap()).into_owned()
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.raw.lock().unwrap().clone()
    }

    /// The first new line for which `f` gives `Some`, waiting at most `within`.
    pub fn find<T>(&self, within: Duration, mut f: impl FnMut(&str) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.new.recv_timeout(left) {
                Ok(line) => {
                    if let Some(found) = f(&line) {
                        return Some(found);
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Waits (bounded) for the reading thread to reach the end of the pipe.
    pub fn finish(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        if let Some(thread) = self.thread.take() {
            while !thread.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

impl Proc {
    /// Starts `ember ARGS` with stdout and stderr captured; `name` labels failure messages.
    pub fn start(name: &str, args: &[&str]) -> Proc {
        let mut proc = Proc::spawn(name, args);
        let stdout = proc.child.stdout.take().expect("stdout is piped");
        proc.stdout = Some(Output::read(stdout));
        proc
    }

    /// Starts `ember ARGS`, leaving stdout for the test to take with [`Proc::take_stdout`].
    pub fn spawn(name: &str, args: &[&str]) -> Proc {
        Proc::spawn_with_stdout(name, args, Stdio::piped())
    }

    /// Starts `ember ARGS` in working directory `cwd` (for relative paths in `args`), with
    /// stdout and stderr captured.
    pub fn start_in(name: &str, cwd: &std::path::Path, args: &[&str]) -> Proc {
        let mut proc = Proc::spawn_in(name, Some(cwd), args, Stdio::piped());
        let stdout = proc.child.stdout.take().expect("stdout is piped");
        proc.stdout = Some(Output::read(stdout));
        proc
    }

    /// Starts `ember ARGS` with its stdout going to `stdout` (a file, `/dev/full`, ...).
    pub fn spawn_with_stdout(name: &str, args: &[&str], stdout: Stdio) -> Proc {
        Proc::spawn_in(name, None, args, stdout)
    }

    fn spawn_in(name: &str, cwd: Option<&std::path::Path>, args: &[&str], stdout: Stdio) -> Proc {
        let mut command = Command::new(EMBER);
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        let mut child = command
            .args(with_any_ui_port(args))
            .env_remove("RUST_LOG")
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {EMBER}: {e}"));
        let stderr = child.stderr.take().expect("stderr is piped");
        Proc {
            name: name.to_string(),
            child,
            stdout: None,
            stderr: Output::read(stderr),
            status: None,
        }
    }

    pub fn take_stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().expect("stdout not taken yet")
    }

    pub fn stdout(&self) -> &Output {
        self.stdout.as_ref().expect("stdout is captured")
    }

    /// The exit status if the process has ended.
    pub fn poll(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status
    }

    /// Fails the test if the process has ended.
    pub fn expect_running(&mut self) {
        assert!(
            self.poll().is_none(),
            "{} ended early\n{}",
            self.name,
            self.report()
        );
    }

    /// Waits at most `within` for the process to exit; then all its output has been read.
    pub fn wait(&mut self, within: Duration) -> Option<ExitStatus> {
        self.wait_until(Instant::now() + within)
    }

    /// Waits until `deadline` for the process to exit; then all its output has been read.
    pub fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        while self.poll().is_none() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        let status = self.poll()?;
        if let Some(stdout) = self.stdout.as_mut() {
            stdout.finish(Duration::from_secs(5));
        }
        self.stderr.finish(Duration::from_secs(5));
        Some(status)
    }

    /// Waits for the exit, failing the test with the output if it does not come in time.
    pub fn expect_exit(&mut self, within: Duration) -> ExitStatus {
        match self.wait(within) {
            Some(status) => status,
            None => panic!(
                "{} did not exit within {within:?}\nstdout:\n{}\nstderr:\n{}",
                self.name,
                self.stdout
                    .as_ref()
                    .map(Output::lines_text)
                    .unwrap_or_default(),
                self.stderr.lines_text()
            ),
        }
    }

    /// Waits for the exit, failing the test with the output if it does not come by `deadline`.
    pub fn expect_exit_by(&mut self, deadline: Instant) -> ExitStatus {
        match self.wait_until(deadline) {
            Some(status) => status,
            None => panic!("{} did not exit in time\n{}", self.name, self.report()),
        }
    }

    /// Waits (at most `within`) for a line on stdout for which `f` holds.
    pub fn expect_stdout_line(&mut self, within: Duration, what: &str, f: impl Fn(&str) -> bool) {
        let found = self.stdout().find(within, |line| f(line).then_some(()));
        if found.is_none() {
            let status = self.poll();
            panic!(
                "{} printed no {what} within {within:?} (exit: {status:?})\n{}",
                self.name,
                self.report()
            );
        }
    }

    /// Stdout as text; it must be UTF-8.
    pub fn stdout_text(&self) -> String {
        String::from_utf8(self.stdout().bytes())
            .unwrap_or_else(|e| panic!("{} printed invalid UTF-8: {e}", self.name))
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.text()
    }

    /// Both outputs, for failure messages.
    pub fn report(&self) -> String {
        format!(
            "--- {} stdout:\n{}\n--- {} stderr:\n{}",
            self.name,
            self.stdout.as_ref().map(Output::text).unwrap_or_default(),
            self.name,
            self.stderr.text()
        )
    }

    /// Sends `signal` (`TERM`, `INT`, `STOP`, ...) to the process with the `kill` command
    /// (bounded: `kill` returns at once).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{signal} {}: {status}", self.name);
    }

    /// The port from `ember feed: listening on 127.0.0.1:PORT` on stderr.
    pub fn feed_port(&mut self) -> u16 {
        let port = self.stderr.find(QUICK, |line| {
            line.strip_prefix("ember feed: listening on 127.0.0.1:")
                .map(|p| p.trim().parse::<u16>().expect("a port number"))
        });
        match port {
            Some(port) => port,
            None => panic!(
                "ember feed printed no address; stderr:\n{}",
                self.stderr.lines_text()
            ),
        }
    }
}

/// `args` with `--ui-port 0` after a command that serves the web UI, unless they choose: the
/// tests start many streams at once, and each would otherwise take one of the ports from 4040.
fn with_any_ui_port<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut args = args.to_vec();
    let serves_ui = matches!(args.first(), Some(&"wordcount" | &"sql"));
    let chosen = args.iter().any(|a| {
        a.starts_with("--ui-port") || *a == "--no-ui" || a.starts_with("-h") || *a == "--help"
    });
    if serves_ui && !chosen {
        args.splice(1..1, ["--ui-port", "0"]);
    }
    args
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.poll().is_none() {
            let _ = self.child.kill();
            // SIGKILL cannot be ignored; still, poll rather than block.
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.poll().is_none() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sockets

/// A port nobody listens on (most likely): bound, then released.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// One `BENCH batch=<ms> total=<n> keys=<n>` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bench {
    pub batch: u64,
    pub total: u64,
    pub keys: u64,
}

pub fn parse_bench(line: &str) -> Option<Bench> {
    let rest = line.strip_prefix("BENCH batch=")?;
    let (batch, rest) = rest.split_once(" total=")?;
    let (total, keys) = rest.split_once(" keys=")?;
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    Some(Bench {
        batch: number(batch)?,
        total: number(total)?,
        keys: number(keys)?,
    })
}

/// Polls `condition` every 10 ms for at most `within`; fails the test with `failure()` if it
/// never holds.
pub fn expect_within(
    within: Duration,
    mut condition: impl FnMut() -> bool,
    failure: impl FnOnce() -> String,
) {
    let deadline = Instant::now() + within;
    while !condition() {
        if Instant::now() >= deadline {
            panic!("{}", failure());
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// A listener on 127.0.0.1 whose thread hands every connection, in blocking mode, to a handler
/// until the acceptor is dropped. Nothing blocks: the thread polls a non-blocking listener.
pub struct Acceptor {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Acceptor {
    pub fn start(mut on_connection: impl FnMut(TcpStream) + Send + 'static) -> Acceptor {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        on_connection(stream);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(10))
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            }
        });
        Acceptor {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            // The loop checks the flag every 10 ms. Joining drops the handler, and with it any
            // connection it kept.
            let _ = thread.join();
        }
    }
}

/// A one-connection line server: accepts the first client, sends `text` at once, and keeps the
/// connection open (as `nc -lk` does after its input) until dropped. Later connections are
/// accepted and left idle.
pub struct TextServer {
    pub port: u16,
    connections: Arc<Mutex<usize>>,
    _acceptor: Acceptor,
}

impl TextServer {
    pub fn start(text: &str) -> TextServer {
        let connections = Arc::new(Mutex::new(0));
        let text = text.as_bytes().to_vec();
        let counted = Arc::clone(&connections);
        let mut open = Vec::new();
        let acceptor = Acceptor::start(move |mut stream| {
            let mut count = counted.lock().unwrap();
            if *count == 0 {
                stream.write_all(&text).unwrap();
                stream.flush().unwrap();
            }
            *count += 1;
            open.push(stream);
        });
        TextServer {
            port: acceptor.port,
            connections,
            _acceptor: acceptor,
        }
    }

    /// Clients that connected so far.
    pub fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }
}
