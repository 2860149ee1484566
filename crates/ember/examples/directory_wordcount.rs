//! The seed notebook's directory program: running word counts of the files moved into a
//! directory (`text_file_stream`), kept across 1 s batches with `update_state_by_key` and
//! printed every batch in PySpark's `pprint` framing — built with
//! `StreamingContext::get_or_create`, so that a restarted program carries on where it stopped.
//!
//! The notebook cell, line by line: a `StreamingContext` with a 1 s batch, `checkpoint(dir)`,
//! `text_file_stream`, `flat_map` on `' '`, `map` to `(word, 1)`, `update_state_by_key` with
//! `sum(new_values) + (last_sum or 0)`, `pprint`, `start`, wait 30 s, `stop(false, false)`. Here
//! the stream is defined inside the closure given to `get_or_create`: the first run starts from
//! nothing; a later run with the same CHECKPOINT_DIR (after a stop, a crash or `kill -9`)
//! restores the running counts, the list of files already read (none is read twice) and the
//! batch clock, and first runs the batches it missed, reading the files that arrived meanwhile.
//!
//! ```text
//! mkdir -p /tmp/add_books_here
//! cargo run --release --example directory_wordcount -- /tmp/add_books_here /tmp/ck [SECONDS]
//! # elsewhere: write a file outside the directory, then move it in
//! echo "to be or not to be" > /tmp/book.txt && mv /tmp/book.txt /tmp/add_books_here/
//! ```
//!
//! Files must appear in DIR at once (moved or renamed in, on the same file system), as in Spark;
//! names starting with `.` or `_` are skipped. SECONDS (default 30) is how long the stream runs.
//! The state is checkpointed at every batch (see `create`).

// Alike on purpose: each example is read on its own, as Spark's are, so the lines that parse
// arguments, start, await and stop a context repeat across examples instead of living in a
// shared module a reader would have to open too.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ember::{Conf, Context, Duration, StreamingContext};

/// Running word counts of the files moved into DIR, printed every second for SECONDS seconds.
/// Run it again with the same CHECKPOINT_DIR and it carries on from there.
#[derive(Parser, Debug)]
#[command(name = "directory_wordcount")]
struct Args {
    /// Directory watched for new files.
    #[arg(value_parser = existing_dir)]
    dir: PathBuf,
    /// Directory of the checkpoints (the running counts, the files already read).
    #[arg(value_name = "CHECKPOINT_DIR")]
    checkpoint: PathBuf,
    /// How long the stream runs, in seconds.
    #[arg(default_value_t = 30)]
    seconds: u64,
}

/// DIR must exist and be a directory when the program starts.
fn existing_dir(arg: &str) -> Result<PathBuf, String> {
    let dir = PathBuf::from(arg);
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(format!("{} is not a directory", dir.display()))
    }
}

/// The notebook's `updateFunc`: the batch's new values added to the last sum (0 for a new word).
fn update(new_values: &[i64], last_sum: Option<i64>) -> Option<i64> {
    Some(new_values.iter().sum::<i64>() + last_sum.unwrap_or(0))
}

/// Makes the context and defines the stream; `get_or_create` calls it on every run and then
/// restores the checkpoint, if there is one, into what it defined.
fn create(sc: &Context, args: &Args) -> ember::Result<StreamingContext> {
    let ssc = StreamingContext::new(sc, Duration::seconds(1))?;
    ssc.checkpoint(&args.checkpoint)?;

    let lines = ssc.text_file_stream(&args.dir);
    let running_counts = lines
        .flat_map(|line: String| line.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .map(|word| (word, 1i64))
        .update_state_by_key(update, None);
    // Spark writes a stream's metadata (which files each batch read) at every batch and the
    // state every 10 s, and after a crash recomputes the state of the batches in between from
    // those files. ember writes them together, in one commit, at the state's interval: at every
    // batch here, so that a restart after a crash at any moment has the files of every batch
    // before it (with the default 10 s, a crash in the first 10 s would start from nothing).
    running_counts.checkpoint(Duration::seconds(1))?;
    running_counts.pprint(10)?;
    Ok(ssc)
}

fn run(args: Args) -> ember::Result<()> {
    let sc = Context::get_or_create(Conf::new().set_master("local[*]"))?;
    // A checkpoint that cannot be read, or that another program wrote, is an error naming the
    // directory; nothing starts from scratch silently.
    let ssc = StreamingContext::get_or_create(&args.checkpoint, || create(&sc, &args))?;

    ssc.start()?;
    let outcome = ssc.await_termination_or_timeout(std::time::Duration::from_secs(args.seconds));
    // As the notebook: `stop(stopSparkContext=False)`, not graceful. Batches not processed
    // yet are run again by the next start, from the checkpoint.
    ssc.stop(false, false)?;
    outcome.map(|_| ())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("directory_wordcount: {e}");
            ExitCode::FAILURE
        }
    }
}
