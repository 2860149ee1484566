//! The input streams a [`StreamingContext`] makes (Spark's `socketTextStream`, `receiverStream`,
//! `textFileStream`, `queueStream`) and the union of streams. Each input is a node of the graph
//! whose source (see `dstream::input`) is made when the run starts, on the driver's process.

use std::path::Path;
use std::sync::Arc;

use crate::data::Data;
use crate::dstream::input::{
    FileSource, InputNode, InputSource, QueueDefault, QueueSource, ReceiverSource, SocketSource,
    read_files,
};
use crate::dstream::{DStream, RddQueue};
use crate::rdd::Rdd;
use crate::receiver::file_segments::FileSegment;
use crate::receiver::{Receiver, SocketReceiver};
use crate::scheduler::runtime::Runtime;
use crate::status::SourceKind;
use crate::streaming::context::StreamingContext;
use crate::sync::RecoverPoison;

impl StreamingContext {
    /// A new input stream `name` fed by the source `make` makes at the start; `source` names it
    /// and its kind for the web UI.
    fn new_input<T: Data>(
        &self,
        name: &'static str,
        partitions: usize,
        (source, kind): (String, SourceKind),
        make: impl FnOnce(&Arc<Runtime>, usize) -> Box<dyn InputSource<T>> + Send + 'static,
    ) -> DStream<T> {
        let stream_id = self.inner.graph.lock().recover().add_input();
        let registered = self.inner.status.sources.register(stream_id, source, kind);
        if kind == SourceKind::Receiver {
            // Spark's `spark.streaming.receiver.maxRate`; 0 (and unset) is no limit.
            let max_rate = crate::conf::settings::RECEIVER_MAX_RATE
                .get(self.inner.ctx.conf())
                .ok()
                .flatten()
                .filter(|r| *r > 0);
            registered.set_rate(max_rate.map(|r| r as f64), false);
        }
        let node = InputNode::new(stream_id, partitions, make);
        self.new_stream(name, self.inner.batch, partitions, &[], None, node)
    }

    /// Lines of text read from a TCP server at `host:port` (Spark's `socketTextStream`): UTF-8;
    /// a line ends at `\n`, `\r` or `\r\n`, as with Java's `BufferedReader.readLine`; a last line
    /// without a line end is kept; the receiver reconnects 2 s after the
    /// server closes or refuses (setting `spark.streaming.receiverRestartDelay`). Invalid UTF-8 is
    /// replaced and reported; a line longer than `ember.input.maxLineBytes` (default 16 MiB) is
    /// dropped and reported instead of exhausting memory.
    ///
    /// # Examples
    ///
    /// A server on the loopback interface sends two lines:
    ///
    /// ```
    /// use std::io::Write;
    /// use std::sync::{Arc, Mutex};
    /// use ember::{Conf, Context, Duration, StreamingContext};
    ///
    /// # let _turn = ember::testing::exclusive();
    /// let server = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let port = server.local_addr()?.port();
    /// std::thread::spawn(move || {
    ///     let (mut connection, _) = server.accept().unwrap();
    ///     connection.write_all(b"to be\nor not to be\n").unwrap();
    /// });
    ///
    /// let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// let ssc = StreamingContext::new(&sc, Duration::milliseconds(100))?;
    /// let lines = Arc::new(Mutex::new(Vec::new()));
    /// let sink = lines.clone();
    /// ssc.socket_text_stream("127.0.0.1", port)
    ///     .foreach_rdd(move |rdd, _time| sink.lock().unwrap().extend(rdd.collect()))?;
    /// ssc.start()?;
    /// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    /// while lines.lock().unwrap().len() < 2 {
    ///     assert!(std::time::Instant::now() < deadline, "the lines did not arrive");
    ///     std::thread::sleep(std::time::Duration::from_millis(10));
    /// }
    /// ssc.stop(false, false)?;
    /// assert_eq!(*lines.lock().unwrap(), ["to be", "or not to be"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn socket_text_stream(&self, host: &str, port: u16) -> DStream<String> {
        let receiver = SocketReceiver::new(host, port, self.max_line_bytes());
        self.inner.graph.lock().recover().add_receiver();
        let partitions = self.inner.ctx.default_parallelism();
        let conf = self.inner.ctx.conf().clone();
        self.new_input(
            "socket_text_stream",
            partitions,
            (format!("socket {host}:{port}"), SourceKind::Receiver),
            move |rt: &Arc<Runtime>, id| {
                Box::new(SocketSource::launch(receiver, id, rt, &conf))
                    as Box<dyn InputSource<String>>
            },
        )
    }

    /// Records pushed by a user-defined [`Receiver`] (Spark's `receiverStream`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use ember::receiver::{Receiver, ReceiverContext};
    /// use ember::{Conf, Context, Duration, StreamingContext};
    ///
    /// /// Stores the numbers 1 to 3 once.
    /// struct Numbers(Option<std::thread::JoinHandle<()>>);
    ///
    /// impl Receiver<u64> for Numbers {
    ///     fn on_start(&mut self, ctx: &ReceiverContext<u64>) {
    ///         let ctx = ctx.clone();
    ///         self.0 = Some(std::thread::spawn(move || ctx.store_many(vec![1, 2, 3])));
    ///     }
    ///     fn on_stop(&mut self) {
    ///         if let Some(thread) = self.0.take() {
    ///             let _ = thread.join();
    ///         }
    ///     }
    ///     fn name(&self) -> String {
    ///         "Numbers".to_string()
    ///     }
    /// }
    ///
    /// # let _turn = ember::testing::exclusive();
    /// let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// let ssc = StreamingContext::new(&sc, Duration::milliseconds(100))?;
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = seen.clone();
    /// ssc.receiver_stream(Numbers(None))
    ///     .foreach_rdd(move |rdd, _time| sink.lock().unwrap().extend(rdd.collect()))?;
    /// ssc.start()?;
    /// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    /// while seen.lock().unwrap().len() < 3 {
    ///     assert!(std::time::Instant::now() < deadline, "the numbers did not arrive");
    ///     std::thread::sleep(std::time::Duration::from_millis(10));
    /// }
    /// ssc.stop(false, false)?;
    /// let mut seen = seen.lock().unwrap().clone();
    /// seen.sort();
    /// assert_eq!(seen, [1, 2, 3]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn receiver_stream<T: Data>(&self, receiver: impl Receiver<T>) -> DStream<T> {
        self.inner.graph.lock().recover().add_receiver();
        let partitions = self.inner.ctx.default_parallelism();
        let conf = self.inner.ctx.conf().clone();
        let source = (receiver.name(), SourceKind::Receiver);
        self.new_input(
            "receiver_stream",
            partitions,
            source,
            move |rt: &Arc<Runtime>, id| {
                Box::new(ReceiverSource::launch(Box::new(receiver), id, rt, &conf))
                    as Box<dyn InputSource<T>>
            },
        )
    }

    /// New files of directory `dir`, as lines (Spark's `textFileStream`): only files moved in
    /// after the stream was created, names not starting with `.` or `_`, each file read once.
    /// Lines are cut as in [`socket_text_stream`](Self::socket_text_stream): at `\n`, `\r` or
    /// `\r\n`, with the same UTF-8 and line-size rules.
    ///
    /// Files are read as streams, a chunk at a time, so a file of any size costs about one chunk
    /// of memory in flight. A batch's files are shared among the partitions (one per
    /// `spark.default.parallelism`) in pieces of nearly equal size, whole files where the cuts
    /// allow; a large file is cut into byte ranges, each read by the worker of its partition, which
    /// gives the lines that start in its range. So the workers read a batch in parallel however
    /// its bytes are spread over files, and the batch's lines, partition after partition, come in
    /// file order and in line order within a file. A file that vanished or cannot be read by the time its turn comes
    /// is logged as an error naming it and skipped, its batch goes on with the other files, and
    /// [`input_failures`](Self::input_failures) counts it. Files are remembered by canonical
    /// path, so a program restarted from a checkpoint with another spelling of `dir` (relative,
    /// absolute, through a symbolic link) reads none twice; sub-directories (one level down)
    /// that lead back to `dir` or outside it are not listed, nor is a checkpoint directory.
    ///
    /// # Examples
    ///
    /// A file belongs to the first batch after its modification time. On the test's manual
    /// clock, which starts at 0, the file's time is set by hand:
    ///
    /// ```
    /// use std::time::{Duration as StdDuration, UNIX_EPOCH};
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let dir = tempfile::tempdir()?;
    /// let lines = t.context().text_file_stream(dir.path());
    /// let out = t.collect(&lines)?;
    ///
    /// // Write elsewhere, then move in: the stream must see whole files.
    /// let staged = tempfile::NamedTempFile::new_in(dir.path().parent().unwrap())?;
    /// std::fs::write(staged.path(), "to be\nor not to be\n")?;
    /// staged.as_file().set_modified(UNIX_EPOCH + StdDuration::from_millis(500))?;
    /// staged.persist(dir.path().join("hamlet.txt"))?;
    ///
    /// t.run(2)?;
    /// assert_eq!(out.batches(), vec![vec!["to be".to_string(), "or not to be".to_string()], vec![]]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn text_file_stream(&self, dir: impl AsRef<Path>) -> DStream<String> {
        let dir = dir.as_ref().to_path_buf();
        let created = self.inner.clock.now();
        let conf = self.inner.ctx.conf().clone();
        let batch = self.inner.batch;
        let max_line = self.max_line_bytes();
        let partitions = self.inner.ctx.default_parallelism();
        let source = (format!("files in {}", dir.display()), SourceKind::File);
        let files = self.new_input(
            "file_input",
            partitions,
            source,
            move |rt: &Arc<Runtime>, id| {
                let checkpointing = rt.checkpointing.as_ref();
                let checkpoint_dir = checkpointing.map(|ck| ck.dir.as_path());
                let restored = checkpointing.and_then(|ck| ck.restored_source(id));
                Box::new(FileSource::new(
                    dir,
                    created,
                    batch,
                    partitions,
                    &conf,
                    checkpoint_dir,
                    restored,
                )) as Box<dyn InputSource<FileSegment>>
            },
        );
        read_files(&files, max_line)
    }

    /// A stream of RDDs taken from `queue` (Spark's `queueStream`): one RDD per batch with
    /// `one_at_a_time`, otherwise all queued RDDs at once; `default` when the queue is empty (or
    /// an empty batch when `None`). RDDs pushed into the queue while running are picked up.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::{Duration, RddQueue};
    ///
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let sc = t.context().context();
    /// let queue = RddQueue::from(vec![sc.parallelize(vec![1, 2], 2), sc.parallelize(vec![3], 1)]);
    /// // Once the queue is empty, every batch is the default RDD.
    /// let default = sc.parallelize(vec![0], 1);
    /// let numbers = t.context().queue_stream(queue, true, Some(default));
    /// let out = t.collect(&numbers)?;
    /// t.run(4)?;
    /// assert_eq!(out.sorted_batches(), vec![vec![1, 2], vec![3], vec![0], vec![0]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn queue_stream<T: Data>(
        &self,
        queue: RddQueue<T>,
        one_at_a_time: bool,
        default: Option<Rdd<T>>,
    ) -> DStream<T> {
        let default = default.map_or(QueueDefault::Empty, QueueDefault::Rdd);
        self.queue_input(queue, one_at_a_time, default)
    }

    /// A queue stream whose batches may have *no RDD*, which is not an empty RDD (Spark's
    /// `queueStream` with a null default, on an input whose `compute` returns `None`): an entry
    /// pushed with [`RddQueue::push_no_rdd`], and every batch while the queue is empty when
    /// `default` is `None`. At such a time, `map`, `filter` and the other operations have no RDD
    /// either and output operations do not run; `window` leaves the time out;
    /// `update_state_by_key` calls its function for every key with no new values; `union`,
    /// `transform`, `transform_with`, [`StreamingContext::transform`] and `count` fail the batch
    /// with Spark's message ("Couldn't generate RDD from parent at time ...").
    ///
    /// Otherwise as [`queue_stream`](Self::queue_stream). PySpark's
    /// `queueStream(rdds, oneAtATime, default=None)` gives an *empty* RDD of one partition when
    /// the queue is empty, which is `queue_stream` with such a default.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::{Duration, RddQueue, Time};
    ///
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let sc = t.context().context();
    /// let queue = RddQueue::from(vec![sc.parallelize(vec![1, 2], 2)]);
    /// let numbers = t.context().optional_queue_stream(queue, true, None);
    /// let out = t.collect(&numbers.map(|x| x + 1))?;
    /// t.run(3)?;
    /// // The batches at 2000 and 3000 ms have no RDD: the output ran once.
    /// assert_eq!(out.batches_with_time(), [(Time::from_millis(1000), vec![2, 3])]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn optional_queue_stream<T: Data>(
        &self,
        queue: RddQueue<T>,
        one_at_a_time: bool,
        default: Option<Rdd<T>>,
    ) -> DStream<T> {
        let default = default.map_or(QueueDefault::NoRdd, QueueDefault::Rdd);
        self.queue_input(queue, one_at_a_time, default)
    }

    fn queue_input<T: Data>(
        &self,
        queue: RddQueue<T>,
        one_at_a_time: bool,
        default: QueueDefault<T>,
    ) -> DStream<T> {
        let partitions = self.inner.ctx.default_parallelism();
        self.new_input(
            "queue_stream",
            partitions,
            ("queue".to_owned(), SourceKind::Queue),
            move |_rt: &Arc<Runtime>, _id| {
                Box::new(QueueSource::new(queue, one_at_a_time, default)) as Box<dyn InputSource<T>>
            },
        )
    }

    /// The union of several streams of the same slide (Spark's `StreamingContext.union`).
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::Duration;
    ///
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let odd = t.input(vec![vec![1, 3], vec![5]]);
    /// let even = t.input(vec![vec![2], vec![4, 6]]);
    /// let all = t.context().union(&[odd, even]);
    /// let out = t.collect(&all)?;
    /// t.run(2)?;
    /// assert_eq!(out.sorted_batches(), vec![vec![1, 2, 3], vec![4, 5, 6]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn union<T: Data>(&self, streams: &[DStream<T>]) -> DStream<T> {
        crate::dstream::union::union_all(self, streams)
    }

    fn max_line_bytes(&self) -> usize {
        // Bounded by the registry (at most 1 GiB), so it fits a usize.
        crate::conf::settings::MAX_LINE_BYTES.value(self.inner.ctx.conf()) as usize
    }
}
