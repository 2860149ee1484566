//! The `ember` command line: feed a socket, run word counts over sockets and directories, demo.

use std::sync::OnceLock;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use ember::error::Report;
use ember::output::OutputError;
use ember::{Duration, StreamingContext};

mod demo;
mod feed;
mod input;
mod sql;
mod ui;
mod wordcount;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Spark Streaming's DStreams in Rust: word counts and more over sockets and directories.
#[derive(Parser, Debug)]
#[command(name = "ember", version, about)]
struct Cli {
    /// More logging on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve a file (or stdin, `-`) to every client that connects, like `nc -lk`.
    Feed(FeedArgs),
    /// The seed's network word count over a socket or a directory.
    // The settings `--conf` takes, from the registry itself so that the list cannot drift.
    #[command(
        after_help = "Settings for --conf: see --help.",
        after_long_help = ember::conf::settings::help()
    )]
    Wordcount(wordcount::Args),
    /// Word counts of a bundled text, with no set-up: ten seconds of output.
    Demo(demo::Args),
    /// A SQL query on every batch of a socket or a directory (needs the `sql` feature).
    Sql(sql::Args),
}

#[derive(clap::Args, Debug)]
struct FeedArgs {
    /// File to serve, or `-` for standard input.
    file: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one and prints it on stderr).
    #[arg(long)]
    port: u16,
    /// Lines per second per client (unlimited when absent).
    #[arg(long)]
    rate: Option<f64>,
    /// Send the file again and again.
    #[arg(long = "loop")]
    repeat: bool,
}

fn main() {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    // The web UI's address and the progress of long work (restoring a checkpoint, catching
    // up) are shown even without -v: they are what a person running a stream looks for.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},ember::ui=info,ember::status=info"))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(cli.command) {
        // What an error ends as is decided here, once (`ember::output` has the policy): a
        // closed stdout is the reader having had enough (`| head`), so the command ends quietly
        // with 0, as a C program killed by SIGPIPE would for the shell; anything else is
        // reported with its causes (each said once) and exits 1.
        if OutputError::in_chain(e.as_ref()).is_some_and(OutputError::is_closed) {
            std::process::exit(0);
        }
        eprintln!("ember: {}", Report::new(e.as_ref()));
        std::process::exit(1);
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Feed(a) => {
            let source = if a.file == "-" {
                feed::Source::Stdin
            } else {
                // Fail now, not at the first client: a feeder with nothing to send would let every
                // client connect, get nothing and reconnect forever.
                std::fs::File::open(&a.file).with_context(|| format!("cannot read {}", a.file))?;
                feed::Source::File(a.file.into())
            };
            let feeder = feed::Feeder::start(
                &a.host,
                a.port,
                feed::Feed {
                    source,
                    rate: a.rate,
                    repeat: a.repeat,
                },
            )?;
            eprintln!("ember feed: listening on {}", feeder.addr());
            feeder.wait();
            Ok(())
        }
        Command::Wordcount(a) => wordcount::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Sql(a) => sql::run(a),
    }
}

/// Runs `ssc` until `duration` passes, Ctrl-C/SIGTERM arrives, or the stream ends; then stops it
/// gracefully. A failed batch is reported on stderr; the stream keeps going, as in Spark, but
/// the command then ends with an error (never exit code 0 after a failure), as it does when a
/// checkpoint could not be written or an input file had to be skipped because it could not be
/// read. Output that cannot be written is different: the stream
/// stops at once and the error is returned (a closed stdout has already stopped the stream
/// quietly; see `ember::output`).
pub fn run_until_stopped(ssc: &StreamingContext, duration: Option<Duration>) -> Result<()> {
    static SIGNALLED: OnceLock<StreamingContext> = OnceLock::new();
    let _ = SIGNALLED.set(ssc.clone());
    // A second signal while stopping ends the process at once.
    let _ = ctrlc::set_handler(|| {
        static ONCE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if ONCE.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::process::exit(130);
        }
        if let Some(ssc) = SIGNALLED.get() {
            let ssc = ssc.clone();
            std::thread::spawn(move || ssc.stop(false, true));
        }
    });
    ssc.start()?;
    let deadline = duration.map(|d| std::time::Instant::now() + d.to_std());
    let mut reported = false;
    loop {
        let wait = match deadline {
            Some(d) => d.saturating_duration_since(std::time::Instant::now()),
            None => std::time::Duration::from_secs(3600),
        };
        match ssc.await_termination_or_timeout(wait) {
            Ok(true) => break,
            Ok(false) if deadline.is_some_and(|d| std::time::Instant::now() >= d) => break,
            Ok(false) => {}
            Err(e) if OutputError::in_chain(&e).is_some() || e.ends_run() => {
                // Printing results is what the command is for: once stdout fails, stop. A lost
                // process has ended the run (the stop does not wait for threads that wait on
                // it); the error names it.
                if ssc.state() == ember::StreamingContextState::Active {
                    ssc.stop(false, false)?;
                }
                return Err(e.into());
            }
            Err(e) => {
                // The first failure is reported once; later batches keep running.
                if !reported {
                    eprintln!("ember: {e}");
                    reported = true;
                }
                // A signal stops the stream; the wait reports the failure again, not the end.
                if ssc.state() == ember::StreamingContextState::Stopped {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
                if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                    break;
                }
            }
        }
    }
    // A signal may have stopped it already.
    if ssc.state() == ember::StreamingContextState::Active {
        ssc.stop(false, true)?;
    }
    // A process lost while the stop ran ended the run before the stop could finish it: that
    // is an error, even though the stop itself returned.
    if let Err(e) = ssc.await_termination_or_timeout(std::time::Duration::ZERO)
        && e.ends_run()
    {
        return Err(e.into());
    }
    if reported {
        anyhow::bail!("batches failed while the stream ran (the first failure is reported above)");
    }
    let checkpoint_failures = ssc.checkpoint_failures();
    if checkpoint_failures > 0 {
        anyhow::bail!(
            "{checkpoint_failures} checkpoint writes failed while the stream ran (reported above); \
             a restart resumes from the last checkpoint that was written whole"
        );
    }
    let input_failures = ssc.input_failures();
    if input_failures > 0 {
        // Their batches went on without them: the counts printed miss those files.
        anyhow::bail!(
            "{input_failures} input files could not be read and were skipped (each is reported \
             above); the counts printed do not include them"
        );
    }
    Ok(())
}
