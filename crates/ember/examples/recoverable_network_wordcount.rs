//! Spark's `RecoverableNetworkWordCount`: word counts of the lines a TCP server sends, per 1 s
//! batch, each batch's counts printed and appended to OUTPUT_FILE as
//! `Counts at time <ms> ms [(word,n), ...]` — with the context built by
//! `StreamingContext::get_or_create(CHECKPOINT_DIR, ...)`, so that a program killed at any moment
//! and started again recovers.
//!
//! The receiver's write-ahead log is on (`spark.streaming.receiver.writeAheadLog.enable`): every
//! line received is logged in CHECKPOINT_DIR before it is counted, so the batches a crash
//! interrupted are run again after the restart with the same lines — none lost, none counted
//! twice. `spark.streaming.stopGracefullyOnShutdown` is set too: Ctrl-C or SIGTERM stops
//! receiving, processes what was received, and the program ends normally.
//!
//! A batch that was written out but not yet checkpointed when the program died is written again
//! after the restart, with the same counts: output operations are at-least-once, as in Spark.
//!
//! Unlike Spark, ember restores data, not code: the closure given to `get_or_create` runs on
//! every start, and the checkpoint's state, batch clock and log positions are restored into the
//! stream it defines. This program therefore empties OUTPUT_FILE when
//! `StreamingContext::restored_from` says nothing was restored (Spark deletes it in its
//! `createContext`, which runs only then). Spark's example also drops the words of a broadcast
//! list and counts them with an accumulator, to show how those are re-created after a recovery;
//! ember has neither, and every closure is rebuilt on each start anyway, so that part is left out.
//!
//! ```text
//! nc -lk 9999        # type lines and press Enter
//! cargo run --release --example recoverable_network_wordcount -- localhost 9999 /tmp/ck /tmp/out.txt
//! # kill it (Ctrl-C, or kill -9 from elsewhere), type more lines, start it again: the counts
//! # continue in /tmp/out.txt
//! ```

// Alike on purpose: each example is read on its own, as Spark's are, so the lines that parse
// arguments, start, await and stop a context repeat across examples instead of living in a
// shared module a reader would have to open too.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use ember::{Conf, Context, Duration, StreamingContext};

/// Counts the words of the lines served at HOST:PORT in 1 s batches, printing each batch's
/// counts and appending them to OUTPUT_FILE; started again with the same CHECKPOINT_DIR after a
/// crash, it recovers (received lines are logged there first). Stop it with Ctrl-C.
#[derive(Parser, Debug)]
#[command(name = "recoverable_network_wordcount")]
struct Args {
    /// Host of the line server.
    host: String,
    /// Port of the line server.
    port: u16,
    /// Directory of the checkpoints and the write-ahead log.
    #[arg(value_name = "CHECKPOINT_DIR")]
    checkpoint: PathBuf,
    /// File each batch's counts are appended to.
    #[arg(value_name = "OUTPUT_FILE")]
    output: PathBuf,
}

/// One batch's line of output: Scala's `"Counts at time " + time + " " + counts.mkString("[",
/// ", ", "]")` with Scala's tuple form `(word,n)`.
fn counts_line(time: ember::Time, counts: &[(String, i64)]) -> String {
    let pairs: Vec<String> = counts.iter().map(|(w, n)| format!("({w},{n})")).collect();
    format!("Counts at time {time} [{}]", pairs.join(", "))
}

fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    writeln!(file, "{line}")
}

/// Makes the context and defines the stream (run on every start; see the module comment).
fn create(sc: &Context, args: &Args) -> ember::Result<StreamingContext> {
    let ssc = StreamingContext::new(sc, Duration::seconds(1))?;
    ssc.checkpoint(&args.checkpoint)?;

    let lines = ssc.socket_text_stream(&args.host, args.port);
    let word_counts = lines
        .flat_map(|line: String| line.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .map(|word| (word, 1i64))
        .reduce_by_key(|a, b| a + b, None);

    let output = std::path::absolute(&args.output).unwrap_or_else(|_| args.output.clone());
    word_counts.try_foreach_rdd(move |rdd, time| {
        let line = counts_line(time, &rdd.collect());
        println!("{line}");
        println!("Appending to {}", output.display());
        append_line(&output, &line).map_err(|e| format!("appending to {}: {e}", output.display()))
    })?;
    Ok(ssc)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let conf = Conf::new()
        .set_master("local[*]")
        .set_app_name("RecoverableNetworkWordCount")
        .set("spark.streaming.receiver.writeAheadLog.enable", "true")
        .set("spark.streaming.stopGracefullyOnShutdown", "true");
    let sc = Context::get_or_create(conf)?;
    let ssc = StreamingContext::get_or_create(&args.checkpoint, || create(&sc, &args))?;
    // Nothing recovered: start the output file afresh, as Spark's example does.
    let fresh = ssc.restored_from().is_none();
    if fresh && args.output.exists() {
        std::fs::remove_file(&args.output)
            .map_err(|e| format!("removing {}: {e}", args.output.display()))?;
    }
    if fresh {
        println!(
            "Created a new context (checkpoints in {})",
            args.checkpoint.display()
        );
    } else {
        println!("Recovering from {}", args.checkpoint.display());
    }

    ssc.start()?;
    // Until Ctrl-C/SIGTERM (which stop the stream gracefully) or a failed batch.
    let outcome = ssc.await_termination();
    ssc.stop(false, true)?;
    outcome?;
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("recoverable_network_wordcount: {e}");
            ExitCode::FAILURE
        }
    }
}
