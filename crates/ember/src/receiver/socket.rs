//! The receiver of `socket_text_stream` (Spark's `SocketReceiver`).
//!
//! It connects to `host:port` as a client, reads UTF-8 text lines, and reconnects after the
//! restart delay when the connection cannot be made or ends, as Spark does ("Error connecting to
//! host:port", "Socket data stream had no more data"). Unlike Spark, invalid UTF-8 and lines
//! longer than [`crate::conf::MAX_LINE_BYTES`] do not end the stream: they are replaced or
//! dropped, and reported once per connection through `report_error`.

use std::io::{self, ErrorKind, Read};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::block_generator::BLOCK_RECORDS;
use super::lines::{LineSink, LineSplitter, LineStats, READ_CHUNK, TextChunk};
use super::{Receiver, ReceiverContext};
use crate::sync::RecoverPoison;

/// How long a connection attempt may take before it counts as failed.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `on_stop` waits for the reading thread. A thread still connecting can take up to the
/// connect timeout; it is then left to finish on its own (it stores nothing once stopped).
///
/// This and the connect timeout are real time, not the streaming context's clock: they bound
/// blocking calls into the operating system, which a manual clock standing still must not turn
/// into hangs.
const JOIN_TIMEOUT: Duration = Duration::from_secs(3);

/// Reads `'\n'`-separated UTF-8 lines from a TCP server (Spark's `SocketReceiver`).
///
/// `socket_text_stream` runs one; [`StreamingContext::receiver_stream`] runs one built by hand,
/// for example with another connect timeout.
///
/// [`StreamingContext::receiver_stream`]: crate::StreamingContext::receiver_stream
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use std::net::TcpListener;
///
/// use ember::receiver::SocketReceiver;
/// use ember::testing::StreamTest;
///
/// let server = TcpListener::bind("127.0.0.1:0").unwrap();
/// let port = server.local_addr().unwrap().port();
/// let t = StreamTest::new("local[2]", ember::Duration::seconds(1))?;
/// let lines = t
///     .context()
///     .receiver_stream(SocketReceiver::new("127.0.0.1", port, 1 << 20));
/// let out = t.collect(&lines)?;
/// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
/// // The first run starts the receiver, which connects.
/// server.set_nonblocking(true).unwrap();
/// let mut client = loop {
///     match server.accept() {
///         Ok((client, _)) => break client,
///         Err(_) => assert!(std::time::Instant::now() < deadline, "no connection"),
///     }
///     t.run(1)?;
/// };
/// client.set_nonblocking(false).unwrap();
/// client.write_all(b"hello\nworld\n").unwrap();
/// while out.batches().concat().len() < 2 {
///     assert!(std::time::Instant::now() < deadline, "the lines did not arrive");
///     t.run(1)?;
/// }
/// let mut received = out.batches().concat();
/// received.sort();
/// assert_eq!(received, ["hello", "world"]);
/// # Ok::<(), ember::Error>(())
/// ```
pub struct SocketReceiver {
    host: String,
    port: u16,
    max_line_bytes: usize,
    connect_timeout: Duration,
    /// How long a stop waits for the reading thread ([`JOIN_TIMEOUT`]).
    join_timeout: Duration,
    active: Option<Active>,
}

/// The reading thread of the current start.
struct Active {
    connection: Arc<Connection>,
    thread: JoinHandle<()>,
}

/// What `on_stop` needs to interrupt the reading thread.
#[derive(Default)]
struct Connection {
    stop: AtomicBool,
    /// A clone of the connected stream, so that `on_stop` can shut it down and unblock `read`.
    stream: Mutex<Option<TcpStream>>,
}

impl Connection {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<TcpStream>> {
        self.stream.lock().recover()
    }
}

impl SocketReceiver {
    /// A receiver reading from `host:port`; lines longer than `max_line_bytes` bytes are dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::receiver::{Receiver, SocketReceiver};
    ///
    /// let receiver = SocketReceiver::new("localhost", 9999, 16 << 20);
    /// assert_eq!(receiver.name(), "SocketReceiver");
    /// ```
    pub fn new(host: &str, port: u16, max_line_bytes: usize) -> Self {
        SocketReceiver {
            host: host.to_string(),
            port,
            max_line_bytes,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            join_timeout: JOIN_TIMEOUT,
            active: None,
        }
    }

    /// Sets how long one connection attempt may take (5 s by default). This is real time, not
    /// the streaming context's clock: it bounds a blocking call into the operating system.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use ember::receiver::SocketReceiver;
    ///
    /// let receiver = SocketReceiver::new("localhost", 9999, 16 << 20)
    ///     .with_connect_timeout(Duration::from_millis(500));
    /// assert_eq!(receiver.address(), "localhost:9999");
    /// ```
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The address this receiver connects to, as `host:port`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::receiver::SocketReceiver;
    ///
    /// assert_eq!(SocketReceiver::new("127.0.0.1", 7, 1024).address(), "127.0.0.1:7");
    /// ```
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl SocketReceiver {
    fn start<D: Delivery>(&mut self, ctx: &ReceiverContext<D::Item>) {
        // A start without a stop in between must not leave an old thread reading.
        self.stop();
        let connection = Arc::new(Connection::default());
        let reader = Reader::<D> {
            ctx: ctx.clone(),
            connection: Arc::clone(&connection),
            host: self.host.clone(),
            port: self.port,
            max_line_bytes: self.max_line_bytes,
            connect_timeout: self.connect_timeout,
        };
        let spawned = thread::Builder::new()
            .name(format!("ember-socket-receiver-{}", ctx.stream_id()))
            .spawn(move || reader.run());
        match spawned {
            Ok(thread) => self.active = Some(Active { connection, thread }),
            Err(e) => ctx.restart(&format!("Error starting the socket reading thread: {e}")),
        }
    }

    /// Ends the reading thread of the current start, if any. Whether it ended (or there was
    /// none), rather than being left behind after the join timeout.
    fn stop(&mut self) -> bool {
        let Some(active) = self.active.take() else {
            return true;
        };
        active.connection.stop.store(true, Ordering::Release);
        if let Some(stream) = active.connection.slot().as_ref() {
            // Makes a blocked read return at once.
            let _ = stream.shutdown(Shutdown::Both);
        }
        let deadline = Instant::now() + self.join_timeout;
        while !active.thread.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(2));
        }
        if active.thread.is_finished() {
            if active.thread.join().is_err() {
                tracing::error!("Socket reading thread for {} panicked", self.address());
            }
            true
        } else {
            tracing::warn!(
                "Socket reading thread for {} did not end within {} ms; leaving it behind",
                self.address(),
                self.join_timeout.as_millis()
            );
            false
        }
    }
}

impl Receiver<String> for SocketReceiver {
    fn on_start(&mut self, ctx: &ReceiverContext<String>) {
        self.start::<AsLines>(ctx);
    }

    fn on_stop(&mut self) {
        self.stop();
    }

    fn name(&self) -> String {
        "SocketReceiver".to_string()
    }
}

/// The socket receiver as `socket_text_stream` runs it: lines travel in [`TextChunk`]s and become
/// `String`s on the worker that takes them.
pub(crate) struct SocketChunks(pub(crate) SocketReceiver);

impl Receiver<TextChunk> for SocketChunks {
    fn on_start(&mut self, ctx: &ReceiverContext<TextChunk>) {
        self.0.start::<AsChunks>(ctx);
    }

    fn on_stop(&mut self) {
        self.0.stop();
    }

    fn name(&self) -> String {
        "SocketReceiver".to_string()
    }
}

/// How the reading thread hands lines over.
trait Delivery: Send + 'static {
    /// What is stored.
    type Item: Send + 'static;
    /// Where one read's lines are collected.
    type Buf: LineSink + Default;
    /// Bytes asked for per read.
    const READ: usize;
    /// Lines `buf` collected.
    fn count(buf: &Self::Buf) -> usize;
    /// Stores what `buf` collected and leaves it empty.
    fn deliver(ctx: &ReceiverContext<Self::Item>, buf: &mut Self::Buf);
}

/// The least a read under a rate limit asks for, in bytes: a very low limit still reads a
/// line or so at a time, not a byte.
const MIN_LIMITED_READ: usize = 512;

/// Bytes to read under a rate limit that lets `piece` lines through at a time, when the
/// connection has brought `bytes` bytes in `lines` lines so far: about one piece of lines (128
/// bytes a line before any line came), so that what is read ahead of the limit, and held
/// while TCP pushes back on the sender, stays one piece.
fn limited_read(piece: usize, bytes: u64, lines: u64) -> usize {
    let per_line = if lines == 0 {
        128
    } else {
        bytes.div_ceil(lines)
    };
    usize::try_from(per_line.saturating_mul(piece as u64))
        .unwrap_or(usize::MAX)
        .max(MIN_LIMITED_READ)
}

/// One `String` per line, in blocks of [`BLOCK_RECORDS`] lines for a read that brought many short
/// lines, so that blocks (the partitions of a batch) stay moderate.
struct AsLines;

impl Delivery for AsLines {
    type Item = String;
    type Buf = Vec<String>;
    const READ: usize = READ_CHUNK;

    fn count(lines: &Vec<String>) -> usize {
        lines.len()
    }

    fn deliver(ctx: &ReceiverContext<String>, lines: &mut Vec<String>) {
        let count = lines.len();
        if count == 0 {
            return;
        }
        let taken = std::mem::replace(lines, Vec::with_capacity(count.min(2 * BLOCK_RECORDS)));
        // Under a rate limit, a block interval's worth at a time, so that the limit spreads the
        // lines over the batches instead of letting one read's lines in at once.
        let piece = match ctx.rate_piece() {
            Some(piece) => piece.min(BLOCK_RECORDS),
            None if count <= 2 * BLOCK_RECORDS => {
                ctx.store_many(taken);
                return;
            }
            None => BLOCK_RECORDS,
        };
        let mut rest = taken.into_iter();
        loop {
            let block: Vec<String> = rest.by_ref().take(piece).collect();
            if block.is_empty() {
                break;
            }
            ctx.store_many(block);
        }
    }
}

/// One [`TextChunk`] per read. Reads are small (64 KiB, about 9,000 words of typical text) so that
/// a chunk, which one worker takes through all its operators before the next, keeps its words in
/// the CPU's L2 cache from splitting to counting; measured on the W1 benchmark, 64 KiB chunks cost
/// a fifth less CPU per word than 256 KiB ones.
struct AsChunks;

impl Delivery for AsChunks {
    type Item = TextChunk;
    type Buf = TextChunk;
    const READ: usize = 64 << 10;

    fn count(chunk: &TextChunk) -> usize {
        chunk.line_count()
    }

    fn deliver(ctx: &ReceiverContext<TextChunk>, chunk: &mut TextChunk) {
        // Under a rate limit, a block interval's worth of lines at a time (see `AsLines`); the
        // limit counts lines, not chunks.
        while !chunk.is_empty() {
            let piece = match ctx.rate_piece() {
                Some(lines) => chunk.split_lines(lines),
                None => std::mem::take(chunk),
            };
            let lines = piece.line_count() as u64;
            ctx.store_records(vec![piece], lines);
        }
    }
}

/// Everything the reading thread needs.
struct Reader<D: Delivery> {
    ctx: ReceiverContext<D::Item>,
    connection: Arc<Connection>,
    host: String,
    port: u16,
    max_line_bytes: usize,
    connect_timeout: Duration,
}

/// Why a connection's read loop ended.
enum End {
    /// The server closed the connection.
    Eof,
    /// The receiver is being stopped or restarted.
    Stopped,
}

impl<D: Delivery> Reader<D> {
    fn stopped(&self) -> bool {
        self.connection.stopped() || self.ctx.is_stopped()
    }

    fn run(self) {
        let address = format!("{}:{}", self.host, self.port);
        tracing::info!("Connecting to {address}");
        let mut stream = match connect(&self.host, self.port, self.connect_timeout) {
            Ok(stream) => stream,
            Err(e) => {
                if !self.stopped() {
                    self.ctx
                        .restart(&format!("Error connecting to {address}: {e}"));
                }
                return;
            }
        };
        match stream.try_clone() {
            Ok(clone) => *self.connection.slot() = Some(clone),
            Err(e) => {
                let _ = stream.shutdown(Shutdown::Both);
                if !self.stopped() {
                    self.ctx
                        .restart(&format!("Error connecting to {address}: {e}"));
                }
                return;
            }
        }
        // on_stop may have run between the connect and the registration above, and then had no
        // stream to shut down.
        if self.stopped() {
            let _ = stream.shutdown(Shutdown::Both);
            *self.connection.slot() = None;
            return;
        }
        tracing::info!("Connected to {address}");
        let mut splitter = LineSplitter::new(self.max_line_bytes);
        let result = self.read_loop(&mut stream, &mut splitter, &address);
        let _ = stream.shutdown(Shutdown::Both);
        *self.connection.slot() = None;
        if let Some(summary) = splitter.stats().describe(self.max_line_bytes) {
            tracing::warn!("Connection to {address} ended; malformed input: {summary}");
        }
        match result {
            Ok(End::Eof) if !self.stopped() => {
                self.ctx.restart("Socket data stream had no more data")
            }
            Ok(_) => tracing::info!("Stopped receiving"),
            Err(_) if self.stopped() => tracing::info!("Stopped receiving"),
            Err(e) => {
                tracing::warn!("Error receiving data from {address}: {e}");
                self.ctx.restart(&format!("Error receiving data: {e}"));
            }
        }
    }

    /// Reads until end of stream, error or stop, storing lines as blocks.
    fn read_loop(
        &self,
        stream: &mut TcpStream,
        splitter: &mut LineSplitter,
        address: &str,
    ) -> io::Result<End> {
        let mut buf = vec![0u8; D::READ];
        let mut lines = D::Buf::default();
        let mut reported = false;
        // What the connection brought so far, for the size of reads under a rate limit.
        let (mut bytes_read, mut lines_read) = (0u64, 0u64);
        loop {
            if self.stopped() {
                return Ok(End::Stopped);
            }
            let want = match self.ctx.rate_piece() {
                Some(piece) => limited_read(piece, bytes_read, lines_read).min(buf.len()),
                None => buf.len(),
            };
            let n = match stream.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            splitter.feed(&buf[..n], &mut lines);
            bytes_read += n as u64;
            lines_read += D::count(&lines) as u64;
            D::deliver(&self.ctx, &mut lines);
            self.report_once(splitter.stats(), &mut reported, address);
        }
        // Spark keeps a last line that has no newline when the connection closes.
        splitter.finish(&mut lines);
        D::deliver(&self.ctx, &mut lines);
        self.report_once(splitter.stats(), &mut reported, address);
        Ok(End::Eof)
    }

    /// Reports malformed input the first time a connection shows some.
    fn report_once(&self, stats: &LineStats, reported: &mut bool, address: &str) {
        if *reported || stats.is_clean() {
            return;
        }
        *reported = true;
        if let Some(summary) = stats.describe(self.max_line_bytes) {
            self.ctx
                .report_error(&format!("Malformed input from {address}: {summary}"));
        }
    }
}

/// Connects to the first address of `host` that accepts within `timeout`.
fn connect(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let mut last_error = None;
    for address in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(ErrorKind::NotFound, format!("no address found for {host}"))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receiver::event::ReceiverEvent;
    use crate::receiver::supervisor::tests::{
        WAIT, collect, events, manual_clock, no_wake, settings,
    };
    use crate::receiver::supervisor::{ReceiverHandle, launch};
    use crate::scheduler::clock::ManualClock;
    use std::io::Write;
    use std::net::TcpListener;
    use std::sync::atomic::AtomicUsize;

    fn listener() -> (TcpListener, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        (listener, port)
    }

    /// Accepts one connection within `WAIT` (the listener is non-blocking while waiting so that a
    /// broken receiver fails the test instead of hanging it).
    fn accept(listener: &TcpListener) -> TcpStream {
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + WAIT;
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    return stream;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("no connection from the receiver: {e}"),
            }
        }
    }

    /// Gives a broken receiver a moment to connect when it must not yet. Only ever makes a test
    /// pass less often on a wrong implementation, never fail on a right one.
    fn assert_no_connection(listener: &TcpListener, why: &str) {
        thread::sleep(Duration::from_millis(100));
        listener.set_nonblocking(true).unwrap();
        match listener.accept() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Ok(_) => panic!("the receiver connected {why}"),
            Err(e) => panic!("accept failed: {e}"),
        }
    }

    /// The socket receiver, counting the stops that left its reading thread behind instead of
    /// ending it.
    struct Probe {
        receiver: SocketReceiver,
        left_behind: Arc<AtomicUsize>,
    }

    impl Receiver<String> for Probe {
        fn on_start(&mut self, ctx: &ReceiverContext<String>) {
            self.receiver.on_start(ctx);
        }
        fn on_stop(&mut self) {
            if !self.receiver.stop() {
                self.left_behind.fetch_add(1, Ordering::SeqCst);
            }
        }
        fn name(&self) -> String {
            self.receiver.name()
        }
    }

    /// A launched socket receiver on a manual clock.
    struct Started {
        handle: ReceiverHandle<String>,
        events: crossbeam_channel::Receiver<ReceiverEvent>,
        clock: ManualClock,
        left_behind: Arc<AtomicUsize>,
    }

    impl Started {
        /// Stops the receiver and checks that the stop ended the reading thread (shutting the
        /// socket down unblocks its read) and the supervisor thread, within generous bounds.
        fn stop_and_check(&self) {
            self.handle.stop(WAIT * 2);
            assert!(
                self.handle.is_stopped(),
                "the supervisor thread did not end"
            );
            assert_eq!(
                self.left_behind.load(Ordering::SeqCst),
                0,
                "a reading thread was left behind instead of ending"
            );
        }
    }

    fn start(port: u16, max_line_bytes: usize, restart_ms: u64) -> Started {
        let (tx, events) = events();
        let mut receiver = SocketReceiver::new("127.0.0.1", port, max_line_bytes);
        // A prompt stop does not need the join timeout; a stuck one fails the test after it.
        receiver.join_timeout = WAIT;
        let left_behind = Arc::new(AtomicUsize::new(0));
        let probe = Probe {
            receiver,
            left_behind: Arc::clone(&left_behind),
        };
        let clock = manual_clock();
        let handle = launch(
            Box::new(probe),
            0,
            settings(restart_ms, &clock),
            tx,
            no_wake(),
        );
        Started {
            handle,
            events,
            clock,
            left_behind,
        }
    }

    fn next_event(rx: &crossbeam_channel::Receiver<ReceiverEvent>) -> ReceiverEvent {
        rx.recv_timeout(WAIT).expect("no receiver event in time")
    }

    #[test]
    fn reads_lines_and_keeps_the_last_partial_line() {
        let (listener, port) = listener();
        let run = start(port, 1024, 5_000);
        let mut server = accept(&listener);
        server.write_all(b"hello world\r\nsecond line\n").unwrap();
        assert_eq!(
            collect(&run.handle, 2, WAIT),
            ["hello world", "second line"]
        );
        server.write_all(b"no newline at the end").unwrap();
        drop(server);
        assert_eq!(collect(&run.handle, 1, WAIT), ["no newline at the end"]);

        assert!(
            matches!(next_event(&run.events), ReceiverEvent::Started(info) if info.name == "SocketReceiver-0")
        );
        match next_event(&run.events) {
            ReceiverEvent::Stopped(info) => assert_eq!(
                info.last_error_message,
                "Socket data stream had no more data"
            ),
            other => panic!("expected Stopped, got {other:?}"),
        }
        // Stopped during the restart delay, which the manual clock never lets pass.
        run.stop_and_check();
    }

    #[test]
    fn reconnects_after_the_server_closes_once_the_clock_passes_the_restart_delay() {
        let (listener, port) = listener();
        let run = start(port, 1024, 150);
        let mut first = accept(&listener);
        first.write_all(b"from first\n").unwrap();
        assert_eq!(collect(&run.handle, 1, WAIT), ["from first"]);
        drop(first);
        assert!(matches!(next_event(&run.events), ReceiverEvent::Started(_)));
        match next_event(&run.events) {
            ReceiverEvent::Stopped(info) => assert_eq!(
                info.last_error_message,
                "Socket data stream had no more data"
            ),
            other => panic!("expected Stopped, got {other:?}"),
        }
        // No reconnection before the restart delay has passed on the receiver's clock.
        assert_no_connection(&listener, "while the clock stood still");
        run.clock.advance(crate::time::Duration::milliseconds(149));
        assert_no_connection(&listener, "before the restart delay");
        run.clock.advance(crate::time::Duration::milliseconds(1));
        let mut second = accept(&listener);
        second.write_all(b"from second\n").unwrap();
        assert_eq!(collect(&run.handle, 1, WAIT), ["from second"]);
        assert!(matches!(next_event(&run.events), ReceiverEvent::Started(_)));

        // Stopping while a read is blocked ends the reading thread: the socket is shut down.
        run.stop_and_check();
        match next_event(&run.events) {
            ReceiverEvent::Stopped(info) => {
                assert_eq!(info.last_error_message, "Stopped by driver")
            }
            other => panic!("expected Stopped, got {other:?}"),
        }
        // The receiver closed its side of the connection.
        let mut rest = Vec::new();
        second.set_read_timeout(Some(WAIT)).unwrap();
        assert_eq!(second.read_to_end(&mut rest).unwrap(), 0);
    }

    #[test]
    fn server_that_never_starts_causes_a_connect_attempt_per_restart_delay_without_hanging() {
        // Bind then drop to get a port that (most likely) nobody listens on.
        let port = listener().1;
        let run = start(port, 1024, 100);
        let mut connect_errors = 0;
        let deadline = Instant::now() + WAIT;
        while connect_errors < 3 && Instant::now() < deadline {
            if let ReceiverEvent::Stopped(info) = next_event(&run.events) {
                let expected = format!("Error connecting to 127.0.0.1:{port}: ");
                assert!(
                    info.last_error_message.starts_with(&expected),
                    "{}",
                    info.last_error_message
                );
                connect_errors += 1;
                if connect_errors < 3 {
                    // The next attempt comes once the restart delay has passed.
                    run.clock.advance(crate::time::Duration::milliseconds(100));
                }
            }
        }
        assert_eq!(connect_errors, 3);
        run.stop_and_check();
        assert!(run.handle.try_recv().is_none());
    }

    #[test]
    fn invalid_utf8_is_replaced_and_reported_once() {
        let (listener, port) = listener();
        let run = start(port, 1024, 5_000);
        let (handle, rx) = (&run.handle, &run.events);
        let mut server = accept(&listener);
        server.write_all(b"caf\xe9\nok\n\xff\xfe\n").unwrap();
        assert_eq!(
            collect(handle, 3, WAIT),
            ["caf\u{fffd}", "ok", "\u{fffd}\u{fffd}"]
        );
        server.write_all(b"more \xc0\n").unwrap();
        assert_eq!(collect(handle, 1, WAIT), ["more \u{fffd}"]);

        assert!(matches!(next_event(rx), ReceiverEvent::Started(_)));
        match next_event(rx) {
            ReceiverEvent::Error(info) => {
                assert_eq!(
                    info.last_error_message,
                    format!(
                        "Malformed input from 127.0.0.1:{port}: replaced invalid UTF-8 in 2 lines"
                    )
                );
                assert!(info.active);
            }
            other => panic!("expected Error, got {other:?}"),
        }
        run.stop_and_check();
        // Only the Stopped event follows: the later invalid line was not reported again.
        assert!(matches!(next_event(rx), ReceiverEvent::Stopped(_)));
        assert!(rx.try_recv().is_err());
        drop(server);
    }

    #[test]
    fn huge_line_is_dropped_and_the_next_line_arrives() {
        const MAX: usize = 64 * 1024;
        let (listener, port) = listener();
        let run = start(port, MAX, 5_000);
        let (handle, rx) = (&run.handle, &run.events);
        let mut server = accept(&listener);
        let writer = thread::spawn(move || {
            server.write_all(b"before\n").unwrap();
            let chunk = vec![b'y'; 1 << 20];
            for _ in 0..100 {
                server.write_all(&chunk).unwrap();
            }
            server.write_all(b"\nafter\n").unwrap();
            server
        });
        // The receiver keeps reading while the 100 MiB line streams through.
        assert_eq!(
            collect(handle, 2, Duration::from_secs(60)),
            ["before", "after"]
        );
        let server = writer.join().unwrap();
        assert!(matches!(next_event(rx), ReceiverEvent::Started(_)));
        match next_event(rx) {
            ReceiverEvent::Error(info) => assert_eq!(
                info.last_error_message,
                format!(
                    "Malformed input from 127.0.0.1:{port}: dropped 1 lines longer than {MAX} bytes ({} bytes in all; see ember.input.maxLineBytes)",
                    100 << 20
                )
            ),
            other => panic!("expected Error, got {other:?}"),
        }
        run.stop_and_check();
        drop(server);
    }

    #[test]
    fn many_lines_arrive_complete_and_in_order() {
        let (listener, port) = listener();
        let run = start(port, 1024, 5_000);
        let handle = &run.handle;
        let mut server = accept(&listener);
        const LINES: usize = 50_000;
        let writer = thread::spawn(move || {
            let mut text = String::new();
            for i in 0..LINES {
                text.push_str(&format!("line {i}\n"));
            }
            server.write_all(text.as_bytes()).unwrap();
            server
        });
        let got = collect(handle, LINES, Duration::from_secs(30));
        assert_eq!(got.len(), LINES);
        assert!(
            got.iter()
                .enumerate()
                .all(|(i, line)| *line == format!("line {i}"))
        );
        let server = writer.join().unwrap();
        run.stop_and_check();
        drop(server);
    }

    #[test]
    fn reads_under_a_rate_limit_ask_for_about_one_piece_of_lines() {
        // 128 bytes a line before any line came.
        assert_eq!(limited_read(50, 0, 0), 6400);
        // 10 bytes a line (rounded up) so far.
        assert_eq!(limited_read(50, 999, 100), 500.max(MIN_LIMITED_READ));
        assert_eq!(limited_read(100, 1000, 100), 1000);
        assert_eq!(limited_read(1, 2, 1), MIN_LIMITED_READ);
        assert_eq!(limited_read(usize::MAX, u64::MAX, 1), usize::MAX);
    }

    #[test]
    fn on_stop_without_start_is_harmless() {
        let mut receiver = SocketReceiver::new("localhost", 9, 10);
        receiver.on_stop();
        assert_eq!(receiver.name(), "SocketReceiver");
        assert_eq!(receiver.address(), "localhost:9");
    }

    /// Throughput check; run with
    /// `cargo test --release -p ember --lib socket_throughput -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn socket_throughput() {
        let (listener, port) = listener();
        let (tx, _rx) = events();
        let receiver = SocketReceiver::new("127.0.0.1", port, 1 << 20);
        // The consumer parks while the queue is empty and is woken per block, as the worker is.
        let consumer = thread::current();
        let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || consumer.unpark());
        let clock = manual_clock();
        let handle = launch(Box::new(receiver), 0, settings(5_000, &clock), tx, wake);
        let mut server = accept(&listener);
        const TOTAL: usize = 1 << 30;
        let line = format!("{}\n", "x".repeat(69));
        let chunk = line.repeat((1 << 20) / line.len());
        let rounds = TOTAL / chunk.len();
        let writer = thread::spawn(move || {
            for _ in 0..rounds {
                server.write_all(chunk.as_bytes()).unwrap();
            }
        });
        let began = Instant::now();
        let want = rounds * ((1 << 20) / line.len());
        let (mut got, mut blocks) = (0, 0);
        while got < want && began.elapsed() < Duration::from_secs(120) {
            match handle.try_recv() {
                Some(block) => {
                    got += block.len();
                    blocks += 1;
                }
                None => thread::park_timeout(Duration::from_millis(10)),
            }
        }
        let secs = began.elapsed().as_secs_f64();
        writer.join().unwrap();
        handle.stop(WAIT);
        assert_eq!(got, want);
        println!(
            "{:.0} MB/s, {:.1} M lines/s, {blocks} blocks",
            (got * line.len()) as f64 / secs / 1e6,
            got as f64 / secs / 1e6
        );
    }
}
