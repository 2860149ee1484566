//! The directory input (Spark's `FileInputDStream` with `textFileStream`): at each batch the
//! files that appeared in the directory become one partition each, and a second node reads each
//! file into lines on the worker that owns its partition. The list of processed files is the
//! source's checkpoint data, so that a restarted program reads no file twice and misses none.

use std::path::PathBuf;
use std::sync::Mutex;

use crate::checkpoint::SourceCheckpoint;
use crate::conf::Conf;
use crate::dstream::input::{BatchRdd, InputSource};
use crate::dstream::{Meta, Node, Upstream};
use crate::error::JobError;
use crate::exec::{Builder, Flow};
use crate::receiver::file_selector::FileSelector;
use crate::sync::RecoverPoison;
use crate::time::{Duration, Time};

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

impl InputSource<String> for FileSource {
    fn batch(&self, time: Time, out: &mut Vec<Vec<String>>) -> crate::Result<BatchRdd> {
        let files = self.selector.lock().recover().select(time, self.slide);
        let files = files?;
        out.extend(files.iter().map(|f| vec![f.to_string_lossy().into_owned()]));
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

/// Reads each file named by `files` into lines, on the worker of the file's partition.
pub(crate) fn read_files(
    files: &crate::dstream::DStream<String>,
    max_line_bytes: usize,
) -> crate::dstream::DStream<String> {
    let node = ReadLines {
        parent: files.upstream(),
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

/// Reads the files named by its parent's records into lines.
struct ReadLines {
    parent: Upstream<String>,
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
                        .map_err(JobError::failed)?;
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
