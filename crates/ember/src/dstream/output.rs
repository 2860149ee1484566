//! Output operations (Spark's `ForEachDStream`): `print`, `pprint`, `foreach_rdd`,
//! `save_as_text_files`. Each gathers its stream's batch on the driver as an [`Rdd`] and runs as
//! a job of that batch, after the batch is complete, in the order the outputs were defined.

use std::collections::BTreeMap;
use std::fmt::{Debug, Write as _};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use crate::data::Data;
use crate::dstream::node::{OnDriver, into_partitions};
use crate::dstream::{DStream, Meta, Upstream};
use crate::error::{JobError, Result};
use crate::exec::{BatchLogic, Builder, OutputNode, Route};
use crate::output::write_stdout;
use crate::rdd::Rdd;
use crate::scheduler::Tick;
use crate::scheduler::runtime::Job;
use crate::time::Time;

type Action<T> = Arc<dyn Fn(Rdd<T>, Time) -> Result<(), JobError> + Send + Sync>;

const DASHES: &str = "-------------------------------------------";

struct GatherOutput<T: Data> {
    parent: Upstream<T>,
    op: usize,
    name: &'static str,
    /// Keep at most this many records per partition (`print` needs only `num + 1`).
    limit: Option<usize>,
    action: Action<T>,
}

/// Keeps the first `limit` records of each partition of a batch.
struct TakePerPartition {
    limit: usize,
}

impl<T: Data> BatchLogic<T, T> for TakePerPartition {
    type Acc = BTreeMap<u32, Vec<T>>;

    fn absorb(&mut self, acc: &mut Self::Acc, partition: u32, record: T) {
        let part = acc.entry(partition).or_default();
        if part.len() < self.limit {
            part.push(record);
        }
    }

    fn finish(&mut self, _tick: &Tick, acc: &mut Self::Acc, out: &mut Vec<(u32, T)>) {
        for (p, part) in std::mem::take(acc) {
            out.extend(part.into_iter().map(|x| (p, x)));
        }
    }
}

impl<T: Data> OutputNode for GatherOutput<T> {
    fn build<'s>(&self, b: &mut Builder<'s>) {
        let meta: &Meta = &self.parent.meta;
        let mut flow = self.parent.flow(b);
        if let Some(limit) = self.limit {
            flow = flow.batch(b, Route::Local, meta.id, "take", TakePerPartition { limit });
        }
        // On the driver: the gathered batch becomes an RDD and the output job is queued.
        let runtime = b.runtime().clone();
        let (op, name, lineage) = (self.op, self.name, meta.lineage.clone());
        let (partitions, action) = (meta.partitions, self.action.clone());
        // A batch without an RDD has no job (Spark's `ForEachDStream.generateJob` gives `None`).
        let logic = OnDriver::new(
            b.is_driver(),
            meta.slide,
            meta.absent_when.clone(),
            move |records, time, _: &mut Vec<(u32, ())>| {
                let rdd = Rdd::from_partitions(&runtime.ctx, into_partitions(records, partitions));
                let action = action.clone();
                let run = Box::new(move || action(rdd, time));
                runtime.submit_job(
                    time,
                    Job {
                        op,
                        name,
                        lineage: lineage.clone(),
                        run,
                    },
                );
            },
        );
        let done = flow.batch(b, Route::Driver, meta.id, self.name, logic);
        b.probe(done);
    }
}

/// Spark's print framing: dashes, the time line, dashes, up to `num` elements, `...` when there
/// are more, and an empty line.
pub(crate) fn format_batch<T: Debug>(time_line: &str, first: &[T], num: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{DASHES}\n{time_line}\n{DASHES}");
    for x in first.iter().take(num) {
        let _ = writeln!(s, "{x:?}");
    }
    if first.len() > num {
        s.push_str("...\n");
    }
    s.push('\n');
    s
}

impl<T: Data> DStream<T> {
    fn output(&self, name: &'static str, limit: Option<usize>, action: Action<T>) -> Result<()> {
        let parent = self.upstream();
        self.ssc
            .register_output(name, &self.meta, move |op| GatherOutput {
                parent,
                op,
                name,
                limit,
                action,
            })
            .map(|_| ())
    }

    /// Runs `f` on the driver with every batch's RDD and time (Spark's `foreachRDD`). A panic in
    /// `f` fails that batch's job: it is reported to listeners and by `await_termination`, and
    /// later batches keep running.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::sync::{Arc, Mutex};
    /// # use ember::{testing::StreamTest, Duration};
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = seen.clone();
    /// t.input(vec![vec![1, 2], vec![3]]).foreach_rdd(move |rdd, time| {
    ///     sink.lock().unwrap().push((time.as_millis(), rdd.count()));
    /// })?;
    /// t.run(2)?;
    /// assert_eq!(*seen.lock().unwrap(), [(1000, 2), (2000, 1)]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn foreach_rdd(&self, f: impl Fn(Rdd<T>, Time) + Send + Sync + 'static) -> Result<()> {
        self.output(
            "foreach_rdd",
            None,
            Arc::new(move |rdd, time| {
                f(rdd, time);
                Ok(())
            }),
        )
    }

    /// As [`foreach_rdd`](Self::foreach_rdd) with a fallible function; an `Err` fails the batch's
    /// job with the error as its cause ([`JobError::Failed`]; a message as `String` will do). An
    /// error caused by a closed stdout stops the stream quietly instead (see
    /// [`output`](crate::output)).
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::{testing::StreamTest, Duration};
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// t.input(vec![vec![1], vec![-1]]).try_foreach_rdd(|rdd, _time| match rdd.min() {
    ///     Some(x) if x < 0 => Err(format!("negative input {x}")),
    ///     _ => Ok(()),
    /// })?;
    /// t.run(2)?;
    /// // The second batch's job failed; the stream ran on and reports the failure.
    /// let failure = t.context().await_termination_or_timeout(std::time::Duration::ZERO).unwrap_err();
    /// assert!(failure.to_string().contains("negative input -1"), "{failure}");
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn try_foreach_rdd<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
        &self,
        f: impl Fn(Rdd<T>, Time) -> std::result::Result<(), E> + Send + Sync + 'static,
    ) -> Result<()> {
        self.output(
            "foreach_rdd",
            None,
            Arc::new(move |rdd, time| f(rdd, time).map_err(JobError::failed)),
        )
    }

    /// Writes each batch to the directory `prefix-<batch ms>[.suffix]` (just `<batch ms>` for an
    /// empty prefix), one `part-NNNNN` file per partition, one element per line in `Debug` form,
    /// even for empty batches (Spark's `saveAsTextFiles`). The directory appears atomically: it
    /// is written under a temporary name and renamed; a re-run batch replaces it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::{testing::StreamTest, Duration};
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let dir = tempfile::tempdir()?;
    /// let prefix = dir.path().join("numbers");
    /// t.input(vec![vec![1, 2, 3]]).save_as_text_files(prefix.to_str().unwrap(), "txt")?;
    /// t.run(1)?;
    /// // Batch 1000's directory; `local[2]` cut the batch into [1] and [2, 3].
    /// let batch = dir.path().join("numbers-1000.txt");
    /// assert_eq!(std::fs::read_to_string(batch.join("part-00000"))?, "1\n");
    /// assert_eq!(std::fs::read_to_string(batch.join("part-00001"))?, "2\n3\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save_as_text_files(&self, prefix: &str, suffix: &str) -> Result<()>
    where
        T: Debug,
    {
        let (prefix, suffix) = (prefix.to_owned(), suffix.to_owned());
        self.output(
            "save_as_text_files",
            None,
            Arc::new(move |rdd, time| {
                let mut name = if prefix.is_empty() {
                    time.as_millis().to_string()
                } else {
                    format!("{prefix}-{}", time.as_millis())
                };
                if !suffix.is_empty() {
                    name = format!("{name}.{suffix}");
                }
                write_text_dir(&PathBuf::from(name), &rdd).map_err(JobError::failed)
            }),
        )
    }
}

impl<T: Data + Debug> DStream<T> {
    /// Prints the first `num` elements of every batch in Spark's Scala framing, with the time as
    /// `Time: <ms> ms` and elements in `Debug` form. The text goes through
    /// [`write_stdout`]: a closed stdout stops the stream quietly, any other write error fails
    /// the batch's job (see [`output`](crate::output)).
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::{testing::StreamTest, Duration};
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// t.input(vec![vec![1, 2, 3]]).print(2)?;
    /// t.run(1)?; // prints:
    /// // -------------------------------------------
    /// // Time: 1000 ms
    /// // -------------------------------------------
    /// // 1
    /// // 2
    /// // ...
    /// //
    /// assert!(t.context().await_termination_or_timeout(std::time::Duration::ZERO).is_ok());
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn print(&self, num: usize) -> Result<()> {
        self.output(
            "print",
            Some(num + 1),
            Arc::new(move |rdd, time| {
                let text = format_batch(&format!("Time: {time}"), &rdd.take(num + 1), num);
                write_stdout(&text).map_err(JobError::failed)
            }),
        )
    }

    /// Prints the first `num` elements of every batch in PySpark's framing, with the time in
    /// local time (`Time: 2026-11-24 10:00:01`) and elements in `Debug` form. A stdout that
    /// cannot be written is treated as [`print`](Self::print) treats it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ember::{testing::StreamTest, Duration};
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// t.input(vec![vec![1, 2, 3]]).pprint(5)?;
    /// t.run(1)?; // prints, with batch time 1000 ms (since the Unix epoch) in local time, in UTC:
    /// // -------------------------------------------
    /// // Time: 1970-01-01 00:00:01
    /// // -------------------------------------------
    /// // 1
    /// // 2
    /// // 3
    /// //
    /// assert!(t.context().await_termination_or_timeout(std::time::Duration::ZERO).is_ok());
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn pprint(&self, num: usize) -> Result<()> {
        self.output(
            "pprint",
            Some(num + 1),
            Arc::new(move |rdd, time| {
                let text = format_batch(
                    &format!("Time: {}", time.to_local_datetime_string()),
                    &rdd.take(num + 1),
                    num,
                );
                write_stdout(&text).map_err(JobError::failed)
            }),
        )
    }
}

fn write_text_dir<T: Data + Debug>(dir: &std::path::Path, rdd: &Rdd<T>) -> std::io::Result<()> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(parent)?;
    let file_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{file_name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir(&tmp)?;
    for (i, part) in rdd.partitions().iter().enumerate() {
        let mut text = String::new();
        for x in part {
            let _ = writeln!(text, "{x:?}");
        }
        let path = tmp.join(format!("part-{i:05}"));
        let mut f = std::fs::File::create(&path)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::File::create(tmp.join("_SUCCESS"))?.sync_all()?;
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::rename(&tmp, dir)?;
    if let Ok(d) = std::fs::File::open(parent) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_framing_matches_spark() {
        let text = format_batch("Time: 1000 ms", &["a", "b", "c"], 2);
        assert_eq!(
            text,
            "-------------------------------------------\nTime: 1000 ms\n-------------------------------------------\n\"a\"\n\"b\"\n...\n\n"
        );
        let empty: Vec<u8> = vec![];
        assert_eq!(
            format_batch("Time: 1000 ms", &empty, 10),
            format!("{DASHES}\nTime: 1000 ms\n{DASHES}\n\n")
        );
        assert_eq!(DASHES.len(), 43);
    }
}
