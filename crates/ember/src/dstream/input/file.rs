//! The directory input (Spark's `FileInputDStream` with `textFileStream`): at each batch the
//! files that appeared in the directory are cut into one piece per partition, of equal byte
//! counts (`receiver::file_segments`: whole files where the cuts allow, a large file split at
//! byte offsets), and a second node reads each piece's file segments into lines on the worker
//! that owns its partition, as a stream (one read step per invocation of the `exec` stepwise
//! operator, never a whole file in memory). So the workers share a batch's reading evenly, one
//! large file included, and the lines of a batch, partition after partition, keep the files'
//! order. The list of processed files, by canonical path, is the source's checkpoint data, so
//! that a restarted program reads no file twice and misses none.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::checkpoint::SourceCheckpoint;
use crate::conf::Conf;
use crate::dstream::input::{BatchRdd, InputSource};
use crate::dstream::{Meta, Node, Upstream};
use crate::error::JobError;
use crate::exec::{Builder, Flow, Step, StepLogic};
use crate::receiver::file_segments::{self, FileSegment};
use crate::receiver::file_selector::FileSelector;
use crate::receiver::lines::{LineSink, READ_CHUNK};
use crate::receiver::segment_lines::SegmentLines;
use crate::scheduler::runtime::Runtime;
use crate::sync::RecoverPoison;
use crate::time::{Duration, Time};

/// The files of a monitored directory; each batch's new files are cut into one piece per
/// partition, read by the worker that owns the partition (see `text_file_stream`).
pub(crate) struct FileSource {
    selector: Mutex<FileSelector>,
    slide: Duration,
    /// The stream's partitions: the number of pieces a batch's files are cut into.
    partitions: usize,
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
    /// The source of directory `dir` for a stream of `partitions` partitions created at
    /// `created`; `checkpoint_dir`, the context's, is never read as input (it may lie inside
    /// `dir`); `restored` is the source's data from a checkpoint.
    pub(crate) fn new(
        dir: PathBuf,
        created: Time,
        slide: Duration,
        partitions: usize,
        conf: &Conf,
        checkpoint_dir: Option<&Path>,
        restored: Option<&[u8]>,
    ) -> Self {
        // Checked when the context was made: `value` only falls back on a value set since.
        let remember = crate::conf::settings::FILE_MIN_REMEMBER.value(conf);
        let mut selector = FileSelector::new(dir.clone(), true, created, remember);
        if let Some(checkpoint_dir) = checkpoint_dir {
            selector.exclude(checkpoint_dir);
        }
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
            partitions,
            last: Mutex::new(Vec::new()),
        }
    }
}

impl SourceCheckpoint for FileSource {
    fn checkpoint(&self, upto: Time) -> Option<Vec<u8>> {
        let selector = self.selector.lock().recover();
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

impl InputSource<FileSegment> for FileSource {
    fn batch(&self, time: Time, out: &mut Vec<Vec<FileSegment>>) -> crate::Result<BatchRdd> {
        let files = self.selector.lock().recover().select(time, self.slide);
        let files = files?;
        // Sizes now, not at the listing: a batch recovered from a checkpoint has no listing.
        // A file gone since is read whole, where its reader reports it.
        let sized: Vec<(String, Option<u64>)> = files
            .iter()
            .map(|f| {
                let len = std::fs::metadata(f).ok().map(|m| m.len());
                (f.to_string_lossy().into_owned(), len)
            })
            .collect();
        out.extend(file_segments::plan(&sized, self.partitions));
        *self.last.lock().recover() = files;
        Ok(BatchRdd::Present)
    }

    fn describe(&self) -> String {
        self.last
            .lock()
            .recover()
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Reads the file segments of `segments` into lines, on the worker of each segment's partition.
pub(crate) fn read_files(
    segments: &crate::dstream::DStream<FileSegment>,
    max_line_bytes: usize,
) -> crate::dstream::DStream<String> {
    let node = ReadLines {
        parent: segments.upstream(),
        max_line_bytes,
    };
    segments.derive(
        "text_file_stream",
        segments.meta.slide,
        segments.meta.partitions,
        &[&segments.meta],
        node,
    )
}

/// Reads the file segments of its parent's records into lines, one after the other and at most
/// one read step ([`READ_STEP`]) per invocation, so that a file of any size costs one step of
/// lines in flight (see `exec::stepwise`).
struct ReadLines {
    parent: Upstream<FileSegment>,
    max_line_bytes: usize,
}

/// Bytes a worker reads from a file per invocation of its reading operator: the lines they make
/// go through the operators downstream before it reads more.
const READ_STEP: usize = READ_CHUNK;

/// Bytes of one read, several per invocation: each read's lines are given downstream as one
/// container (about 2,000 lines of a typical text), small enough for the allocator to reuse its
/// memory from one container to the next, where one container per MiB would be a large
/// allocation that fresh pages are mapped for every time.
const READ_BUF: usize = 128 * 1024;

impl Node<String> for ReadLines {
    fn build<'s>(&self, b: &mut Builder<'s>, meta: &Meta) -> Flow<'s, String> {
        let logic = ReadFile {
            max_line_bytes: self.max_line_bytes,
            runtime: b.runtime().clone(),
            buf: Vec::new(),
        };
        self.parent
            .flow(b)
            .stepwise(b, meta.id, "text_file_stream", READ_STEP, logic)
    }
}

/// Reads one file segment per task. A file that cannot be opened or read is reported and
/// skipped, and its batch goes on: it may have been removed or made unreadable since the listing
/// selected it, and losing the batch's other files for it would be worse (what Spark does).
struct ReadFile {
    max_line_bytes: usize,
    runtime: Arc<Runtime>,
    /// The worker's read buffer ([`READ_BUF`]), allocated at the first read and kept.
    buf: Vec<u8>,
}

/// A file segment being read: its partition, the segment, and the open file once its turn has
/// come.
struct Reading {
    partition: u32,
    segment: FileSegment,
    file: Option<SegmentLines>,
    lines: u64,
}

impl Reading {
    /// The file, and which part of it the segment is when it is not the whole file.
    fn describe(&self) -> String {
        let s = &self.segment;
        match (s.start, s.end) {
            (0, None) => s.path.clone(),
            (start, Some(end)) => {
                format!("{} (the lines starting in bytes {start}..{end})", s.path)
            }
            (start, None) => format!("{} (the lines starting at byte {start} or later)", s.path),
        }
    }
}

impl ReadFile {
    /// Reports `task`'s file segment as skipped because of `error`, and counts it.
    fn skip(&self, task: &Reading, error: &crate::Error) {
        // The error names the file and what failed (`opening <path>: <cause>`).
        if task.lines == 0 {
            tracing::error!(
                file = %task.describe(),
                "Skipped input file, its batch goes on without it: {error}"
            );
        } else {
            tracing::error!(
                file = %task.describe(),
                lines = task.lines,
                "Skipped the rest of input file after {} lines, its batch goes on without it: {error}",
                task.lines
            );
        }
        self.runtime.note_input_failure();
    }
}

impl StepLogic<FileSegment, String> for ReadFile {
    type Task = Reading;

    fn begin(&mut self, partition: u32, segment: FileSegment) -> Reading {
        Reading {
            partition,
            segment,
            file: None,
            lines: 0,
        }
    }

    fn step(
        &mut self,
        task: &mut Reading,
        allowance: usize,
        out: &mut Vec<(u32, String)>,
    ) -> Result<Step, JobError> {
        let done = Step {
            used: 0,
            finished: true,
        };
        // Opened only now, when its turn has come: one open file per worker at a time.
        let file = match &mut task.file {
            Some(file) => file,
            None => match SegmentLines::open(task.segment.clone(), self.max_line_bytes) {
                Ok(file) => task.file.insert(file),
                Err(e) => {
                    self.skip(task, &e);
                    return Ok(done);
                }
            },
        };
        if self.buf.is_empty() {
            self.buf = vec![0; READ_BUF];
        }
        let len = allowance.clamp(1, self.buf.len());
        let before = out.len();
        let read = file.read_some(
            &mut self.buf[..len],
            &mut Tagged {
                partition: task.partition,
                out,
            },
        );
        task.lines += (out.len() - before) as u64;
        match read {
            Ok(0) => {
                let stats = file.stats().clone();
                if !stats.is_clean() {
                    tracing::warn!(
                        file = %task.describe(),
                        invalid_utf8_lines = stats.invalid_utf8_lines,
                        oversized_lines = stats.oversized_lines,
                        "replaced invalid UTF-8 and dropped lines over the size limit"
                    );
                }
                Ok(done)
            }
            Ok(used) => Ok(Step {
                used,
                finished: false,
            }),
            Err(e) => {
                self.skip(task, &e);
                Ok(done)
            }
        }
    }
}

/// Lines of one partition, as the dataflow's records.
struct Tagged<'a> {
    partition: u32,
    out: &'a mut Vec<(u32, String)>,
}

impl LineSink for Tagged<'_> {
    fn push_line(&mut self, line: &str) {
        self.out.push((self.partition, line.to_owned()));
    }
}
