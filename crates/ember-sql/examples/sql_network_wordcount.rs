//! The seed notebook's fourth program ("Bridging Streaming and Spark SQL"): a directory stream,
//! each batch's words turned into rows, registered as the view `words`, counted with SQL and
//! printed with `show()` under the batch time.
//!
//! ```sh
//! cargo run --release -p ember-sql --example sql_network_wordcount -- /tmp/add_books_here [SECONDS]
//! # in another shell: cp book.txt /tmp/add_books_here/
//! ```
//!
//! Runs for SECONDS (30, as the seed's `time.sleep(30)`), then stops gracefully.

use std::path::Path;

use ember::{Conf, Context, DStream, Duration, StreamingContext};
use ember_sql::{Row, SqlStreamExt, row};

/// The seed's query.
pub const QUERY: &str = "select word, count(*) as total from words group by word";

/// The seed's `rdd.flatMap(lambda line: line.split(" ")).map(lambda w: Row(word=w))`, on the
/// lines of new files in `dir`.
pub fn word_rows(ssc: &StreamingContext, dir: &Path) -> DStream<Row> {
    ssc.text_file_stream(dir)
        .flat_map(|line: String| line.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .map(|w| row!(word = w))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: sql_network_wordcount DIR [SECONDS]");
        std::process::exit(2);
    };
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(30);
    std::fs::create_dir_all(&dir)?;

    let sc = Context::get_or_create(Conf::new().set_master("local[*]"))?;
    let ssc = StreamingContext::new(&sc, Duration::seconds(1))?;
    // For every batch: the header, then the rows as the view `words`, the query and show().
    word_rows(&ssc, Path::new(&dir)).show_sql("words", QUERY)?;

    ssc.start()?;
    ssc.await_termination_or_timeout(std::time::Duration::from_secs(seconds))?;
    ssc.stop(false, true)?;
    Ok(())
}
