//! Spark's `QueueStream` example: a stream made of RDDs pushed into a queue by the program
//! itself, useful for trying out transformations without any external source.
//!
//! An [`RddQueue`] backs `queue_stream(queue, one_at_a_time = true, None)`; every batch (1 s)
//! takes one RDD from it. After the context starts, the program pushes 10 RDDs of `1..=1000` (10
//! partitions each), one every 200 ms (Spark's example pushes 30, one per second). Each batch
//! maps `x` to `(x % 10, 1)`, reduces by key and prints the ten pairs: `(0, 100)` .. `(9, 100)`.
//! Because RDDs are pushed faster than they are consumed, the queue backs up and drains at one
//! RDD per batch; once it is empty the context is stopped gracefully (`stop(false, true)`), so the
//! batch in progress completes.
//!
//! ```text
//! cargo run --release --example queue_stream
//! ```
//!
//! It takes no arguments and runs for about 12 s.

// Alike on purpose: each example is read on its own, as Spark's are, so the lines that parse
// arguments, start, await and stop a context repeat across examples instead of living in a
// shared module a reader would have to open too.

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use ember::{Conf, Context, Duration, RddQueue, StreamingContext};

/// Pushes 10 RDDs of 1..=1000 into a queue stream and prints (x % 10, count) per 1 s batch.
#[derive(Parser, Debug)]
#[command(name = "queue_stream")]
struct Args {}

/// RDDs pushed into the queue.
const RDDS: usize = 10;
/// Time between two pushes.
const PUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(200);
/// The batch interval.
const BATCH: Duration = Duration::seconds(1);

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let sc = Context::get_or_create(
        Conf::new()
            .set_master("local[2]")
            .set_app_name("QueueStream"),
    )?;
    let ssc = StreamingContext::new(&sc, BATCH)?;

    // The queue the program pushes RDDs into, and the stream made from it.
    let rdd_queue: RddQueue<u32> = RddQueue::new();
    let input = ssc.queue_stream(rdd_queue.clone(), true, None);
    let reduced = input
        .map(|x| (x % 10, 1u64))
        .reduce_by_key(|a, b| a + b, None);
    reduced.print(10)?;

    ssc.start()?;
    for _ in 0..RDDS {
        rdd_queue.push(sc.parallelize((1..=1000).collect(), 10));
        std::thread::sleep(PUSH_EVERY);
    }

    // One RDD leaves the queue per batch: wait (bounded) until all were taken, then one more
    // batch interval so that the batch holding the last one is under way before stopping.
    let deadline = Instant::now() + BATCH.to_std() * (RDDS as u32 + 5);
    while !rdd_queue.is_empty() && Instant::now() < deadline {
        if ssc.await_termination_or_timeout(std::time::Duration::from_millis(100))? {
            break;
        }
    }
    if !rdd_queue.is_empty() {
        eprintln!(
            "queue_stream: {} RDDs were still queued when the time ran out",
            rdd_queue.len()
        );
    }
    ssc.await_termination_or_timeout(BATCH.to_std())?;
    ssc.stop(false, true)?;
    Ok(())
}

fn main() -> ExitCode {
    // No arguments; clap rejects any and answers --help.
    let Args {} = Args::parse();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("queue_stream: {e}");
            ExitCode::FAILURE
        }
    }
}
