//! Input streams: where batches come from (Spark's `InputDStream`s and the receiver tracker).
//!
//! An input's records enter the dataflow on the driver worker only; a receiver's blocks are
//! spread over the partitions in turn, a batch source's partitions keep their index, and every
//! partition then travels to its worker.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::checkpoint::SourceCheckpoint;
use crate::checkpoint::wal::{WalCheckpoint, WriteAheadLog};
use crate::conf::Conf;
use crate::data::Data;
use crate::dstream::{Meta, Node};
use crate::exec::{Builder, Flow};
use crate::rdd::Rdd;
use crate::receiver::block_generator::BlockLog;
use crate::receiver::file_selector::FileSelector;
use crate::receiver::lines::TextChunk;
use crate::receiver::socket::SocketChunks;
use crate::receiver::supervisor::{ReceiverHandle, ReceiverSettings};
use crate::receiver::{Receiver, SocketReceiver};
use crate::scheduler::runtime::Runtime;
use crate::time::{Duration, Time};

/// A source of records for one input stream. One instance per process, shared by the workers
/// of the driver's process: each of them takes received blocks when it has room (so memory stays
/// bounded and the work spreads by itself), and the driver asks for batch data at batch close.
pub(crate) trait InputSource<T>: SourceCheckpoint {
    /// The next block that arrived (receivers), if any, for the batch at `batch`.
    fn poll(&self, _batch: Time) -> Option<Vec<T>> {
        None
    }
    /// The partitions this source contributes to the batch at `time`, produced when the batch
    /// closes (queues, directories). An error fails the batch's jobs that use this input.
    fn batch(&self, _time: Time, _out: &mut Vec<Vec<T>>) -> Result<(), String> {
        Ok(())
    }
    /// Stops receiving; blocks already queued are still returned by `poll`.
    fn stop(&self) {}
    /// What the last batch consisted of, for listener events.
    fn describe(&self) -> String {
        String::new()
    }
}

type MakeSource<T> = Box<dyn FnOnce(&Arc<Runtime>, usize) -> Box<dyn InputSource<T>> + Send>;

/// The graph node of an input stream.
pub(crate) struct InputNode<T> {
    stream_id: usize,
    partitions: usize,
    make: Mutex<Option<MakeSource<T>>>,
    /// The process's source, made by the first worker that builds the node.
    source: std::sync::OnceLock<Arc<dyn InputSource<T>>>,
}

impl<T: Data> InputNode<T> {
    pub(crate) fn new(
        stream_id: usize,
        partitions: usize,
        make: impl FnOnce(&Arc<Runtime>, usize) -> Box<dyn InputSource<T>> + Send + 'static,
    ) -> Self {
        InputNode {
            stream_id,
            partitions,
            make: Mutex::new(Some(Box::new(make))),
            source: std::sync::OnceLock::new(),
        }
    }
}

/// Stands in for a source that was already taken: a context starts at most once, so this only
/// happens if a graph were built twice on the driver, which `Builder::memo` prevents.
struct Exhausted;

impl<T> InputSource<T> for Exhausted {}
impl SourceCheckpoint for Exhausted {}

impl<T: Data> Node<T> for InputNode<T> {
    fn build<'s>(&self, b: &mut Builder<'s>, meta: &Meta) -> Flow<'s, T> {
        let rt = b.runtime().clone();
        let stream_id = self.stream_id;
        b.input(stream_id, meta.id, self.partitions, || {
            // Only workers of the driver's process call this; the first one makes the source.
            self.source
                .get_or_init(|| {
                    let make = self.make.lock().unwrap_or_else(|p| p.into_inner()).take();
                    match make {
                        Some(make) => Arc::from(make(&rt, stream_id)),
                        None => Arc::new(Exhausted),
                    }
                })
                .clone()
        })
    }
}

/// A receiver's blocks: those replayed from the write-ahead log first, then the queue's.
struct Blocks<T> {
    handle: ReceiverHandle<T>,
    wal: Option<Arc<WriteAheadLog>>,
    replay: Mutex<VecDeque<(u64, Vec<T>)>>,
}

impl<T: Data> Blocks<T> {
    fn poll(&self, batch: Time) -> Option<Vec<T>> {
        let replayed = self
            .replay
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        let (seq, items) = match replayed {
            Some((seq, items)) => (Some(seq), items),
            None => {
                let block = self.handle.try_recv_block()?;
                (block.seq, block.items)
            }
        };
        if let (Some(wal), Some(seq)) = (&self.wal, seq) {
            wal.assign(seq, batch);
        }
        Some(items)
    }

    fn stop(&self) {
        self.handle.stop(std::time::Duration::from_secs(10));
    }

    fn checkpoint(&self, upto: Time) -> Option<Vec<u8>> {
        let ck = self.wal.as_ref()?.checkpoint(upto)?;
        postcard::to_allocvec(&ck).ok()
    }

    fn committed(&self, upto: Time) {
        if let Some(wal) = &self.wal {
            wal.committed(upto);
        }
    }
}

/// Writes blocks of `T` to a write-ahead log.
struct LogBlocks(Arc<WriteAheadLog>);

impl<T: Data> BlockLog<T> for LogBlocks {
    fn append(&self, items: &[T]) -> Result<u64, String> {
        let bytes = postcard::to_allocvec(items).map_err(|e| e.to_string())?;
        self.0.append(&bytes).map_err(|e| e.to_string())
    }

    fn void(&self, seq: u64) {
        self.0.void(seq)
    }
}

/// A receiver running on its supervisor thread; its blocks are polled by the feeding workers.
pub(crate) struct ReceiverSource<T> {
    blocks: Blocks<T>,
}

impl<T: Data> ReceiverSource<T> {
    pub(crate) fn launch(
        receiver: Box<dyn Receiver<T>>,
        stream_id: usize,
        rt: &Arc<Runtime>,
        conf: &Conf,
    ) -> Self {
        ReceiverSource {
            blocks: launch_receiver(receiver, stream_id, rt, conf),
        }
    }
}

impl<T: Data> SourceCheckpoint for ReceiverSource<T> {
    fn checkpoint(&self, upto: Time) -> Option<Vec<u8>> {
        self.blocks.checkpoint(upto)
    }
    fn committed(&self, upto: Time) {
        self.blocks.committed(upto)
    }
}

impl<T: Data> InputSource<T> for ReceiverSource<T> {
    fn poll(&self, batch: Time) -> Option<Vec<T>> {
        self.blocks.poll(batch)
    }

    fn stop(&self) {
        self.blocks.stop();
    }
}

/// The socket receiver's chunks of lines, turned into one `String` per line by the worker that
/// takes them.
pub(crate) struct SocketSource {
    blocks: Blocks<TextChunk>,
}

impl SocketSource {
    pub(crate) fn launch(
        receiver: SocketReceiver,
        stream_id: usize,
        rt: &Arc<Runtime>,
        conf: &Conf,
    ) -> Self {
        let blocks = launch_receiver(Box::new(SocketChunks(receiver)), stream_id, rt, conf);
        SocketSource { blocks }
    }
}

impl SourceCheckpoint for SocketSource {
    fn checkpoint(&self, upto: Time) -> Option<Vec<u8>> {
        self.blocks.checkpoint(upto)
    }
    fn committed(&self, upto: Time) {
        self.blocks.committed(upto)
    }
}

impl InputSource<String> for SocketSource {
    fn poll(&self, batch: Time) -> Option<Vec<String>> {
        let chunks = self.blocks.poll(batch)?;
        let mut lines = Vec::with_capacity(chunks.iter().map(|c| c.len() / 64).sum());
        for chunk in &chunks {
            chunk.lines(&mut lines);
        }
        Some(lines)
    }

    fn stop(&self) {
        self.blocks.stop();
    }
}

/// Whether receivers write a write-ahead log (Spark's setting).
pub(crate) const WAL_ENABLED: &str = "spark.streaming.receiver.writeAheadLog.enable";

fn launch_receiver<R: Data>(
    receiver: Box<dyn Receiver<R>>,
    stream_id: usize,
    rt: &Arc<Runtime>,
    conf: &Conf,
) -> Blocks<R> {
    let restart_ms = conf
        .get_millis(crate::conf::RECEIVER_RESTART_DELAY, 2000)
        .unwrap_or(2000);
    let settings = ReceiverSettings {
        restart_delay: std::time::Duration::from_millis(restart_ms),
        queue_blocks: 16,
        clock: Arc::clone(&rt.clock),
    };
    let waker = rt.clone();
    let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || waker.wake_workers());
    let mut replay = VecDeque::new();
    let mut wal = None;
    if conf.get_bool(WAL_ENABLED, false).unwrap_or(false)
        && let Some(ck) = &rt.checkpointing
    {
        let dir = ck
            .dir
            .join("receivedData")
            .join(format!("stream-{stream_id}"));
        let restored = ck
            .restored_source(stream_id)
            .and_then(|b| postcard::from_bytes::<WalCheckpoint>(b).ok());
        match WriteAheadLog::open(dir, restored.as_ref()) {
            Ok((log, blocks)) => {
                for (seq, payload) in blocks {
                    match postcard::from_bytes::<Vec<R>>(&payload) {
                        Ok(items) => replay.push_back((seq, items)),
                        Err(e) => tracing::error!(
                            "write-ahead log of stream {stream_id}: block {seq} cannot be decoded ({e}) and is skipped"
                        ),
                    }
                }
                wal = Some(Arc::new(log));
            }
            Err(e) => {
                // Reported where the user sees receiver problems; the stream runs without a log.
                tracing::error!("receiver write-ahead log of stream {stream_id} is off: {e}");
            }
        }
    }
    let log: Option<Arc<dyn BlockLog<R>>> = wal
        .clone()
        .map(|w| Arc::new(LogBlocks(w)) as Arc<dyn BlockLog<R>>);
    let handle = crate::receiver::supervisor::launch_logged(
        receiver,
        stream_id,
        settings,
        rt.receiver_events(),
        wake,
        log,
    );
    Blocks {
        handle,
        wal,
        replay: Mutex::new(replay),
    }
}

/// A queue of RDDs feeding a [`queue_stream`](crate::streaming::StreamingContext::queue_stream).
/// Cloning shares the queue; RDDs pushed while the stream runs are picked up by later batches.
pub struct RddQueue<T> {
    inner: Arc<Mutex<VecDeque<Rdd<T>>>>,
}

impl<T> Clone for RddQueue<T> {
    fn clone(&self) -> Self {
        RddQueue {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Data> Default for RddQueue<T> {
    fn default() -> Self {
        RddQueue {
            inner: Arc::new(Mutex::new(VecDeque::new())),
        }
    }
}

impl<T: Data> RddQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }
    /// Appends an RDD.
    pub fn push(&self, rdd: Rdd<T>) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(rdd);
    }
    /// RDDs waiting.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
    /// Whether no RDD is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn take(&self, all: bool) -> Vec<Rdd<T>> {
        let mut q = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if all {
            q.drain(..).collect()
        } else {
            q.pop_front().into_iter().collect()
        }
    }
}

impl<T: Data> From<Vec<Rdd<T>>> for RddQueue<T> {
    fn from(rdds: Vec<Rdd<T>>) -> Self {
        let q = RddQueue::new();
        for r in rdds {
            q.push(r);
        }
        q
    }
}

pub(crate) struct QueueSource<T> {
    queue: RddQueue<T>,
    one_at_a_time: bool,
    default: Option<Rdd<T>>,
}

impl<T: Data> QueueSource<T> {
    pub(crate) fn new(queue: RddQueue<T>, one_at_a_time: bool, default: Option<Rdd<T>>) -> Self {
        QueueSource {
            queue,
            one_at_a_time,
            default,
        }
    }
}

/// A queue's RDDs live in memory only; Spark warns at start and refuses at recovery. ember
/// restores the rest of the graph and starts the queue empty.
impl<T: Data> SourceCheckpoint for QueueSource<T> {}

impl<T: Data> InputSource<T> for QueueSource<T> {
    fn batch(&self, _time: Time, out: &mut Vec<Vec<T>>) -> Result<(), String> {
        let rdds = self.queue.take(!self.one_at_a_time);
        if let (true, Some(d)) = (rdds.is_empty(), &self.default) {
            out.extend(d.clone().into_partitions());
        }
        // Several RDDs at once form their union: partitions one after the other.
        for rdd in rdds {
            out.extend(rdd.into_partitions());
        }
        Ok(())
    }
}

/// The files of a monitored directory; each new file is one partition, read by the worker that
/// owns the partition (see `text_file_stream`).
pub(crate) struct FileSource {
    selector: Mutex<FileSelector>,
    slide: Duration,
    last: Mutex<Vec<PathBuf>>,
}

/// A directory source's checkpoint data: the threshold that ignores files older than the
/// stream, and the files selected per batch within the remember window, so that after a restart
/// no file is read twice and none is missed.
#[derive(serde::Serialize, serde::Deserialize)]
struct FileSourceCheckpoint {
    initial_threshold: Time,
    selected: Vec<(Time, Vec<String>)>,
}

impl FileSource {
    pub(crate) fn new(
        dir: PathBuf,
        created: Time,
        slide: Duration,
        conf: &Conf,
        restored: Option<&[u8]>,
    ) -> Self {
        let remember_ms = conf
            .get_millis(crate::conf::FILE_MIN_REMEMBER, 60_000)
            .unwrap_or(60_000);
        let mut selector = FileSelector::new(
            dir.clone(),
            true,
            created,
            Duration::milliseconds(remember_ms),
        );
        if let Some(bytes) = restored {
            match postcard::from_bytes::<FileSourceCheckpoint>(bytes) {
                Ok(ck) => {
                    tracing::info!(
                        directory = %dir.display(),
                        batches = ck.selected.len(),
                        "restored the list of processed files"
                    );
                    selector.restore(
                        ck.initial_threshold,
                        ck.selected
                            .into_iter()
                            .map(|(t, files)| (t, files.into_iter().map(PathBuf::from).collect()))
                            .collect(),
                    );
                }
                // The commit's checksum held, so this is a format from another version.
                Err(e) => tracing::error!(
                    "the checkpointed file list of {} cannot be read ({e}); files already processed may be read again",
                    dir.display()
                ),
            }
        }
        FileSource {
            selector: Mutex::new(selector),
            slide,
            last: Mutex::new(Vec::new()),
        }
    }
}

impl SourceCheckpoint for FileSource {
    fn checkpoint(&self, upto: Time) -> Option<Vec<u8>> {
        let selector = self.selector.lock().unwrap_or_else(|p| p.into_inner());
        let ck = FileSourceCheckpoint {
            initial_threshold: selector.initial_threshold(),
            selected: selector
                .remembered()
                .into_iter()
                .filter(|(t, _)| *t <= upto)
                .map(|(t, files)| {
                    (
                        t,
                        files
                            .iter()
                            .map(|f| f.to_string_lossy().into_owned())
                            .collect(),
                    )
                })
                .collect(),
        };
        postcard::to_allocvec(&ck).ok()
    }
}

impl InputSource<String> for FileSource {
    fn batch(&self, time: Time, out: &mut Vec<Vec<String>>) -> Result<(), String> {
        let files = self
            .selector
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .select(time, self.slide);
        let files = files.map_err(|e| e.to_string())?;
        out.extend(files.iter().map(|f| vec![f.to_string_lossy().into_owned()]));
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = files;
        Ok(())
    }

    fn describe(&self) -> String {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Reads each file named by `files` into lines, on the worker of the file's partition.
pub(crate) fn read_files(
    files: &crate::dstream::DStream<String>,
    max_line_bytes: usize,
) -> crate::dstream::DStream<String> {
    let node = ReadLines {
        parent: files.clone(),
        max_line_bytes,
    };
    files.derive(
        "text_file_stream",
        files.meta.slide,
        files.meta.partitions,
        &[&files.meta],
        node,
    )
}

struct ReadLines {
    parent: crate::dstream::DStream<String>,
    max_line_bytes: usize,
}

impl Node<String> for ReadLines {
    fn build<'s>(&self, b: &mut Builder<'s>, meta: &Meta) -> Flow<'s, String> {
        let max = self.max_line_bytes;
        self.parent
            .flow(b)
            .narrow(b, meta.id, "text_file_stream", move |p, path, out| {
                let (lines, stats) =
                    crate::receiver::lines::read_lines(std::path::Path::new(&path), max)
                        .map_err(|e| e.to_string())?;
                if stats.invalid_utf8_lines > 0 || stats.oversized_lines > 0 {
                    tracing::warn!(
                        file = %path,
                        invalid_utf8_lines = stats.invalid_utf8_lines,
                        oversized_lines = stats.oversized_lines,
                        "replaced invalid UTF-8 and dropped lines over the size limit"
                    );
                }
                out.extend(lines.into_iter().map(|l| (p, l)));
                Ok(())
            })
    }
}
