//! Spark's `BlockGenerator`: turns what a receiver stores into blocks on a bounded queue.
//!
//! Records stored one by one wait in a pending buffer, which becomes a block once
//! [`BLOCK_RECORDS`] records are pending, or once the first of them has waited for
//! [`BLOCK_INTERVAL`] on the receiver's clock. Records stored together become one block at once.
//! Blocks are written to the write-ahead log ([`BlockLog`]) if there is one, then queued; a full
//! queue makes the storing thread wait (back-pressure), as Spark's `blockQueueSize` does.
//!
//! Time is read from the injected [`Clock`], so that a test on a
//! [`ManualClock`](crate::scheduler::ManualClock) decides when a block is due. The waits of a
//! thread blocked on a full queue are real time: they only pace how often it checks whether it
//! should give up.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::{SendTimeoutError, Sender, TrySendError};

use crate::scheduler::clock::Clock;
use crate::sync::RecoverPoison;
use crate::time::{Duration, Time};

/// Records stored one by one are pushed as a block once this many are pending.
pub(crate) const BLOCK_RECORDS: usize = 4096;
/// Records stored one by one are pushed as a block at least this often. Spark's
/// `spark.streaming.blockInterval` is 200 ms; ember batches are cheap, so a shorter interval keeps
/// latency low.
pub(crate) const BLOCK_INTERVAL: Duration = Duration::milliseconds(50);
/// How often a thread waiting on a full block queue checks whether it should give up.
const PUSH_POLL: std::time::Duration = std::time::Duration::from_millis(10);

/// Why a block could not be written to the write-ahead log.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BlockLogError {
    /// The block's records do not serialize (a `Serialize` implementation failed).
    #[error("the block does not encode: {0}")]
    Encode(postcard::Error),
    /// Writing the log failed (I/O).
    #[error(transparent)]
    Write(#[from] crate::error::Error),
}

/// Where a receiver's blocks are written before they are queued: the receiver write-ahead log
/// (Spark's `spark.streaming.receiver.writeAheadLog.enable`).
pub(crate) trait BlockLog<T>: Send + Sync {
    /// Writes a block; its sequence number.
    fn append(&self, items: &[T]) -> Result<u64, BlockLogError>;
    /// Marks a written block as never queued (the queue was full, or the receiver stopping
    /// dropped it), so that it is not replayed.
    fn void(&self, seq: u64);
}

/// A queued block, with its sequence number in the write-ahead log if there is one.
pub(crate) struct Block<T> {
    pub(crate) seq: Option<u64>,
    pub(crate) items: Vec<T>,
}

/// Records stored one by one and not yet pushed as a block.
struct Pending<T> {
    items: Vec<T>,
    /// When the first of `items` was stored, on the generator's clock.
    since: Option<Time>,
}

/// The block generator of one receiver; shared by its supervisor thread and every thread that
/// stores.
pub(crate) struct BlockGenerator<T> {
    stream_id: usize,
    queue: Sender<Block<T>>,
    /// Blocks that did not fit into the full queue at the final flush; drained after the queue.
    leftover: Mutex<VecDeque<Block<T>>>,
    /// The write-ahead log, when enabled.
    log: Option<Arc<dyn BlockLog<T>>>,
    pending: Mutex<Pending<T>>,
    /// Tells the consumer that a block was queued.
    wake: Arc<dyn Fn() + Send + Sync>,
    clock: Arc<dyn Clock>,
    dropped_blocks: AtomicU64,
}

impl<T> BlockGenerator<T> {
    /// A generator for stream `stream_id` with a queue of `capacity` blocks (at least one); the
    /// queue's receiving end, from which the consumer takes blocks (then
    /// [`BlockGenerator::take_leftover`]).
    pub(crate) fn new(
        stream_id: usize,
        capacity: usize,
        log: Option<Arc<dyn BlockLog<T>>>,
        wake: Arc<dyn Fn() + Send + Sync>,
        clock: Arc<dyn Clock>,
    ) -> (Self, crossbeam_channel::Receiver<Block<T>>) {
        let (queue, blocks) = crossbeam_channel::bounded(capacity.max(1));
        let generator = BlockGenerator {
            stream_id,
            queue,
            leftover: Mutex::new(VecDeque::new()),
            log,
            pending: Mutex::new(Pending {
                items: Vec::new(),
                since: None,
            }),
            wake,
            clock,
            dropped_blocks: AtomicU64::new(0),
        };
        (generator, blocks)
    }

    /// The clock the generator reads.
    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// Whether pending records stored since `since` have waited for [`BLOCK_INTERVAL`].
    fn due(&self, since: Option<Time>) -> bool {
        since.is_some_and(|since| self.clock.now() - since >= BLOCK_INTERVAL)
    }

    /// Adds one record to the pending buffer, and pushes the buffer as a block when it is full
    /// or due. Pushing waits while the queue is full, unless `abandoned` says to give up.
    pub(crate) fn store(&self, item: T, abandoned: impl Fn() -> bool) {
        let mut pending = self.pending.lock().recover();
        if pending.items.is_empty() {
            pending.since = Some(self.clock.now());
        }
        pending.items.push(item);
        if pending.items.len() >= BLOCK_RECORDS || self.due(pending.since) {
            let block = std::mem::take(&mut pending.items);
            pending.since = None;
            // Pushed while holding the lock so that blocks keep the order of the records.
            self.push(block, abandoned);
        }
    }

    /// Pushes `items` as one block (nothing for no items), waiting while the queue is full
    /// unless `abandoned` says to give up.
    pub(crate) fn store_block(&self, items: Vec<T>, abandoned: impl Fn() -> bool) {
        if !items.is_empty() {
            self.push(items, abandoned);
        }
    }

    /// Logs and queues `block`, waiting while the queue is full. If `abandoned` turns true
    /// meanwhile (the receiver is stopping, and its stop may be waiting for this very thread),
    /// the block joins the leftover blocks, which the last batch of a graceful stop takes after
    /// the queue: what was received before a stop is never dropped. Whether it was queued or
    /// kept; `false` only when nobody takes blocks any more, and then a logged block stays
    /// in the write-ahead log, to be replayed after a restart.
    fn push(&self, block: Vec<T>, abandoned: impl Fn() -> bool) -> bool {
        let mut block = self.log_block(block);
        loop {
            // Behind a leftover block, a queued one would overtake it.
            if abandoned() && !self.leftover.lock().recover().is_empty() {
                self.keep_leftover(block);
                return true;
            }
            match self.queue.send_timeout(block, PUSH_POLL) {
                Ok(()) => {
                    (self.wake)();
                    return true;
                }
                Err(SendTimeoutError::Timeout(back)) => {
                    if abandoned() {
                        self.keep_leftover(back);
                        return true;
                    }
                    block = back;
                }
                Err(SendTimeoutError::Disconnected(back)) => {
                    let dropped = self.dropped_blocks.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::warn!(
                        "Receiver for stream {}: a block of {} records arrived after the stream stopped taking blocks ({dropped} so far); {}",
                        self.stream_id,
                        back.items.len(),
                        if back.seq.is_some() {
                            "it stays in the write-ahead log and is replayed after a restart"
                        } else {
                            "without a write-ahead log it is lost"
                        }
                    );
                    return false;
                }
            }
        }
    }

    /// Keeps `block` for after the queue (see [`BlockGenerator::take_leftover`]).
    fn keep_leftover(&self, block: Block<T>) {
        self.leftover.lock().recover().push_back(block);
        (self.wake)();
    }

    /// Writes a block to the write-ahead log, if there is one. A block that cannot be written
    /// is still queued (and processed), with an error in the log: it is just not recoverable.
    fn log_block(&self, items: Vec<T>) -> Block<T> {
        let seq = self.log.as_ref().and_then(|log| match log.append(&items) {
            Ok(seq) => Some(seq),
            Err(e) => {
                tracing::error!(
                    "Receiver for stream {}: a block of {} records could not be written to the write-ahead log and will not be recovered after a failure: {e}",
                    self.stream_id,
                    items.len()
                );
                None
            }
        });
        Block { seq, items }
    }

    /// Marks a logged block as never queued.
    fn void(&self, block: &Block<T>) {
        if let (Some(log), Some(seq)) = (&self.log, block.seq) {
            log.void(seq);
        }
    }

    /// Queues a block without waiting; gives it back if the queue is full.
    fn try_push(&self, block: Vec<T>) -> Option<Vec<T>> {
        if self.queue.is_full() {
            return Some(block);
        }
        let block = self.log_block(block);
        match self.queue.try_send(block) {
            Ok(()) => {
                (self.wake)();
                None
            }
            Err(TrySendError::Full(block)) => {
                // Given back to be pushed again later, as a block logged anew.
                self.void(&block);
                Some(block.items)
            }
            // Nobody takes blocks any more: a logged block stays in the log, for a restart.
            Err(TrySendError::Disconnected(_)) => None,
        }
    }

    /// Pushes the pending records if they waited for [`BLOCK_INTERVAL`]; never waits on a full
    /// queue (the records then stay pending, and `store` applies back-pressure). Called by the
    /// supervisor thread every tick.
    pub(crate) fn flush_due(&self) {
        let Ok(mut pending) = self.pending.try_lock() else {
            // Someone is pushing the pending records right now.
            return;
        };
        if self.due(pending.since) && !pending.items.is_empty() {
            let block = std::mem::take(&mut pending.items);
            match self.try_push(block) {
                Some(block) => pending.items = block,
                None => pending.since = None,
            }
        }
    }

    /// Pushes everything pending, putting what does not fit into the leftover blocks. Used when
    /// stopping.
    pub(crate) fn flush_all(&self) {
        let block = {
            let mut pending = self.pending.lock().recover();
            pending.since = None;
            std::mem::take(&mut pending.items)
        };
        if block.is_empty() {
            return;
        }
        if let Some(block) = self.try_push(block) {
            let block = self.log_block(block);
            self.keep_leftover(block);
        }
    }

    /// The oldest block that could not be queued while the receiver stopped
    /// ([`BlockGenerator::flush_all`], or a store that was waiting on the full queue).
    pub(crate) fn take_leftover(&self) -> Option<Block<T>> {
        self.leftover.lock().recover().pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::clock::ManualClock;
    use std::sync::atomic::AtomicUsize;
    use std::thread;

    /// A generator on a manual clock, with its queue and the count of its wakes.
    struct Fixture {
        generator: Arc<BlockGenerator<u32>>,
        blocks: crossbeam_channel::Receiver<Block<u32>>,
        clock: ManualClock,
        wakes: Arc<AtomicUsize>,
    }

    /// A generator whose queue holds `capacity` blocks, on a manual clock at 1 s.
    fn fixture(capacity: usize) -> Fixture {
        let clock = ManualClock::new(Time::from_millis(1_000));
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&wakes);
        let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let (generator, blocks) =
            BlockGenerator::new(0, capacity, None, wake, Arc::new(clock.clone()));
        Fixture {
            generator: Arc::new(generator),
            blocks,
            clock,
            wakes,
        }
    }

    fn never() -> bool {
        false
    }

    fn drain(blocks: &crossbeam_channel::Receiver<Block<u32>>) -> Vec<Vec<u32>> {
        blocks.try_iter().map(|b| b.items).collect()
    }

    /// Logs appends and voids, numbering blocks from 1.
    #[derive(Default)]
    struct MemoryLog {
        appended: Mutex<Vec<Vec<u32>>>,
        voided: Mutex<Vec<u64>>,
    }

    impl BlockLog<u32> for MemoryLog {
        fn append(&self, items: &[u32]) -> Result<u64, BlockLogError> {
            let mut appended = self.appended.lock().recover();
            appended.push(items.to_vec());
            Ok(appended.len() as u64)
        }
        fn void(&self, seq: u64) {
            self.voided.lock().recover().push(seq);
        }
    }

    #[test]
    fn a_full_buffer_is_pushed_at_once_and_the_rest_when_the_clock_passes_the_interval() {
        let Fixture {
            generator,
            blocks,
            clock,
            ..
        } = fixture(16);
        for i in 0..(BLOCK_RECORDS as u32 + 10) {
            generator.store(i, never);
        }
        // The full block went at once; the 10 records after it wait for the interval.
        let first = drain(&blocks);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].len(), BLOCK_RECORDS);
        generator.flush_due();
        assert!(drain(&blocks).is_empty(), "pushed before the interval");
        clock.advance(BLOCK_INTERVAL - Duration::milliseconds(1));
        generator.flush_due();
        assert!(drain(&blocks).is_empty(), "pushed before the interval");
        clock.advance(Duration::milliseconds(1));
        generator.flush_due();
        let rest = drain(&blocks);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].len(), 10);
        assert_eq!(rest[0][9], BLOCK_RECORDS as u32 + 9);
        // Nothing pending any more.
        clock.advance(BLOCK_INTERVAL);
        generator.flush_due();
        assert!(drain(&blocks).is_empty());
    }

    #[test]
    fn a_store_after_the_interval_pushes_the_records_pending_since() {
        let Fixture {
            generator,
            blocks,
            clock,
            wakes,
        } = fixture(16);
        generator.store(1, never);
        clock.advance(BLOCK_INTERVAL);
        generator.store(2, never);
        assert_eq!(drain(&blocks), [vec![1, 2]]);
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        // The interval starts again with the next record.
        generator.store(3, never);
        clock.advance(BLOCK_INTERVAL - Duration::milliseconds(1));
        generator.store(4, never);
        assert!(drain(&blocks).is_empty());
    }

    #[test]
    fn store_block_queues_one_block_per_call_and_wakes_once_per_block() {
        let Fixture {
            generator,
            blocks,
            wakes,
            ..
        } = fixture(16);
        generator.store_block(vec![1, 2, 3], never);
        generator.store_block(Vec::new(), never);
        generator.store_block(vec![4], never);
        assert_eq!(drain(&blocks), [vec![1, 2, 3], vec![4]]);
        assert_eq!(
            wakes.load(Ordering::SeqCst),
            2,
            "one wake per queued block, none for an empty one"
        );
    }

    #[test]
    fn store_block_waits_on_a_full_queue_until_a_block_is_taken() {
        let Fixture {
            generator, blocks, ..
        } = fixture(2);
        generator.store_block(vec![1], never);
        generator.store_block(vec![2], never);
        let storing = Arc::clone(&generator);
        let third = thread::spawn(move || storing.store_block(vec![3], never));
        // The third block can only be queued once one is taken.
        assert_eq!(blocks.recv().map(|b| b.items).ok(), Some(vec![1]));
        third.join().unwrap();
        assert_eq!(drain(&blocks), [vec![2], vec![3]]);
    }

    /// A generator with a one-block queue whose blocks go to a [`MemoryLog`].
    fn logged_generator() -> (
        BlockGenerator<u32>,
        crossbeam_channel::Receiver<Block<u32>>,
        Arc<MemoryLog>,
    ) {
        let log = Arc::new(MemoryLog::default());
        let (generator, blocks) = BlockGenerator::new(
            0,
            1,
            Some(Arc::clone(&log) as Arc<dyn BlockLog<u32>>),
            Arc::new(|| {}),
            Arc::new(ManualClock::new(Time::from_millis(0))),
        );
        (generator, blocks, log)
    }

    #[test]
    fn a_store_waiting_when_the_receiver_stops_keeps_its_block_for_the_last_batch() {
        let (generator, blocks, log) = logged_generator();
        generator.store_block(vec![1], never);
        // The queue is full and the receiver is stopping: the block is kept, not dropped, and a
        // later one queues behind it.
        generator.store_block(vec![2], || true);
        generator.store_block(vec![3], || true);
        assert_eq!(drain(&blocks), [vec![1]]);
        let leftover: Vec<_> = std::iter::from_fn(|| generator.take_leftover())
            .map(|b| (b.seq, b.items))
            .collect();
        assert_eq!(leftover, [(Some(2), vec![2]), (Some(3), vec![3])]);
        assert_eq!(*log.appended.lock().recover(), [vec![1], vec![2], vec![3]]);
        assert!(log.voided.lock().recover().is_empty());
    }

    #[test]
    fn a_block_nobody_takes_any_more_stays_in_the_log() {
        let (generator, blocks, log) = logged_generator();
        drop(blocks);
        generator.store_block(vec![1], never);
        // Written, and not voided: a restart replays it.
        assert_eq!(*log.appended.lock().recover(), [vec![1]]);
        assert!(log.voided.lock().recover().is_empty());
    }

    #[test]
    fn flush_all_pushes_what_is_pending_and_keeps_what_does_not_fit() {
        let Fixture {
            generator,
            blocks,
            wakes,
            ..
        } = fixture(1);
        generator.store_block(vec![1], never);
        generator.store(2, never);
        generator.store(3, never);
        // The queue is full and the records are not due: flush_due leaves them pending.
        generator.flush_due();
        generator.flush_all();
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
        assert_eq!(drain(&blocks), [vec![1]]);
        assert_eq!(generator.take_leftover().map(|b| b.items), Some(vec![2, 3]));
        assert!(generator.take_leftover().is_none());
        // Nothing was left pending.
        generator.flush_all();
        assert!(drain(&blocks).is_empty());
        assert!(generator.take_leftover().is_none());
    }

    #[test]
    fn due_records_stay_pending_while_the_queue_is_full() {
        let Fixture {
            generator,
            blocks,
            clock,
            ..
        } = fixture(1);
        generator.store_block(vec![1], never);
        generator.store(2, never);
        clock.advance(BLOCK_INTERVAL);
        generator.flush_due();
        assert_eq!(drain(&blocks), [vec![1]]);
        // Room again: the next tick pushes them.
        generator.flush_due();
        assert_eq!(drain(&blocks), [vec![2]]);
    }
}
