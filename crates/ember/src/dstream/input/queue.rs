//! The queue input (Spark's `QueueInputDStream`): RDDs pushed into an [`RddQueue`] by the
//! program, one or all of them per batch. An entry may also be "no RDD" (a batch without one,
//! see `dstream::presence`), and so may the default that an empty queue gives.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::checkpoint::SourceCheckpoint;
use crate::data::Data;
use crate::dstream::input::{BatchRdd, InputSource};
use crate::rdd::Rdd;
use crate::sync::RecoverPoison;
use crate::time::Time;

/// A queue of RDDs feeding a [`queue_stream`](crate::streaming::StreamingContext::queue_stream)
/// or an [`optional_queue_stream`](crate::streaming::StreamingContext::optional_queue_stream).
/// Cloning shares the queue; RDDs pushed while the stream runs are picked up by later batches.
/// An entry is an RDD or, pushed with [`push_no_rdd`](Self::push_no_rdd), a batch without one.
///
/// # Examples
///
/// One RDD per batch, the second pushed while the stream runs:
///
/// ```
/// use ember::testing::StreamTest;
/// use ember::{Duration, RddQueue};
///
/// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
/// let sc = t.context().context().clone();
/// let queue = RddQueue::new();
/// queue.push(sc.parallelize(vec![1, 2], 2));
/// let numbers = t.context().queue_stream(queue.clone(), true, None);
/// let out = t.collect(&numbers)?;
/// t.run(1)?;
/// queue.push(sc.parallelize(vec![3], 1));
/// t.run(2)?;
/// assert_eq!(out.sorted_batches(), vec![vec![1, 2], vec![3], vec![]]);
/// # Ok::<(), ember::Error>(())
/// ```
pub struct RddQueue<T> {
    inner: Arc<Mutex<VecDeque<Option<Rdd<T>>>>>,
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
    ///
    /// # Examples
    ///
    /// ```
    /// let queue: ember::RddQueue<String> = ember::RddQueue::new();
    /// assert!(queue.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }
    /// Appends an RDD.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::{Conf, Context, RddQueue};
    ///
    /// # let _turn = ember::testing::exclusive();
    /// let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// let queue = RddQueue::new();
    /// queue.push(sc.parallelize(vec!["a".to_string()], 1));
    /// assert_eq!(queue.len(), 1);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn push(&self, rdd: Rdd<T>) {
        self.inner.lock().recover().push_back(Some(rdd));
    }
    /// Appends a batch *without* an RDD (Spark's `compute` returning `None`), which is not an
    /// empty RDD: operations on the stream have no RDD at that time either, so output
    /// operations do not run for it (see
    /// [`optional_queue_stream`](crate::streaming::StreamingContext::optional_queue_stream)).
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::testing::StreamTest;
    /// use ember::{Duration, RddQueue};
    ///
    /// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
    /// let sc = t.context().context().clone();
    /// let queue = RddQueue::new();
    /// queue.push(sc.parallelize(vec![1], 1));
    /// queue.push_no_rdd();
    /// queue.push(sc.parallelize(vec![], 1));
    /// let numbers = t.context().optional_queue_stream(queue, true, None);
    /// let out = t.collect(&numbers.map(|x| x * 10))?;
    /// t.run(3)?;
    /// // No output at 2000 ms; an empty batch at 3000 ms.
    /// let times: Vec<u64> = out.batches_with_time().iter().map(|(t, _)| t.as_millis()).collect();
    /// assert_eq!(times, [1000, 3000]);
    /// assert_eq!(out.batches(), [vec![10], vec![]]);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn push_no_rdd(&self) {
        self.inner.lock().recover().push_back(None);
    }
    /// Entries waiting (RDDs and batches without one).
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::{Conf, Context, RddQueue};
    ///
    /// # let _turn = ember::testing::exclusive();
    /// let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// let queue = RddQueue::from(vec![sc.parallelize(vec![1], 1), sc.parallelize(vec![2], 1)]);
    /// assert_eq!(queue.len(), 2);
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.inner.lock().recover().len()
    }
    /// Whether no entry is waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use ember::{Conf, Context, RddQueue};
    ///
    /// # let _turn = ember::testing::exclusive();
    /// let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    /// let queue = RddQueue::new();
    /// assert!(queue.is_empty());
    /// queue.push(sc.parallelize(vec![1], 1));
    /// assert!(!queue.is_empty());
    /// # Ok::<(), ember::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Takes the next entry, or all of them with `all`.
    fn take(&self, all: bool) -> Vec<Option<Rdd<T>>> {
        let mut q = self.inner.lock().recover();
        if all {
            q.drain(..).collect()
        } else {
            q.pop_front().into_iter().collect()
        }
    }
}

/// A queue holding `rdds`, first one first.
///
/// # Examples
///
/// ```
/// use ember::testing::StreamTest;
/// use ember::{Duration, RddQueue};
///
/// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
/// let sc = t.context().context().clone();
/// let queue = RddQueue::from(vec![sc.parallelize(vec![1], 1), sc.parallelize(vec![2], 1)]);
/// // Both queued RDDs form the first batch when `one_at_a_time` is off.
/// let numbers = t.context().queue_stream(queue, false, None);
/// let out = t.collect(&numbers)?;
/// t.run(2)?;
/// assert_eq!(out.batches(), vec![vec![1, 2], vec![]]);
/// # Ok::<(), ember::Error>(())
/// ```
impl<T: Data> From<Vec<Rdd<T>>> for RddQueue<T> {
    fn from(rdds: Vec<Rdd<T>>) -> Self {
        let q = RddQueue::new();
        for r in rdds {
            q.push(r);
        }
        q
    }
}

/// A queue holding `entries`, first one first; `None` is a batch without an RDD.
///
/// # Examples
///
/// ```
/// use ember::testing::StreamTest;
/// use ember::{Duration, RddQueue};
///
/// let t = StreamTest::new("local[2]", Duration::seconds(1))?;
/// let sc = t.context().context().clone();
/// let queue = RddQueue::from(vec![None, Some(sc.parallelize(vec![2], 1))]);
/// let numbers = t.context().optional_queue_stream(queue, true, None);
/// let out = t.collect(&numbers)?;
/// t.run(3)?;
/// // Only the batch with an RDD has output; after the queue, the default is no RDD either.
/// assert_eq!(out.batches_with_time(), [(ember::Time::from_millis(2000), vec![2])]);
/// # Ok::<(), ember::Error>(())
/// ```
impl<T: Data> From<Vec<Option<Rdd<T>>>> for RddQueue<T> {
    fn from(entries: Vec<Option<Rdd<T>>>) -> Self {
        let q = RddQueue::new();
        q.inner.lock().recover().extend(entries);
        q
    }
}

/// What a queue stream's batch is when the queue is empty.
pub(crate) enum QueueDefault<T> {
    /// An empty batch (an RDD without partitions).
    Empty,
    /// This RDD.
    Rdd(Rdd<T>),
    /// No RDD.
    NoRdd,
}

/// The source of a `queue_stream`: at each batch, the next RDD of the queue (or all of them),
/// or the default RDD when the queue is empty.
pub(crate) struct QueueSource<T> {
    queue: RddQueue<T>,
    one_at_a_time: bool,
    default: QueueDefault<T>,
}

impl<T: Data> QueueSource<T> {
    pub(crate) fn new(queue: RddQueue<T>, one_at_a_time: bool, default: QueueDefault<T>) -> Self {
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
    fn batch(&self, _time: Time, out: &mut Vec<Vec<T>>) -> crate::Result<BatchRdd> {
        let entries = self.queue.take(!self.one_at_a_time);
        if entries.is_empty() {
            return Ok(match &self.default {
                QueueDefault::Empty => BatchRdd::Present,
                QueueDefault::Rdd(d) => {
                    out.extend(d.clone().into_partitions());
                    BatchRdd::Present
                }
                QueueDefault::NoRdd => BatchRdd::Absent,
            });
        }
        // Several RDDs at once form their union: partitions one after the other. Entries
        // without an RDD add nothing; the batch has none only if no entry had one.
        let mut present = BatchRdd::Absent;
        for rdd in entries.into_iter().flatten() {
            present = BatchRdd::Present;
            out.extend(rdd.into_partitions());
        }
        Ok(present)
    }
}
