//! Windowed word counts (Spark's `reduceByKeyAndWindow` example): every 10 s, the counts of the
//! words received from a TCP server over the last 30 s, printed in PySpark's `pprint` framing.
//!
//! The window is computed incrementally with `reduce_by_key_and_window_inv`: every 10 s the
//! batches that entered the window are added (`a + b`) and those that left it subtracted
//! (`a - b`), so a slide costs what entered and left, not the whole 30 s. A word whose count
//! falls back to 0 would otherwise stay in the results (as in Spark), so a filter drops it.
//! Windows with an inverse function keep state across batches and need a checkpoint directory:
//! CHECKPOINT_DIR, or a temporary one removed at the end.
//!
//! Run a line server first, e.g. `nc -lk 9999` (type lines and press Enter), then:
//!
//! ```text
//! cargo run --release --example window_wordcount -- localhost 9999 [SECONDS [CHECKPOINT_DIR]]
//! ```
//!
//! SECONDS (default 60) is how long the stream runs; batches are 1 s, output comes every 10 s.

// Alike on purpose: each example is read on its own, as Spark's are, so the lines that parse
// arguments, start, await and stop a context repeat across examples instead of living in a
// shared module a reader would have to open too.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use ember::{Conf, Context, Duration, StreamingContext};

/// The window's length and how often it moves.
const WINDOW: Duration = Duration::seconds(30);
const SLIDE: Duration = Duration::seconds(10);

/// Every 10 s, the word counts of the last 30 s of lines served at HOST:PORT (e.g. by
/// `nc -lk PORT`), for SECONDS seconds; the window's state is checkpointed in CHECKPOINT_DIR.
#[derive(Parser, Debug)]
#[command(name = "window_wordcount")]
struct Args {
    /// Host of the line server.
    host: String,
    /// Port of the line server.
    port: u16,
    /// How long the stream runs, in seconds.
    #[arg(default_value_t = 60)]
    seconds: u64,
    /// Directory the window's state is checkpointed in (default: a temporary directory,
    /// removed at the end).
    #[arg(value_name = "CHECKPOINT_DIR")]
    checkpoint: Option<PathBuf>,
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // Kept alive until the end of `run`, then removed.
    let temporary = match args.checkpoint {
        Some(_) => None,
        None => {
            Some(tempfile::tempdir().map_err(|e| format!("creating a temporary directory: {e}"))?)
        }
    };
    let checkpoint = match (&args.checkpoint, &temporary) {
        (Some(dir), _) => dir.clone(),
        (None, Some(tmp)) => tmp.path().to_path_buf(),
        (None, None) => unreachable!("a temporary directory was made"),
    };

    let sc = Context::get_or_create(Conf::new().set_master("local[*]"))?;
    let ssc = StreamingContext::new(&sc, Duration::seconds(1))?;
    ssc.checkpoint(&checkpoint)?;

    let lines = ssc.socket_text_stream(&args.host, args.port);
    let windowed_counts = lines
        .flat_map(|line: String| line.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .map(|word| (word, 1i64))
        .reduce_by_key_and_window_inv(
            |a, b| a + b,
            |a, b| a - b,
            WINDOW,
            SLIDE,
            None,
            // Words no longer in the window.
            Some(Arc::new(|_word: &String, count: &i64| *count != 0)),
        );
    windowed_counts.pprint(10)?;

    ssc.start()?;
    let outcome = ssc.await_termination_or_timeout(std::time::Duration::from_secs(args.seconds));
    ssc.stop(false, false)?;
    outcome?;
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("window_wordcount: {e}");
            ExitCode::FAILURE
        }
    }
}
