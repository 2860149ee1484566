//! `ember demo`: the seed's first program with no set-up. An embedded feeder serves a bundled
//! public-domain text on a free local port; word counts are printed every second.

use anyhow::Result;
use ember::{Conf, Context, Duration, StreamingContext};

use crate::feed::{Feed, Feeder, Source};

/// The bundled text: public-domain passages (see the file's header).
const TEXT: &str = include_str!("../data/demo.txt");

/// Arguments of `ember demo`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Lines per second the embedded feeder sends.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
}

/// Runs the demo.
pub fn run(args: Args) -> Result<()> {
    let text: String = TEXT
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    let feeder = Feeder::start(
        "127.0.0.1",
        0,
        Feed {
            source: Source::Text(text.into()),
            rate: Some(args.rate),
            repeat: true,
        },
    )?;
    let port = feeder.addr().port();
    eprintln!(
        "ember demo: a feeder serves a public-domain text on 127.0.0.1:{port} ({} lines/s); \
         word counts of each 1 s batch follow for {} s (Ctrl-C stops).",
        args.rate, args.seconds
    );
    let ctx = Context::get_or_create(Conf::new().set_master("local[2]").set_app_name("demo"))?;
    let ssc = StreamingContext::new(&ctx, Duration::seconds(1))?;
    // The seed's program: lines -> words -> (word, 1) -> counts per batch -> pprint.
    let lines = ssc.socket_text_stream("127.0.0.1", port);
    let counts = crate::wordcount::word_counts(&lines);
    counts.pprint(10)?;
    let outcome = crate::run_until_stopped(&ssc, Some(Duration::seconds(args.seconds)));
    feeder.stop();
    outcome
}
