//! The queue input (Spark's `QueueInputDStream`): RDDs pushed into an [`RddQueue`] by the
//! program, one or all of them per batch.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::checkpoint::SourceCheckpoint;
use crate::data::Data;
use crate::dstream::input::InputSource;
use crate::rdd::Rdd;
use crate::sync::RecoverPoison;
use crate::time::Time;

/// A queue of RDDs feeding a [`queue_stream`](crate::streaming::StreamingContext::queue_stream).
/// Cloning shares the queue; RDDs pushed while the stream runs are picked up by later batches.
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
        self.inner.lock().recover().push_back(rdd);
    }
    /// RDDs waiting.
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
    /// Whether no RDD is waiting.
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
    /// Takes the next RDD, or all of them with `all`.
    fn take(&self, all: bool) -> Vec<Rdd<T>> {
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

/// The source of a `queue_stream`: at each batch, the next RDD of the queue (or all of them),
/// or the default RDD when the queue is empty.
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
    fn batch(&self, _time: Time, out: &mut Vec<Vec<T>>) -> crate::Result<()> {
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
