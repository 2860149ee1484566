//! The seed notebook's stateful program (Spark's `StatefulNetworkWordCount`): running word counts
//! of the lines a TCP server sends, kept across 1 s batches with `update_state_by_key`, starting
//! from the state `("hello", 1), ("world", 1)`, printed every batch in PySpark's `pprint` framing.
//!
//! It follows the notebook cell: a `StreamingContext` with a 1 s batch, `checkpoint(dir)` (state
//! needs a checkpoint directory), an initial state RDD made with `parallelize`,
//! `socket_text_stream`, `flat_map` on `' '`, `map` to `(word, 1)`,
//! `update_state_by_key_with_initial` with `sum(new_values) + (last_sum or 0)`, `pprint`, `start`,
//! wait, and `stop(false, false)`.
//!
//! Run a line server first, e.g. `nc -lk 9999` (type lines and press Enter), then:
//!
//! ```text
//! cargo run --release --example stateful_network_wordcount -- localhost 9999 /tmp/ck [SECONDS]
//! ```
//!
//! SECONDS (default 30; the notebook waits 5) is how long the stream runs. `hello` and `world`
//! appear from the first batch on, with 1 plus what was typed. The state is written to the
//! checkpoint directory every 10 s; this program does not read it back on a restart (see
//! `directory_wordcount` and `recoverable_network_wordcount` for that).

// Alike on purpose: each example is read on its own, as Spark's are, so the lines that parse
// arguments, start, await and stop a context repeat across examples instead of living in a
// shared module a reader would have to open too.

use std::process::ExitCode;

use clap::Parser;
use ember::{Conf, Context, Duration, StreamingContext};

/// Running word counts of the lines served at HOST:PORT (e.g. by `nc -lk PORT`), starting from
/// (hello, 1) and (world, 1), printed every second for SECONDS seconds; the state is
/// checkpointed in CHECKPOINT_DIR.
#[derive(Parser, Debug)]
#[command(name = "stateful_network_wordcount")]
struct Args {
    /// Host of the line server.
    host: String,
    /// Port of the line server.
    port: u16,
    /// Directory the state is checkpointed in.
    #[arg(value_name = "CHECKPOINT_DIR")]
    checkpoint: String,
    /// How long the stream runs, in seconds.
    #[arg(default_value_t = 30)]
    seconds: u64,
}

/// The notebook's `updateFunc`: the batch's new values added to the last sum (0 for a new word).
fn update(new_values: &[i64], last_sum: Option<i64>) -> Option<i64> {
    Some(new_values.iter().sum::<i64>() + last_sum.unwrap_or(0))
}

fn run(args: Args) -> ember::Result<()> {
    let sc = Context::get_or_create(Conf::new().set_master("local[*]"))?;
    // RDD with the initial state (key, value) pairs.
    let initial_state = sc.parallelize(
        vec![("hello".to_string(), 1i64), ("world".to_string(), 1i64)],
        sc.default_parallelism(),
    );

    let ssc = StreamingContext::new(&sc, Duration::seconds(1))?;
    ssc.checkpoint(&args.checkpoint)?;

    let lines = ssc.socket_text_stream(&args.host, args.port);
    let running_counts = lines
        .flat_map(|line: String| line.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .map(|word| (word, 1i64))
        .update_state_by_key_with_initial(update, None, initial_state);
    running_counts.pprint(10)?;

    ssc.start()?;
    let outcome = ssc.await_termination_or_timeout(std::time::Duration::from_secs(args.seconds));
    ssc.stop(false, false)?;
    // A failed batch (e.g. a panic in user code) is reported, after stopping cleanly.
    outcome.map(|_| ())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stateful_network_wordcount: {e}");
            ExitCode::FAILURE
        }
    }
}
