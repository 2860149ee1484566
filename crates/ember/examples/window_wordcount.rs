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

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use ember::{Conf, Context, Duration, StreamingContext};

const USAGE: &str = "usage: window_wordcount HOST PORT [SECONDS [CHECKPOINT_DIR]]\n\
    Every 10 s, the word counts of the last 30 s of lines served at HOST:PORT (e.g. by\n\
    `nc -lk PORT`), for SECONDS seconds (default 60); the window's state is checkpointed in\n\
    CHECKPOINT_DIR (default: a temporary directory).";

/// The window's length and how often it moves.
const WINDOW: Duration = Duration::seconds(30);
const SLIDE: Duration = Duration::seconds(10);

/// The parsed command line.
struct Args {
    host: String,
    port: u16,
    seconds: u64,
    checkpoint: Option<PathBuf>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let (host, port, seconds, checkpoint) = match args {
        [host, port] => (host, port, None, None),
        [host, port, seconds] => (host, port, Some(seconds), None),
        [host, port, seconds, checkpoint] => (host, port, Some(seconds), Some(checkpoint)),
        _ => return Err("expected HOST PORT [SECONDS [CHECKPOINT_DIR]]".to_string()),
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("PORT must be a number from 0 to 65535, not {port:?}"))?;
    let seconds = match seconds {
        None => 60,
        Some(s) => s
            .parse()
            .map_err(|_| format!("SECONDS must be a whole number, not {s:?}"))?,
    };
    Ok(Args {
        host: host.clone(),
        port,
        seconds,
        checkpoint: checkpoint.map(PathBuf::from),
    })
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
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("window_wordcount: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("window_wordcount: {e}");
            ExitCode::FAILURE
        }
    }
}
