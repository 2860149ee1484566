//! A graceful stop under load loses nothing a receiver stored, with and without the
//! write-ahead log: every record whose `store_many` returned is in some batch, exactly once.
//!
//! The receiver stores as fast as it can, so its block queue is full most of the time and its
//! thread is usually waiting in `store_many` when the stop begins: the stop joins that thread
//! while nobody takes blocks, which is exactly when a waiting block used to be dropped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use ember::receiver::{Receiver, ReceiverContext};
use ember::{Conf, Context, Duration, StreamingContext};

mod common;

const BLOCK: u64 = 8192;

/// Stores numbered records in blocks of [`BLOCK`] until stopped, counting the records of every
/// `store_many` that returned.
struct Firehose {
    stored: Arc<AtomicU64>,
    running: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver<u64> for Firehose {
    fn on_start(&mut self, ctx: &ReceiverContext<u64>) {
        let (ctx, stored, running) = (ctx.clone(), self.stored.clone(), self.running.clone());
        running.store(true, Ordering::SeqCst);
        self.thread = Some(std::thread::spawn(move || {
            let mut next = 0;
            while running.load(Ordering::SeqCst) && !ctx.is_stopped() {
                ctx.store_many((next..next + BLOCK).collect());
                next += BLOCK;
                stored.store(next, Ordering::SeqCst);
            }
        }));
    }

    fn on_stop(&mut self) {
        self.running.store(false, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn name(&self) -> String {
        "Firehose".to_string()
    }
}

/// Runs the firehose until about `batches` batches have data, stops gracefully, and returns
/// (records stored, per-batch counts and sums of what the batches saw).
fn run_and_stop_gracefully(with_log: bool) -> (u64, Vec<(u64, u64)>) {
    let _turn = ember::testing::exclusive();
    let mut conf = Conf::new().set_master("local[2]");
    if with_log {
        conf = conf.set("spark.streaming.receiver.writeAheadLog.enable", "true");
    }
    let ctx = Context::get_or_create(conf).unwrap();
    let ssc = StreamingContext::new(&ctx, Duration::milliseconds(100)).unwrap();
    let checkpoint = tempfile::tempdir().unwrap();
    if with_log {
        ssc.checkpoint(checkpoint.path()).unwrap();
    }
    let stored = Arc::new(AtomicU64::new(0));
    let numbers = ssc.receiver_stream(Firehose {
        stored: stored.clone(),
        running: Arc::new(AtomicBool::new(false)),
        thread: None,
    });
    let seen: Arc<Mutex<Vec<(u64, u64)>>> = Arc::default();
    let into = seen.clone();
    numbers
        .foreach_rdd(move |rdd, _| {
            let values = rdd.collect();
            let sum = values.iter().sum::<u64>();
            into.lock().unwrap().push((values.len() as u64, sum));
        })
        .unwrap();
    ssc.start().unwrap();
    let busy = common::wait_until(std::time::Duration::from_secs(60), || {
        seen.lock().unwrap().iter().filter(|(n, _)| *n > 0).count() >= 3
    });
    assert!(busy, "the stream never got going");
    let stopping = ssc.clone();
    common::returns("a graceful stop", move || stopping.stop(false, true)).unwrap();
    let batches = seen.lock().unwrap().clone();
    ctx.stop();
    (stored.load(Ordering::SeqCst), batches)
}

fn assert_nothing_lost(with_log: bool) {
    // A few rounds: the stop must meet the receiver waiting on its full queue at least once.
    for _ in 0..3 {
        let (stored, batches) = run_and_stop_gracefully(with_log);
        let count: u64 = batches.iter().map(|(n, _)| n).sum();
        let sum: u64 = batches.iter().map(|(_, s)| s).sum();
        assert_eq!(
            count, stored,
            "records lost or doubled by the graceful stop"
        );
        // Exactly 0..stored, each once: the sum of 0..n.
        assert_eq!(sum, stored * (stored.saturating_sub(1)) / 2);
    }
}

#[test]
fn a_graceful_stop_under_load_loses_nothing() {
    assert_nothing_lost(false);
}

#[test]
fn a_graceful_stop_under_load_loses_nothing_with_the_write_ahead_log() {
    assert_nothing_lost(true);
}
