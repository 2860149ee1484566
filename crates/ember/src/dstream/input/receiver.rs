//! Receiver inputs (Spark's `ReceiverInputDStream`): a [`Receiver`] runs on its supervisor
//! thread and stores blocks into a bounded queue; the feeding workers poll them. With the
//! write-ahead log on, each block is logged before it is queued, and blocks logged but not yet
//! committed by a checkpoint are replayed first after a restart.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::checkpoint::SourceCheckpoint;
use crate::checkpoint::wal::{WalCheckpoint, WriteAheadLog};
use crate::conf::{Conf, settings};
use crate::data::Data;
use crate::dstream::input::InputSource;
use crate::receiver::Receiver;
use crate::receiver::block_generator::{BlockLog, BlockLogError};
use crate::receiver::supervisor::{ReceiverHandle, ReceiverSettings};
use crate::scheduler::runtime::Runtime;
use crate::sync::RecoverPoison;
use crate::time::Time;

/// A receiver's blocks: those replayed from the write-ahead log first, then the queue's.
pub(super) struct Blocks<T> {
    handle: ReceiverHandle<T>,
    wal: Option<Arc<WriteAheadLog>>,
    taking: Mutex<Taking<T>>,
}

/// What the workers that take blocks share.
struct Taking<T> {
    replay: VecDeque<(u64, Vec<T>)>,
    /// The latest batch a block was taken for.
    latest: Time,
}

impl<T: Data> Blocks<T> {
    /// The next block, for batch `batch`. Blocks go to batches in the order they were
    /// received: a worker that still fills an earlier batch than the one another worker (the
    /// driver, which has closed it) already took a block for gets none, and takes one once it
    /// has followed the driver to the new batch. Without this, a block taken for the closed
    /// batch just after a later block went to the new one would put later records first.
    pub(super) fn poll(&self, batch: Time) -> Option<Vec<T>> {
        let mut taking = self.taking.lock().recover();
        if batch < taking.latest {
            return None;
        }
        taking.latest = batch;
        let (seq, items) = match taking.replay.pop_front() {
            Some((seq, items)) => (Some(seq), items),
            None => {
                let block = self.handle.try_recv_block()?;
                (block.seq, block.items)
            }
        };
        drop(taking);
        if let (Some(wal), Some(seq)) = (&self.wal, seq) {
            wal.assign(seq, batch);
        }
        Some(items)
    }

    pub(super) fn stop(&self) {
        self.handle.stop(std::time::Duration::from_secs(10));
    }

    pub(super) fn checkpoint(&self, upto: Time) -> Option<Vec<u8>> {
        let ck = self.wal.as_ref()?.checkpoint(upto)?;
        postcard::to_allocvec(&ck).ok()
    }

    pub(super) fn committed(&self, upto: Time) {
        if let Some(wal) = &self.wal {
            wal.committed(upto);
        }
    }
}

/// Writes blocks of `T` to a write-ahead log.
struct LogBlocks(Arc<WriteAheadLog>);

impl<T: Data> BlockLog<T> for LogBlocks {
    fn append(&self, items: &[T]) -> Result<u64, BlockLogError> {
        let bytes = postcard::to_allocvec(items).map_err(BlockLogError::Encode)?;
        Ok(self.0.append(&bytes)?)
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

/// Starts `receiver` on its supervisor thread, with the write-ahead log (and the replay of what
/// it holds) when the setting and a checkpoint directory are both on.
pub(super) fn launch_receiver<R: Data>(
    receiver: Box<dyn Receiver<R>>,
    stream_id: usize,
    rt: &Arc<Runtime>,
    conf: &Conf,
) -> Blocks<R> {
    let settings = ReceiverSettings::new(
        settings::RECEIVER_RESTART_DELAY.value(conf).to_std(),
        Arc::clone(&rt.clock),
    );
    // Under the run's rate control (maxRate, backpressure) from its first record.
    rt.rates.register(stream_id, Arc::clone(&settings.limiter));
    let waker = rt.clone();
    let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || waker.wake_workers());
    let mut replay = VecDeque::new();
    let mut wal = None;
    if settings::WAL_ENABLED.value(conf)
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
        taking: Mutex::new(Taking {
            replay,
            latest: Time::from_millis(0),
        }),
    }
}
