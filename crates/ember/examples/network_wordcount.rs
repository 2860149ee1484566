//! The seed notebook's first program (Spark's `NetworkWordCount`): count the words of the lines a
//! TCP server sends, in 1 s batches, and print the first ten counts of every batch in PySpark's
//! `pprint` framing.
//!
//! It follows the notebook cell line by line: `Context::get_or_create` with master `local[*]`,
//! a `StreamingContext` with a 1 s batch, `socket_text_stream`, `flat_map` on `' '`,
//! `map` to `(word, 1)`, `reduce_by_key`, `pprint`, `start`, wait ~10 s, and
//! `stop(false, false)` (the `Context` stays alive, as `stopSparkContext=False`).
//!
//! Run a line server first, e.g. `nc -lk 9999` (type lines and press Enter) or
//! `cargo run --release -p ember-cli -- feed FILE --port 9999 --loop --rate 20`, then:
//!
//! ```text
//! cargo run --release --example network_wordcount -- localhost 9999 [SECONDS]
//! ```
//!
//! SECONDS (default 10) is how long the stream runs before it is stopped. When the server is not
//! there (yet), the receiver keeps retrying every 2 s and the batches are empty.

// Alike on purpose: each example is read on its own, as Spark's are, so the lines that parse
// arguments, start, await and stop a context repeat across examples instead of living in a
// shared module a reader would have to open too.

use std::process::ExitCode;

use clap::Parser;
use ember::{Conf, Context, Duration, StreamingContext};

/// Counts the words of the lines served at HOST:PORT (e.g. by `nc -lk PORT`) in 1 s batches
/// and prints them for SECONDS seconds.
#[derive(Parser, Debug)]
#[command(name = "network_wordcount")]
struct Args {
    /// Host of the line server.
    host: String,
    /// Port of the line server.
    port: u16,
    /// How long the stream runs, in seconds.
    #[arg(default_value_t = 10)]
    seconds: u64,
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let sc = Context::get_or_create(Conf::new().set_master("local[*]"))?;
    let ssc = StreamingContext::new(&sc, Duration::seconds(1))?;

    let lines = ssc.socket_text_stream(&args.host, args.port);
    let counts = lines
        .flat_map(|line: String| line.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .map(|word| (word, 1i64))
        .reduce_by_key(|a, b| a + b, None);
    counts.pprint(10)?;

    ssc.start()?;
    // The notebook sleeps 10 s; waiting on the context also returns early if it stops.
    let outcome = ssc.await_termination_or_timeout(std::time::Duration::from_secs(args.seconds));
    ssc.stop(false, false)?;
    // A failed batch (e.g. a panic in user code) is reported, after stopping cleanly.
    outcome?;
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("network_wordcount: {e}");
            ExitCode::FAILURE
        }
    }
}
