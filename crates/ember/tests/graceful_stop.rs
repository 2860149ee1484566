//! A graceful stop under load loses nothing a receiver stored, with and without the
//! write-ahead log: every record whose `store_many` returned is in some batch, exactly once.
//!
//! The receiver stores as fast as it can (up to a bounded backlog, and without it just before
//! the stop), so its thread may be waiting in `store_many` on the full block queue when the stop
//! begins: the stop joins that thread while nobody takes blocks, which is when a waiting block
//! used to be dropped. Whether that moment is hit depends on timing; the unit tests of
//! `receiver/block_generator.rs` and `receiver/supervisor.rs` pin it down deterministically
//! (a store waiting when its receiver stops keeps its block), and this test checks the exact
//! count end to end.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use ember::receiver::{Receiver, ReceiverContext};
use ember::{Conf, Context, Duration, StreamingContext};

mod common;

const BLOCK: u64 = 8192;

/// At most this many records stored and not yet seen by an output: the engine takes whatever
/// a receiver stores into the open batch, so a receiver faster than the pipeline would build an
/// ever longer backlog (and, in an unoptimised build on a busy machine, batches that take
/// minutes). Below it the firehose stores as fast as it can.
const BACKLOG: u64 = 512 * BLOCK;

/// Stores numbered records in blocks of [`BLOCK`] until stopped, counting the records of every
/// `store_many` that returned.
struct Firehose {
    stored: Arc<AtomicU64>,
    /// Records the output has seen so far.
    seen: Arc<AtomicU64>,
    /// Set just before the stop: store without regard to the backlog, so that the thread is
    /// storing, and soon waiting on the full queue, when the stop begins.
    flood: Arc<AtomicBool>,
    running: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver<u64> for Firehose {
    fn on_start(&mut self, ctx: &ReceiverContext<u64>) {
        let (ctx, stored, running) = (ctx.clone(), self.stored.clone(), self.running.clone());
        let (seen, flood) = (self.seen.clone(), self.flood.clone());
        running.store(true, Ordering::SeqCst);
        self.thread = Some(std::thread::spawn(move || {
            let mut next = 0;
            while running.load(Ordering::SeqCst) && !ctx.is_stopped() {
                if !flood.load(Ordering::SeqCst) && next >= seen.load(Ordering::SeqCst) + BACKLOG {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    continue;
                }
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
    let output_count = Arc::new(AtomicU64::new(0));
    let flood = Arc::new(AtomicBool::new(false));
    let numbers = ssc.receiver_stream(Firehose {
        stored: stored.clone(),
        seen: output_count.clone(),
        flood: flood.clone(),
        running: Arc::new(AtomicBool::new(false)),
        thread: None,
    });
    let seen: Arc<Mutex<Vec<(u64, u64)>>> = Arc::default();
    let into = seen.clone();
    numbers
        .foreach_rdd(move |rdd, _| {
            let values = rdd.collect();
            let sum = values.iter().sum::<u64>();
            output_count.fetch_add(values.len() as u64, Ordering::SeqCst);
            into.lock().unwrap().push((values.len() as u64, sum));
        })
        .unwrap();
    ssc.start().unwrap();
    let busy = common::wait_until(std::time::Duration::from_secs(60), || {
        seen.lock().unwrap().iter().filter(|(n, _)| *n > 0).count() >= 3
    });
    assert!(busy, "the stream never got going");
    flood.store(true, Ordering::SeqCst);
    std::thread::sleep(std::time::Duration::from_millis(20));
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
