//! Per-batch SQL overhead: what the seed's `process(time, rdd)` costs for one batch of rows —
//! the RDD of rows becomes a table, the view `words` is replaced, the seed's query is planned
//! and run, and the result collected — for batches of 100, 10 thousand and 1 million words.
//!
//! ```sh
//! cargo bench --workspace --all-features --bench sql_per_batch
//! ```
//!
//! Prints one Markdown table row per size: median, 10th and 90th percentile of the whole step,
//! and the median of its first part alone (rows to an Arrow table).

use std::time::Instant;

use ember::{Conf, Context};
use ember_sql::{Row, SqlSession, row};

const QUERY: &str = "select word, count(*) as total from words group by word";
/// Distinct words in a batch (a book's vocabulary is of this order).
const VOCABULARY: usize = 5_000;

fn batch(sc: &Context, n: usize) -> ember::Rdd<Row> {
    // A skewed vocabulary, as in text: word k appears about 1/(k+1) as often as word 0.
    let words: Vec<String> = (0..n)
        .map(|i| {
            let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
            let k = (h as usize % (VOCABULARY * VOCABULARY)).isqrt();
            format!("word{}", VOCABULARY - 1 - k)
        })
        .collect();
    sc.parallelize(words, sc.default_parallelism())
        .map(|w| row!(word = w))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; a filter argument selects sizes by their row count.
    let filter: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    let sc = Context::get_or_create(Conf::new().set_master("local[2]"))?;
    let spark = SqlSession::get_or_create(&sc)?;
    println!(
        "| rows per batch | median ms | p10 ms | p90 ms | rows → table, median ms | groups | runs |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (n, runs) in [(100usize, 300usize), (10_000, 100), (1_000_000, 15)] {
        if !filter.is_empty() && !filter.contains(&n) {
            continue;
        }
        let rdd = batch(&sc, n);
        let mut whole = Vec::with_capacity(runs);
        let mut convert = Vec::with_capacity(runs);
        let mut groups = 0;
        for i in 0..runs + 3 {
            let start = Instant::now();
            let df = spark.create_data_frame(&rdd)?;
            let converted = start.elapsed();
            df.create_or_replace_temp_view("words")?;
            let result = spark.sql(QUERY)?.collect()?;
            let took = start.elapsed();
            groups = result.len();
            // The first runs warm up allocators and DataFusion's function registry.
            if i >= 3 {
                whole.push(took.as_secs_f64() * 1e3);
                convert.push(converted.as_secs_f64() * 1e3);
            }
        }
        whole.sort_by(f64::total_cmp);
        convert.sort_by(f64::total_cmp);
        println!(
            "| {n} | {:.3} | {:.3} | {:.3} | {:.3} | {groups} | {runs} |",
            percentile(&whole, 0.5),
            percentile(&whole, 0.1),
            percentile(&whole, 0.9),
            percentile(&convert, 0.5),
        );
    }
    Ok(())
}
